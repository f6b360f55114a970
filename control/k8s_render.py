"""Kubernetes objects for a StrataCluster: a pure function of (name, namespace, spec).

The operator applies what `render` returns; nothing here talks to an API server, so every
object can be checked offline against the Kubernetes schemas (tests/k8s_operator). The
argv of each container mirrors `control.reconciler.Reconciler.process_spec` (the same
flags as local mode), with addresses that are stable DNS names of headless Services.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

GROUP = "strata.dev"
VERSION = "v1alpha1"
KIND = "StrataCluster"
PLURAL = "strataclusters"
API_VERSION = f"{GROUP}/{VERSION}"

LOGSTORE_PORT = 55401
LOGSTORE_FAST_PORT = 55420
"""The fast append stream (mutual TLS, the same files as gRPC; pod DNS names reach it)."""
PAGESERVER_PORT = 55410
COMPUTE_PORT = 55433
PROXY_PORT = 55432
MAX_REPLICAS = 16
"""Read replicas per cluster (the same bound as local mode's spec)."""
MAX_LOGSTORES = 9
DEFAULT_IMAGE = "strata:latest"
IMAGE_UID = 10001
"""The image's user (operator/deploy/Dockerfile): pods set it as fsGroup so that the
0440 TLS files (and the PVCs) are readable by it."""
INTERNAL_TLS_DIR = "/etc/strata-internal-tls"
"""Where a pod's internal TLS files are mounted (``--internal-tls-dir``): ca.pem, cert.pem,
key.pem of its role. Not under /etc/strata (the auth Secret's read-only mount in computes)
so that no mount is nested in another."""
TLS_MODE = 0o440
_TLS_FLAGS = ["--internal-tls-dir", INTERNAL_TLS_DIR]
_QUANTITY = re.compile(r"^[0-9]+(Mi|Gi|Ti)$")
_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")


class SpecInvalid(ValueError):
    """A StrataCluster spec the operator refuses; ``field`` is its path (``spec.x.y``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def with_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with the CRD's defaults filled in (an API server does this on admission;
    the operator does it again so that a spec from anywhere renders the same)."""
    out = {k: v for k, v in spec.items()}
    out.setdefault("image", DEFAULT_IMAGE)
    out["logstore"] = {"replicas": 3, "storage": "10Gi", **spec.get("logstore", {})}
    out["pageserver"] = {"replicas": 1, "storage": "50Gi", **spec.get("pageserver", {})}
    out["compute"] = {"replicas": 1, **spec.get("compute", {})}
    out["proxy"] = {"replicas": 1, "serviceType": "ClusterIP", **spec.get("proxy", {})}
    out["objectStore"] = {"prefix": "", **spec.get("objectStore", {})}
    out.setdefault("retention", "7d")
    out.setdefault("branches", [])
    return out


def validate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The defaulted spec, or SpecInvalid naming the field. The same rules as the CRD's
    schema and CEL rules, so the operator refuses a bad spec even where admission did not
    check it (e.g. a CRD installed without validation)."""
    s = with_defaults(spec)
    ls = s["logstore"]["replicas"]
    if not isinstance(ls, int) or ls < 3 or ls > MAX_LOGSTORES or ls % 2 == 0:
        raise SpecInvalid("spec.logstore.replicas",
                          f"must be odd and between 3 and {MAX_LOGSTORES}, got {ls!r}")
    if s["pageserver"]["replicas"] != 1:
        raise SpecInvalid("spec.pageserver.replicas", "only 1 page server is supported")
    n = s["compute"]["replicas"]
    if not isinstance(n, int) or not 0 <= n <= MAX_REPLICAS:
        raise SpecInvalid("spec.compute.replicas", f"must be 0..{MAX_REPLICAS}, got {n!r}")
    for part in ("logstore", "pageserver"):
        if not _QUANTITY.match(str(s[part]["storage"])):
            raise SpecInvalid(f"spec.{part}.storage", "must look like 10Gi (Mi, Gi or Ti)")
    if not s["objectStore"].get("bucket"):
        raise SpecInvalid("spec.objectStore.bucket", "is required")
    endpoint = s["objectStore"].get("endpoint", "")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise SpecInvalid("spec.objectStore.endpoint", "must be an http:// or https:// URL")
    if s["proxy"]["serviceType"] not in ("ClusterIP", "NodePort", "LoadBalancer"):
        raise SpecInvalid("spec.proxy.serviceType", "must be ClusterIP, NodePort or LoadBalancer")
    for i, b in enumerate(s["branches"]):
        if "fromLsn" in b and "fromTime" in b:
            raise SpecInvalid(f"spec.branches[{i}]", "an LSN or a time, not both")
        if "fromLsn" in b and not _LSN.match(str(b["fromLsn"])):
            raise SpecInvalid(f"spec.branches[{i}].fromLsn", "must look like 0/1B18C")
    return s


def object_store_url(spec: dict[str, Any]) -> str:
    o = spec["objectStore"]
    url = f"s3://{o['bucket']}/{o.get('prefix', '').strip('/')}"
    query = []
    if o.get("endpoint"):
        query.append(f"endpoint_url={quote(o['endpoint'], safe=':/')}")
    if o.get("region"):
        query.append(f"region={quote(o['region'])}")
    return url + ("?" + "&".join(query) if query else "")


def labels(cluster: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "strata", "app.kubernetes.io/instance": cluster,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": "strata-operator"}


def owner_reference(cluster: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "name": cluster, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


def logstore_addresses(cluster: str, namespace: str, n: int) -> list[str]:
    """Stable DNS names of the log store pods (StatefulSet pod + headless Service)."""
    svc = f"{cluster}-logstore"
    return [f"{svc}-{i}.{svc}.{namespace}.svc:{LOGSTORE_PORT}" for i in range(n)]


def pageserver_address(cluster: str, namespace: str) -> str:
    svc = f"{cluster}-pageserver"
    return f"{svc}-0.{svc}.{namespace}.svc:{PAGESERVER_PORT}"


def compute_argv(cluster: str, namespace: str, spec: dict[str, Any], name: str, role: str,
                 timeline: str = "main") -> list[str]:
    """A compute's command: the same flags as local mode's process_spec."""
    return ["python3", "-m", "strata", "compute", "--role", role,
            "--listen", f"0.0.0.0:{COMPUTE_PORT}",
            "--logstore", ",".join(logstore_addresses(cluster, namespace,
                                                      spec["logstore"]["replicas"])),
            "--pageserver", pageserver_address(cluster, namespace),
            "--tenant", "default", "--timeline", timeline, "--node-name", name,
            "--proxy-secret-file", "/etc/strata/proxy-secret",
            "--auth", "scram", "--password-file", "/etc/strata/users", *_TLS_FLAGS]


def _meta(cluster: str, namespace: str, name: str, component: str,
          uid: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(cluster, component),
            "ownerReferences": [owner_reference(cluster, uid)]}


def _env(spec: dict[str, Any]) -> list[dict[str, Any]]:
    secret = spec["objectStore"].get("credentialsSecret")
    if not secret:
        return []
    return [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]


def tls_secret_name(cluster: str) -> str:
    return f"{cluster}-tls"


def role_hosts(cluster: str, namespace: str, role: str) -> list[str]:
    """DNS SANs of a role's certificate: its headless Service and (wildcard, one label)
    every pod under it, the names the clients dial (logstore_addresses, pageserver_address,
    compute_address). One certificate per role: the pods of a role share it."""
    svc = {"logstore": f"{cluster}-logstore", "pageserver": f"{cluster}-pageserver",
           "compute": f"{cluster}-compute"}.get(role)
    return [f"*.{svc}.{namespace}.svc", f"{svc}.{namespace}.svc"] if svc else []


def tls_volume(cluster: str, role: str) -> dict[str, Any]:
    """The TLS Secret's CA and ``role``'s pair as ca.pem, cert.pem, key.pem (never the CA
    key, never another role's key)."""
    return {"name": "internal-tls", "secret": {
        "secretName": tls_secret_name(cluster), "defaultMode": TLS_MODE,
        "items": [{"key": "ca.pem", "path": "ca.pem"},
                  {"key": f"{role}.pem", "path": "cert.pem"},
                  {"key": f"{role}-key.pem", "path": "key.pem", "mode": TLS_MODE}]}}


def _tls_mount() -> dict[str, Any]:
    return {"name": "internal-tls", "mountPath": INTERNAL_TLS_DIR, "readOnly": True}


def _tcp_probe(port: int) -> dict[str, Any]:
    return {"tcpSocket": {"port": port}, "periodSeconds": 5, "failureThreshold": 3}


LIVENESS_PERIOD_S = 10
LIVENESS_FAILURES = 3
"""A log store node, page server or proxy container that misses this many liveness probes
in a row (about 30 s) is restarted by the kubelet. Generous, as local mode's
``Policy.liveness_hang_s``: a busy process answers a cheap call within it."""
LIVENESS_TIMEOUT_S = 5
"""One probe's deadline (``python3 -m control.probe --timeout``); the kubelet's bound on the
probe command adds time for the interpreter to start."""
STARTUP_FAILURES = 360
"""The startup probe (the port accepts connections) may take this many periods of 5 s
(30 min): liveness is judged only once the port is open, so a slow start (many logs to
open) is not a hang."""


def _liveness_probe(kind: str, port: int) -> dict[str, Any]:
    """``control.probe`` against the container's own port: the node's gRPC Status (mutual
    TLS with the pod's files) or the proxy's answer to GSSENCRequest. A TCP probe cannot
    tell a frozen process: the kernel completes the handshake for it."""
    command = ["python3", "-m", "control.probe", kind, f"127.0.0.1:{port}",
               "--timeout", str(LIVENESS_TIMEOUT_S)]
    if kind != "proxy":
        command += ["--tls-dir", INTERNAL_TLS_DIR]
    return {"exec": {"command": command}, "periodSeconds": LIVENESS_PERIOD_S,
            "timeoutSeconds": 2 * LIVENESS_TIMEOUT_S, "failureThreshold": LIVENESS_FAILURES}


def _startup_probe(port: int) -> dict[str, Any]:
    return {"tcpSocket": {"port": port}, "periodSeconds": 5, "failureThreshold": STARTUP_FAILURES}


def _stateful(cluster: str, namespace: str, spec: dict[str, Any], uid: str, component: str,
              replicas: int, port: int, command: list[str]) -> list[dict[str, Any]]:
    """A headless Service + a StatefulSet with a PVC per pod (stable identity and disk)."""
    name = f"{cluster}-{component}"
    part = spec[component]
    pvc_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": part["storage"]}}}
    if part.get("storageClassName"):
        pvc_spec["storageClassName"] = part["storageClassName"]
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(cluster, namespace, name, component, uid),
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                 "selector": labels(cluster, component),
                 "ports": [{"name": "grpc", "port": port, "targetPort": port}]},
    }
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": _meta(cluster, namespace, name, component, uid),
        "spec": {
            "serviceName": name, "replicas": replicas,
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": labels(cluster, component)},
            "template": {
                "metadata": {"labels": labels(cluster, component)},
                "spec": {"containers": [{
                    "name": component, "image": spec["image"],
                    "command": command, "env": _env(spec),
                    "ports": [{"name": "grpc", "containerPort": port}],
                    "readinessProbe": _tcp_probe(port),
                    "startupProbe": _startup_probe(port),
                    "livenessProbe": _liveness_probe(component, port),
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}, _tls_mount()],
                }], "volumes": [tls_volume(cluster, component)],
                    "securityContext": {"fsGroup": IMAGE_UID}},
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": pvc_spec}],
        },
    }
    return [service, sts]


