"""kopf handlers for StrataCluster: thin, everything else is in control/.

Run: ``kopf run operator/handlers.py --all-namespaces`` (in a pod, or with a kubeconfig).
Create, update and resume render the storage, proxy and Services
(`control.k8s_render.render`) and apply only what differs from the live objects. The
computes belong to the same reconciler as local mode (`control.reconciler.Reconciler`),
run by `control.k8s_driver.KubernetesCluster` every RECONCILE_INTERVAL_S from a timer:
bootstrap (main log, timeline), scale, restarts and failover by promotion; the timer then
writes status (phase, primary, readyReplicas, LSNs, conditions) and the proxy's topology.
Deleting the StrataCluster deletes everything through owner references.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kopf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # control/ (no package here)

from control import k8s_render  # noqa: E402
from control.k8s_api import failover_request  # noqa: E402
from control.k8s_driver import KubernetesCluster, ServicesFactory, api_client  # noqa: E402

API_ENV = "STRATA_KUBE_API"
"""An API server URL to use instead of in-cluster/kubeconfig login (tests: kmock)."""
SERVICES_ENV = "STRATA_OPERATOR_SERVICES"
"""``module:attribute`` of a Services factory instead of RealServices (tests)."""
WORKDIR = os.environ.get("STRATA_OPERATOR_DIR",
                         os.path.join(tempfile.gettempdir(), "strata-operator"))
"""Each cluster's working files (auth files from its Secret, the reconciler's state)."""
RECONCILE_INTERVAL_S = 1.0
_clusters: dict[str, KubernetesCluster] = {}
_clusters_lock = threading.Lock()
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


_api_lock = threading.Lock()
_api_cache: list[Api] = []


def _api() -> Api:
    """One client for the operator's life (its connection pool is reused every step)."""
    with _api_lock:
        if not _api_cache:
            _api_cache.append(Api())
        return _api_cache[0]


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
    wanted = k8s_render.render(name, namespace, spec, uid, computes=False)
    if ensure_auth_secret(api, name, namespace, uid):
        done.append(f"create Secret {name}-auth")
    if ensure_tls_secret(api, name, namespace, uid):
        done.append(f"create Secret {k8s_render.tls_secret_name(name)}")
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
        elif _subset_differs(obj["spec"], live.get("spec")):
            api_status, _ = api.call("PATCH", f"{base}/{oname}", {"spec": obj["spec"]},
                                     "application/merge-patch+json")
            if api_status >= 300:
                raise kopf.TemporaryError(f"patch {kind} {oname}: HTTP {api_status}", delay=5)
            done.append(f"patch {kind} {oname}")
    for line in done:
        logger.info(line)
    return done


def read_auth(api: Api, name: str, namespace: str) -> dict[str, str]:
    """The auth Secret's files."""
    return read_secret(api, f"{name}-auth", namespace)


def read_secret(api: Api, secret_name: str, namespace: str) -> dict[str, str]:
    """A Secret's files (``data`` base64, or ``stringData`` as first written)."""
    import base64

    status, secret = api.call("GET", f"{_PATHS['Secret'].format(ns=namespace)}/{secret_name}")
    if status >= 300 or not secret:
        raise kopf.TemporaryError(f"read Secret {secret_name}: HTTP {status}", delay=5)
    out = dict(secret.get("stringData") or {})
    for key, value in (secret.get("data") or {}).items():
        out[key] = base64.b64decode(value).decode()
    return out


def ensure_auth_secret(api: Api, name: str, namespace: str, uid: str) -> bool:
    """Create the cluster's auth Secret once (local mode's credentials: a random password
    for ``postgres``, the control plane's own login, the proxy's secret); never overwrite
    it: the password is the user's from then on. True if it was created."""
    import tempfile

    from control.spec import ClusterSpec
    from control.state import ClusterDir
    from control.users import ensure_credentials

    base = _PATHS["Secret"].format(ns=namespace)
    status, _ = api.call("GET", f"{base}/{name}-auth")
    if status < 300:
        return False
    if status != 404:
        raise kopf.TemporaryError(f"read Secret {name}-auth: HTTP {status}", delay=5)
    with tempfile.TemporaryDirectory() as tmp:
        cdir = ClusterDir(Path(tmp))
        ensure_credentials(cdir, ClusterSpec(dir=tmp))
        files = {key: (cdir.path / key).read_text()
                 for key in ("users", "password", "proxy-secret", "control-password")}
    secret = k8s_render.auth_secret(
        name, namespace, uid, password=files["password"], proxy_secret=files["proxy-secret"],
        users=files["users"], topology_json=k8s_render.topology(name, namespace, None, []))
    secret["stringData"]["control-password"] = files["control-password"]
    status, _ = api.call("POST", base, secret)
    if status >= 300:
        raise kopf.TemporaryError(f"create Secret {name}-auth: HTTP {status}", delay=5)
    return True


