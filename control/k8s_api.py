"""The admin REST API in Kubernetes mode: `control.api.create_app` over a StrataCluster.

Local mode's API drives the reconciler directly. On Kubernetes the reconciler lives in the
operator, so this `Controller` only reads and writes the custom resource (and its auth
Secret), exactly what kubectl does: REST and kubectl can never disagree, and the operator
stays the only actor.

- ``PUT /v1/replicas``: merge-patch ``spec.compute.replicas`` (``kubectl scale``).
- ``POST/DELETE /v1/branches``, ``POST /v1/restore``: add or remove an entry of
  ``spec.branches[]`` (``fromLsn`` / ``fromTime``), written with the read
  ``resourceVersion`` so a concurrent edit is retried, never overwritten.
- ``POST /v1/failover``: the annotation FAILOVER_REQUESTED; the operator's timer runs the
  reconciler's ``failover()``, removes it and writes FAILOVER_RESULT, which this waits for
  (at most FAILOVER_WAIT_S).
- ``GET /v1/status``: the resource's spec and status plus its compute Pods.
- ``/v1/users``: the ``users`` file (SCRAM verifiers) in the Secret ``<cluster>-auth``,
  which the proxy re-reads when the kubelet updates the mounted file.

Run: ``python3 -m control.k8s_api --namespace NS --cluster NAME --listen HOST:PORT``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from control import k8s_render
from control.errors import Conflict, ControlError, InvalidRequest, NotFound, Unavailable
from control.reconciler import MAX_BRANCHES, format_lsn, parse_lsn
from control.spec import MAX_REPLICAS, ClusterSpec
from control.users import FIRST_USER, UserBook

API_ENV = "STRATA_KUBE_API"
"""An API server URL instead of in-cluster/kubeconfig login (as the operator; tests)."""
TOKEN_ENV = "STRATA_ADMIN_TOKEN"
API_TIMEOUT_S = 10.0
"""One Kubernetes API call's bound."""
WRITE_ATTEMPTS = 5
"""Read-modify-write retries when the resource changed in between (HTTP 409)."""
FAILOVER_WAIT_S = 15.0
"""How long POST /v1/failover waits for the operator (its timer steps once a second)."""
POLL_S = 0.1
FAILOVER_REQUESTED = "strata.dev/failover-requested"
FAILOVER_RESULT = "strata.dev/failover-result"
MERGE = "application/merge-patch+json"
PROXY_SERVICE_PORT = 5432
"""The cluster's Service (the proxy), as `k8s_render` renders it."""
_PHASES = {"Creating": "starting", "Ready": "running", "Degraded": "degraded",
           "Failed": "failed"}
"""StrataCluster phase -> local mode's phase words."""


