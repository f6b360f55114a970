"""Internal mutual TLS in Kubernetes mode: the operator makes the `<cluster>-tls` Secret once
(a CA and one certificate per role, strata.tls), every log store, page server and compute
pod mounts its role's files and runs with --internal-tls-dir (never --insecure), the
operator's control plane gets the control role's files, and the DNS SANs pass gRPC's
hostname check for the names clients dial (a real mTLS handshake on 127.0.0.1)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import kubernetes_validate
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from kopf._core.intents import registries
from kopf.testing import KopfRunner

from control import k8s_render
from strata import tls
from tests.k8s_operator import operator_fakes
from tests.k8s_operator.kmock_server import KmockServer, kmock_server
from tests.k8s_operator.test_handlers import (
    HANDLERS,
    NS,
    compute_pods,
    new_cluster,
    scale,
    status,
    wait_for,
)

K8S_VERSION = "1.30.0"
SPEC = {"objectStore": {"bucket": "b-1"}, "compute": {"replicas": 1},
        "branches": [{"name": "dev"}]}
CALL_TIMEOUT_S = 5.0


@pytest.fixture(scope="module")
def issued() -> dict[str, str]:
    return k8s_render.issue_tls_files("demo", "ns")


def _role_of_pod_spec(pod_spec: dict[str, Any]) -> tuple[str, list[str]]:
    """(role whose files the pod mounts, its container's command) after checking the mount."""
    (vol,) = [v for v in pod_spec["volumes"] if v["name"] == "internal-tls"]
    secret = vol["secret"]
    assert secret["secretName"] == "demo-tls"
    items = {i["path"]: i["key"] for i in secret["items"]}
    role = items["cert.pem"].removesuffix(".pem")
    assert items == {"ca.pem": "ca.pem", "cert.pem": f"{role}.pem", "key.pem": f"{role}-key.pem"}
    assert secret["defaultMode"] == 0o440 and pod_spec["securityContext"]["fsGroup"] == 10001
    (container,) = pod_spec["containers"]
    assert {"name": "internal-tls", "mountPath": k8s_render.INTERNAL_TLS_DIR,
            "readOnly": True} in container["volumeMounts"]
    return role, container["command"]


def _tls_args(cmd: list[str]) -> list[str]:
    text = " ".join(cmd)
    assert "--insecure" not in text, text
    assert f"--internal-tls-dir {k8s_render.INTERNAL_TLS_DIR}" in text, text
    return cmd


def test_rendered_pods_mount_their_roles_files() -> None:
    objs = {k8s_render.key(o): o for o in k8s_render.render("demo", "ns", SPEC, "uid-1")}
    roles = {}
    for kind, name in objs:
        if kind == "StatefulSet":
            spec = objs[kind, name]["spec"]["template"]["spec"]
        elif kind == "Pod":
            spec = objs[kind, name]["spec"]
        else:
            continue
        role, cmd = _role_of_pod_spec(spec)
        _tls_args(cmd)
        roles[name] = role
    assert roles == {"demo-logstore": "logstore", "demo-pageserver": "pageserver",
                     "demo-compute-1": "compute", "demo-compute-2": "compute",
                     "demo-branch-dev": "compute"}
    proxy = objs["Deployment", "demo-proxy"]["spec"]["template"]["spec"]
    assert all(v["name"] != "internal-tls" for v in proxy["volumes"])  # no internal gRPC


def test_tls_secret_validates_and_holds_every_role(issued: dict[str, str]) -> None:
    secret = k8s_render.tls_secret("demo", "ns", "uid-1", issued)
    kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    assert secret["metadata"]["name"] == "demo-tls"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert set(secret["stringData"]) == {"ca.pem", "ca-key.pem"} | {
        f"{r}{s}" for r in tls.ROLES for s in (".pem", "-key.pem")}


def test_certificates_chain_to_the_ca_with_the_right_role(issued: dict[str, str]) -> None:
    ca = x509.load_pem_x509_certificate(issued["ca.pem"].encode())
    ca_key = serialization.load_pem_private_key(issued["ca-key.pem"].encode(), password=None)
    assert ca_key.public_key() == ca.public_key()
    for role in tls.ROLES:
        cert = x509.load_pem_x509_certificate(issued[f"{role}.pem"].encode())
        cert.verify_directly_issued_by(ca)
        assert tls.role_of_cert(cert) == role
        key = serialization.load_pem_private_key(issued[f"{role}-key.pem"].encode(), password=None)
        assert key.public_key() == cert.public_key()
        dns = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        for host in k8s_render.role_hosts("demo", "ns", role):
            assert host in dns
    other = x509.load_pem_x509_certificate(k8s_render.issue_tls_files("demo", "ns")["ca.pem"].encode())
    with pytest.raises(InvalidSignature):  # a second cluster has its own CA
        x509.load_pem_x509_certificate(issued["compute.pem"].encode()).verify_directly_issued_by(other)


def _mounted(tmp: Path, issued: dict[str, str], role: str) -> Path:
    """The files as the pod sees them at INTERNAL_TLS_DIR (tls_volume's items)."""
    d = tmp / role
    d.mkdir()
    for path, key in (("ca.pem", "ca.pem"), ("cert.pem", f"{role}.pem"),
                      ("key.pem", f"{role}-key.pem")):
        (d / path).write_text(issued[key])
    return d


def test_services_accept_the_mounted_files(tmp_path: Path, issued: dict[str, str]) -> None:
    """What each service's from_flags checks at start: the files load and carry its role."""
    for role in ("logstore", "pageserver", "compute"):
        assert tls.from_flags(str(_mounted(tmp_path, issued, role)), False, role) is not None
    with pytest.raises(tls.TlsError, match="carries role 'compute'"):
        tls.from_flags(str(tmp_path / "compute"), False, "logstore")


def _serve(files: tls.TlsFiles) -> tuple[grpc.Server, int]:
    """A gRPC server with ``files`` (mTLS) whose one method answers the caller's role."""
    def whoami(request: bytes, context: grpc.ServicerContext) -> bytes:
        return tls.peer_role(context).encode()

    handler = grpc.method_handlers_generic_handler("t.T", {"WhoAmI": grpc.unary_unary_rpc_method_handler(
        whoami, request_deserializer=lambda b: b, response_serializer=lambda b: b)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(files))
    server.start()
    return server, port


def _whoami(port: int, client: tls.TlsFiles, host: str) -> str:
    with tls.channel(f"127.0.0.1:{port}", [("grpc.ssl_target_name_override", host)],
                     tls=client) as ch:
        call = ch.unary_unary("/t.T/WhoAmI", request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        return bytes(call(b"", timeout=CALL_TIMEOUT_S)).decode()


def test_hostname_check_passes_for_the_dialled_names(tmp_path: Path, issued: dict[str, str]) -> None:
    """gRPC checks the server certificate against the name dialled: the wildcard SAN covers
    every pod of the role's StatefulSet; another role's name is refused."""
    control = tls.TlsFiles.from_dir(_mounted(tmp_path, issued, "control"))
    for role, dialled in (
            ("logstore", k8s_render.logstore_addresses("demo", "ns", 5)[4]),
            ("pageserver", k8s_render.pageserver_address("demo", "ns")),
            ("compute", k8s_render.compute_address("demo", "ns", "compute-3"))):
        server, port = _serve(tls.TlsFiles.from_dir(_mounted(tmp_path, issued, role)))
        try:
            assert _whoami(port, control, dialled.rpartition(":")[0]) == "control"
            with pytest.raises(grpc.RpcError) as err:
                _whoami(port, control, "demo-x-0.demo-other.ns.svc")
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            server.stop(None)


# -- the operator (real kopf handlers against kmock) ----------------------------------------


@pytest.fixture()
def kube(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[KmockServer]:
    with kmock_server() as srv:
        monkeypatch.setenv("STRATA_KUBE_API", srv.url)
        monkeypatch.setenv("STRATA_OPERATOR_SERVICES", "tests.k8s_operator.operator_fakes:make")
        monkeypatch.setenv("STRATA_OPERATOR_DIR", str(tmp_path / "operator"))
        operator_fakes.INSTANCES.clear()
        yield srv


def _run_operator(monkeypatch: pytest.MonkeyPatch) -> KopfRunner:
    monkeypatch.setattr(registries, "_default_registry", None)  # a fresh registry per run
    return KopfRunner(["run", "--standalone", "--namespace", NS, HANDLERS], timeout=30)


def _secret_posts(srv: KmockServer) -> int:
    return sum(1 for m, p in srv.requests()
               if str(m).rpartition(".")[2].upper() == "POST"
               and p == f"/api/v1/namespaces/{NS}/secrets")


def test_operator_makes_the_secret_once(kube: KmockServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    srv = kube
    with _run_operator(monkeypatch) as runner:
        new_cluster(srv, replicas=1)
        wait_for("phase Ready", lambda: status(srv).get("phase") == "Ready")
        secret = srv.objects("v1/secrets", NS)["demo-tls"]
        files = secret["stringData"]
        assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-demo"
        ca = x509.load_pem_x509_certificate(files["ca.pem"].encode())
        for role in tls.ROLES:
            cert = x509.load_pem_x509_certificate(files[f"{role}.pem"].encode())
            cert.verify_directly_issued_by(ca)
            assert tls.role_of_cert(cert) == role
        assert _secret_posts(srv) == 2  # the auth Secret and the TLS Secret

        # the compute pods the reconciler made carry the flag and mount the compute files
        pods = srv.objects("v1/pods", NS)
        for name in compute_pods(srv):
            role, cmd = _role_of_pod_spec(pods[name]["spec"])
            assert role == "compute"
            _tls_args(cmd)
        # the control plane was handed the control role's files, private to the operator
        services = operator_fakes.INSTANCES[-1]
        assert services.tls is not None
        assert tls.role_of_cert(x509.load_pem_x509_certificate(
            services.tls.cert.read_bytes())) == "control"
        assert services.tls.ca.read_text() == files["ca.pem"]
        for path in (services.tls.ca, services.tls.cert, services.tls.key):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(services.tls.key.parent.stat().st_mode) == 0o700

        # an update does not make it again
        scale(srv, 2)
        wait_for("3 computes", lambda: len(compute_pods(srv)) == 3)
        wait_for("2 ready replicas", lambda: status(srv).get("readyReplicas") == 2)
        assert _secret_posts(srv) == 2
    assert runner.exception is None, runner.output

    # an operator restart (resume) does not either, and the CA stays
    mark = len(srv.requests())
    with _run_operator(monkeypatch) as runner:
        wait_for("the resume handler's reads", lambda: any(
            p == f"/api/v1/namespaces/{NS}/secrets/demo-tls" for _, p in srv.requests()[mark:]))
        wait_for("the control plane again", lambda: len(operator_fakes.INSTANCES) == 2)
    assert runner.exception is None, runner.output
    assert _secret_posts(srv) == 2
    assert srv.objects("v1/secrets", NS)["demo-tls"]["stringData"]["ca.pem"] == files["ca.pem"]
