"""kopf handlers for StrataCluster: thin, everything else is in control/.

Run: ``kopf run operator/handlers.py --all-namespaces`` (in a pod, or with a kubeconfig).
Create, update and resume render the cluster (`control.k8s_render.render`) and apply only
what differs from the live objects; compute Pods beyond the spec are deleted (scale down).
A timer writes status (phase, primary, readyReplicas, conditions) from the pods.
Deleting the StrataCluster deletes everything through owner references.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # control/ (no package here)

from control import k8s_render  # noqa: E402
from control.k8s_driver import api_client  # noqa: E402

API_ENV = "STRATA_KUBE_API"
"""An API server URL to use instead of in-cluster/kubeconfig login (tests: kmock)."""
HEALTH_INTERVAL_S = 5.0
API_TIMEOUT_S = 10.0

_PATHS = {  # kind -> collection path template
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
}


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    url = os.environ.get(API_ENV)
    if url:
        return kopf.ConnectionInfo(server=url, insecure=True)
    return kopf.login_via_client(**kwargs)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.level = 30  # WARNING: events only for problems
    settings.persistence.finalizer = "strata.dev/operator"
    # The CRD is installed before the operator, and namespaces are given on the command
    # line: no cluster-wide listing of namespaces and CRDs, so RBAC needs none either.
    settings.scanning.disabled = True


class Api:
    """The few raw calls the handlers need (the `kubernetes` client's generic call_api)."""

    def __init__(self) -> None:
        url = os.environ.get(API_ENV)
        if url:
            self.client = api_client(url, verify_ssl=False)
        else:
            from kubernetes import config  # type: ignore[import-untyped]

            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            from kubernetes import client  # type: ignore[import-untyped]

            self.client = client.ApiClient()

    def call(self, method: str, path: str, body: Any = None,
             content_type: str = "application/json") -> tuple[int, Any]:
        from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

        try:
            data = self.client.call_api(
                path, method, body=body, response_type="object", auth_settings=["BearerToken"],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                _return_http_data_only=True, _request_timeout=API_TIMEOUT_S)
            return 200, data
        except ApiException as exc:
            return exc.status, None


def _subset_differs(want: Any, have: Any) -> bool:
    """True if ``want`` has a value ``have`` lacks (server-side defaults are ignored)."""
    if isinstance(want, dict):
        return not isinstance(have, dict) or any(
            _subset_differs(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return (not isinstance(have, list) or len(want) != len(have)
                or any(_subset_differs(w, h) for w, h in zip(want, have, strict=True)))
    return bool(want != have)


def apply(api: Api, name: str, namespace: str, spec: dict[str, Any], uid: str,
          logger: Any) -> list[str]:
    """Make the live objects match the render; returns what was done ("create Pod x", ...)."""
    done: list[str] = []
    wanted = k8s_render.render(name, namespace, spec, uid)
    if ensure_auth_secret(api, name, namespace, uid):
        done.append(f"create Secret {name}-auth")
    names = {k8s_render.key(o) for o in wanted}
    for obj in wanted:
        kind, oname = k8s_render.key(obj)
        base = _PATHS[kind].format(ns=namespace)
        status, live = api.call("GET", f"{base}/{oname}")
        if status == 404:
            api_status, _ = api.call("POST", base, obj)
            if api_status >= 300:
                raise kopf.TemporaryError(f"create {kind} {oname}: HTTP {api_status}", delay=5)
            done.append(f"create {kind} {oname}")
        elif status >= 300:
            raise kopf.TemporaryError(f"read {kind} {oname}: HTTP {status}", delay=5)
        elif kind != "Pod" and _subset_differs(obj["spec"], live.get("spec")):
            api_status, _ = api.call("PATCH", f"{base}/{oname}", {"spec": obj["spec"]},
                                     "application/merge-patch+json")
            if api_status >= 300:
                raise kopf.TemporaryError(f"patch {kind} {oname}: HTTP {api_status}", delay=5)
            done.append(f"patch {kind} {oname}")
    for pod in _owned_pods(api, name, namespace):
        pname = pod["metadata"]["name"]
        if ("Pod", pname) not in names and pod["metadata"]["labels"].get(
                "app.kubernetes.io/component") == "compute":
            api.call("DELETE", f"{_PATHS['Pod'].format(ns=namespace)}/{pname}")
            done.append(f"delete Pod {pname}")
    for line in done:
        logger.info(line)
    return done


def ensure_auth_secret(api: Api, name: str, namespace: str, uid: str) -> bool:
    """Create the cluster's auth Secret once (a random password for ``postgres``); never
    overwrite it: the password is the user's from then on. True if it was created."""
    import tempfile

    from control.users import UserBook, new_secret

    base = _PATHS["Secret"].format(ns=namespace)
    status, _ = api.call("GET", f"{base}/{name}-auth")
    if status < 300:
        return False
    if status != 404:
        raise kopf.TemporaryError(f"read Secret {name}-auth: HTTP {status}", delay=5)
    password = new_secret()
    with tempfile.TemporaryDirectory() as tmp:
        book = UserBook(Path(tmp) / "users")
        book.create("postgres", password)
        users = book.path.read_text()
    secret = k8s_render.auth_secret(
        name, namespace, uid, password=password, proxy_secret=new_secret(), users=users,
        topology_json=k8s_render.topology(name, namespace, "compute-1", []))
    status, _ = api.call("POST", base, secret)
    if status >= 300:
        raise kopf.TemporaryError(f"create Secret {name}-auth: HTTP {status}", delay=5)
    return True


def update_topology(api: Api, name: str, namespace: str, primary: str | None,
                    replicas: list[str]) -> bool:
    """Point the proxy at the ready computes (the Secret's topology.json; the proxy polls
    the file). True if it changed."""
    import base64

    base = _PATHS["Secret"].format(ns=namespace)
    status, secret = api.call("GET", f"{base}/{name}-auth")
    if status >= 300 or not secret:
        return False
    text = k8s_render.topology(name, namespace, primary, replicas)
    encoded = (secret.get("data") or {}).get("topology.json")
    old = (base64.b64decode(encoded).decode() if encoded
           else (secret.get("stringData") or {}).get("topology.json"))
    if old == text:
        return False
    api.call("PATCH", f"{base}/{name}-auth",
             {"data": {"topology.json": base64.b64encode(text.encode()).decode()}},
             "application/merge-patch+json")
    return True


def _owned_pods(api: Api, name: str, namespace: str) -> list[dict[str, Any]]:
    status, data = api.call(
        "GET", _PATHS["Pod"].format(ns=namespace)
        + f"?labelSelector=app.kubernetes.io/instance%3D{name}")
    items = (data or {}).get("items", []) if status < 300 else []
    # the selector may be ignored by a minimal API server: filter here as well
    return [p for p in items
            if p.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/instance") == name]


def _condition(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": ctype, "status": "True" if ok else "False", "reason": reason,
            "message": message,
            "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []))


def health(api: Api, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The status block from the compute pods: primary, ready replicas, phase, conditions."""
    s = k8s_render.validate_spec(spec)
    computes = [p for p in _owned_pods(api, name, namespace)
                if p["metadata"]["labels"].get("app.kubernetes.io/component") == "compute"]
    primary = next((p for p in computes if p["metadata"]["labels"].get("strata.dev/role")
                    == "primary" and _pod_ready(p)), None)
    ready = sum(1 for p in computes if p["metadata"]["labels"].get("strata.dev/role")
                == "replica" and _pod_ready(p))
    want = s["compute"]["replicas"]
    label = "strata.dev/component-name"
    update_topology(api, name, namespace,
                    primary["metadata"]["labels"][label] if primary else None,
                    [p["metadata"]["labels"][label] for p in computes
                     if p["metadata"]["labels"].get("strata.dev/role") == "replica"
                     and _pod_ready(p)])
    phase = "Ready" if primary and ready >= want else ("Degraded" if primary else "Creating")
    return {
        "phase": phase,
        "primary": primary["metadata"]["name"] if primary else "",
        "readyReplicas": ready,
        "conditions": [
            _condition("PrimaryAvailable", primary is not None,
                       "PrimaryReady" if primary else "NoReadyPrimary",
                       "the primary compute accepts connections" if primary
                       else "no ready primary compute pod"),
            _condition("ReplicasReady", ready >= want, "ReplicasReady" if ready >= want
                       else "ReplicasNotReady", f"{ready} of {want} read replicas ready"),
        ],
    }


@kopf.on.create(k8s_render.GROUP, k8s_render.VERSION, k8s_render.PLURAL)
@kopf.on.update(k8s_render.GROUP, k8s_render.VERSION, k8s_render.PLURAL, field="spec")
@kopf.on.resume(k8s_render.GROUP, k8s_render.VERSION, k8s_render.PLURAL)
def reconcile(name: str, namespace: str | None, spec: kopf.Spec, uid: str, patch: kopf.Patch,
              logger: Any, **_: Any) -> None:
    namespace = namespace or "default"
    try:
        k8s_render.validate_spec(dict(spec))
    except k8s_render.SpecInvalid as exc:
        patch.status["phase"] = "Failed"
        patch.status["conditions"] = [_condition("SpecValid", False, "InvalidSpec", str(exc))]
        raise kopf.PermanentError(str(exc)) from None
    done = apply(Api(), name, namespace, dict(spec), uid, logger)
    patch.status.update(health(Api(), name, namespace, dict(spec)))
    patch.status["lastApplied"] = done


@kopf.timer(k8s_render.GROUP, k8s_render.VERSION, k8s_render.PLURAL,
            interval=HEALTH_INTERVAL_S, initial_delay=1.0)
def check_health(name: str, namespace: str | None, spec: kopf.Spec, patch: kopf.Patch,
                 **_: Any) -> None:
    try:
        patch.status.update(health(Api(), name, namespace or "default", dict(spec)))
    except k8s_render.SpecInvalid:
        pass  # reported by reconcile


@kopf.on.delete(k8s_render.GROUP, k8s_render.VERSION, k8s_render.PLURAL)
def delete(name: str, logger: Any, **_: Any) -> None:
    # Owned objects go with the StrataCluster (owner references; the garbage collector).
    # PVCs of the StatefulSets are kept on purpose: the data outlives a deleted cluster.
    logger.info(f"{name}: deleted; owned objects are garbage-collected")