class KubeApi:
    """The few raw calls needed (the `kubernetes` client's generic call_api), with the
    API server's answers mapped to the control plane's errors."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def call(self, method: str, path: str, body: Any = None,
             content_type: str = "application/json") -> Any:
        from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]
        from urllib3.exceptions import HTTPError

        try:
            return self.client.call_api(
                path, method, body=body, response_type="object", auth_settings=["BearerToken"],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                _return_http_data_only=True, _request_timeout=API_TIMEOUT_S)
        except ApiException as exc:
            if exc.status == 404:
                raise NotFound(f"{path}: not found") from None
            if exc.status == 409:
                raise Conflict(f"{path}: changed concurrently") from None
            if exc.status == 422:
                raise InvalidRequest(f"the API server refused it: {_reason(exc)}") from None
            raise Unavailable(f"Kubernetes API: HTTP {exc.status} {_reason(exc)}") from None
        except (HTTPError, OSError) as exc:
            raise Unavailable(f"Kubernetes API unreachable: {exc}") from None


def _reason(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message", ""))
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason or "")


def login(url: str = "") -> Any:
    """An API client: ``url`` (or STRATA_KUBE_API) without TLS checks, else the pod's
    service account, else the kubeconfig."""
    from kubernetes import client, config  # type: ignore[import-untyped]

    url = url or os.environ.get(API_ENV, "")
    if url:
        cfg = client.Configuration()
        cfg.host = url
        cfg.verify_ssl = False
        return client.ApiClient(cfg)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


class KubernetesController:
    """`control.api.Controller` for one StrataCluster: every call is a read or a patch of
    the resource (or its auth Secret); the operator does the work."""

    def __init__(self, api: Any, namespace: str, cluster: str, rest_address: str = "",
                 failover_wait_s: float = FAILOVER_WAIT_S) -> None:
        self.kube = KubeApi(api)
        self.namespace = namespace
        self.cluster = cluster
        self.rest_address = rest_address
        self.failover_wait_s = failover_wait_s
        self.path = (f"/apis/{k8s_render.GROUP}/{k8s_render.VERSION}/namespaces/{namespace}/"
                     f"{k8s_render.PLURAL}/{cluster}")
        self.secret_path = f"/api/v1/namespaces/{namespace}/secrets/{cluster}-auth"

    # -- the resource --------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            return dict(self.kube.call("GET", self.path))
        except NotFound:
            raise Unavailable(f"no StrataCluster {self.cluster!r} in namespace "
                              f"{self.namespace!r}") from None

    def _patch(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(self.kube.call("PATCH", self.path, body, MERGE))
        except NotFound:
            raise Unavailable(f"no StrataCluster {self.cluster!r}") from None

    def _edit_branches(self, edit: Any) -> None:
        """``edit(branches) -> branches`` on spec.branches, written only if the resource is
        still the version read (the API server answers 409 otherwise: read again)."""
        for _ in range(WRITE_ATTEMPTS):
            cr = self._read()
            branches = [dict(b) for b in cr.get("spec", {}).get("branches") or []]
            new = edit(branches)
            try:
                self._patch({**_version_of(cr), "spec": {"branches": new}})
                return
            except Conflict:
                time.sleep(POLL_S)
        raise Unavailable(f"spec.branches kept changing; gave up after {WRITE_ATTEMPTS} tries")

    # -- Controller ----------------------------------------------------------------------

    def set_replicas(self, n: int) -> None:
        if not 0 <= n <= MAX_REPLICAS:
            raise InvalidRequest(f"replicas must be between 0 and {MAX_REPLICAS}, got {n}")
        self._patch({"spec": {"compute": {"replicas": n}}})

    def status(self) -> dict[str, Any]:
        cr = self._read()
        spec = k8s_render.with_defaults(cr.get("spec") or {})
        st = cr.get("status") or {}
        local = ClusterSpec()
        password = self._password()
        components = self._computes(st, password)
        primary = next((c for c in components if c["role"] == "primary"
                        and c["timeline"] == local.timeline), None)
        phase = st.get("phase", "")
        bad = [f"{c['type']}: {c.get('message', '')}" for c in st.get("conditions") or []
               if c.get("status") == "False"]
        return {
            "phase": _PHASES.get(phase, "pending"),
            "detail": "; ".join([f"StrataCluster phase {phase or 'not reported yet'}", *bad]),
            "dir": f"kubernetes:{self.namespace}/{self.cluster}",
            "tenant": local.tenant,
            "timeline": local.timeline,
            "replicas": spec["compute"]["replicas"],
            "rest_address": self.rest_address,
            "dsn": self._dsn(f"{self.cluster}.{self.namespace}.svc:{PROXY_SERVICE_PORT}",
                             password),
            "local_dsn": "",  # clients reach the proxy's Service over TCP only
            "primary_dsn": primary["dsn"] if primary else "",
            "components": components,
            "branches": self._branches(cr, components),
        }

    def _dsn(self, address: str, password: str | None) -> str:
        login = f"{FIRST_USER}:{quote(password, safe='')}" if password else FIRST_USER
        return f"postgresql://{login}@{address}/postgres"

    def _computes(self, st: dict[str, Any], password: str | None) -> list[dict[str, Any]]:
        """The compute Pods as local mode's components (their LSNs from the status)."""
        selector = (f"app.kubernetes.io/instance={self.cluster},"
                    "app.kubernetes.io/component=compute")
        pods = self.kube.call("GET", f"/api/v1/namespaces/{self.namespace}/pods"
                              f"?labelSelector={quote(selector)}")
        out = []
        for pod in sorted(pods.get("items") or [], key=lambda p: p["metadata"]["name"]):
            meta, pstatus = pod["metadata"], pod.get("status") or {}
            lab = meta.get("labels") or {}
            if (lab.get("app.kubernetes.io/instance"), lab.get("app.kubernetes.io/component")) != (
                    self.cluster, "compute"):
                continue
            cmd = pod["spec"]["containers"][0].get("command") or []
            name = lab.get("strata.dev/component-name", meta["name"])
            port = _flag(cmd, "--listen").rpartition(":")[2] or str(k8s_render.COMPUTE_PORT)
            address = f"{name}.{self.cluster}-compute.{self.namespace}.svc:{port}"
            role = lab.get("strata.dev/role", "")
            lsn_text = (st.get("commitLsn") if meta["name"] == st.get("primary")
                        else (st.get("replayLsns") or {}).get(meta["name"]))
            out.append({
                "kind": "compute", "name": name, "role": role, "pid": 0, "address": address,
                "data_dir": "", "state": _pod_state(pod), "restarts": sum(
                    int(cs.get("restartCount", 0))
                    for cs in pstatus.get("containerStatuses") or []),
                "detail": pstatus.get("reason", "") or pstatus.get("message", ""),
                "timeline": _flag(cmd, "--timeline") or "main",
                "dsn": self._dsn(address, password),
                "lsn": parse_lsn(lsn_text) if lsn_text else None,
            })
        return out

    def _branches(self, cr: dict[str, Any],
                  components: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """spec.branches with what the operator reports (status.branches, BranchesReady)."""
        st = cr.get("status") or {}
        made = {b["name"]: b for b in st.get("branches") or []}
        refused = next((c.get("message", "") for c in st.get("conditions") or []
                        if c.get("type") == "BranchesReady" and c.get("status") == "False"), "")
        why = dict(part.split(": ", 1) for part in refused.split("; ") if ": " in part)
        computes = {c["timeline"]: c for c in components or [] if c["role"] == "primary"}
        out = []
        for b in cr.get("spec", {}).get("branches") or []:
            have = made.get(b["name"], {})
            lsn_text = have.get("ancestorLsn") or b.get("fromLsn") or ""
            lsn = parse_lsn(lsn_text) if lsn_text else 0
            comp = computes.get(b["name"])
            state = have.get("state") or (f"refused: {why[b['name']]}" if b["name"] in why
                                          else "pending")
            out.append({"name": b["name"], "ancestor": "main", "ancestor_lsn": lsn,
                        "ancestor_lsn_text": format_lsn(lsn),
                        "kind": "restore" if "fromTime" in b else "branch",
                        "created_at": "", "timestamp": b.get("fromTime", ""),
                        "dsn": comp["dsn"] if comp else "", "state": state})
        return out

    def list_branches(self) -> list[dict[str, Any]]:
        return self._branches(self._read())

    def create_branch(self, name: str, lsn: int | None = None, timestamp_us: int | None = None,
                      timestamp_text: str = "", kind: str = "branch") -> dict[str, Any]:
        """Add ``{name, fromLsn | fromTime}`` to spec.branches; the operator makes the
        timeline, log and compute (a refused point shows as the branch's state)."""
        entry: dict[str, Any] = {"name": name}
        if lsn is not None:
            entry["fromLsn"] = format_lsn(lsn)
        elif timestamp_us is not None:
            entry["fromTime"] = timestamp_text

        def add(branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if name == ClusterSpec().timeline or any(b["name"] == name for b in branches):
                raise Conflict(f"branch {name!r} already exists")
            if len(branches) >= MAX_BRANCHES:
                raise Conflict(f"at most {MAX_BRANCHES} branches")
            return [*branches, entry]

        self._edit_branches(add)
        return {"name": name, "ancestor": "main", "ancestor_lsn": lsn or 0,
                "ancestor_lsn_text": format_lsn(lsn or 0), "kind": kind,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "timestamp": timestamp_text, "dsn": "", "state": "pending"}

    def delete_branch(self, name: str) -> None:
        def remove(branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if not any(b["name"] == name for b in branches):
                if name == ClusterSpec().timeline:
                    raise Conflict(f"the main timeline {name!r} cannot be deleted")
                raise NotFound(f"no branch named {name!r}")
            return [b for b in branches if b["name"] != name]

        self._edit_branches(remove)

    def failover(self, timeline: str | None = None) -> dict[str, Any]:
        """Ask the operator (an annotation) and wait for its answer (another annotation)."""
        if timeline not in (None, ClusterSpec().timeline):
            raise InvalidRequest("on Kubernetes only the main timeline fails over by request")
        requested = datetime.now(UTC).isoformat(timespec="microseconds")
        self._patch({"metadata": {"annotations": {FAILOVER_REQUESTED: requested}}})
        deadline = time.monotonic() + self.failover_wait_s
        while time.monotonic() < deadline:
            notes = self._read().get("metadata", {}).get("annotations") or {}
            try:
                result = json.loads(notes.get(FAILOVER_RESULT) or "{}")
            except ValueError:
                result = {}
            if result.get("requested") == requested:
                if result.get("error"):
                    raise Conflict(str(result["error"]))
                password = self._password()
                dsn = next((c["dsn"] for c in self._computes({}, password)
                            if c["name"] == result["primary"]), self._dsn(
                    k8s_render.compute_address(self.cluster, self.namespace, result["primary"]),
                    password))
                return {"primary": result["primary"], "previous": result["previous"],
                        "dsn": dsn}
            time.sleep(POLL_S)
        raise Unavailable(f"the operator did not act on the failover request within "
                          f"{self.failover_wait_s:.0f} s (annotation {FAILOVER_REQUESTED} "
                          "stays set; it acts when it can)")

    def proxy_show(self, what: str) -> list[dict[str, Any]]:
        raise _NotModelled("the proxy's pools and servers are not mapped in Kubernetes mode "
                           "(ask the proxy: SHOW strata.pools as strata_control)")

    # -- users: the auth Secret's users file ------------------------------------------------

    def _secret(self) -> dict[str, Any]:
        try:
            return dict(self.kube.call("GET", self.secret_path))
        except NotFound:
            raise Unavailable(f"no Secret {self.cluster}-auth yet (the operator makes it)") from None

    def _password(self) -> str | None:
        """The first user's password (local mode's DSNs carry it too), if readable."""
        try:
            return _secret_files(self._secret()).get("password", "").strip() or None
        except Unavailable:
            return None

    def _edit_users(self, edit: Any) -> Any:
        """``edit(UserBook)`` on the Secret's users file (local mode's checks and format),
        written back with the read resourceVersion."""
        for _ in range(WRITE_ATTEMPTS):
            secret = self._secret()
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "users"
                path.write_text(_secret_files(secret).get("users", ""))
                book = UserBook(path)
                result = edit(book)
                text = path.read_text()
            if text == _secret_files(secret).get("users", ""):
                return result
            body = {**_version_of(secret),
                    "data": {"users": base64.b64encode(text.encode()).decode()}}
            try:
                self.kube.call("PATCH", self.secret_path, body, MERGE)
                return result
            except Conflict:
                time.sleep(POLL_S)
        raise Unavailable(f"Secret {self.cluster}-auth kept changing; gave up")

    def list_users(self) -> list[str]:
        names: list[str] = self._edit_users(lambda book: book.names())
        return names

    def create_user(self, name: str, password: str) -> None:
        self._edit_users(lambda book: book.create(name, password))

    def delete_user(self, name: str) -> None:
        self._edit_users(lambda book: book.delete(name))


class _NotModelled(ControlError):
    status = 501
    title = "Not implemented"


def _secret_files(secret: dict[str, Any]) -> dict[str, str]:
    """``stringData`` as first written, overridden by ``data`` (base64), as the operator reads."""
    out = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    for key, value in (secret.get("data") or {}).items():
        out[key] = base64.b64decode(value).decode()
    return out


def _version_of(obj: dict[str, Any]) -> dict[str, Any]:
    """A merge patch's precondition: the API server refuses it (409) if ``obj`` changed."""
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return {"metadata": {"resourceVersion": version}} if version else {}


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1] if name in argv[:-1] else ""


def _pod_state(pod: dict[str, Any]) -> str:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "stopped"
    phase = (pod.get("status") or {}).get("phase", "Pending")
    return {"Running": "running", "Failed": "failed", "Succeeded": "stopped"}.get(phase, "starting")


# -- the operator's side: a failover requested by annotation --------------------------------


def failover_request(annotations: dict[str, str], failover: Any) -> dict[str, str | None]:
    """The annotation patch for a pending failover request (empty if none): run
    ``failover()`` (the reconciler's) once per request, record the result, clear the
    request. A request already answered (its result was written, the clearing was not)
    is only cleared."""
    requested = annotations.get(FAILOVER_REQUESTED)
    if not requested:
        return {}
    try:
        done = json.loads(annotations.get(FAILOVER_RESULT) or "{}").get("requested")
    except ValueError:
        done = None
    if done == requested:
        return {FAILOVER_REQUESTED: None}
    result: dict[str, Any] = {"requested": requested}
    try:
        moved = failover()
        result.update(primary=moved["primary"], previous=moved["previous"])
    except ControlError as exc:
        result["error"] = str(exc)
    return {FAILOVER_REQUESTED: None, FAILOVER_RESULT: json.dumps(result, sort_keys=True)}


# -- running it ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m control.k8s_api",
        description="The admin REST API for one StrataCluster (reads and patches the resource).")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--cluster", required=True, help="the StrataCluster's name")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT")
    parser.add_argument("--token-file", default="",
                        help=f"the bearer token (default: ${TOKEN_ENV})")
    parser.add_argument("--kube-api", default="",
                        help=f"API server URL (default: ${API_ENV}, in-cluster, kubeconfig)")
    args = parser.parse_args(argv)
    token = (Path(args.token_file).read_text().strip() if args.token_file
             else os.environ.get(TOKEN_ENV, ""))
    if not token:
        parser.error(f"give --token-file or set {TOKEN_ENV}")
    import uvicorn

    from control.api import create_app

    host, _, port = args.listen.rpartition(":")
    controller = KubernetesController(login(args.kube_api), args.namespace, args.cluster,
                                      rest_address=args.listen)
    uvicorn.run(create_app(controller, token), host=host or "127.0.0.1", port=int(port),
                log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
