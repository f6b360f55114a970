"""Bad input on every surface of a running cluster (log store and page server gRPC ports,
the admin REST API, the PostgreSQL port): each is refused, nothing crashes, no data changes."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import struct
from typing import Any

import grpc
import httpx
import pytest

from strata.proto import logstore_pb2 as lpb
from strata.proto import logstore_pb2_grpc as lgrpc
from strata.proto import pageserver_pb2 as ppb
from strata.proto import pageserver_pb2_grpc as pgrpc
from strata.tls import channel_credentials
from tests.cluster_support import Cluster, query, wait_for

RPC_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 2.0
READ_LIMIT_BYTES = 1 << 16
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Not parseable as protobuf: wire type 7 does not exist; a length running past the end.
BAD_PROTOBUFS = (b"\x0f\xff\xff\xff", b"\x1a\xff\xff\xff\x0f\x01", b"\xff" * 64)
SNAPSHOT_SQL = "SELECT count(*), sum(v), min(k), max(k) FROM ledger"


def send_raw(address: str, payload: bytes) -> bytes:
    """Send bytes, read what comes back until the peer closes or goes quiet."""
    host, port = address.rsplit(":", 1)
    got = b""
    with socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S) as s:
        with contextlib.suppress(OSError):
            s.sendall(payload)
            while len(got) < READ_LIMIT_BYTES:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
    return got


def garbage_payloads(rng: random.Random) -> list[bytes]:
    settings_too_long = struct.pack(">I", 0xFFFFFF)[1:] + b"\x04\x00\x00\x00\x00\x00"
    return [
        rng.randbytes(4096),
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + rng.randbytes(64),       # malformed preface
        b"PRI * HTTP/1.1\r\n\r\n",                                   # truncated, wrong preface
        H2_PREFACE + settings_too_long + rng.randbytes(128),         # frame claims 16 MiB
        H2_PREFACE + b"\x00\x00\x04\xff\x00\x00\x00\x00\x01" + b"\x00" * 4,  # unknown frame type
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ]


def pg_payloads(rng: random.Random) -> list[bytes]:
    startup = struct.pack(">ii", 8 + len(b"user\x00postgres\x00\x00"), 196608) + b"user\x00postgres\x00\x00"
    return [
        rng.randbytes(4096),
        struct.pack(">ii", 8, 1234),                     # unknown protocol code
        struct.pack(">i", 0x7FFFFFFF) + b"\x00\x03\x00\x00",  # absurd startup length
        struct.pack(">ii", 8, 80877103) + rng.randbytes(256),  # SSLRequest then garbage
        startup + b"Z\x00\x00\x00\x04" + rng.randbytes(512),   # a session then garbage messages
        startup + b"Q\x7f\xff\xff\xff" + b"SELECT 1",           # a query claiming 2 GiB
        H2_PREFACE,
    ]


def expect_rpc_error(call: Any, request: Any, codes: tuple[grpc.StatusCode, ...]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=RPC_TIMEOUT_S)
    code: grpc.StatusCode = err.value.code()
    assert code in codes, (code, err.value.details())
    return code


def test_bad_input_everywhere(cluster: Cluster) -> None:
    st = cluster.status()
    dsn: str = st["primary_dsn"]
    query(dsn, "CREATE TABLE ledger (k int PRIMARY KEY, v int)")
    query(dsn, "INSERT INTO ledger SELECT g, g * 3 FROM generate_series(1, 500) AS g")
    before = query(dsn, SNAPSHOT_SQL)
    assert before == [(500, 375750, 1, 500)]
    pids = {c["name"]: c["pid"] for c in st["components"]}
    logstores = [c["address"] for c in st["components"] if c["kind"] == "logstore"]
    pageserver = next(c["address"] for c in st["components"] if c["kind"] == "pageserver")
    computes = [c["address"] for c in st["components"] if c["kind"] == "compute"]
    computes_named = [c["name"] for c in st["components"] if c["kind"] == "compute"]
    rng = random.Random(0x5EED)

    for address in [*logstores, pageserver]:
        for payload in garbage_payloads(rng):
            reply = send_raw(address, payload)
            assert b"HTTP/1.1 200" not in reply

    bad_codes = (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT,
                 grpc.StatusCode.UNKNOWN)
    invalid = (grpc.StatusCode.INVALID_ARGUMENT,)  # the log store refuses undecodable requests
    not_found = (grpc.StatusCode.NOT_FOUND,)
    seen: list[str] = []
    # internal gRPC is mutual TLS: each method is probed with a role allowed to call it (a
    # compute; the control plane for CreateTimeline)
    as_compute = channel_credentials(cluster.tls(computes_named[0]))
    as_control = channel_credentials(cluster.tls("control"))
    for address in logstores:
        with grpc.secure_channel(address, as_compute) as ch:
            for method in ("Append", "Read", "Vote", "StartTerm"):
                raw = ch.unary_unary(f"/strata.logstore.v1.LogStore/{method}",
                                     request_serializer=None, response_deserializer=None)
                for payload in BAD_PROTOBUFS:
                    seen.append(f"LogStore/{method}: {expect_rpc_error(raw, payload, invalid).name}")
            stub = lgrpc.LogStoreStub(ch)
            for tenant, timeline in (("nosuch", "main"), ("default", "nosuch")):
                expect_rpc_error(stub.Read, lpb.ReadRequest(tenant=tenant, timeline=timeline,
                                                           from_lsn=0, max_bytes=1024), not_found)
                expect_rpc_error(stub.Status, lpb.StatusRequest(tenant=tenant, timeline=timeline),
                                 not_found)
    with grpc.secure_channel(pageserver, as_compute) as ch, \
            grpc.secure_channel(pageserver, as_control) as admin:
        for method in ("GetPage", "GetPages", "GetTimeline", "CreateTimeline"):
            raw = (admin if method == "CreateTimeline" else ch).unary_unary(f"/strata.pageserver.PageServer/{method}",
                                 request_serializer=None, response_deserializer=None)
            for payload in BAD_PROTOBUFS:
                seen.append(f"PageServer/{method}: {expect_rpc_error(raw, payload, bad_codes).name}")
        pstub = pgrpc.PageServerStub(ch)
        for tenant, timeline in (("nosuch", "main"), ("default", "nosuch")):
            expect_rpc_error(pstub.GetPage, ppb.GetPageRequest(tenant=tenant, timeline=timeline,
                                                               db_id=0, page_no=1, lsn=0), not_found)
            expect_rpc_error(pstub.GetTimeline, ppb.GetTimelineRequest(tenant=tenant, timeline=timeline),
                             not_found)
    print(f"\ngarbage protobuf answers: {sorted(set(seen))}")

    with cluster.rest() as api:
        base = str(api.base_url).rstrip("/")
        for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                        {"Authorization": "Bearer " + "x" * 10000}, {}):
            resp = httpx.put(f"{base}/v1/replicas", json={"replicas": 0}, headers=headers)
            assert resp.status_code == 401, resp.text
        for body in (b"{not json", b"\xff\xfe\x00garbage", b'{"replicas": "many"}', b"[]",
                     b'{"replicas": 100000}', rng.randbytes(2048)):
            resp = api.put("/v1/replicas", content=body, headers={"Content-Type": "application/json"})
            assert resp.status_code in (400, 422), (body, resp.status_code, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
        for body in (b'{"name": "../../etc", "lsn": "zz/zz"}', b'{"name": "x", "lsn": "1/2/3"}',
                     b'{"name": "x", "timestamp": "yesterday"}', b'{"name": 7}'):
            resp = api.post("/v1/branches", content=body, headers={"Content-Type": "application/json"})
            assert resp.status_code in (400, 422), (body, resp.status_code, resp.text)
        assert api.get("/v1/branches").json() == []
    send_raw(st["rest_address"], rng.randbytes(4096))

    for address in computes:
        for payload in pg_payloads(rng):
            reply = send_raw(address, payload)
            # PostgreSQL's answer: a FATAL ErrorResponse (protocol violation or unsupported
            # protocol), then the connection closes.
            assert b"SFATAL\x00" in reply and (b"C08P01\x00" in reply or b"C0A000\x00" in reply), \
                (payload[:16], reply[-120:])

    after = cluster.status()
    assert after["phase"] == "ready"
    for c in after["components"]:
        assert c["state"] == "running" and c["pid"] == pids[c["name"]], c
        os.kill(c["pid"], 0)
    assert query(dsn, SNAPSHOT_SQL) == before
    for c in after["components"]:
        if c["kind"] == "compute" and c["role"] == "replica":
            assert wait_for(lambda c=c: query(c["dsn"], SNAPSHOT_SQL) == before, c["name"])
    query(dsn, "INSERT INTO ledger VALUES (501, 0)")
    assert query(dsn, "SELECT count(*) FROM ledger") == [(501,)]
