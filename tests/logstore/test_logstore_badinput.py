"""Bad input is refused with a clear status and never stops the node; damaged disks are
either repaired (torn tail) or stop the node with a clear message (corruption)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import grpc
import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, read_log, wait_flush

from logstore import Proposer
from logstore.segments import FRAME_SIZE, payload_crc
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc


def _rec(payload: bytes, crc: int | None = None) -> pb.Record:
    return pb.Record(payload=payload, crc32c=payload_crc(payload) if crc is None else crc)


def test_garbage_and_malformed_requests_are_refused(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1)
    node = cluster.nodes[0]
    # Garbage bytes on the port, then a half-open connection.
    for junk in (b"\x00" * 64, os.urandom(4096), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", node.port), timeout=2) as s:
            s.sendall(junk)
            s.settimeout(2)
            try:
                s.recv(1024)
            except (TimeoutError, ConnectionResetError):
                pass
    with grpc.insecure_channel(node.addr) as ch:
        # Bytes that are not a valid protobuf message.
        raw = ch.unary_unary("/strata.logstore.v1.LogStore/Append")
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\xff\xff\xff\xff\x0f garbage", timeout=5)
        # Undecodable requests are refused as the client's fault, naming the problem.
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
        assert "malformed request message" in (info.value.details() or "")
        unknown = ch.unary_unary("/strata.logstore.v1.LogStore/NoSuchMethod")
        with pytest.raises(grpc.RpcError) as info:
            unknown(b"", timeout=5)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        stub = pb_grpc.LogStoreStub(ch)

        def refused(fn: object, req: object, code: grpc.StatusCode, text: str) -> None:
            with pytest.raises(grpc.RpcError) as info:
                fn(req, timeout=5)  # type: ignore[operator]
            assert info.value.code() == code, info.value
            assert text in (info.value.details() or ""), info.value.details()

        refused(stub.Vote, pb.VoteRequest(**LOG, term=0), grpc.StatusCode.INVALID_ARGUMENT, "positive")
        # Appends before any term was started.
        refused(stub.Append, pb.AppendRequest(**LOG, term=1, start_lsn=0, records=[_rec(b"x")]),
                grpc.StatusCode.FAILED_PRECONDITION, "not started")  # fmt: skip
        assert stub.Vote(pb.VoteRequest(**LOG, term=3), timeout=5).granted
        refused(stub.StartTerm, pb.StartTermRequest(**LOG, term=3, term_history=[pb.TermEntry(term=5, start_lsn=0)]),
                grpc.StatusCode.INVALID_ARGUMENT, "last term history entry")  # fmt: skip
        refused(stub.StartTerm,
                pb.StartTermRequest(**LOG, term=3, term_history=[pb.TermEntry(term=3, start_lsn=9), pb.TermEntry(term=2, start_lsn=0)]),
                grpc.StatusCode.INVALID_ARGUMENT, "not increasing")  # fmt: skip
        hist = [pb.TermEntry(term=3, start_lsn=0)]
        assert stub.StartTerm(pb.StartTermRequest(**LOG, term=3, term_history=hist), timeout=5).flush_lsn == 0
        ok = stub.Append(pb.AppendRequest(**LOG, term=3, start_lsn=0, records=[_rec(b"hello")]), timeout=5)
        assert (ok.end_lsn, ok.flush_lsn) == (5, 5)
        refused(stub.Append, pb.AppendRequest(**LOG, term=3, start_lsn=7, records=[_rec(b"gap")]),
                grpc.StatusCode.OUT_OF_RANGE, "ends at 0x5")  # fmt: skip
        refused(stub.Append, pb.AppendRequest(**LOG, term=3, start_lsn=0, records=[_rec(b"overlap")]),
                grpc.StatusCode.OUT_OF_RANGE, "ends at 0x5")  # fmt: skip
        refused(stub.Append, pb.AppendRequest(**LOG, term=3, start_lsn=5, records=[_rec(b"bad", crc=12345)]),
                grpc.StatusCode.INVALID_ARGUMENT, "CRC32C")  # fmt: skip
        refused(stub.Append, pb.AppendRequest(**LOG, term=3, start_lsn=5, records=[_rec(b"")]),
                grpc.StatusCode.INVALID_ARGUMENT, "empty")  # fmt: skip
        refused(stub.Append, pb.AppendRequest(**LOG, term=3, start_lsn=5, records=[_rec(b"z" * ((1 << 20) + 1))]),
                grpc.StatusCode.INVALID_ARGUMENT, "limit")  # fmt: skip
        refused(stub.Append, pb.AppendRequest(**LOG, term=2, start_lsn=5, records=[_rec(b"old")]),
                grpc.StatusCode.ABORTED, "fenced")  # fmt: skip
        refused(stub.Read, pb.ReadRequest(**LOG, from_lsn=2), grpc.StatusCode.INVALID_ARGUMENT, "record boundary")
        refused(stub.Read, pb.ReadRequest(**LOG, from_lsn=99), grpc.StatusCode.OUT_OF_RANGE, "past the end")
        refused(stub.StartTerm, pb.StartTermRequest(**LOG, term=2, term_history=[pb.TermEntry(term=2, start_lsn=0)]),
                grpc.StatusCode.ABORTED, "fenced")  # fmt: skip
        assert not stub.Vote(pb.VoteRequest(**LOG, term=3), timeout=5).granted  # never the same term twice
        # Still serving, and nothing refused reached the log.
        st = stub.Status(pb.StatusRequest(**LOG), timeout=5)
        assert (st.promised_term, st.flush_lsn) == (3, 5)
        recs = stub.Read(pb.ReadRequest(**LOG, from_lsn=0), timeout=5).records
        assert [r.payload for r in recs] == [b"hello"]
    assert node.alive()


def _write_some(addrs: list[str], n: int, healthy: list[str] | None = None) -> int:
    async def main() -> int:
        p = Proposer(addrs, **LOG, deadline_s=5)
        await p.elect()
        end = 0
        for i in range(n):
            end = await p.append([f"record-{i:04d}".encode() * 20])
        await wait_flush(healthy or addrs, end)
        await p.close()
        return end

    return asyncio.run(main())


def _segments(log_dir: Path) -> list[Path]:
    return sorted((log_dir / "segments").glob("*.seg"))


def test_torn_tail_is_cut_at_the_last_good_record(make_cluster: MakeCluster) -> None:
    """A torn write is what lies beyond the durable end: a partial frame, or a frame whose
    bytes did not all reach the disk. It is cut; every acknowledged record stays."""
    from logstore.segments import encode_frame

    cluster = make_cluster(extra=["--segment-size", "8192"])
    end = _write_some(cluster.addrs, 40)
    node = cluster.nodes[2]
    node.stop()
    last = _segments(node.log_dir())[-1]
    size = last.stat().st_size
    torn = encode_frame(end, 1, b"never acknowledged" * 10)
    with open(last, "ab") as f:  # a partial frame after the last acknowledged one
        f.write(torn[:-7])
    node.start()
    assert node.status().flush_lsn == end
    assert "torn tail" in node.log_tail()
    assert last.stat().st_size == size
    node.kill()
    garbled = bytearray(torn)
    garbled[-3:] = b"XYZ"
    with open(last, "ab") as f:  # a complete-length frame whose payload did not all land
        f.write(bytes(garbled))
    node.start()
    assert node.status().flush_lsn == end
    # The proposer of the next term carries on with the full log everywhere.
    end2 = _write_some(cluster.addrs, 1)
    logs = [asyncio.run(read_log(a)) for a in cluster.addrs]
    assert logs[0] == logs[1] == logs[2]
    assert logs[0][-1][0] + len(logs[0][-1][2]) == end2


def _refused(node: object, text: str) -> str:
    with pytest.raises(grpc.RpcError) as info:
        node.status()  # type: ignore[attr-defined]
    assert info.value.code() == grpc.StatusCode.DATA_LOSS, info.value
    details = info.value.details() or ""
    assert "damaged" in details and text in details, details
    return details


def test_damage_refuses_that_log_only_and_loudly(make_cluster: MakeCluster) -> None:
    """Mid-log damage (a sealed segment, a frame followed by valid ones, the last
    acknowledged record, a header's length or LSN) never shortens the log: that log refuses
    to open with a clear message, the node's other logs and the other acceptors carry on."""
    cluster = make_cluster(extra=["--segment-size", "8192"])
    cluster.create_log("t", "other")
    _write_some(cluster.addrs, 80)
    node = cluster.nodes[0]
    node.stop()
    segs = _segments(node.log_dir())
    assert len(segs) >= 3
    last_size = segs[-1].stat().st_size
    cases = [
        (segs[0], FRAME_SIZE + 100),  # payload of a record in a sealed segment
        (segs[-1], FRAME_SIZE + 5),  # payload, valid records after it
        (segs[-1], 0),  # the first frame's length field
        (segs[-1], last_size - 220 + 5),  # the LSN field of the last record
        (segs[-1], last_size - 1),  # the last byte of the last acknowledged record
    ]
    for victim, offset in cases:
        original = victim.read_bytes()
        damaged = bytearray(original)
        damaged[offset] ^= 0x55
        victim.write_bytes(bytes(damaged))
        node.start()
        details = _refused(node, victim.name)
        assert "refusing to open the log" in details
        assert node.status(tenant="t", timeline="other").flush_lsn == 0  # the other log serves
        assert "damaged and was not opened" in node.log_tail()
        node.stop()
        assert victim.read_bytes() == bytes(damaged)  # nothing was cut or removed
        victim.write_bytes(original)
    with open(segs[-1], "r+b") as f:  # truncated below the durable end
        f.truncate(last_size - 300)
    node.start()
    _refused(node, "durable")
    node.stop()
    with open(segs[-1], "ab") as f:
        f.write(original[last_size - 300 :])
    # The other acceptors carry on meanwhile: a majority elects and commits.
    node.start()
    assert node.status().flush_lsn > 0
    _write_some(cluster.addrs, 1)


def test_missing_control_file_refuses_the_log(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    end = _write_some(cluster.addrs, 5)
    node = cluster.nodes[1]
    node.stop()
    ctl = node.log_dir() / "control"
    saved = ctl.read_bytes()
    ctl.unlink()
    node.start()
    _refused(node, "control file is missing")
    assert _segments(node.log_dir())  # nothing removed
    # Writes go on with the other two; then the operator restores the file.
    _write_some(cluster.addrs, 1, healthy=[cluster.nodes[0].addr, cluster.nodes[2].addr])
    node.stop()
    ctl.write_bytes(saved)
    node.start()
    assert node.status().flush_lsn >= end
    for junk in (saved[: len(saved) // 2], b""):  # truncated control files
        node.stop()
        ctl.write_bytes(junk)
        node.start()
        _refused(node, "control")
    node.stop()
    ctl.write_bytes(saved)


BAD_PROTOBUFS = (b"\x0f\xff\xff\xff", b"\x1a\xff\xff\xff\x0f\x01", b"\xff" * 64)
METHODS = ("Vote", "StartTerm", "Append", "Read", "Status", "SetRemoteConsistentLsn", "CreateLog",
           "DeleteLog", "ListLogs")  # fmt: skip


def test_malformed_messages_get_invalid_argument_on_every_method(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1)
    node = cluster.nodes[0]
    with grpc.insecure_channel(node.addr) as ch:
        for method in METHODS:
            call = ch.unary_unary(f"/strata.logstore.v1.LogStore/{method}")
            for junk in BAD_PROTOBUFS:
                with pytest.raises(grpc.RpcError) as info:
                    call(junk, timeout=5)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, info.value)
                assert "malformed request message" in (info.value.details() or "")
        sc = ch.unary_stream("/strata.logstore.v1.LogStore/StreamCommitted")
        for junk in BAD_PROTOBUFS:
            with pytest.raises(grpc.RpcError) as info:
                list(sc(junk, timeout=5))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
        stream = ch.stream_stream("/strata.logstore.v1.LogStore/AppendStream")
        good = pb.AppendRequest(**LOG, term=1, start_lsn=0).SerializeToString()
        for junk in BAD_PROTOBUFS:
            with pytest.raises(grpc.RpcError) as info:
                list(stream(iter([good, junk]), timeout=5))
            # The first (valid) request fails on its own merits (no term started) or the
            # junk is refused: either way the stream ends with a clear status, not UNKNOWN.
            assert info.value.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)
            with pytest.raises(grpc.RpcError) as info:
                list(stream(iter([junk]), timeout=5))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
            assert "malformed request message" in (info.value.details() or "")
        # Still serving.
        assert pb_grpc.LogStoreStub(ch).Status(pb.StatusRequest(**LOG), timeout=5).flush_lsn == 0
    assert node.alive()
    tail = node.log_tail(100_000)
    assert "Traceback" not in tail and '"level": "error"' not in tail, tail[-2000:]
    # Rate-limited: one line for the first, the rest summarized later.
    assert tail.count("malformed") <= 2, tail[-2000:]


def test_out_of_range_fields_are_refused_and_change_nothing(make_cluster: MakeCluster) -> None:
    from logstore.validate import MAX_LSN, MAX_TERM

    cluster = make_cluster(n=1)
    node = cluster.nodes[0]
    huge = (1 << 64) - 1
    with grpc.insecure_channel(node.addr) as ch:
        stub = pb_grpc.LogStoreStub(ch)

        def refused(fn: object, req: object, text: str) -> None:
            with pytest.raises(grpc.RpcError) as info:
                r = fn(req, timeout=5)  # type: ignore[operator]
                if not isinstance(r, pb.LogInfo) and hasattr(r, "__iter__"):
                    list(r)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value
            assert text in (info.value.details() or ""), info.value.details()

        for term in (huge, MAX_TERM + 1):
            refused(stub.Vote, pb.VoteRequest(**LOG, term=term), "out of range")
            refused(stub.StartTerm, pb.StartTermRequest(**LOG, term=term, term_history=[pb.TermEntry(term=term)]),
                    "out of range")  # fmt: skip
            refused(stub.Append, pb.AppendRequest(**LOG, term=term, start_lsn=0, records=[_rec(b"x")]),
                    "out of range")  # fmt: skip
        refused(stub.Vote, pb.VoteRequest(**LOG, term=5, proposer="p" * 1000), "limit")
        # A vote at the limit is fine, and the next election's arithmetic still works.
        assert stub.Vote(pb.VoteRequest(**LOG, term=MAX_TERM - 10), timeout=5).granted
        refused(stub.StartTerm, pb.StartTermRequest(**LOG, term=MAX_TERM - 10, truncate_lsn=huge,
                term_history=[pb.TermEntry(term=MAX_TERM - 10)]), "truncate LSN")  # fmt: skip
        refused(stub.StartTerm, pb.StartTermRequest(**LOG, term=MAX_TERM - 10,
                term_history=[pb.TermEntry(term=MAX_TERM - 10, start_lsn=huge)]), "start LSN")  # fmt: skip
        hist = [pb.TermEntry(term=MAX_TERM - 10, start_lsn=0)]
        assert stub.StartTerm(pb.StartTermRequest(**LOG, term=MAX_TERM - 10, term_history=hist), timeout=5).flush_lsn == 0
        t = MAX_TERM - 10
        refused(stub.Append, pb.AppendRequest(**LOG, term=t, start_lsn=0, commit_lsn=huge, records=[_rec(b"x")]),
                "commit LSN")  # fmt: skip
        refused(stub.Append, pb.AppendRequest(**LOG, term=t, start_lsn=MAX_LSN, records=[_rec(b"x")]),
                "append end LSN")  # fmt: skip
        ok = stub.Append(pb.AppendRequest(**LOG, term=t, start_lsn=0, records=[_rec(b"hello")]), timeout=5)
        assert ok.flush_lsn == 5
        refused(stub.Read, pb.ReadRequest(**LOG, from_lsn=huge), "from LSN")
        refused(stub.Read, pb.ReadRequest(**LOG, up_to_lsn=huge), "up-to LSN")
        refused(stub.StreamCommitted, pb.StreamRequest(**LOG, from_lsn=huge), "from LSN")
        refused(stub.StreamCommitted, pb.StreamRequest(**LOG, subscriber="s" * 1000), "limit")
        for lsn in (huge, 6):
            refused(stub.SetRemoteConsistentLsn, pb.RetentionRequest(**LOG, remote_consistent_lsn=lsn),
                    "past the end")  # fmt: skip
        assert stub.SetRemoteConsistentLsn(pb.RetentionRequest(**LOG, remote_consistent_lsn=5),
                                           timeout=5).remote_consistent_lsn == 5  # fmt: skip
        refused(stub.CreateLog, pb.CreateLogRequest(tenant="t", timeline="other", start_lsn=huge), "start LSN")
        st = stub.Status(pb.StatusRequest(**LOG), timeout=5)
        assert (st.promised_term, st.flush_lsn, st.remote_consistent_lsn) == (t, 5, 5)
        assert [x.timeline for x in stub.ListLogs(pb.ListLogsRequest(), timeout=5).logs] == ["main"]
    # The limits survive a restart (nothing out of range reached the control file).
    node.stop()
    node.start()
    assert node.status().promised_term == MAX_TERM - 10
