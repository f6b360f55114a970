"""The fast append stream over an acceptor's Unix socket (logstore/fastappend.py, decision
0018): the same handler as the TCP port, owner-only, fenced, durable, and a proposer that
cannot use it falls back to TCP."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import stat
import struct
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import MakeCluster
from logstore_helpers import (
    LOG,
    AcceptorProc,
    Acked,
    Cluster,
    append_indexed,
    check_every_log,
    read_frames,
    read_log,
)

from logstore.errors import FencedError, TransportError
from logstore.fastappend import (
    FAST_APPEND_UNIX_KEY,
    HEADER,
    KIND_ACK,
    KIND_APPEND,
    KIND_ERROR,
    MAGIC,
    UNIX_SOCKET_NAME,
    FastAppendChannel,
    FastAppendServer,
    UnixSocketError,
    _AppendProtocol,
    bind_owner_only,
)
from logstore.proposer import Proposer
from logstore.segments import payload_crc
from logstore.transport import UNIX_SOCKETS_ENV, GrpcTransport, local_sockets
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc

FAST = ["--fast-append-listen", "auto"]


def _sock(node: Any) -> Path:
    return Path(node.data_dir).absolute() / UNIX_SOCKET_NAME


def _unix_factory(cluster: Cluster) -> Any:
    """Proposer transports told every acceptor's socket (what `strata up` sets in the env)."""
    paths = {n.addr: str(_sock(n)) for n in cluster.nodes}
    return lambda addr: GrpcTransport(addr, unix_path=paths[addr])


async def _paths(p: Proposer, expected: list[str]) -> list[str]:
    """``p.append_paths()`` once it is ``expected`` (a peer past the first majority may still
    be syncing when a commit returns), or as it is after 10 s."""
    for _ in range(500):
        if p.append_paths() == expected:
            break
        await asyncio.sleep(0.02)
    return p.append_paths()


def _append_msg(term: int, start: int, payload: bytes) -> bytes:
    rec = pb.Record(payload=payload, crc32c=payload_crc(payload))
    body = pb.AppendRequest(term=term, start_lsn=start, records=[rec], commit_lsn=start, **LOG).SerializeToString()
    return HEADER.pack(len(body), KIND_APPEND) + body


def test_the_socket_is_owner_only_and_advertised(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1, extra=FAST)
    node = cluster.nodes[0]
    st = os.lstat(_sock(node))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.geteuid()
    with grpc.insecure_channel(node.addr) as ch:
        _, call = pb_grpc.LogStoreStub(ch).Vote.with_call(pb.VoteRequest(term=1, **LOG), timeout=5)
        told = dict(call.trailing_metadata() or ())
    assert told[FAST_APPEND_UNIX_KEY] == str(_sock(node))
    # SIGKILL leaves the file behind: the restarted acceptor replaces it and serves again
    node.kill()
    assert _sock(node).exists()
    node.start()
    st2 = os.lstat(_sock(node))
    assert stat.S_IMODE(st2.st_mode) == 0o600 and st2.st_mtime_ns >= st.st_mtime_ns
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(_sock(node)))
    # a clean stop removes it
    node.stop()
    assert not _sock(node).exists()


def test_a_second_acceptor_on_the_same_data_dir_refuses_to_start(make_cluster: MakeCluster, tmp_path: Path) -> None:
    cluster = make_cluster(n=1, extra=FAST)
    first = cluster.nodes[0]
    twin = AcceptorProc(1, tmp_path, FAST)  # another port, the same data directory
    assert twin.data_dir == first.data_dir
    twin.start(wait=False)
    assert twin.proc is not None
    assert twin.proc.wait(30) == 2
    assert "is in use" in twin.log_tail()
    assert first.alive() and first.status().promised_term == 0
    with socket.socket(socket.AF_UNIX) as s:  # still the first one's
        s.connect(str(_sock(first)))


def test_no_socket_when_switched_off(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1, extra=[*FAST, "--no-fast-append-unix"])
    assert not _sock(cluster.nodes[0]).exists()
    with grpc.insecure_channel(cluster.nodes[0].addr) as ch:
        _, call = pb_grpc.LogStoreStub(ch).Vote.with_call(pb.VoteRequest(term=1, **LOG), timeout=5)
        assert FAST_APPEND_UNIX_KEY not in dict(call.trailing_metadata() or ())


