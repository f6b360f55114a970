"""`KubernetesDriver`: the `Driver` protocol over the Kubernetes API, one Pod a component.

The reconciler says "start compute-2 with this argv"; this driver creates the Pod
``<cluster>-compute-2`` running that argv (listen addresses opened to the pod network,
data directories on the pod's volume). A Pod that ended (phase Failed/Succeeded) or is
being deleted is not alive, so the reconciler's restart and failover decisions are the
same as with local processes. The client is the official `kubernetes` package (sync, like
the reconciler); every call has a bounded timeout.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from kubernetes import client  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from control.driver import STOP_GRACE_S, ProcessSpec
from control.k8s_render import compute_pod, labels, owner_reference
from strata.tls import CA_FILE, CERT_FILE, KEY_FILE, TlsFiles

API_TIMEOUT_S = 10.0
"""One Kubernetes API call's bound."""
IMAGE = "strata:latest"


def api_client(host: str, token: str = "", verify_ssl: bool = True) -> client.ApiClient:
    """A client for an API server URL (in a pod: the service account's token and CA)."""
    cfg = client.Configuration()
    cfg.host = host
    cfg.verify_ssl = verify_ssl
    if token:
        cfg.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(cfg)


class KubernetesDriver:
    """Runs each component as a Pod owned by the StrataCluster ``cluster``."""

    def __init__(self, api: client.ApiClient, namespace: str, cluster: str,
                 cluster_uid: str, image: str = IMAGE,
                 cluster_spec: dict[str, Any] | None = None,
                 rewrite: Callable[[list[str]], list[str]] | None = None) -> None:
        """``cluster_spec`` (the StrataCluster's defaulted spec) switches on operator mode:
        log store and page server nodes are StatefulSet pods and the proxy a Deployment
        (rendered by the operator; here start adopts them and stop deletes the pod, which
        its workload recreates), computes are Pods made by `compute_pod` with ``rewrite``
        applied to the reconciler's argv (local addresses and files -> in-cluster ones)."""
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.cluster = cluster
        self.uid = cluster_uid
        self.image = image
        self.cluster_spec = cluster_spec
        self.rewrite = rewrite or (lambda argv: argv)
        self._ids = itertools.count(1)

    def _workload(self, name: str) -> bool:
        return self.cluster_spec is not None and not name.startswith(("compute-", "branch-"))

    def pod_name(self, name: str) -> str:
        if self._workload(name) and not name.startswith("proxy-"):
            kind, _, index = name.rpartition("-")  # logstore-1 -> <cluster>-logstore-0
            return f"{self.cluster}-{kind}-{int(index) - 1}"
        return f"{self.cluster}-{name}"

    def pod(self, proc: ProcessSpec) -> dict[str, Any]:
        """The Pod for one component: its argv as the container command (``python3`` in
        the image instead of the daemon's interpreter; 127.0.0.1 listeners opened to the
        pod network)."""
        argv = ["python3", *proc.argv[1:]]
        for i, arg in enumerate(argv[:-1]):
            if arg == "--listen":
                argv[i + 1] = "0.0.0.0:" + argv[i + 1].rpartition(":")[2]
            elif arg == "--data-dir":
                argv[i + 1] = "/data"
        argv = self.rewrite(argv)
        kind = proc.name.rpartition("-")[0] or proc.name
        role = argv[argv.index("--role") + 1] if "--role" in argv else ""
        if self.cluster_spec is not None:
            return compute_pod(self.cluster, self.namespace, self.cluster_spec, self.uid,
                               proc.name, argv, role)
        meta_labels = {**labels(self.cluster, kind), "strata.dev/component-name": proc.name}
        if role:
            meta_labels["strata.dev/role"] = role
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.pod_name(proc.name), "namespace": self.namespace,
                         "labels": meta_labels,
                         "ownerReferences": [owner_reference(self.cluster, self.uid)]},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": kind, "image": self.image, "command": argv,
                "env": [{"name": k, "value": v} for k, v in sorted(proc.env.items())],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                "volumes": [{"name": "data", "emptyDir": {}}]},
        }

    def _read(self, name: str) -> Any | None:
        try:
            return self.core.read_namespaced_pod(self.pod_name(name), self.namespace,
                                                 _request_timeout=API_TIMEOUT_S)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _delete(self, name: str, grace_s: int) -> None:
        try:
            self.core.delete_namespaced_pod(
                self.pod_name(name), self.namespace, grace_period_seconds=grace_s,
                _request_timeout=API_TIMEOUT_S)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def start(self, proc: ProcessSpec) -> int:
        if self._workload(proc.name):
            return next(self._ids)  # its StatefulSet/Deployment runs it
        old = self._read(proc.name)
        if old is not None:
            if _pod_alive(old):
                raise RuntimeError(f"{proc.name} is already running (pod {old.metadata.name})")
            self._delete(proc.name, 0)  # an ended pod keeps its name until deleted
        self.core.create_namespaced_pod(self.namespace, self.pod(proc),
                                        _request_timeout=API_TIMEOUT_S)
        return next(self._ids)

    def stop(self, name: str, grace_s: float = STOP_GRACE_S) -> None:
        if not (self._workload(name) and name.startswith("proxy-")):
            self._delete(name, max(1, int(grace_s)))

    def kill(self, name: str) -> None:
        if not (self._workload(name) and name.startswith("proxy-")):
            self._delete(name, 0)

    def alive(self, name: str) -> bool:
        if self._workload(name):
            return True  # its StatefulSet/Deployment keeps (or makes) a pod running
        pod = self._read(name)
        return pod is not None and _pod_alive(pod)

    def exit_detail(self, name: str) -> str:
        pod = self._read(name)
        if pod is None:
            return "pod deleted"
        for cs in (pod.status.container_statuses or []) if pod.status else []:
            term = cs.state.terminated if cs.state else None
            if term is not None:
                return f"exit code {term.exit_code}" + (f" ({term.reason})" if term.reason else "")
        return ""


