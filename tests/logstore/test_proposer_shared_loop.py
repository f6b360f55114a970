"""SyncProposer on a loop another thread runs (the compute's serving loop, issue 16).

Commits come both from that loop's own thread (inline, handed to the Proposer at once) and
from other threads (handed over with call_soon_threadsafe): the LSNs reserved must be the
log's order, every future resolves only once a majority has the record, and a lost majority
fails the waiting commits after the deadline as with a proposer thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, read_log

from logstore import QuorumLostError
from logstore.proposer import SyncProposer

FAST = ["--fast-append-listen", "auto"]


def test_loop_thread_and_other_threads_share_one_log_order(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)
    submitted: list[tuple[int, bytes]] = []
    order = threading.Lock()  # the compute's writer: submit order == the order recorded

    def submit(sp: SyncProposer, payload: bytes) -> tuple[int, concurrent.futures.Future[int]]:
        with order:
            end, fut = sp.submit([payload])
            submitted.append((end - len(payload), payload))
        return end, fut

    def thread_writer(sp: SyncProposer, w: int) -> None:
        for i in range(30):
            payload = f"t{w}-{i}-".encode() * (1 + (w + i) % 5)
            end, fut = submit(sp, payload)
            assert fut.result(timeout=10) == end

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sp = await asyncio.to_thread(SyncProposer, cluster.addrs, 10.0, loop=loop, **LOG)
        assert sp.shared_loop and sp._thread is threading.current_thread()
        assert await asyncio.to_thread(sp.elect) == 1
        with pytest.raises(RuntimeError):
            sp.elect()  # it would wait for the loop it runs on

        async def loop_writer(w: int) -> None:
            for i in range(30):
                payload = f"l{w}-{i}-".encode() * (1 + (w + i) % 5)
                end, fut = submit(sp, payload)
                assert not fut.done()  # a majority has not acknowledged it yet
                assert await asyncio.wrap_future(fut) == end
                assert sp.commit_lsn >= end

        threads = [asyncio.to_thread(thread_writer, sp, w) for w in range(3)]
        await asyncio.gather(*threads, *(loop_writer(w) for w in range(3)))
        await asyncio.to_thread(sp.close)

    asyncio.run(main())
    assert len(submitted) == 180
    logs = [asyncio.run(read_log(a)) for a in cluster.addrs]
    longest = max(logs, key=len)  # a majority has every commit; one acceptor may lag
    assert [(lsn, payload) for lsn, _, payload in longest] == sorted(submitted)
    for other in logs:
        assert other == longest[: len(other)]


def test_no_majority_fails_loop_commits_after_the_deadline(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sp = await asyncio.to_thread(SyncProposer, cluster.addrs, 1.0, loop=loop, **LOG)
        await asyncio.to_thread(sp.elect)
        end, fut = sp.submit([b"before"])
        assert await asyncio.wrap_future(fut) == end
        for node in cluster.nodes[1:]:
            await asyncio.to_thread(node.kill)
        started = time.monotonic()
        end2, fut2 = sp.submit([b"after"])
        assert end2 == end + len(b"after")
        with pytest.raises(QuorumLostError):
            await asyncio.wrap_future(fut2)
        waited = time.monotonic() - started
        assert 0.9 <= waited < 5.0, waited
        assert sp.commit_lsn == end
        # close() on the loop's own thread must not wait for that loop: it fails what is
        # left and stops the peers in a task.
        _, fut3 = sp.submit([b"late"])
        sp.close()
        with pytest.raises(QuorumLostError):
            fut3.result(timeout=0)
        with pytest.raises(QuorumLostError):
            sp.submit([b"closed"])
        await asyncio.sleep(0.2)

    asyncio.run(main())


def test_built_on_its_loop_thread_is_refused(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(start=False)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            SyncProposer(cluster.addrs, 1.0, loop=asyncio.get_running_loop(), **LOG)

    asyncio.run(main())


@pytest.mark.parametrize("on_loop", [True, False])
def test_a_commit_bigger_than_the_buffer_passes_with_an_acceptor_down(make_cluster: MakeCluster,
                                                                      on_loop: bool) -> None:
    """The compute's path to ``Proposer._make_room``: a commit bigger than the whole append
    buffer, with one acceptor down and the last commits still buffered for it, from the
    loop's own thread (which may overdraw the buffer only by ``LOOP_OVERDRAFT_BYTES``) and
    from a writer thread (which waits for room). Both failed: the buffer never emptied."""
    cluster = make_cluster(extra=FAST)
    cluster.nodes[2].kill()
    small = {"max_batch_bytes": 1 << 20, "max_inflight_bytes": 1 << 20, "max_buffer_bytes": 1 << 20}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sp = await asyncio.to_thread(SyncProposer, cluster.addrs, 5.0, loop=loop, **LOG, **small)
        await asyncio.to_thread(sp.elect)
        for i in range(5):
            _, fut = sp.submit([b"small-%d" % i * 100])
            await asyncio.wrap_future(fut)
        assert sp.proposer._buf_bytes > 0
        big = [bytes([i % 251]) * 60_000 for i in range(300)]  # 18 MB: past the buffer and the overdraft
        if on_loop:
            end, fut = sp.submit(big)
        else:
            end, fut = await asyncio.to_thread(sp.submit, big)
        assert await asyncio.wrap_future(fut) == end
        await asyncio.to_thread(sp.close)

    asyncio.run(main())