def compute_pod(cluster: str, namespace: str, spec: dict[str, Any], uid: str, name: str,
                argv: list[str], role: str) -> dict[str, Any]:
    """One compute Pod (computes are stateless: no volume; the primary is elected through
    the log store term, so the pod never restarts by itself: the control plane decides)."""
    container: dict[str, Any] = {
        "name": "compute", "image": spec["image"], "command": argv, "env": _env(spec),
        "ports": [{"name": "pg", "containerPort": COMPUTE_PORT}],
        "readinessProbe": _tcp_probe(COMPUTE_PORT),
        "volumeMounts": [{"name": "secrets", "mountPath": "/etc/strata", "readOnly": True},
                         _tls_mount()],
    }
    if spec["compute"].get("resources"):
        container["resources"] = spec["compute"]["resources"]
    meta = _meta(cluster, namespace, f"{cluster}-{name}", "compute", uid)
    meta["labels"]["strata.dev/role"] = role
    meta["labels"]["strata.dev/component-name"] = name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"restartPolicy": "Never", "containers": [container],
                     # DNS name NAME.<cluster>-compute.<ns>.svc (see compute_address)
                     "hostname": name, "subdomain": f"{cluster}-compute",
                     "securityContext": {"fsGroup": IMAGE_UID},
                     "volumes": [{"name": "secrets",
                                  "secret": {"secretName": f"{cluster}-auth"}},
                                 tls_volume(cluster, "compute")]}}