def test_same_rules_on_the_socket_acks_after_fsync_and_a_stale_term_is_refused(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1, extra=FAST)
    node = cluster.nodes[0]
    with grpc.insecure_channel(node.addr) as ch:
        stub = pb_grpc.LogStoreStub(ch)
        stub.Vote(pb.VoteRequest(term=2, **LOG), timeout=5)
        req = pb.StartTermRequest(term=2, term_history=[pb.TermEntry(term=2, start_lsn=0)], truncate_lsn=0, **LOG)
        stub.StartTerm(req, timeout=5)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(_sock(node)))
        s.sendall(MAGIC + _append_msg(2, 0, b"first") + _append_msg(1, 5, b"stale term"))
        frames = read_frames(s)
    assert [k for k, _ in frames] == [KIND_ACK, KIND_ERROR]
    ack = pb.AppendResponse.FromString(frames[0][1])
    assert (ack.end_lsn, ack.term) == (5, 2) and ack.flush_lsn >= 5
    code, promised = struct.unpack_from("<IQ", frames[1][1])
    assert code == grpc.StatusCode.ABORTED.value[0] and promised == 2
    assert asyncio.run(read_log(node.addr)) == [(0, 2, b"first")]
    with socket.socket(socket.AF_UNIX) as s:  # not our magic: closed, nothing said
        s.connect(str(_sock(node)))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert read_frames(s) == []
    assert node.alive()


def test_a_proposer_commits_over_the_sockets_and_is_fenced_there(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)

    async def go() -> int:
        a = Proposer(cluster.addrs, deadline_s=10, name="a", transport_factory=_unix_factory(cluster), **LOG)
        b = Proposer(cluster.addrs, deadline_s=10, name="b", transport_factory=_unix_factory(cluster), **LOG)
        try:
            await a.elect()
            end = 0
            for i in range(50):
                end = await a.append([f"record {i} ".encode() * (1 + i % 40)])
            futs = [a.submit([b"x" * 4000]) for _ in range(50)]  # pipelined
            for e, fut in futs:
                end = await a.wait_commit(e, fut)
            assert await _paths(a, ["unix"] * 3) == ["unix"] * 3
            await b.elect()
            with pytest.raises(FencedError):
                await a.append([b"late"])
            end = await b.append([b"from b"])
            assert await _paths(b, ["unix"] * 3) == ["unix"] * 3
            return end
        finally:
            await a.close()
            await b.close()

    end = asyncio.run(go())
    logs = [asyncio.run(read_log(addr)) for addr in cluster.addrs]
    for log in logs:
        assert b"late" not in [x[2] for x in log]
    assert logs[0][-1][2] == b"from b" and logs[0][-1][0] + len(b"from b") == end
    assert len(logs[0]) == 101


def test_a_removed_socket_falls_back_to_tcp(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)
    os.unlink(_sock(cluster.nodes[0]))

    async def go() -> None:
        p = Proposer(cluster.addrs, deadline_s=10, transport_factory=_unix_factory(cluster), **LOG)
        try:
            await p.elect()
            for i in range(20):
                await p.append([b"r%d" % i])
            assert await _paths(p, ["tcp", "unix", "unix"]) == ["tcp", "unix", "unix"]
        finally:
            await p.close()

    asyncio.run(go())
    assert len(asyncio.run(read_log(cluster.addrs[0]))) == 20


def test_the_transport_uses_the_socket_only_when_told_and_advertised(tmp_path: Path) -> None:
    async def go() -> None:
        path = str(tmp_path / "nobody.sock")
        t = GrpcTransport("127.0.0.1:1", unix_path=path)
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        t.learn_fast_port([("strata-fast-append-port", str(port)), (FAST_APPEND_UNIX_KEY, path + "x")])
        ch = t.append_stream()  # advertised another path: not this machine's acceptor
        assert isinstance(ch, FastAppendChannel) and ch.kind == "tcp"
        ch.cancel()
        t.learn_fast_port([("strata-fast-append-port", str(port)), (FAST_APPEND_UNIX_KEY, path)])
        ch = t.append_stream()
        assert isinstance(ch, FastAppendChannel) and ch.kind == "unix"
        with pytest.raises(TransportError):
            await ch.send(pb.AppendRequest(term=1, **LOG))  # no such socket
        ch.cancel()
        ch = t.append_stream()  # for FALLBACK_S: the TCP port
        assert isinstance(ch, FastAppendChannel) and ch.kind == "tcp"
        ch.cancel()
        await t.close()
        t2 = GrpcTransport("127.0.0.1:1")  # told nothing (no env): never the socket
        t2.learn_fast_port([("strata-fast-append-port", str(port)), (FAST_APPEND_UNIX_KEY, path)])
        ch = t2.append_stream()
        assert isinstance(ch, FastAppendChannel) and ch.kind == "tcp"
        ch.cancel()
        await t2.close()

    asyncio.run(go())


