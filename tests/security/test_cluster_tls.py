"""`strata up` runs the whole cluster with mutual TLS: it makes the cluster CA and one
certificate per component, every service gets --internal-tls-dir, and commits and reads
work end to end (proposer appends, page server ingest, GetPage, replica streaming)."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import grpc
import pytest
from cryptography import x509

from strata.proto import logstore_pb2 as lpb
from strata.proto import logstore_pb2_grpc as lgrpc
from strata.tls import channel_credentials, role_of_cert
from tests.cluster_support import Cluster, query, running_cluster, wait_for

RPC_TIMEOUT_S = 5.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("strata-tls"), replicas=1) as c:
        yield c


def test_a_tls_cluster_commits_and_reads(cluster: Cluster) -> None:
    st = cluster.status()
    dsn = st["dsn"]
    query(dsn, "CREATE TABLE secret (k int PRIMARY KEY, v text)")
    query(dsn, "INSERT INTO secret VALUES (1, 'over mtls')")
    assert query(dsn, "SELECT v FROM secret WHERE k = 1") == [("over mtls",)]
    replica = next(c for c in st["components"] if c["role"] == "replica")
    assert wait_for(lambda: query(replica["dsn"], "SELECT v FROM secret WHERE k = 1"),
                    "the replica to stream the commit") == [("over mtls",)]

    tls = cluster.dir / "tls"
    assert stat.S_IMODE((tls / "ca-key.pem").stat().st_mode) == 0o600
    for comp in st["components"]:
        if comp["kind"] == "proxy":
            continue  # no internal gRPC: its TLS is the client-facing certificate
        files = cluster.tls(comp["name"])
        assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        assert role_of_cert(cert) == comp["kind"], comp["name"]
        head = (cluster.dir / "logs" / f"{comp['name']}.log").read_text(errors="replace")
        assert f"--internal-tls-dir {files.cert.parent}" in head, comp["name"]
        assert "--insecure" not in head


def test_the_cluster_refuses_plaintext_and_strangers(cluster: Cluster) -> None:
    st = cluster.status()
    acceptor = next(c for c in st["components"] if c["kind"] == "logstore")["address"]
    req = lpb.StatusRequest(tenant="default", timeline="main")
    with grpc.insecure_channel(acceptor) as ch:
        with pytest.raises(grpc.RpcError) as info:
            lgrpc.LogStoreStub(ch).Status(req, timeout=RPC_TIMEOUT_S)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    primary = next(c for c in st["components"] if c["role"] == "primary")
    with grpc.secure_channel(acceptor, channel_credentials(cluster.tls("control"))) as ch:
        status = lgrpc.LogStoreStub(ch).Status(req, timeout=RPC_TIMEOUT_S)
        assert status.promised_term >= 1
        # the control plane's certificate cannot take the term from the primary
        with pytest.raises(grpc.RpcError) as info:
            lgrpc.LogStoreStub(ch).Vote(lpb.VoteRequest(
                tenant="default", timeline="main", term=status.promised_term + 1,
                proposer="control"), timeout=RPC_TIMEOUT_S)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
        assert lgrpc.LogStoreStub(ch).Status(
            req, timeout=RPC_TIMEOUT_S).promised_term == status.promised_term
    query(primary["dsn"], "INSERT INTO secret VALUES (2, 'still primary')")