def compute_address(cluster: str, namespace: str, name: str) -> str:
    """A compute pod's stable address (its hostname under the headless compute Service)."""
    return f"{name}.{cluster}-compute.{namespace}.svc:{COMPUTE_PORT}"


def topology(cluster: str, namespace: str, primary: str | None,
             replicas: list[str]) -> str:
    """The proxy's topology.json (control.reconciler's format) from compute names."""
    import json

    return json.dumps({
        "primary": compute_address(cluster, namespace, primary) if primary else None,
        "replicas": sorted(compute_address(cluster, namespace, r) for r in replicas),
    }, sort_keys=True) + "\n"


def auth_secret(cluster: str, namespace: str, uid: str, *, password: str, proxy_secret: str,
                users: str, topology_json: str) -> dict[str, Any]:
    """The Secret mounted at /etc/strata in computes and the proxy: the users file (SCRAM
    verifiers), the first user's password, the proxy's shared secret and the topology.
    Made once by the operator (random values), so it is not part of `render`."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(cluster, namespace, f"{cluster}-auth", "auth", uid),
            "stringData": {"users": users, "password": password,
                           "proxy-secret": proxy_secret, "topology.json": topology_json}}


def tls_secret(cluster: str, namespace: str, uid: str, files: dict[str, str]) -> dict[str, Any]:
    """The cluster's internal TLS Secret: ``ca.pem``, ``ca-key.pem`` and ``<role>.pem``,
    ``<role>-key.pem`` per role (issue_tls_files). Made once by the operator."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(cluster, namespace, tls_secret_name(cluster), "tls", uid),
            "stringData": dict(files)}


