"""Subscriber reads (issue 16). StreamCommitted coalescing: a subscriber that asks for it
gets the records of several commits in one message, all of them, in order, and no sooner
than it asked. The segment store's tail cache: reads right behind the end are served from
memory with exactly what the file holds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, payload_for

from logstore import Proposer, segments, stream_committed
from logstore.segments import Frame, SegmentStore
from logstore.stream import STREAM_COALESCE_KEY
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc

COMMITS = 12
COMMIT_GAP_S = 0.005
COALESCE_MS = 100


async def _messages(addr: str, metadata: tuple[tuple[str, str], ...] | None, end: int) -> list[tuple[float, int]]:
    """(arrival time, records) of each StreamCommitted message until ``end`` is reached."""
    out: list[tuple[float, int]] = []
    async with grpc.aio.insecure_channel(addr) as ch:
        call = pb_grpc.LogStoreStub(ch).StreamCommitted(pb.StreamRequest(**LOG, from_lsn=0), metadata=metadata)
        lsn = 0
        async for resp in call:
            assert resp.records and resp.records[0].lsn == lsn
            lsn = resp.records[-1].lsn + len(resp.records[-1].payload)
            out.append((time.monotonic(), len(resp.records)))
            if lsn >= end:
                call.cancel()
                return out
    return out


def test_coalescing_subscriber_gets_fewer_later_messages_with_every_record(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(n=1)
    addr = cluster.addrs[0]

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await p.elect()
        payloads = [payload_for(i, 200) for i in range(COMMITS)]
        end = sum(len(x) for x in payloads)
        coalesced = asyncio.ensure_future(_messages(addr, ((STREAM_COALESCE_KEY, str(COALESCE_MS)),), end))
        plain = asyncio.ensure_future(_messages(addr, None, end))
        bad = asyncio.ensure_future(_messages(addr, ((STREAM_COALESCE_KEY, "soon"),), end))
        await asyncio.sleep(0.2)  # all three streams are open and caught up (empty log)
        first_commit = time.monotonic()
        for x in payloads:
            await p.append([x])
            await asyncio.sleep(COMMIT_GAP_S)
        got_c, got_p, got_b = await asyncio.wait_for(asyncio.gather(coalesced, plain, bad), 10)
        assert sum(n for _, n in got_c) == sum(n for _, n in got_p) == sum(n for _, n in got_b) == COMMITS
        # the first message waited for the window; the plain stream got the first commit at once
        assert got_c[0][0] - first_commit >= COALESCE_MS / 1000 * 0.9
        assert got_p[0][0] - first_commit < COALESCE_MS / 1000 * 0.9
        assert len(got_c) < len(got_p)
        assert len(got_c) <= 3  # ~0.1 s of commits per message
        assert len(got_b) == len(got_p) or len(got_b) > len(got_c)  # a bad value: no coalescing
        await p.close()

    asyncio.run(main())


def test_stream_committed_with_coalescing_yields_every_record_once(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await p.elect()
        payloads = [payload_for(i, 300 + i) for i in range(40)]
        got: list[bytes] = []

        async def consume() -> None:
            async for _, _, payload in stream_committed(cluster.addrs, 0, **LOG, coalesce_s=0.02):
                got.append(payload)
                if len(got) == len(payloads):
                    return

        task = asyncio.ensure_future(consume())
        for i in range(0, 40, 4):
            await p.append(payloads[i : i + 4])
        await asyncio.wait_for(task, 10)
        assert got == payloads
        await p.close()

    asyncio.run(main())


def _disk_read(store: SegmentStore, lsn: int, up_to: int, max_bytes: int) -> list[Frame]:
    return store.read_local(lsn, up_to, max_bytes)


def test_tail_cache_reads_what_the_file_holds_and_forgets_a_cut_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "TAIL_CACHE_BYTES", 2000)
    store = SegmentStore(tmp_path / "segments", 4096)
    store.open()
    lsn = 0
    starts: list[int] = []
    for i in range(20):  # several segment rotations; the cache keeps only the last ~2000 bytes
        recs = [(1, payload_for(i * 2 + k, 150 + 7 * k)) for k in range(2)]
        starts += [lsn, lsn + len(recs[0][1])]
        lsn = store.append(lsn, recs)
    store.run_sync(store.prepare_sync())
    assert store.read_tail(0, lsn, 1 << 20) is None  # evicted long ago: the caller reads the file
    cached_from = [s for s in starts if store.read_tail(s, lsn, 1 << 20)]
    assert cached_from and cached_from[-1] == starts[-1]
    assert sum(len(x) for x in payloads_of(store, cached_from[0], lsn)) <= 2000 + 300
    for s in cached_from:
        for up_to, budget in ((lsn, 1 << 20), (lsn, 1), (starts[-1], 1 << 20)):
            assert store.read_tail(s, up_to, budget) == _disk_read(store, s, up_to, budget)
    assert store.read_tail(cached_from[-1] + 1, lsn, 1 << 20) is None  # not a record boundary
    # A cut tail (a new term's StartTerm) is forgotten; what is appended after it is served.
    cut = cached_from[-2]
    store.truncate(cut)
    assert store.read_tail(cut, lsn, 1 << 20) is None
    assert store.read_tail(cached_from[0], lsn, 1 << 20) is None
    new_end = store.append(cut, [(2, b"n" * 99)])
    got = store.read_tail(cut, new_end, 1 << 20)
    assert got == _disk_read(store, cut, new_end, 1 << 20) and got is not None
    assert [(f.term, f.payload) for f in got] == [(2, b"n" * 99)]
    store.close()


def payloads_of(store: SegmentStore, lsn: int, up_to: int) -> list[bytes]:
    out = store.read_tail(lsn, up_to, 1 << 30) or []
    return [f.payload for f in out]