def test_local_sockets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert local_sockets("") == {}
    assert local_sockets("127.0.0.1:1=/a/s, 127.0.0.1:2=/b/s") == {"127.0.0.1:1": "/a/s", "127.0.0.1:2": "/b/s"}
    for bad in ("127.0.0.1:1", "127.0.0.1:1=relative", "127.0.0.1:1=/a/s,127.0.0.1:2=/a/s"):
        with pytest.raises(ValueError):
            local_sockets(bad)
    monkeypatch.setenv(UNIX_SOCKETS_ENV, "127.0.0.1:3=/c/s")
    assert local_sockets() == {"127.0.0.1:3": "/c/s"}

    async def go() -> None:  # a transport's socket defaults to the env's entry for its address
        told, other = GrpcTransport("127.0.0.1:3"), GrpcTransport("127.0.0.1:4")
        assert (told._unix_path, other._unix_path) == ("/c/s", "")
        await told.close()
        await other.close()

    asyncio.run(go())


class _FakeSock:
    def __init__(self, uid: int) -> None:
        self.uid = uid

    def getsockopt(self, level: int, opt: int, size: int) -> bytes:
        assert (level, opt) == (socket.SOL_SOCKET, socket.SO_PEERCRED)
        return struct.pack("3i", 1234, self.uid, self.uid)


class _FakeTransport:
    def __init__(self, uid: int) -> None:
        self.sock = _FakeSock(uid)
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True


def test_the_socket_refuses_another_uid() -> None:
    """Defense beside the 0600 mode: a peer of another uid (root, say) gets PERMISSION_DENIED."""
    server = FastAppendServer(lambda r: [], lambda t, tl: None, lambda e: grpc.StatusCode.UNKNOWN)  # type: ignore[arg-type,return-value]
    other = _AppendProtocol(server, local=True)
    t = _FakeTransport(os.geteuid() + 1)
    other.connection_made(t)  # type: ignore[arg-type]
    assert t.closed and other.done
    n, kind = HEADER.unpack_from(t.written)
    assert kind == KIND_ERROR and struct.unpack_from("<I", t.written, HEADER.size)[0] == \
        grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert server.unix_connections == 0
    same = _AppendProtocol(server, local=True)
    t2 = _FakeTransport(os.geteuid())
    same.connection_made(t2)  # type: ignore[arg-type]
    assert not t2.closed and not same.done and t2.written == b""
    assert server.unix_connections == 1


def test_a_live_socket_is_not_replaced_and_a_file_is_not_removed(tmp_path: Path) -> None:
    path = tmp_path / UNIX_SOCKET_NAME
    live = bind_owner_only(path)
    live.listen(1)
    try:
        with pytest.raises(UnixSocketError, match="in use"):
            bind_owner_only(path)
    finally:
        live.close()
    stale = bind_owner_only(path)  # nobody listens any more: replaced
    stale.close()
    path.unlink()
    path.write_text("not a socket")
    with pytest.raises(UnixSocketError, match="not a socket"):
        bind_owner_only(path)
    assert path.read_text() == "not a socket"


N_RECORDS = 4000
WRITERS = 8


def test_sigkill_during_unix_appends_loses_no_acknowledged_record(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)
    rng = random.Random(18)
    sizes = [rng.randint(16, 4096) for _ in range(N_RECORDS)]
    seen_paths: list[list[str]] = []

    async def main() -> None:
        p = Proposer(cluster.addrs, deadline_s=10, transport_factory=_unix_factory(cluster), **LOG)
        try:
            await p.elect()
            acked: Acked = {}

            async def killer() -> None:
                victim = cluster.nodes[1]
                for at in (N_RECORDS // 4, N_RECORDS // 2):
                    while len(acked) < at:
                        await asyncio.sleep(0.005)
                    seen_paths.append(p.append_paths())
                    victim.kill()  # SIGKILL mid-stream: its socket file stays behind
                    await asyncio.sleep(0.3)
                    await asyncio.to_thread(victim.start)
                for _ in range(500):  # back on its (new) socket once it is in sync again
                    if p.append_paths() == ["unix"] * 3:
                        break
                    await asyncio.sleep(0.02)
                seen_paths.append(p.append_paths())

            await asyncio.gather(killer(), append_indexed(p, sizes, rng, WRITERS, acked))
            await check_every_log(cluster.addrs, sizes, acked)
        finally:
            await p.close()

    asyncio.run(main())
    assert seen_paths[0][1] == "unix"  # the first kill came during Unix appends to the victim
    assert seen_paths[-1] == ["unix"] * 3  # and the restarted node is back on its socket
    assert all(node.alive() for node in cluster.nodes)