def ensure_tls_secret(api: Api, name: str, namespace: str, uid: str) -> bool:
    """Create the cluster's internal TLS Secret once (a CA and one certificate per role,
    `k8s_render.issue_tls_files`); never overwrite it (pods hold its certificates). True
    if it was created."""
    secret_name = k8s_render.tls_secret_name(name)
    base = _PATHS["Secret"].format(ns=namespace)
    status, _ = api.call("GET", f"{base}/{secret_name}")
    if status < 300:
        return False
    if status != 404:
        raise kopf.TemporaryError(f"read Secret {secret_name}: HTTP {status}", delay=5)
    secret = k8s_render.tls_secret(name, namespace, uid,
                                   k8s_render.issue_tls_files(name, namespace))
    status, _ = api.call("POST", base, secret)
    if status == 409:
        return False  # made meanwhile: keep that one
    if status >= 300:
        raise kopf.TemporaryError(f"create Secret {secret_name}: HTTP {status}", delay=5)
    return True


def update_topology(api: Api, name: str, namespace: str, text: str) -> bool:
    """Point the proxy at the computes (the Secret's topology.json, which the proxy polls).
    True if it changed."""
    import base64

    if read_auth(api, name, namespace).get("topology.json") == text:
        return False
    api.call("PATCH", f"{_PATHS['Secret'].format(ns=namespace)}/{name}-auth",
             {"data": {"topology.json": base64.b64encode(text.encode()).decode()}},
             "application/merge-patch+json")
    return True


def _services_factory() -> ServicesFactory:
    """RealServices (gRPC to the log store and page server, SQL to computes), or the factory
    named by STRATA_OPERATOR_SERVICES (``module:attribute``; tests)."""
    target = os.environ.get(SERVICES_ENV)
    if target:
        module, _, attr = target.partition(":")
        factory: ServicesFactory = getattr(importlib.import_module(module), attr)
        return factory
    from control.services import RealServices

    return lambda logstores, pageserver, login, tls: RealServices(logstores, pageserver, tls,
                                                                  login)


def cluster_for(api: Api, name: str, namespace: str, uid: str,
                spec: dict[str, Any]) -> KubernetesCluster:
    """This StrataCluster's control plane (made on first use, e.g. after an operator
    restart: it adopts the running compute pods)."""
    with _clusters_lock:
        cluster = _clusters.get(uid)
        if cluster is None:
            tls = read_secret(api, k8s_render.tls_secret_name(name), namespace)
            cluster = KubernetesCluster(api.client, namespace, name, uid, spec,
                                        read_auth(api, name, namespace), WORKDIR,
                                        _services_factory(),
                                        (tls["ca.pem"], tls["control.pem"],
                                         tls["control-key.pem"]))
            _clusters[uid] = cluster
        else:
            cluster.set_spec(spec)
        return cluster


def _condition(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": ctype, "status": "True" if ok else "False", "reason": reason,
            "message": message,
            "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


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
    api = _api()
    done = apply(api, name, namespace, dict(spec), uid, logger)
    cluster = cluster_for(api, name, namespace, uid, dict(spec))
    cluster.step()
    patch.status.update(cluster.status())
    patch.status["lastApplied"] = done


@kopf.timer(k8s_render.GROUP, k8s_render.VERSION, k8s_render.PLURAL,
            interval=RECONCILE_INTERVAL_S, initial_delay=RECONCILE_INTERVAL_S)
def step(name: str, namespace: str | None, spec: kopf.Spec, uid: str, patch: kopf.Patch,
         annotations: kopf.Annotations, **_: Any) -> None:
    """The reconciler's loop (local mode's 0.5 s tick, at the timer's pace): restarts,
    scale, failover by promotion, a failover requested by the REST API (an annotation,
    `control.k8s_api`); then status and the proxy's topology."""
    namespace = namespace or "default"
    try:
        k8s_render.validate_spec(dict(spec))
    except k8s_render.SpecInvalid:
        return  # reported by reconcile
    api = _api()
    cluster = cluster_for(api, name, namespace, uid, dict(spec))
    patch.metadata.annotations.update(
        failover_request(dict(annotations), cluster.reconciler.failover))
    cluster.step()
    patch.status.update(cluster.status())
    update_topology(api, name, namespace, cluster.topology_json())


@kopf.on.delete(k8s_render.GROUP, k8s_render.VERSION, k8s_render.PLURAL)
def delete(name: str, uid: str, logger: Any, **_: Any) -> None:
    # Owned objects go with the StrataCluster (owner references; the garbage collector).
    # PVCs of the StatefulSets are kept on purpose: the data outlives a deleted cluster.
    with _clusters_lock:
        cluster = _clusters.pop(uid, None)
    if cluster is not None:
        cluster.close()
    logger.info(f"{name}: deleted; owned objects are garbage-collected")