def _pod_alive(pod: Any) -> bool:
    if pod.metadata.deletion_timestamp is not None:
        return False
    phase = pod.status.phase if pod.status else None
    return phase not in ("Failed", "Succeeded")


# -- the operator's control plane: the local-mode reconciler on Kubernetes -----------------


class AddressedServices:
    """`Services` with the reconciler's component addresses (``host:port`` from its spec)
    mapped to in-cluster DNS names by ``resolve``."""

    def __init__(self, inner: Any, resolve: Callable[[str], str]) -> None:
        self.inner = inner
        self.resolve = resolve

    def node_status(self, address: str) -> dict[str, Any] | None:
        return self.inner.node_status(self.resolve(address))  # type: ignore[no-any-return]

    def promote(self, address: str) -> None:
        self.inner.promote(self.resolve(address))

    def accepts_connections(self, address: str) -> bool:
        return bool(self.inner.accepts_connections(self.resolve(address)))

    def ensure_log(self, address: str, tenant: str, timeline: str, start_lsn: int) -> None:
        self.inner.ensure_log(self.resolve(address), tenant, timeline, start_lsn)

    def probe(self, kind: str, address: str, timeout_s: float) -> None:
        self.inner.probe(kind, self.resolve(address), timeout_s)

    def __getattr__(self, name: str) -> Any:  # logs, timelines: no component address
        return getattr(self.inner, name)


ServicesFactory = Callable[[list[str], str, tuple[str, str], TlsFiles | None], Any]
"""(log store addresses, page server address, (user, password), the control plane's TLS
files or None for plaintext) -> Services."""


