"""The fast append stream (logstore/fastappend.py) and pre-written segments
(logstore/segments.py): the same rules as gRPC AppendStream and growing segment files."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from pathlib import Path

import grpc
import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, read_frames, read_log

from logstore import segments
from logstore.acceptor import Acceptor
from logstore.errors import FencedError, TransportError
from logstore.fastappend import (
    FAST_APPEND_PORT_KEY,
    HEADER,
    KIND_ACK,
    KIND_APPEND,
    KIND_ERROR,
    MAGIC,
    MAX_FRAME_BYTES,
    FastAppendChannel,
)
from logstore.proposer import Proposer
from logstore.segments import SPARE, SegmentStore, parse_frames, payload_crc, seg_name
from logstore.transport import GrpcTransport, _GrpcAppendChannel
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc

FAST = ["--fast-append-listen", "auto"]  # opt-in: the default is off (see logstore/cli.py)


def _fast_port(addr: str, term: int) -> int:
    """Vote ``term`` on the default log; the fast append port from the trailing metadata."""
    with grpc.insecure_channel(addr) as ch:
        _, call = pb_grpc.LogStoreStub(ch).Vote.with_call(pb.VoteRequest(term=term, **LOG), timeout=5)
        for key, value in call.trailing_metadata() or ():
            if key == FAST_APPEND_PORT_KEY:
                return int(value)
    return 0


def _error(body: bytes) -> tuple[grpc.StatusCode, str]:
    code, _ = struct.unpack_from("<IQ", body)
    return next(c for c in grpc.StatusCode if c.value[0] == code), body[12:].decode()


def _send(port: int, payload: bytes) -> list[tuple[int, bytes]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        return read_frames(s)


def test_proposer_commits_over_the_fast_stream(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)

    async def go() -> int:
        p = Proposer(cluster.addrs, deadline_s=10, **LOG)
        await p.elect()
        ports = [peer.t._fast_port for peer in p._peers]  # type: ignore[attr-defined]
        assert all(ports), ports
        end = 0
        for i in range(100):
            end = await p.append([f"record {i} ".encode() * (1 + i % 50)])
        fut_ends = [p.submit([b"x" * 3000]) for _ in range(50)]  # pipelined
        for e, fut in fut_ends:
            end = await p.wait_commit(e, fut)
        await p.close()
        return end

    end = asyncio.run(go())
    for node in cluster.nodes:
        assert "fast_append_port" in node.log_tail(20000)
    logs = [asyncio.run(read_log(a)) for a in cluster.addrs]
    assert logs[0][-1][0] + len(logs[0][-1][2]) == end
    assert len(logs[0]) == 150
    assert min(len(x) for x in logs) >= 149  # every acceptor has (nearly) all; the quorum has all


def test_off_means_grpc(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=["--fast-append-listen", "off"])

    async def go() -> int:
        p = Proposer(cluster.addrs, deadline_s=10, **LOG)
        await p.elect()
        assert [peer.t._fast_port for peer in p._peers] == [0, 0, 0]  # type: ignore[attr-defined]
        end = await p.append([b"over grpc"])
        await p.close()
        return end

    assert asyncio.run(go()) == len(b"over grpc")


def test_unreachable_fast_port_falls_back_to_grpc() -> None:
    async def go() -> None:
        t = GrpcTransport("127.0.0.1:1")
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            t._fast_port = s.getsockname()[1]
        ch = t.append_stream()
        assert isinstance(ch, FastAppendChannel)
        try:
            await ch.send(pb.AppendRequest(term=1, **LOG))
            raise AssertionError("connected to a closed port")
        except TransportError:
            pass
        ch.cancel()
        assert isinstance(t.append_stream(), _GrpcAppendChannel)  # for FALLBACK_S
        await t.close()

    asyncio.run(go())


def test_bad_input_on_the_fast_port(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1, extra=FAST)
    port = _fast_port(cluster.addrs[0], 1)
    assert port
    assert _send(port, b"GET / HTTP/1.0\r\n\r\n") == []  # not our magic: closed, nothing said
    for bad in (
        HEADER.pack(3, 9) + b"abc",  # unknown kind
        HEADER.pack(MAX_FRAME_BYTES + 1, KIND_APPEND),  # too big
        HEADER.pack(3, KIND_APPEND) + b"\xff\xff\xff",  # not a protobuf
    ):
        [(kind, body)] = _send(port, MAGIC + bad)
        assert kind == KIND_ERROR
        code, msg = _error(body)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "malformed request message" in msg, msg
    # A valid message for a term that was voted but not started: refused like on gRPC.
    req = pb.AppendRequest(term=1, start_lsn=0, records=[pb.Record(payload=b"a", crc32c=payload_crc(b"a"))], **LOG)
    body = req.SerializeToString()
    [(kind, err)] = _send(port, MAGIC + HEADER.pack(len(body), KIND_APPEND) + body)
    assert kind == KIND_ERROR and _error(err)[0] == grpc.StatusCode.FAILED_PRECONDITION
    bad_crc = pb.AppendRequest(term=1, start_lsn=0, records=[pb.Record(payload=b"a", crc32c=1)], **LOG)
    body = bad_crc.SerializeToString()
    [(kind, err)] = _send(port, MAGIC + HEADER.pack(len(body), KIND_APPEND) + body)
    assert kind == KIND_ERROR and _error(err)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert cluster.nodes[0].alive()
    assert cluster.nodes[0].status().promised_term == 1


def test_acks_in_order_then_the_error(make_cluster: MakeCluster) -> None:
    """Two good appends then one with a gap: two acks (after fdatasync), then the error."""
    cluster = make_cluster(n=1, extra=FAST)
    addr = cluster.addrs[0]
    port = _fast_port(addr, 1)
    with grpc.insecure_channel(addr) as ch:
        req = pb.StartTermRequest(term=1, term_history=[pb.TermEntry(term=1, start_lsn=0)], truncate_lsn=0, **LOG)
        pb_grpc.LogStoreStub(ch).StartTerm(req, timeout=5)
    msgs = b""
    for start, payload in ((0, b"first"), (5, b"second"), (100, b"gap")):
        rec = pb.Record(payload=payload, crc32c=payload_crc(payload))
        body = pb.AppendRequest(term=1, start_lsn=start, records=[rec], commit_lsn=start, **LOG).SerializeToString()
        msgs += HEADER.pack(len(body), KIND_APPEND) + body
    frames = _send(port, MAGIC + msgs)
    assert [k for k, _ in frames] == [KIND_ACK, KIND_ACK, KIND_ERROR]
    acks = [pb.AppendResponse.FromString(b) for _, b in frames[:2]]
    assert [(a.end_lsn, a.term) for a in acks] == [(5, 1), (11, 1)]
    assert all(a.flush_lsn >= a.end_lsn for a in acks)  # acknowledged only once durable
    assert _error(frames[2][1])[0] == grpc.StatusCode.OUT_OF_RANGE
    assert asyncio.run(read_log(addr)) == [(0, 1, b"first"), (5, 1, b"second")]


def test_fenced_over_the_fast_stream(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)

    async def go() -> None:
        a = Proposer(cluster.addrs, deadline_s=5, name="a", **LOG)
        await a.elect()
        await a.append([b"from a"])
        b = Proposer(cluster.addrs, deadline_s=5, name="b", **LOG)
        await b.elect()
        try:
            await a.append([b"late"])
            raise AssertionError("a deposed proposer committed")
        except FencedError:
            pass
        await b.append([b"from b"])
        await a.close()
        await b.close()

    asyncio.run(go())


# ---- pre-written segments ----------------------------------------------------------------


def _fill(store: SegmentStore, lsn: int, n: int, size: int = 1000) -> tuple[int, list[bytes]]:
    payloads = [bytes([65 + (lsn + i) % 26]) * size for i in range(n)]
    for p in payloads:
        lsn = store.append(lsn, [(1, p)])
    return lsn, payloads


def _all(store: SegmentStore) -> list[bytes]:
    out, lsn = [], store.first_lsn()
    while lsn < store.end_lsn:
        frames = store.read_local(lsn, store.end_lsn, 1 << 20)
        out += [f.payload for f in frames]
        lsn = frames[-1].end_lsn
    return out


def test_fast_filled_segments_get_no_spare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-writing doubles the bytes written: a log filling segments faster than
    PREWRITE_MAX_BYTES_S does without; a slow one gets a spare."""
    monkeypatch.setattr(segments, "PREWRITE_MAX_BYTES_S", 4096 / 0.02)  # a segment per 20 ms
    store = SegmentStore(tmp_path / "fast", 4096)
    store.open()
    _fill(store, 0, 10)  # a segment per few hundred microseconds
    assert not store.want_spare
    store.close()
    slow = SegmentStore(tmp_path / "slow", 4096)
    slow.open()
    lsn = 0
    for _ in range(3):
        time.sleep(0.05)
        lsn, _ = _fill(slow, lsn, 4)
    assert slow.want_spare
    slow.close()


