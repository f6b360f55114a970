"""The performance code paths keep the safety rules: group commit with the fdatasync on the
loop thread or on a worker thread, fsync failure handling, subscriber wake-ups, and the
acceptor process with ``--fsync thread``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import grpc
import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, read_log, wait_flush

from logstore.acceptor import Acceptor
from logstore.errors import FencedError, QuorumLostError
from logstore.fastappend import (
    HEADER,
    KIND_ACK,
    KIND_APPEND,
    MAGIC,
    FastAppendServer,
    encode_append,
)
from logstore.proposer import Proposer
from logstore.segments import SegmentStore, SyncJob, payload_crc
from logstore.server import _check_append
from strata.proto import logstore_pb2 as pb


def _recs(n: int, size: int = 100) -> list[tuple[bytes, int]]:
    out = []
    for i in range(n):
        payload = bytes([i % 251]) * size
        out.append((payload, payload_crc(payload)))
    return out


async def _started(tmp_path: Path, inline: bool, **kw: object) -> Acceptor:
    acc = Acceptor(1, tmp_path / "acc", inline_fsync=inline, **kw)  # type: ignore[arg-type]
    acc.open()
    acc.start_background()
    await acc.vote(1)
    await acc.start_term(1, [(1, 0)], 0)
    return acc


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "thread"])
def test_group_commit_acks_only_durable_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inline: bool) -> None:
    synced: list[int] = []
    real = SegmentStore.run_sync

    def spy(self: SegmentStore, job: SyncJob) -> None:
        real(self, job)
        synced.append(job.target_lsn)

    monkeypatch.setattr(SegmentStore, "run_sync", spy)

    async def main() -> None:
        acc = await _started(tmp_path, inline)
        ends = []
        lsn = 0
        for recs in [_recs(3), _recs(1), _recs(5), _recs(2)]:  # written back to back, one flush
            lsn = acc.append_write(1, lsn, recs, 0)
            ends.append(lsn)

        async def wait(end: int) -> int:
            flush, _ = await acc.wait_durable(1, end)
            assert synced and max(synced) >= end, "acknowledged before its fdatasync"
            return flush

        flushes = await asyncio.gather(*(wait(e) for e in ends))
        assert all(f >= e for f, e in zip(flushes, ends, strict=True))
        assert acc.flush_lsn == ends[-1]
        assert len(synced) <= 2, f"appends written together should share fdatasyncs: {synced}"
        await acc.close()

    asyncio.run(main())


def test_inline_fsync_failure_stops_the_node_and_never_acks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fatal: list[BaseException] = []

    def broken(self: SegmentStore, job: SyncJob) -> None:
        raise OSError(5, "EIO from the test")

    async def main() -> None:
        acc = await _started(tmp_path, True, on_fatal=fatal.append)
        monkeypatch.setattr(SegmentStore, "run_sync", broken)
        end = acc.append_write(1, 0, _recs(2), 0)
        waiter = asyncio.create_task(acc.wait_durable(1, end))
        await asyncio.sleep(0.2)
        assert fatal and isinstance(fatal[0], OSError)
        assert not waiter.done(), "an append was acknowledged although its fdatasync failed"
        assert acc.flush_lsn == 0
        waiter.cancel()
        for t in acc._tasks:
            t.cancel()
        await asyncio.gather(*acc._tasks, return_exceptions=True)
        acc.store.close()

    asyncio.run(main())


def test_higher_term_during_group_commit_refuses_the_ack(tmp_path: Path) -> None:
    async def main() -> None:
        acc = await _started(tmp_path, True)
        end = acc.append_write(1, 0, _recs(2), 0)
        await acc.vote(2)  # syncs, then a new term is promised before the old ack is sent
        with pytest.raises(FencedError):
            await acc.wait_durable(1, end)
        await acc.close()

    asyncio.run(main())


def test_subscribers_wake_on_commit_progress(tmp_path: Path) -> None:
    async def main() -> None:
        acc = await _started(tmp_path, True)
        loop = asyncio.get_running_loop()
        waiters = [asyncio.create_task(acc.wait_progress(0, timeout=5.0)) for _ in range(3)]
        await asyncio.sleep(0.05)
        t0 = loop.time()
        end = acc.append_write(1, 0, _recs(2), 0)
        await acc.wait_durable(1, end)
        acc.append_write(1, end, [], end)  # an empty append carries the commit LSN
        await asyncio.wait_for(asyncio.gather(*waiters), 2.0)
        assert loop.time() - t0 < 2.0
        assert acc.servable_lsn() == end
        # No progress: the wait times out quietly.
        t0 = loop.time()
        await acc.wait_progress(end, timeout=0.1)
        assert 0.09 <= loop.time() - t0 < 1.0
        await acc.close()

    asyncio.run(main())


def test_peers_in_step_share_one_append_request() -> None:
    async def main() -> None:
        p = Proposer(["a:1", "b:2", "c:3"], **LOG, transport_factory=lambda addr: None)  # type: ignore[arg-type,return-value]
        p.term = 3
        r1 = p._append_request(0, 6, [b"abc", b"def"])
        assert p._append_request(0, 6, [b"abc", b"def"]) is r1
        assert [r.crc32c for r in r1.records] == [payload_crc(b"abc"), payload_crc(b"def")]
        p._commit = 3  # a new commit LSN means a new message
        r2 = p._append_request(0, 6, [b"abc", b"def"])
        assert r2 is not r1 and r2.commit_lsn == 3 and r1.commit_lsn == 0

    asyncio.run(main())


@pytest.mark.parametrize("case", [
    ("t", "main", 3, 0x1234_5678_9ABC, [b"abc", os.urandom(8192), b"\x00" * 200], 0x1234_5000_0000),
    ("", "", 0, 0, [b"x"], 0),  # proto3 defaults left out
    ("tenant-\u00e9", "tl", 2**64 - 1, 2**63, [os.urandom(n) for n in (1, 127, 128, 16383, 16384, 1 << 20)], 1),
    ("a", "b", 1, 1, [os.urandom(8192) for _ in range(16)], 2**64 - 1),
], ids=["mixed", "defaults", "edges", "batch"])
def test_hand_encoded_append_is_protobufs_own_bytes(case: tuple[str, str, int, int, list[bytes], int]) -> None:
    """fastappend.encode_append (the proposer's direct mode) is byte for byte what protobuf
    serializes, and parses back to the same request."""
    tenant, timeline, term, start, payloads, commit = case
    crcs = [payload_crc(x) for x in payloads]
    body = encode_append(tenant, timeline, term, start, payloads, crcs, commit)
    req = pb.AppendRequest(tenant=tenant, timeline=timeline, term=term, start_lsn=start, commit_lsn=commit,
                           records=[pb.Record(payload=x, crc32c=c) for x, c in zip(payloads, crcs, strict=True)])
    assert body == req.SerializeToString()
    assert pb.AppendRequest.FromString(body) == req
    # a CRC of 0 (proto3 leaves the field out) and an empty batch (the idle commit message)
    zero = encode_append(tenant, timeline, term, start, payloads[:1], [0], commit)
    assert zero == pb.AppendRequest(tenant=tenant, timeline=timeline, term=term, start_lsn=start, commit_lsn=commit,
                                    records=[pb.Record(payload=payloads[0])]).SerializeToString()
    assert encode_append(tenant, timeline, term, start, [], [], commit) == pb.AppendRequest(
        tenant=tenant, timeline=timeline, term=term, start_lsn=start, commit_lsn=commit).SerializeToString()


def test_direct_mode_body_is_the_request_serialized() -> None:
    async def main() -> None:
        p = Proposer(["a:1", "b:2", "c:3"], **LOG, transport_factory=lambda addr: None)  # type: ignore[arg-type,return-value]
        p.term, p._commit = 3, 5
        body = p._append_body(0, 6, [b"abc", b"def"])
        assert p._append_body(0, 6, [b"abc", b"def"]) is body  # once for the peers in step
        assert body == p._append_request(0, 6, [b"abc", b"def"]).SerializeToString()
        p._commit = 6
        assert pb.AppendRequest.FromString(p._append_body(0, 6, [b"abc", b"def"])).commit_lsn == 6

    asyncio.run(main())


def test_cluster_with_fsync_on_a_worker_thread(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(3, extra=["--fsync", "thread"])

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=10)
        await p.elect()
        payloads = [os.urandom(1 + i * 37 % 9000) for i in range(300)]
        pending = [p.submit([x]) for x in payloads]
        end = await p.wait_commit(*pending[-1])
        assert end == sum(len(x) for x in payloads)  # a fresh cluster starts at LSN 0
        await wait_flush(cluster.addrs, end)
        await p.close()
        for addr in cluster.addrs:
            log = await read_log(addr, end)
            assert [payload for _, _, payload in log] == payloads

    asyncio.run(main())


@pytest.mark.parametrize("lock_held,split", [(False, False), (True, False), (False, True)],
                         ids=["sync_now", "io_lock_held", "split_reads"])
def test_fast_stream_commits_a_drained_read_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    lock_held: bool, split: bool) -> None:
    """A read that emptied the socket is group-committed inside ``data_received`` (no flusher
    pass); every ack still follows the fdatasync that covers its append, in order. With the
    io lock held (a vote or term change syncing), the flusher commits it after the lock."""
    events: list[tuple[str, int]] = []
    real = SegmentStore.run_sync

    def spy(self: SegmentStore, job: SyncJob) -> None:
        real(self, job)
        events.append(("sync", job.target_lsn))

    monkeypatch.setattr(SegmentStore, "run_sync", spy)

    async def main() -> None:
        acc = await _started(tmp_path, True)
        flusher_syncs = []
        real_locked = acc._sync_locked

        async def counted() -> None:
            flusher_syncs.append(acc.store.end_lsn)
            await real_locked()

        acc._sync_locked = counted  # type: ignore[method-assign]
        server = FastAppendServer(_check_append, lambda tenant, timeline: acc, lambda exc: grpc.StatusCode.UNKNOWN)
        port = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if lock_held:
            await acc._io_lock.acquire()
        flusher_syncs.clear()
        events.clear()
        payloads = [os.urandom(100) for _ in range(6)]
        msgs, lsn = [], 0
        for chunk in (payloads[:2], payloads[2:3], payloads[3:]):  # 3 appends, one read
            body = encode_append("", "", 1, lsn, chunk, [payload_crc(x) for x in chunk], 0)
            msgs.append(HEADER.pack(len(body), KIND_APPEND) + body)
            lsn += sum(len(x) for x in chunk)
        data = MAGIC + b"".join(msgs)
        if split:  # messages (and the greeting) cut across reads: the same acks, in order
            for i in range(0, len(data), 7):
                writer.write(data[i : i + 7])
                await writer.drain()
                await asyncio.sleep(0.001)
        else:
            writer.write(data)
            await writer.drain()
        if lock_held:
            await asyncio.sleep(0.05)
            assert not events, "synced while a term change held the io lock"
            acc._io_lock.release()
        acks = []
        for _ in range(3):
            n, kind = HEADER.unpack(await reader.readexactly(HEADER.size))
            assert kind == KIND_ACK
            ack = pb.AppendResponse.FromString(await reader.readexactly(n))
            assert [e for e in events if e[0] == "sync" and e[1] >= ack.end_lsn], "acked before its fdatasync"
            assert ack.flush_lsn >= ack.end_lsn
            acks.append(ack.end_lsn)
        assert acks == [200, 300, 600]
        if split:
            assert [lsn for _, lsn in events] == [200, 300, 600], events  # one per message
            assert acc.store.read_tail(0, 600, 1 << 20) is not None
            assert b"".join(f.payload for f in acc.store.read_tail(0, 600, 1 << 20) or []) == b"".join(payloads)
        else:
            assert events == [("sync", 600)], f"one fdatasync for the whole read: {events}"
            # sync_now: the flusher never ran a sync for it; with the lock held, only the flusher did
            assert (flusher_syncs != []) == lock_held, flusher_syncs
        writer.close()
        await server.close()
        await acc.close()

    asyncio.run(main())


def test_append_deadlines_share_one_timer() -> None:
    """Proposer.append: each call fails at its own deadline (one timer for all of them, armed
    for the oldest); calls that ended (here: cancelled) leave nothing behind."""
    async def main() -> None:
        class Silent:  # a transport that is never used: nobody acknowledges anything
            def __init__(self, addr: str) -> None:
                self.addr = addr

            async def close(self) -> None:
                pass

        p = Proposer(["a:1", "b:2", "c:3"], **LOG, deadline_s=0.3, transport_factory=Silent)  # type: ignore[arg-type]
        p._elected, p.term = True, 1
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        failed_at: dict[int, float] = {}

        async def one(i: int) -> None:
            await asyncio.sleep(0.1 * i)
            with pytest.raises(QuorumLostError, match="not acknowledged by a majority within 0.3s"):
                await p.append([b"x" * 10])
            failed_at[i] = loop.time() - t0

        cancelled = asyncio.ensure_future(p.append([b"y" * 10]))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(*(one(i) for i in range(3)))
        for i in range(3):
            assert 0.1 * i + 0.3 <= failed_at[i] + 0.01 < 0.1 * i + 0.3 + 0.15, failed_at
        assert not p._deadlines and p._deadline_timer is None
        await p.close()

    asyncio.run(main())