class KubernetesCluster:
    """One StrataCluster's control plane inside the operator: `control.reconciler.Reconciler`
    (the same decisions as local mode: restarts, scale, failover by promotion) driving Pods
    through `KubernetesDriver`. Its working directory holds the auth files from the
    cluster's Secret and the control role's TLS files from its TLS Secret (``control_tls``:
    (ca, cert, key) PEM; None: plaintext gRPC); its state is rebuilt from the Pods when the
    operator restarts."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str, uid: str,
                 spec: dict[str, Any], auth: dict[str, str], workdir: Any,
                 services_factory: ServicesFactory,
                 control_tls: tuple[str, str, str] | None = None) -> None:
        from pathlib import Path

        from control import k8s_render
        from control.reconciler import Policy, Reconciler
        from control.spec import ClusterSpec
        from control.state import ClusterDir, ClusterState, ComponentState
        from control.users import write_private

        self.namespace = namespace
        self.name = name
        self.spec = k8s_render.validate_spec(spec)
        self.cdir = ClusterDir(Path(workdir) / namespace / name)
        self.cdir.create()
        for key in ("users", "password", "proxy-secret", "control-password"):
            write_private(self.cdir.path / key, auth.get(key, ""))
        tls: TlsFiles | None = None
        if control_tls is not None:
            tls_dir = self.cdir.path / "tls-control"  # 0700, files 0600: the operator's own
            tls_dir.mkdir(mode=0o700, exist_ok=True)
            tls_dir.chmod(0o700)
            for fname, text in zip((CA_FILE, CERT_FILE, KEY_FILE), control_tls, strict=True):
                write_private(tls_dir / fname, text)
            tls = TlsFiles.from_dir(tls_dir)
        self.tls = tls
        n = self.spec["logstore"]["replicas"]
        cspec = ClusterSpec(dir=str(self.cdir.path), logstores=n,
                            replicas=self.spec["compute"]["replicas"],
                            object_store=k8s_render.object_store_url(self.spec))
        state = ClusterState(spec=cspec)
        self.driver = KubernetesDriver(api, namespace, name, uid, image=self.spec["image"],
                                       cluster_spec=self.spec, rewrite=self._rewrite)
        for pod in self._compute_pods():  # an operator restart: adopt what runs
            lab = pod.metadata.labels
            cmd = pod.spec.containers[0].command
            state.components.append(ComponentState(
                kind="compute", name=lab["strata.dev/component-name"],
                role=lab.get("strata.dev/role", "replica"),
                timeline=cmd[cmd.index("--timeline") + 1],
                address=f"{cspec.host}:{cmd[cmd.index('--listen') + 1].rpartition(':')[2]}",
                state="starting"))
        login = ("strata_control", auth.get("control-password", "").strip())
        inner = services_factory(k8s_render.logstore_addresses(name, namespace, n),
                                 k8s_render.pageserver_address(name, namespace), login, tls)
        self.services = AddressedServices(inner, self.resolve)
        # liveness of the log store, page server and proxy pods: their livenessProbe
        # (k8s_render), run by the kubelet next to each container, not from here
        self.reconciler = Reconciler(self.cdir, state, self.driver, self.services,
                                     Policy(liveness_hang_s=0.0),
                                     port_free=lambda host, port: True)
        self.state = state
        self.detail = ""
        self.branch_errors: dict[str, str] = {}
        """Branches of the spec that could not be created yet: name -> why."""

    def _compute_pods(self) -> list[Any]:
        pods = self.driver.core.list_namespaced_pod(
            self.namespace, label_selector=f"app.kubernetes.io/instance={self.name},"
            "app.kubernetes.io/component=compute", _request_timeout=API_TIMEOUT_S)
        return [p for p in pods.items if _pod_alive(p)
                and (p.metadata.labels or {}).get("app.kubernetes.io/instance") == self.name]

    def resolve(self, address: str) -> str:
        """The reconciler's address of a component -> its in-cluster DNS name."""
        from control import k8s_render

        comp = next((c for c in self.state.components if c.address == address), None)
        if comp is None:
            return address
        port = address.rpartition(":")[2]
        if comp.kind == "compute":
            return f"{comp.name}.{self.name}-compute.{self.namespace}.svc:{port}"
        if comp.kind == "logstore":
            n = self.spec["logstore"]["replicas"]
            return k8s_render.logstore_addresses(self.name, self.namespace, n)[comp.node_id - 1]
        if comp.kind == "pageserver":
            return k8s_render.pageserver_address(self.name, self.namespace)
        return f"{self.name}.{self.namespace}.svc:5432"

    def _rewrite(self, argv: list[str]) -> list[str]:
        """A compute's argv from the reconciler -> the one for its pod (in-cluster log store
        and page server names, the auth files from the mounted Secret, the compute role's
        TLS files mounted from the TLS Secret instead of the reconciler's --insecure)."""
        from control import k8s_render

        out: list[str] = []
        for arg in argv:  # the reconciler here has no tls_dir, so it says --insecure
            out += ["--internal-tls-dir", k8s_render.INTERNAL_TLS_DIR] if arg == "--insecure" \
                else [arg]
        files = {"--password-file": "/etc/strata/users",
                 "--proxy-secret-file": "/etc/strata/proxy-secret"}
        for i, arg in enumerate(out[:-1]):
            if arg == "--logstore":
                out[i + 1] = ",".join(k8s_render.logstore_addresses(
                    self.name, self.namespace, self.spec["logstore"]["replicas"]))
            elif arg == "--pageserver":
                out[i + 1] = k8s_render.pageserver_address(self.name, self.namespace)
            elif arg in files:
                out[i + 1] = files[arg]
        return out

    def set_spec(self, spec: dict[str, Any]) -> None:
        from control import k8s_render

        self.spec = k8s_render.validate_spec(spec)
        self.driver.cluster_spec = self.spec
        self.reconciler.set_replicas(self.spec["compute"]["replicas"])

    def _bootstrap(self) -> None:
        """Local mode's first start, once: the main log, then its page server timeline
        (both idempotent here: Conflict means done)."""
        from control.errors import Conflict

        spec = self.state.spec
        try:
            self.services.create_log(spec.tenant, spec.timeline, 0)
        except Conflict:
            pass
        if not self.services.timeline_exists(spec.tenant, spec.timeline):
            self.services.create_timeline(spec.tenant, spec.timeline)
        self.state.bootstrapped = True

    def step(self) -> None:
        """One bootstrap attempt (until done), one reconciler step, pod role labels."""
        if not self.state.bootstrapped:
            try:
                self._bootstrap()
                self.detail = ""
            except Exception as exc:  # noqa: BLE001 - retried next step, reported in status
                self.detail = f"bootstrap: {exc}"
        stage = self.reconciler.stage
        stage.primary = stage.replicas = self.state.bootstrapped
        if self.state.bootstrapped:
            self._sync_branches()
        self.reconciler.step()
        for comp in self.state.components:
            if comp.kind == "compute" and comp.state in ("starting", "running"):
                self._label_role(comp.name, comp.role)

    def _sync_branches(self) -> None:
        """spec.branches -> the reconciler's branches (local mode's `strata branch create`
        and `delete`: timeline, log, its own primary compute). A refused branch (e.g. an
        LSN in the future) is reported and tried again next step."""
        from control.errors import ControlError
        from control.reconciler import parse_lsn, parse_timestamp_us

        wanted = {b["name"]: b for b in self.spec["branches"]}
        have = {b.name for b in self.state.branches}
        errors: dict[str, str] = {}
        for name, b in wanted.items():
            if name in have:
                continue
            try:
                if "fromLsn" in b:
                    self.reconciler.create_branch(name, lsn=parse_lsn(b["fromLsn"]))
                elif "fromTime" in b:
                    self.reconciler.create_branch(
                        name, timestamp_us=parse_timestamp_us(b["fromTime"]),
                        timestamp_text=b["fromTime"], kind="restore")
                else:
                    self.reconciler.create_branch(name)
            except ControlError as exc:
                errors[name] = str(exc)
        for name in sorted(have - set(wanted)):
            self.reconciler.delete_branch(name)
        self.branch_errors = errors

    def _label_role(self, name: str, role: str) -> None:
        pod = self.driver._read(name)
        if pod is None or (pod.metadata.labels or {}).get("strata.dev/role") == role:
            return
        self.driver.core.patch_namespaced_pod(
            self.driver.pod_name(name), self.namespace,
            {"metadata": {"labels": {"strata.dev/role": role}}},
            _request_timeout=API_TIMEOUT_S)

    def topology_json(self) -> str:
        import json

        topo = self.reconciler.topology()
        return json.dumps({
            "primary": self.resolve(topo["primary"]) if topo["primary"] else None,
            "replicas": sorted(self.resolve(a) for a in topo["replicas"]),
        }, sort_keys=True) + "\n"

    def status(self) -> dict[str, Any]:
        """The StrataCluster's status block: phase, primary, readyReplicas, LSNs, conditions."""
        from datetime import UTC, datetime

        from control.reconciler import format_lsn

        st = self.reconciler.status()
        main = [c for c in st["components"] if c["kind"] == "compute"
                and c["timeline"] == self.state.spec.timeline]
        primary = next((c for c in main if c["role"] == "primary"), None)
        primary_ok = primary is not None and primary["state"] == "running"
        ready = sum(1 for c in main if c["role"] == "replica" and c["state"] == "running")
        want = self.state.spec.replicas
        if not self.state.bootstrapped:
            phase = "Creating"
        elif primary_ok and ready >= want:
            phase = "Ready"
        else:
            phase = "Degraded"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        def cond(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
            return {"type": ctype, "status": "True" if ok else "False", "reason": reason,
                    "message": message, "lastTransitionTime": now}

        return {
            "phase": phase,
            "primary": f"{self.name}-{primary['name']}" if primary else "",
            "readyReplicas": ready,
            "commitLsn": format_lsn(primary["lsn"]) if primary else "",
            "replayLsns": {f"{self.name}-{c['name']}": format_lsn(c["lsn"])
                           for c in main if c["role"] == "replica"},
            "conditions": [
                cond("Bootstrapped", self.state.bootstrapped,
                     "LogAndTimelineCreated" if self.state.bootstrapped else "Bootstrapping",
                     self.detail or ("the main log and timeline exist"
                                     if self.state.bootstrapped else "waiting for storage")),
                cond("PrimaryAvailable", primary_ok,
                     "PrimaryRunning" if primary_ok else "NoRunningPrimary",
                     f"primary {primary['name']} is {primary['state']}" if primary
                     else "no primary"),
                cond("ReplicasReady", ready >= want,
                     "ReplicasReady" if ready >= want else "ReplicasNotReady",
                     f"{ready} of {want} read replicas ready"),
                cond("BranchesReady", not self.branch_errors,
                     "BranchesCreated" if not self.branch_errors else "BranchRefused",
                     "; ".join(f"{n}: {e}" for n, e in sorted(self.branch_errors.items()))
                     or f"{len(self.state.branches)} branches"),
            ],
            "branches": [{"name": b.name, "ancestorLsn": format_lsn(b.ancestor_lsn),
                          "state": next((c.state for c in self.state.components
                                         if c.timeline == b.name), "pending")}
                         for b in self.state.branches],
            "events": self.reconciler.events[-10:],
        }

    def close(self) -> None:
        self.reconciler.close()
        self.services.close()