def test_prewritten_segment_is_used_sealed_exactly_and_cut_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "PREWRITE_MAX_BYTES_S", 1 << 62)
    seg_dir = tmp_path / "segments"
    store = SegmentStore(seg_dir, 4096)
    store.open()
    lsn, written = _fill(store, 0, 10)  # two rotations: this log fills segments
    assert store.want_spare
    assert store.make_spare()
    store.spare_ready = True
    assert (seg_dir / SPARE).stat().st_size == 4096
    before = {p.name for p in seg_dir.glob("*.seg")}
    lsn, more = _fill(store, lsn, 6)
    written += more
    assert not (seg_dir / SPARE).exists() and not store.spare_ready  # renamed into place
    sealed = store.segments[:-1]
    for seg in sealed:  # sealed segments end at their last frame, pre-written or not
        assert (seg_dir / seg_name(seg.start_lsn)).stat().st_size == seg.size
    prewritten = next(s for s in store.segments if seg_name(s.start_lsn) not in before)
    assert prewritten in sealed or os.path.getsize(seg_dir / seg_name(prewritten.start_lsn)) >= 4096
    # The active segment is pre-written again; a crash leaves its zeros behind.
    assert store.make_spare()
    store.spare_ready = True
    lsn, more = _fill(store, lsn, 3)
    written += more
    active = store.segments[-1]
    path = seg_dir / seg_name(active.start_lsn)
    assert path.stat().st_size > active.size  # zeros after the last frame
    job = store.prepare_sync()
    store.run_sync(job)
    os.close(store._fd)  # type: ignore[arg-type]  # SIGKILL: no clean close
    again = SegmentStore(seg_dir, 4096)
    notes = again.open(durable_lsn=lsn, terms=(1,))
    assert any("pre-written tail" in n for n in notes), notes
    assert again.end_lsn == lsn
    assert path.stat().st_size == again.segments[-1].size
    assert _all(again) == written
    # Appending continues at the end; a clean close leaves no zeros behind.
    lsn, more = _fill(again, lsn, 3)
    written += more
    again.close()
    for p in seg_dir.glob("*.seg"):
        data = p.read_bytes()
        assert sum(len(f.payload) for _, f in parse_frames(data, int(p.stem, 16))) > 0
    third = SegmentStore(seg_dir, 4096)
    assert third.open(durable_lsn=lsn, terms=(1,)) == []
    assert _all(third) == written
    third.close()


