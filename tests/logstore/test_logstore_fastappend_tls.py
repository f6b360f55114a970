"""The fast append stream over mutual TLS (logstore/fastappend.py): the acceptor serves it with
the files of its gRPC server and checks peers as gRPC does (cluster CA, role compute); a
proposer with TLS never uses a plaintext fast stream."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from logstore_helpers import LOG, REPO, free_port

from logstore.client import LogStoreClient
from logstore.errors import TransportError
from logstore.fastappend import (
    FAST_APPEND_PORT_KEY,
    FAST_APPEND_TLS_PORT_KEY,
    HEADER,
    KIND_ACK,
    KIND_APPEND,
    KIND_ERROR,
    MAGIC,
    FastAppendChannel,
)
from logstore.proposer import Proposer
from logstore.transport import AppendChannel, GrpcTransport, _GrpcAppendChannel
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc
from strata.tls import TlsFiles, channel_credentials, create_ca, ensure_component, issue_cert

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Pki:
    compute: TlsFiles
    pageserver: TlsFiles
    logstore: TlsFiles
    control: TlsFiles
    foreign_compute: TlsFiles
    """Role compute, signed by a CA the acceptors do not trust."""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    other = root / "other-ca"
    create_ca(other, name="somebody else's CA")
    return Pki(
        compute=ensure_component(root / "tls", "compute-1", "compute"),
        pageserver=ensure_component(root / "tls", "pageserver-1", "pageserver"),
        logstore=ensure_component(root / "tls", "logstore-1", "logstore"),
        control=ensure_component(root / "tls", "control", "control"),
        foreign_compute=issue_cert(other, other / "compute-x", "compute-x", "compute"),
    )


@dataclass
class TlsAcceptors:
    addrs: list[str]
    procs: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def fast_port(self, i: int, pki: Pki, term: int = 1) -> tuple[str, int]:
        """Vote ``term`` on acceptor ``i`` as the compute; (metadata key, port) advertised."""
        with grpc.secure_channel(self.addrs[i], channel_credentials(pki.compute)) as ch:
            _, call = pb_grpc.LogStoreStub(ch).Vote.with_call(pb.VoteRequest(term=term, **LOG), timeout=5)
            for key, value in call.trailing_metadata() or ():
                if key in (FAST_APPEND_PORT_KEY, FAST_APPEND_TLS_PORT_KEY):
                    return key, int(value)
        return "", 0

    def flush_lsn(self, i: int, pki: Pki) -> int:
        with grpc.secure_channel(self.addrs[i], channel_credentials(pki.control)) as ch:
            resp = pb_grpc.LogStoreStub(ch).Status(pb.StatusRequest(**LOG), timeout=5)
            return int(resp.flush_lsn)


@pytest.fixture
def acceptors(pki: Pki, tmp_path: Path) -> Iterator[TlsAcceptors]:
    """Three acceptors with mutual TLS and the fast append stream on, the default log made."""
    out = TlsAcceptors([], [], [])
    tls_dir = str(pki.logstore.cert.parent)
    for i in range(1, 4):
        addr = f"127.0.0.1:{free_port()}"
        log_path = tmp_path / f"acceptor-{i}.log"
        with open(log_path, "ab") as logf:
            out.procs.append(subprocess.Popen(
                [sys.executable, "-m", "strata.cli", "logstore", "--id", str(i), "--listen", addr,
                 "--data-dir", str(tmp_path / f"acceptor-{i}"), "--internal-tls-dir", tls_dir,
                 "--fast-append-listen", "auto"],
                cwd=REPO, stdout=logf, stderr=logf, env={**os.environ, "PYTHONPATH": str(REPO)}))
        out.addrs.append(addr)
        out.logs.append(log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        for addr in out.addrs:
            while True:
                try:
                    with grpc.secure_channel(addr, channel_credentials(pki.control)) as ch:
                        pb_grpc.LogStoreStub(ch).Status(pb.StatusRequest(), timeout=1)
                    break
                except grpc.RpcError:
                    dead = [p.returncode for p in out.procs if p.poll() is not None]
                    if dead or time.monotonic() > deadline:
                        raise AssertionError(f"acceptors did not start: {[p.read_text() for p in out.logs]}") from None
                    time.sleep(0.1)
        with LogStoreClient(out.addrs, tls=pki.control) as client:
            client.create_log(LOG["tenant"], LOG["timeline"], 0)
        yield out
    finally:
        for p in out.procs:
            p.kill()
            p.wait(10)


class _Recording(GrpcTransport):
    """GrpcTransport that remembers the append channels it handed out."""

    channels: list[AppendChannel]

    def append_stream(self) -> AppendChannel:
        ch = super().append_stream()
        self.channels.append(ch)
        return ch


def test_a_tls_proposer_commits_over_the_tls_fast_stream(pki: Pki, acceptors: TlsAcceptors) -> None:
    transports: list[_Recording] = []

    def factory(addr: str) -> GrpcTransport:
        t = _Recording(addr, tls=pki.compute)
        t.channels = []
        transports.append(t)
        return t

    async def go() -> int:
        p = Proposer(acceptors.addrs, deadline_s=10, transport_factory=factory, **LOG)
        await p.elect()
        end = 0
        for i in range(50):
            end = await p.append([f"record {i} ".encode() * (1 + i % 30)])
        fut_ends = [p.submit([b"x" * 3000]) for _ in range(20)]  # pipelined
        for e, fut in fut_ends:
            end = await p.wait_commit(e, fut)
        await p.close()
        return end

    end = asyncio.run(go())
    assert end > 0
    for t in transports:
        assert t._fast_port > 0  # learned under the TLS key
        assert t.channels and all(isinstance(c, FastAppendChannel) for c in t.channels)
        assert t._fast_off_until == 0.0  # never fell back: every TLS connect succeeded
    for i in range(3):
        assert acceptors.flush_lsn(i, pki) <= end
    assert max(acceptors.flush_lsn(i, pki) for i in range(3)) == end
    for log_path in acceptors.logs:
        assert '"fast_append_tls": true' in log_path.read_text()


def test_a_tls_acceptor_advertises_only_the_tls_key(pki: Pki, acceptors: TlsAcceptors) -> None:
    key, port = acceptors.fast_port(0, pki)
    assert key == FAST_APPEND_TLS_PORT_KEY and port > 0


def test_a_tls_proposer_ignores_a_plaintext_advertisement(pki: Pki) -> None:
    async def go() -> None:
        tls = GrpcTransport("127.0.0.1:1", tls=pki.compute)
        tls.learn_fast_port(((FAST_APPEND_PORT_KEY, "4242"),))
        assert tls._fast_port == 0
        assert isinstance(tls.append_stream(), _GrpcAppendChannel)
        tls.learn_fast_port(((FAST_APPEND_PORT_KEY, "4242"), (FAST_APPEND_TLS_PORT_KEY, "4343")))
        assert tls._fast_port == 4343
        plain = GrpcTransport("127.0.0.1:1")
        plain.learn_fast_port(((FAST_APPEND_TLS_PORT_KEY, "4343"),))
        assert plain._fast_port == 0  # and a plaintext proposer does not try TLS ports
        await tls.close()
        await plain.close()

    asyncio.run(go())


def test_a_tls_proposer_refuses_a_plaintext_fast_server(pki: Pki) -> None:
    """Even pointed at a plaintext fast append server, the TLS channel fails its handshake
    and the transport falls back to gRPC; nothing is sent in the clear."""
    received = bytearray()

    async def go() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.extend(await reader.read(1 << 16))
            writer.write(MAGIC)  # not a TLS server hello
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        t = GrpcTransport("127.0.0.1:1", tls=pki.compute)
        t.learn_fast_port(((FAST_APPEND_TLS_PORT_KEY, str(port)),))
        ch = t.append_stream()
        assert isinstance(ch, FastAppendChannel)
        with pytest.raises(TransportError):
            await ch.send(pb.AppendRequest(term=1, **LOG))
        ch.cancel()
        assert isinstance(t.append_stream(), _GrpcAppendChannel)  # fell back for FALLBACK_S
        await t.close()
        server.close()
        await server.wait_closed()

    asyncio.run(go())
    assert MAGIC not in received and b"record" not in received
    assert received[:1] == b"\x16"  # a TLS handshake record (ClientHello), nothing else


def _append_frame() -> bytes:
    body = pb.AppendRequest(term=1, start_lsn=0, commit_lsn=0, **LOG).SerializeToString()
    return MAGIC + HEADER.pack(len(body), KIND_APPEND) + body


def _read_all(sock: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    sock.settimeout(10)
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except (ssl.SSLError, ConnectionError):
        pass  # the acceptor aborted the handshake or the connection
    return data


def _tls_exchange(port: int, files: TlsFiles | None, ca: Path) -> bytes:
    """Connect with TLS (client certificate ``files``, or none), send an append, return what
    the acceptor answered before closing (b"" if the handshake was refused)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca))
    if files is not None:
        ctx.load_cert_chain(files.cert, files.key)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(_append_frame())
                return _read_all(s)
        except (ssl.SSLError, ConnectionError):
            return b""


