"""The proposer's direct mode over the fast append stream (logstore/proposer.py
``_replicate_direct``): records written from ``submit`` and acks handled in the stream's
callback. Same rules as the task mode: a commit only on a majority's acks (each after that
acceptor's fdatasync), every acceptor brought to the whole log, catch-up reads for records
the buffer no longer holds, fencing."""

from __future__ import annotations

import asyncio
import random
import signal

import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, payload_for, read_log, wait_flush

from logstore.errors import FencedError
from logstore.fastappend import FastAppendChannel
from logstore.proposer import Proposer

FAST = ["--fast-append-listen", "auto"]
SMALL = {"max_batch_bytes": 1 << 20, "max_inflight_bytes": 1 << 20, "max_buffer_bytes": 1 << 20}
"""The smallest buffer: records are dropped from it once committed, so an acceptor that was
down catches up through reads from the others."""


async def until_direct(p: Proposer, timeout_s: float = 10.0) -> None:
    """Every peer's fast append channel is open. They open in the background after the
    election, so a majority may commit the first records before the last one is up (it then
    catches up in one batch)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not all(peer.direct is not None for peer in p._peers):
        assert loop.time() < deadline, "a fast append channel did not open"
        await asyncio.sleep(0.005)


class CountingProposer(Proposer):
    """Counts catch-up reads (records older than the buffer) and direct sends."""

    catch_up_reads = 0
    direct_seen = 0

    async def _records_for(self, p, start):  # type: ignore[no-untyped-def]
        if start < self._buf_start:
            self.catch_up_reads += 1
        return await super()._records_for(p, start)

    def _pump(self, p):  # type: ignore[no-untyped-def]
        if p.direct is not None:
            assert isinstance(p.direct, FastAppendChannel)
            self.direct_seen += 1
        super()._pump(p)


@pytest.mark.parametrize("direct", [True, False])
def test_records_survive_an_acceptor_killed_twice_with_catch_up_reads(make_cluster: MakeCluster,
                                                                       direct: bool) -> None:
    cluster = make_cluster(extra=FAST)
    rng = random.Random(7)
    n = 3000
    sizes = [rng.randint(200, 3000) for _ in range(n)]

    async def main() -> tuple[int, int]:
        p = CountingProposer(cluster.addrs, **LOG, deadline_s=10, direct_sends=direct, **SMALL)
        await p.elect()
        acked: dict[int, int] = {}
        nxt = 0

        async def writer() -> None:
            nonlocal nxt
            while nxt < n:
                batch = list(range(nxt, min(nxt + rng.randint(1, 3), n)))
                nxt = batch[-1] + 1
                end, fut = p.submit([payload_for(i, sizes[i]) for i in batch])
                await p.wait_commit(end, fut)
                for i in batch:
                    acked[i] = end

        async def killer() -> None:
            victim = cluster.nodes[2]
            for at in (n // 4, n // 2):
                while len(acked) < at:
                    await asyncio.sleep(0.005)
                victim.kill()
                await asyncio.sleep(0.7)  # > half the buffer goes by: trimmed to the commit
                await asyncio.to_thread(victim.start)

        await asyncio.gather(killer(), *(writer() for _ in range(6)))
        end = max(acked.values())
        assert p.commit_lsn >= end
        await wait_flush(cluster.addrs, end, timeout=60)
        expected = [payload_for(i, sizes[i]) for i in range(n)]
        for addr in cluster.addrs:
            assert [x[2] for x in await read_log(addr)] == expected, addr
        await p.close()
        return p.catch_up_reads, p.direct_seen

    reads, direct_sends = asyncio.run(main())
    assert reads > 0, "the restarted acceptor never needed a catch-up read"
    assert (direct_sends > 0) == direct


def test_a_commit_waits_for_a_majority_in_direct_mode(make_cluster: MakeCluster) -> None:
    """2 of 3 acceptors stopped (SIGSTOP): the record reaches the third (its fdatasync and
    ack happen), yet the commit is not resolved until a second acceptor acknowledges."""
    cluster = make_cluster(extra=FAST)

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=30)
        await p.elect()
        await p.append([b"first"])
        await until_direct(p)
        assert all(isinstance(peer.direct, FastAppendChannel) for peer in p._peers)
        stopped = cluster.nodes[1:]
        for node in stopped:
            assert node.proc is not None
            node.proc.send_signal(signal.SIGSTOP)
        try:
            end, fut = p.submit([b"second"])
            await asyncio.sleep(1.0)
            assert p._peers[0].flush >= end  # the running acceptor acknowledged it
            assert not fut.done() and p.commit_lsn < end
            assert stopped[0].proc is not None
            stopped[0].proc.send_signal(signal.SIGCONT)
            assert await p.wait_commit(end, fut) == end
        finally:
            for node in stopped:
                if node.proc is not None:
                    node.proc.send_signal(signal.SIGCONT)
        await p.close()

    asyncio.run(main())


def test_a_deposed_proposer_is_fenced_in_direct_mode(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)

    async def main() -> None:
        old = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await old.elect()
        await old.append([b"old term"])
        await until_direct(old)
        new = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await new.elect()
        with pytest.raises(FencedError):
            await old.append([b"must not commit"])
        end = await new.append([b"new term"])
        await new.close()
        await old.close()
        log = await read_log(cluster.addrs[0])
        assert [x[2] for x in log] == [b"old term", b"new term"]
        assert log[-1][0] + len(log[-1][2]) == end

    asyncio.run(main())


def test_lazy_acceptor_gets_batches_and_takes_over_when_one_of_the_majority_stalls(
        make_cluster: MakeCluster) -> None:
    """``lazy_s``: the third acceptor gets records in batches (fewer messages than the
    first two), still holds the whole log soon after; when the second acceptor stops
    (SIGSTOP) commits go on through the first and the third without waiting for the ack
    watchdog, and nothing acknowledged is missing from the two that committed it."""
    cluster = make_cluster(extra=FAST)

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=30, lazy_s=0.02)
        await p.elect()
        await until_direct(p)  # (else the first records reach a late peer as one catch-up batch)
        ends = []
        for i in range(200):
            ends.append(await p.append([payload_for(i, 500)]))
        await wait_flush(cluster.addrs, ends[-1], timeout=10)
        first, second, third = (peer.messages for peer in p._peers)
        assert first >= 200 and second >= 200, (first, second, third)
        assert third < first // 2, (first, second, third)
        stalled = cluster.nodes[1]
        assert stalled.proc is not None
        stalled.proc.send_signal(signal.SIGSTOP)
        try:
            loop = asyncio.get_running_loop()
            for i in range(200, 260):
                t0 = loop.time()
                ends.append(await p.append([payload_for(i, 500)]))
                assert loop.time() - t0 < 0.5, f"commit {i} waited {loop.time() - t0:.3f}s"
        finally:
            stalled.proc.send_signal(signal.SIGCONT)
        expected = [payload_for(i, 500) for i in range(260)]
        for addr in (cluster.addrs[0], cluster.addrs[2]):
            assert [x[2] for x in await read_log(addr, ends[-1])] == expected, addr
        await wait_flush(cluster.addrs, ends[-1], timeout=30)
        await p.close()

    asyncio.run(main())


def test_lazy_acceptor_is_not_fed_by_the_idle_commit_notice(make_cluster: MakeCluster) -> None:
    """Commits further apart than COMMIT_NOTIFY_DELAY_S: the idle commit notice wakes every
    peer's sender, and the lazy acceptor must still get its records from the lazy timer only
    (one message per ``lazy_s``), not one message per commit (as it did when the woken sender
    pumped every peer). Its log still ends up whole."""
    cluster = make_cluster(extra=FAST)

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=30, lazy_s=0.1)
        await p.elect()
        await until_direct(p)
        loop = asyncio.get_running_loop()
        n = 40
        ends = []
        t0 = loop.time()
        for i in range(n):
            ends.append(await p.append([payload_for(i, 300)]))
            await asyncio.sleep(0.015)  # > COMMIT_NOTIFY_DELAY_S (10 ms): the notice fires
        elapsed = loop.time() - t0
        first, second, third = (peer.messages for peer in p._peers)
        assert first >= n and second >= n, (first, second, third)
        # one message per lazy_s at most (plus one for a timer running when the loop ended)
        assert third <= elapsed / 0.1 + 2, (first, second, third, elapsed)
        await wait_flush(cluster.addrs, ends[-1], timeout=10)
        expected = [payload_for(i, 300) for i in range(n)]
        assert [x[2] for x in await read_log(cluster.addrs[2], ends[-1])] == expected
        await p.close()

    asyncio.run(main())


def test_lazy_acceptor_gets_big_batches_at_once(make_cluster: MakeCluster) -> None:
    """Issue 16 session 13: while loop passes submit ``lazy_max_bytes`` or more (16 sync
    writers of 8 KiB: 128 KiB a pass) a lazy acceptor gets each batch at once, not only when
    its timer fires, so those commits take the two fastest of three acceptors; commits of one
    small record at a time still wait for the timer (one writer, the cluster's case), however
    many bytes pile up for it."""
    cluster = make_cluster(extra=FAST)

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=30, lazy_s=0.5, lazy_max_bytes=64 << 10)
        await p.elect()
        await until_direct(p)
        loop = asyncio.get_running_loop()
        rounds = 20

        async def writer(w: int) -> None:
            for i in range(rounds):
                await p.append([payload_for(w * 1000 + i, 8192)])

        t0 = loop.time()
        await asyncio.gather(*(writer(w) for w in range(16)))
        elapsed = loop.time() - t0
        first, second, third = (peer.messages for peer in p._peers)
        # With the 0.5 s timer alone the third would have had at most elapsed / 0.5 + 1
        # messages; with 64 KiB and more waiting it is sent to as the others are.
        assert third > elapsed / 0.5 + 2 and third >= rounds // 2, (first, second, third, elapsed)
        await wait_flush([cluster.addrs[2]], p.end_lsn, timeout=5)
        await asyncio.sleep(0.6)  # lazy_s without a big batch
        # Small commits: the third one waits for its timer again.
        before = [peer.messages for peer in p._peers]
        for i in range(40):
            await p.append([payload_for(i, 3000)])  # 120 KB in all, 3 KB a pass
        after = [peer.messages for peer in p._peers]
        assert after[0] - before[0] >= 40 and after[2] - before[2] <= 3, (before, after)
        await p.close()

    asyncio.run(main())


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf", "20ms"])
def test_a_bad_lazy_setting_is_an_error_where_the_proposer_is_built(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``STRATA_PROPOSER_LAZY_MS`` that is not a finite number of ms >= 0 is a ValueError
    naming the variable and the value, from ``Proposer`` and ``SyncProposer`` (before it
    starts its thread), not a warning and a fallback to the default."""
    import threading

    from logstore.proposer import LAZY_ENV, SyncProposer, lazy_seconds

    monkeypatch.setenv(LAZY_ENV, raw)
    for build in (lambda: lazy_seconds(),
                  lambda: Proposer(["127.0.0.1:1"], **LOG),
                  lambda: SyncProposer(["127.0.0.1:1"], **LOG)):
        threads = threading.active_count()
        with pytest.raises(ValueError) as err:
            build()
        assert LAZY_ENV in str(err.value) and repr(raw) in str(err.value), err.value
        assert threading.active_count() == threads
    for good, seconds in (("0", 0.0), ("5", 0.005), (" 2.5 ", 0.0025), ("", 0.02), ("1000", 0.1)):
        monkeypatch.setenv(LAZY_ENV, good)
        assert lazy_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize(("direct", "down"), [(True, "before-election"), (False, "after-commits")])
def test_a_transaction_bigger_than_the_buffer_commits_with_an_acceptor_down(
        make_cluster: MakeCluster, direct: bool, down: str) -> None:
    """One submit may be bigger than the whole append buffer (a COPY of a million rows is
    one commit). It waited for an empty buffer; with an acceptor down, the last commits
    stayed buffered for it, so the buffer never emptied and the transaction failed after
    the deadline ("append buffer full") although a majority was up. The committed records
    are dropped instead, and the acceptor reads them from the others when it is back."""
    cluster = make_cluster(extra=FAST if direct else None)
    dead = cluster.nodes[2]
    if down == "before-election":
        dead.kill()

    async def main() -> None:
        p = CountingProposer(cluster.addrs, **LOG, deadline_s=5, **SMALL)
        await p.elect()
        first = await p.append([payload_for(0, 500)])
        if down == "after-commits":
            await wait_flush(cluster.addrs, first)
            dead.kill()
        small = [payload_for(i, 900) for i in range(1, 6)]
        for rec in small:
            await p.append([rec])
        assert p._buf_bytes > 0, "the small commits stay buffered for the acceptor that is down"
        big = [payload_for(100 + i, 60_000) for i in range(40)]  # 2.4 MB: twice the buffer
        end = await p.append(big)
        await asyncio.to_thread(dead.start)
        await wait_flush(cluster.addrs, end)
        records = [payload for _, _, payload in await read_log(dead.addr, end)]
        assert records == [payload_for(0, 500), *small, *big]
        assert p.catch_up_reads > 0
        await p.close()

    asyncio.run(main())