def test_acceptor_prewrites_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "PREWRITE_MAX_BYTES_S", 1 << 62)

    async def go() -> None:
        acc = Acceptor(1, tmp_path / "acc", segment_bytes=8192)
        acc.open()
        acc.start_background()
        await acc.vote(1)
        await acc.start_term(1, [(1, 0)], 0)
        lsn = 0
        for i in range(40):
            payload = bytes([i]) * 1000
            lsn, flush, _ = await acc.append(1, lsn, [(payload, payload_crc(payload))], lsn)
            assert flush >= lsn
            await asyncio.sleep(0.005)  # let the worker finish a spare now and then
        seg_dir = tmp_path / "acc" / "segments"
        await asyncio.sleep(0.3)
        assert acc.store.spare_ready  # made by the worker for the next rotation
        assert (seg_dir / SPARE).stat().st_size == 8192
        await acc.close()
        for seg in acc.store.segments:  # closed: every file ends at its last frame
            assert os.path.getsize(seg_dir / seg_name(seg.start_lsn)) == seg.size

    asyncio.run(go())


def test_a_ready_spare_is_never_rewritten_under_a_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotation while the spare job runs makes a new file and still wants a spare; once
    the job is done the spare must be used by the next rotation, not rewritten by a second
    job: that job truncates SPARE and writes zeros into it, so a rotation during it made the
    file being zeroed the active segment (zeros over appended records) and left spare_ready
    set with no SPARE (the next rotation failed with ENOENT and stopped the node). Found in
    issue 16 session 13: rotations without an inline fdatasync made it frequent."""
    import threading

    monkeypatch.setattr(segments, "PREWRITE_MAX_BYTES_S", 1 << 62)
    gate = threading.Event()
    jobs: list[int] = []

    async def go() -> None:
        acc = Acceptor(1, tmp_path / "acc", segment_bytes=8192)
        real = acc.store.make_spare

        def slow_spare() -> bool:
            jobs.append(len(acc.store.segments))
            gate.wait(10)
            return real()

        acc.store.make_spare = slow_spare  # type: ignore[method-assign]
        acc.open()
        acc.start_background()
        await acc.vote(1)
        await acc.start_term(1, [(1, 0)], 0)
        lsn = 0
        payloads: list[bytes] = []

        async def append(i: int) -> None:
            nonlocal lsn
            payload = bytes([i % 251 + 1]) * 1500
            payloads.append(payload)
            lsn, _, _ = await acc.append(1, lsn, [(payload, payload_crc(payload))], lsn)

        i = 0
        while len(acc.store.segments) < 3:  # two rotations: the second one while the job waits
            await append(i)
            i += 1
        assert len(jobs) == 1
        gate.set()
        for _ in range(200):  # the job ends; its done callback runs on the loop
            await asyncio.sleep(0.01)
            if acc.store.spare_ready:
                break
        assert acc.store.spare_ready
        await append(i)  # no rotation: must not start a job over the ready spare
        i += 1
        assert len(jobs) == 1, jobs
        while len(acc.store.segments) < 6:  # the spare is used, then made again
            await append(i)
            i += 1
            await asyncio.sleep(0.005)
        await acc.close()
        assert len(jobs) >= 2
        reopened = SegmentStore(tmp_path / "acc" / "segments", 8192)
        reopened.open(durable_lsn=lsn, terms=(1,))
        assert _all(reopened) == payloads  # every record as appended: no zeros over any
        reopened.close()

    asyncio.run(go())


def test_sync_proposer_from_many_threads(make_cluster: MakeCluster) -> None:
    """The compute's path: threads submit concurrently; every future resolves with its own
    end LSN, in LSN order, and the log holds exactly what was submitted, in that order."""
    import threading

    from logstore.proposer import SyncProposer

    cluster = make_cluster(extra=FAST)
    sp = SyncProposer(cluster.addrs, deadline_s=10, **LOG)
    sp.elect()
    submitted: list[tuple[int, bytes]] = []
    lock = threading.Lock()
    ends: list[int] = []

    def writer(w: int) -> None:
        for i in range(40):
            payload = f"w{w}-{i}-".encode() * (1 + (w + i) % 7)
            with lock:  # the compute's writer lock: LSN order == submit order
                end, fut = sp.submit([payload])
                submitted.append((end - len(payload), payload))
            got = fut.result(timeout=10)
            assert got == end
            with lock:
                ends.append(end)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ends) == 320
    assert sp.commit_lsn >= max(ends)
    sp.close()
    logs = [asyncio.run(read_log(a)) for a in cluster.addrs]
    longest = max(logs, key=len)  # a majority has every commit; one acceptor may lag
    assert [(lsn, payload) for lsn, _, payload in longest] == sorted(submitted)
    for other in logs:
        assert other == longest[: len(other)]
