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
from typing import Any

from kubernetes import client  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from control.driver import STOP_GRACE_S, ProcessSpec
from control.k8s_render import labels, owner_reference

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
                 cluster_uid: str, image: str = IMAGE) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.cluster = cluster
        self.uid = cluster_uid
        self.image = image
        self._ids = itertools.count(1)

    def pod_name(self, name: str) -> str:
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
        kind = proc.name.rpartition("-")[0] or proc.name
        role = argv[argv.index("--role") + 1] if "--role" in argv else ""
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
        old = self._read(proc.name)
        if old is not None:
            if _pod_alive(old):
                raise RuntimeError(f"{proc.name} is already running (pod {old.metadata.name})")
            self._delete(proc.name, 0)  # an ended pod keeps its name until deleted
        self.core.create_namespaced_pod(self.namespace, self.pod(proc),
                                        _request_timeout=API_TIMEOUT_S)
        return next(self._ids)

    def stop(self, name: str, grace_s: float = STOP_GRACE_S) -> None:
        self._delete(name, max(1, int(grace_s)))

    def kill(self, name: str) -> None:
        self._delete(name, 0)

    def alive(self, name: str) -> bool:
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