def issue_tls_files(cluster: str, namespace: str) -> dict[str, str]:
    """A new cluster CA and one certificate per role (strata.tls: EC P-256, the role as a
    URI SAN, role_hosts as DNS SANs) as the TLS Secret's keys. Not pure (new keys each
    call): the operator calls it once per cluster."""
    import tempfile
    from pathlib import Path

    from strata import tls

    with tempfile.TemporaryDirectory() as tmp:
        ca_dir = Path(tmp) / "ca"
        tls.create_ca(ca_dir, f"strata {namespace}/{cluster} CA")
        out = {"ca.pem": (ca_dir / tls.CA_FILE).read_text(),
               "ca-key.pem": (ca_dir / tls.CA_KEY_FILE).read_text()}
        for role in tls.ROLES:
            files = tls.issue_cert(ca_dir, Path(tmp) / role, f"{cluster}-{role}", role,
                                   role_hosts(cluster, namespace, role))
            out[f"{role}.pem"] = files.cert.read_text()
            out[f"{role}-key.pem"] = files.key.read_text()
    return out


def compute_names(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(component name, role) of the computes the spec asks for, as local mode names them."""
    n = spec["compute"]["replicas"]
    return [("compute-1", "primary")] + [(f"compute-{k}", "replica") for k in range(2, n + 2)]


def render(cluster: str, namespace: str, spec: dict[str, Any],
           uid: str = "00000000-0000-0000-0000-000000000000",
           computes: bool = True) -> list[dict[str, Any]]:
    """Every object a StrataCluster owns, in apply order (storage first, the proxy last).
    ``uid`` is the StrataCluster's, for owner references (deleting it deletes these).
    ``computes=False``: without the compute Pods (the operator's reconciler makes those
    through `KubernetesDriver`, as local mode starts processes)."""
    s = validate_spec(spec)
    store = object_store_url(s)
    nls = s["logstore"]["replicas"]
    out: list[dict[str, Any]] = []
    out += _stateful(cluster, namespace, s, uid, "logstore", nls, LOGSTORE_PORT, [
        "sh", "-c",
        # the node id is the pod's ordinal + 1 (stable across restarts and reschedules)
        f'exec python3 -m strata logstore --id $(( ${{HOSTNAME##*-}} + 1 )) '
        f'--listen 0.0.0.0:{LOGSTORE_PORT} --data-dir /data --object-store "{store}" '
        f'--internal-tls-dir {INTERNAL_TLS_DIR} --fast-append-listen 0.0.0.0:{LOGSTORE_FAST_PORT}'])
    out.append({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": _meta(cluster, namespace, f"{cluster}-logstore", "logstore", uid),
        # a voluntary eviction never takes away the majority the log needs
        "spec": {"maxUnavailable": (nls - 1) // 2,
                 "selector": {"matchLabels": labels(cluster, "logstore")}},
    })
    out += _stateful(cluster, namespace, s, uid, "pageserver", 1, PAGESERVER_PORT, [
        "python3", "-m", "strata", "pageserver", "--listen", f"0.0.0.0:{PAGESERVER_PORT}",
        "--data-dir", "/data", "--object-store", store,
        "--logstore", ",".join(logstore_addresses(cluster, namespace, nls)), *_TLS_FLAGS])
    out.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(cluster, namespace, f"{cluster}-compute", "compute", uid),
        "spec": {"clusterIP": "None", "selector": labels(cluster, "compute"),
                 "ports": [{"name": "pg", "port": COMPUTE_PORT, "targetPort": COMPUTE_PORT}]},
    })
    for name, role in compute_names(s) if computes else []:
        out.append(compute_pod(cluster, namespace, s, uid, name,
                               compute_argv(cluster, namespace, s, name, role), role))
    for b in s["branches"] if computes else []:
        name = f"branch-{b['name']}"
        out.append(compute_pod(cluster, namespace, s, uid, name,
                               compute_argv(cluster, namespace, s, name, "primary", b["name"]),
                               "primary"))
    proxy_cmd = ["python3", "-m", "strata", "proxy", "--listen", f"0.0.0.0:{PROXY_PORT}",
                 "--topology", "/etc/strata/topology.json", "--users-file", "/etc/strata/users",
                 "--auth", "scram", "--proxy-secret-file", "/etc/strata/proxy-secret"]
    volumes: list[dict[str, Any]] = [
        {"name": "secrets", "secret": {"secretName": f"{cluster}-auth"}}]
    mounts: list[dict[str, Any]] = [
        {"name": "secrets", "mountPath": "/etc/strata", "readOnly": True}]
    if s["proxy"].get("tlsSecret"):
        proxy_cmd += ["--tls-cert", "/etc/strata-tls/tls.crt", "--tls-key", "/etc/strata-tls/tls.key"]
        volumes.append({"name": "tls", "secret": {"secretName": s["proxy"]["tlsSecret"]}})
        mounts.append({"name": "tls", "mountPath": "/etc/strata-tls", "readOnly": True})
    out.append({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(cluster, namespace, f"{cluster}-proxy", "proxy", uid),
        "spec": {
            "replicas": s["proxy"]["replicas"],
            "selector": {"matchLabels": labels(cluster, "proxy")},
            "template": {
                "metadata": {"labels": labels(cluster, "proxy")},
                "spec": {"containers": [{
                    "name": "proxy", "image": s["image"], "command": proxy_cmd,
                    "ports": [{"name": "pg", "containerPort": PROXY_PORT}],
                    "readinessProbe": _tcp_probe(PROXY_PORT),
                    "startupProbe": _startup_probe(PROXY_PORT),
                    "livenessProbe": _liveness_probe("proxy", PROXY_PORT), "volumeMounts": mounts,
                }], "volumes": volumes},
            },
        },
    })
    out.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(cluster, namespace, cluster, "proxy", uid),
        "spec": {"type": s["proxy"]["serviceType"], "selector": labels(cluster, "proxy"),
                 "ports": [{"name": "pg", "port": 5432, "targetPort": PROXY_PORT}]},
    })
    return out


def key(obj: dict[str, Any]) -> tuple[str, str]:
    """(kind, name): what identifies a rendered object inside one namespace."""
    return obj["kind"], obj["metadata"]["name"]