def _kinds(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos + HEADER.size <= len(data):
        n, kind = HEADER.unpack_from(data, pos)
        out.append(kind)
        pos += HEADER.size + n
    return out


def test_the_acceptor_rejects_peers_without_a_valid_certificate(pki: Pki, acceptors: TlsAcceptors) -> None:
    _, port = acceptors.fast_port(0, pki)
    assert port > 0
    # plaintext on the TLS port: the handshake fails, no frame comes back
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_append_frame())
        answer = _read_all(s)
    assert KIND_ACK not in _kinds(answer) and MAGIC not in answer
    # TLS without a client certificate, and with one from another CA: refused
    assert _tls_exchange(port, None, pki.compute.ca) == b""
    assert _tls_exchange(port, pki.foreign_compute, pki.compute.ca) == b""
    # the cluster CA but not a proposer's role: PERMISSION_DENIED, nothing appended
    answer = _tls_exchange(port, pki.pageserver, pki.compute.ca)
    assert _kinds(answer) == [KIND_ERROR], answer
    code = struct.unpack_from("<I", answer, HEADER.size)[0]
    assert code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert b"role 'pageserver'" in answer
    # the compute's certificate gets its request handled (term 1 is fenced by the vote above
    # being for term 1 with no StartTerm: an error frame from the append path, not a refusal)
    answer = _tls_exchange(port, pki.compute, pki.compute.ca)
    assert _kinds(answer) and b"refused for" not in answer
    assert acceptors.flush_lsn(0, pki) == 0
