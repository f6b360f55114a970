"""Many logs per acceptor: one per (tenant, timeline), each with its own terms, LSN space,
files and subscribers; created and deleted by RPC; found again after SIGKILL."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, TL, T, payload_for, read_log, wait_flush

from logstore import FencedError, Proposer, SyncProposer, stream_committed
from logstore.client import LogStoreClient
from logstore.errors import (
    InvalidRequestError,
    LogExistsError,
    LogNotFoundError,
    LsnGapError,
    TooManyLogsError,
)
from logstore.segments import payload_crc
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc


def _rec(payload: bytes) -> pb.Record:
    return pb.Record(payload=payload, crc32c=payload_crc(payload))


def _code(fn: object, req: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        fn(req, timeout=5)  # type: ignore[operator]
    return info.value.code(), info.value.details() or ""


def test_two_logs_have_independent_terms(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    cluster.create_log(T, "branch")
    other = {"tenant": T, "timeline": "branch"}

    async def main() -> None:
        pa = Proposer(cluster.addrs, **LOG, deadline_s=5)
        pb_ = Proposer(cluster.addrs, **other, deadline_s=5)
        assert await pa.elect() == 1
        assert await pb_.elect() == 1  # the same term number, in another log
        assert await pa.append([b"a1"]) == 2
        assert await pb_.append([b"b1", b"b2"]) == 4
        # A new proposer on log A fences A's old proposer but not B's.
        pa2 = Proposer(cluster.addrs, **LOG, deadline_s=5)
        assert await pa2.elect() == 2
        with pytest.raises(FencedError):
            await pa.append([b"stale"])
        assert await pb_.append([b"b3"]) == 6
        assert not pb_.fenced and pb_.term == 1
        assert await pa2.append([b"a2"]) == 4
        await wait_flush(cluster.addrs, 4, term=2)
        await wait_flush(cluster.addrs, 6, term=1, **other)
        for addr in cluster.addrs:
            assert [x[2] for x in await read_log(addr)] == [b"a1", b"a2"]
            assert [(x[1], x[2]) for x in await read_log(addr, **other)] == [(1, b"b1"), (1, b"b2"), (1, b"b3")]
        for p in (pa, pb_, pa2):
            await p.close()

    asyncio.run(main())
    with LogStoreClient(cluster.addrs) as client:
        logs = {(i.tenant, i.timeline): i for i in client.list_logs(cluster.addrs[0])}
        assert set(logs) == {(T, TL), (T, "branch")}
        assert (logs[(T, TL)].promised_term, logs[(T, TL)].flush_lsn) == (2, 4)
        assert (logs[(T, "branch")].promised_term, logs[(T, "branch")].flush_lsn) == (1, 6)
        assert client.commit_lsn(T, "branch") == 6
        # Separate directories on disk.
        node = cluster.nodes[0]
        assert (node.log_dir(T, TL) / "control").is_file()
        assert list((node.log_dir(T, "branch") / "segments").glob("*.seg"))


def test_log_with_a_start_lsn(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    start = 5000
    cluster.create_log(T, "child", start)
    child = {"tenant": T, "timeline": "child"}

    async def main() -> None:
        p = Proposer(cluster.addrs, **child, deadline_s=5)
        await p.elect()
        assert p.commit_lsn == p.end_lsn == start
        assert await p.append([b"first", b"second"]) == start + 11
        await wait_flush(cluster.addrs, start + 11, **child)
        for addr in cluster.addrs:
            assert await read_log(addr, **child, from_lsn=start) == [(start, 1, b"first"), (start + 5, 1, b"second")]
        got = []
        agen = stream_committed(cluster.addrs, start, **child)
        await p.append([b"x"])  # publishes the commit LSN of the records above
        async for lsn, end, payload in agen:
            got.append((lsn, payload))
            if end == start + 12:
                break
        await agen.aclose()
        assert got == [(start, b"first"), (start + 5, b"second"), (start + 11, b"x")]
        with pytest.raises(LsnGapError, match="below the start"):
            agen = stream_committed(cluster.addrs[:1], 0, **child)
            async for _ in agen:
                pass
        term = p.term
        await p.close()
        # An append below the start (or anywhere but the end) is refused.
        async with grpc.aio.insecure_channel(cluster.addrs[0]) as ch:
            stub = pb_grpc.LogStoreStub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Append(pb.AppendRequest(**child, term=term, start_lsn=100, records=[_rec(b"low")]), timeout=5)
            assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Read(pb.ReadRequest(**child, from_lsn=0), timeout=5)
            assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
            assert "below the start" in (info.value.details() or "")
            st = await stub.Status(pb.StatusRequest(**child), timeout=5)
            assert (st.start_lsn, st.first_lsn, st.flush_lsn) == (start, start, start + 12)

    asyncio.run(main())
    # A new proposer (after a restart of every acceptor) continues the same LSN space.
    for node in cluster.nodes:
        node.kill()
        node.start()
    sp = SyncProposer(cluster.addrs, tenant=T, timeline="child", deadline_s=5)
    try:
        assert sp.elect() == 2
        assert sp.append([b"more"]) == start + 16
    finally:
        sp.close()


def test_create_log_is_idempotent_and_conflicts_are_refused(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=["--max-logs", "3"])
    with LogStoreClient(cluster.addrs) as client:
        info = client.create_log(T, TL)  # the helper created it already: same start LSN
        assert (info.tenant, info.timeline, info.start_lsn) == (T, TL, 0)
        with pytest.raises(LogExistsError, match="already exists"):
            client.create_log(T, TL, 100)
        assert client.create_log("t2", "x", 7).start_lsn == 7
        assert client.create_log("t2", "x", 7).start_lsn == 7
        client.create_log("t2", "y")
        with pytest.raises(TooManyLogsError, match="max-logs"):
            client.create_log("t2", "z")
        with grpc.insecure_channel(cluster.addrs[0]) as ch:
            stub = pb_grpc.LogStoreStub(ch)
            code, text = _code(stub.CreateLog, pb.CreateLogRequest(tenant=T, timeline=TL, start_lsn=1))
            assert code == grpc.StatusCode.ALREADY_EXISTS and "start LSN 0x0" in text
            code, text = _code(stub.CreateLog, pb.CreateLogRequest(tenant="t3", timeline="q"))
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        client.delete_log("t2", "y")  # room again
        client.create_log("t2", "z")
        assert len(client.list_logs(cluster.addrs[2])) == 3


def test_delete_log_removes_it_for_good(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    cluster.create_log(T, "doomed")
    doomed = {"tenant": T, "timeline": "doomed"}
    sp = SyncProposer(cluster.addrs, **doomed, deadline_s=5)
    sp.elect()
    sp.append([payload_for(i, 500) for i in range(20)])
    sp.close()
    keep = SyncProposer(cluster.addrs, **LOG, deadline_s=5)
    keep.elect()
    assert keep.append([b"kept"]) == 4
    with LogStoreClient(cluster.addrs) as client:
        client.delete_log(T, "doomed")
        for node in cluster.nodes:
            assert not node.log_dir(T, "doomed").exists()
            assert not [p for p in node.log_dir(T, TL).parent.iterdir() if p.name != TL], "tombstone left"
            with pytest.raises(grpc.RpcError) as info:
                node.status(tenant=T, timeline="doomed")
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(LogNotFoundError, match="doomed"):
            client.delete_log(T, "doomed")
        with pytest.raises(LogNotFoundError):
            client.log_status(cluster.addrs[0], T, "doomed")
        # The other log of the tenant is untouched and keeps working.
        assert keep.append([b"still"]) == 9
        for node in cluster.nodes:
            node.kill()
            node.start()
        for addr in cluster.addrs:
            assert {(i.tenant, i.timeline) for i in client.list_logs(addr)} == {(T, TL)}
        with pytest.raises(LogNotFoundError):
            client.commit_lsn(T, "doomed")
        # The name can be used again: a new, empty log.
        assert client.create_log(T, "doomed", 42).start_lsn == 42
        st = client.log_status(cluster.addrs[1], T, "doomed")
        assert (st.flush_lsn, st.promised_term, st.first_lsn) == (42, 0, 42)
    assert keep.append([b"after restart"]) == 22
    keep.close()


def test_logs_found_again_after_sigkill(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    names = ["a", "b-2", "C_3"]
    ends = {}
    for i, name in enumerate(names):
        cluster.create_log("tn", name, i * 1000)
        sp = SyncProposer(cluster.addrs, tenant="tn", timeline=name, deadline_s=5)
        sp.elect()
        ends[name] = sp.append([payload_for(j, 100 + i) for j in range(10 * (i + 1))])
        sp.close()
    node = cluster.nodes[1]
    for name in names:
        asyncio.run(wait_flush([node.addr], ends[name], tenant="tn", timeline=name))
    node.kill()
    # What a crash can leave behind: a delete between rename and removal, a create that
    # never wrote its control file. Neither is a log.
    tomb = node.log_dir("tn", "a").parent / "gone.deleted-0123"
    (tomb / "segments").mkdir(parents=True)
    (node.log_dir("tn", "half") / "segments").mkdir(parents=True)
    node.start()
    with LogStoreClient(cluster.addrs) as client:
        logs = {i.timeline: i for i in client.list_logs(node.addr) if i.tenant == "tn"}
        assert set(logs) == set(names)
        for i, name in enumerate(names):
            assert logs[name].start_lsn == i * 1000
            assert logs[name].promised_term == 1
            st = client.log_status(node.addr, "tn", name)
            assert st.flush_lsn == ends[name]
            assert st.start_lsn == i * 1000
    assert not tomb.exists() and not node.log_dir("tn", "half").exists()
    for name in names:
        log = asyncio.run(read_log(node.addr, tenant="tn", timeline=name, from_lsn=names.index(name) * 1000))
        assert len(log) == 10 * (names.index(name) + 1)


def test_unknown_logs_and_bad_ids(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1)
    node = cluster.nodes[0]
    unknown = {"tenant": T, "timeline": "nope"}
    with grpc.insecure_channel(node.addr) as ch:
        stub = pb_grpc.LogStoreStub(ch)
        requests = [
            (stub.Vote, lambda ids: pb.VoteRequest(**ids, term=1)),
            (stub.StartTerm, lambda ids: pb.StartTermRequest(**ids, term=1, term_history=[pb.TermEntry(term=1)])),
            (stub.Append, lambda ids: pb.AppendRequest(**ids, term=1, records=[_rec(b"x")])),
            (stub.Read, lambda ids: pb.ReadRequest(**ids)),
            (stub.Status, lambda ids: pb.StatusRequest(**ids)),
            (stub.SetRemoteConsistentLsn, lambda ids: pb.RetentionRequest(**ids, remote_consistent_lsn=1)),
            (stub.DeleteLog, lambda ids: pb.DeleteLogRequest(**ids)),
        ]
        for fn, make in requests:
            code, text = _code(fn, make(unknown))
            assert code == grpc.StatusCode.NOT_FOUND, (fn, code)
            assert "'t'" in text and "'nope'" in text, text
        stream = stub.StreamCommitted(pb.StreamRequest(**unknown, from_lsn=0), timeout=5)
        with pytest.raises(grpc.RpcError) as info:
            next(iter(stream))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        for bad in ({"tenant": "", "timeline": "x"}, {"tenant": "a/b", "timeline": "x"},
                    {"tenant": "t", "timeline": "../etc"}, {"tenant": "t", "timeline": "x" * 65},
                    {"tenant": "t", "timeline": "é"}, {"tenant": "t", "timeline": ""}):  # fmt: skip
            for fn, make in [*requests, (stub.CreateLog, lambda ids: pb.CreateLogRequest(**ids))]:
                code, text = _code(fn, make(bad))
                assert code == grpc.StatusCode.INVALID_ARGUMENT, (fn, bad, code, text)
                assert "[A-Za-z0-9_-]" in text
        # The node still serves, and the valid log is untouched.
        assert stub.Status(pb.StatusRequest(**LOG), timeout=5).flush_lsn == 0
        assert [(i.tenant, i.timeline) for i in stub.ListLogs(pb.ListLogsRequest(), timeout=5).logs] == [(T, TL)]
        assert node.node_status().node_id == 1
    with pytest.raises(InvalidRequestError):
        Proposer(cluster.addrs, tenant="bad id", timeline="x")
    with pytest.raises(InvalidRequestError):
        LogStoreClient(cluster.addrs).create_log("t", "x" * 65)

    async def elect_unknown() -> None:
        p = Proposer(cluster.addrs, **unknown, deadline_s=2)
        try:
            with pytest.raises(LogNotFoundError, match="does not exist on a majority"):
                await p.elect()
        finally:
            await p.close()

    asyncio.run(elect_unknown())


def test_subscribers_are_listed_with_their_sent_lsn(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    node = cluster.nodes[0]

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await p.elect()
        end = await p.append([payload_for(i, 200) for i in range(10)])
        await p.append([b"!"])  # publishes the commit LSN of the batch
        agen = stream_committed([node.addr], 0, **LOG, subscriber="replica-1")
        async for _, stop, _ in agen:
            if stop == end:
                break
        client = LogStoreClient(cluster.addrs)
        deadline = time.monotonic() + 10
        while True:  # sent_lsn is the end of the last message sent, the "!" may be in it
            st = await asyncio.to_thread(client.log_status, node.addr, T, TL)
            if st.subscribers and st.subscribers[0].sent_lsn >= end:
                break
            assert time.monotonic() < deadline, st
            await asyncio.sleep(0.05)
        assert [s.name for s in st.subscribers] == ["replica-1"]
        assert st.subscribers[0].sent_lsn in (end, end + 1)
        assert st.subscribers[0].peer.startswith("ipv4:127.0.0.1:")
        other = await asyncio.to_thread(client.log_status, cluster.nodes[1].addr, T, TL)
        assert other.subscribers == []
        await agen.aclose()
        while (await asyncio.to_thread(client.log_status, node.addr, T, TL)).subscribers:
            assert time.monotonic() < deadline, "a closed stream is still listed"
            await asyncio.sleep(0.05)
        client.close()
        await p.close()

    asyncio.run(main())


def test_remote_consistent_lsn_reporter_is_per_log(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    cluster.create_log(T, "other")

    async def fill() -> None:  # a retention LSN must lie within the log
        p = Proposer(cluster.addrs, tenant=T, timeline="other", deadline_s=5)
        await p.elect()
        end = await p.append([payload_for(0, 400)])
        await wait_flush(cluster.addrs, end, tenant=T, timeline="other")
        await p.close()

    asyncio.run(fill())
    with LogStoreClient(cluster.addrs) as client:
        rep = client.reporter()
        try:
            rep.report(T, "other", 300)
            rep.report(T, "other", 200)  # never goes back
            rep.report(T, "unknown", 5)  # refused by the acceptors, logged, harmless
            deadline = time.monotonic() + 10
            while any(client.log_status(a, T, "other").remote_consistent_lsn < 300 for a in cluster.addrs):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            rep.close()
        for addr in cluster.addrs:
            assert client.log_status(addr, T, "other").remote_consistent_lsn == 300
            assert client.log_status(addr, T, TL).remote_consistent_lsn == 0
