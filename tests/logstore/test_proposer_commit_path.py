"""The proposer's per-commit bookkeeping (issue 16, session 18): what a commit costs the
primary's loop beyond its message. Behaviour is the same as before; these tests pin down
the work that was cut so that it does not come back:

- the submit watchdog (``SyncProposer._expire_loop``) drops acknowledged commits without
  building the error it gives an expired one (``peer_states()`` and a formatted message per
  commit), yet still fails a commit that no majority acknowledges;
- ``_hold_back`` answers for the first majority of acceptors without reading the clock or
  walking the peers (they are never lazy), and the lazy acceptor is still held back."""

from __future__ import annotations

import asyncio
import time

from conftest import MakeCluster
from logstore_helpers import LOG

from logstore.errors import QuorumLostError
from logstore.proposer import Proposer, SyncProposer

FAST = ["--fast-append-listen", "auto"]


def test_the_watchdog_describes_the_peers_only_for_a_commit_it_fails(make_cluster: MakeCluster,
                                                                    monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = {"n": 0}
    real = Proposer.peer_states

    def counting(self: Proposer) -> list[str]:
        calls["n"] += 1
        return real(self)

    monkeypatch.setattr(Proposer, "peer_states", counting)
    cluster = make_cluster(extra=FAST)
    sp = SyncProposer(cluster.addrs, **LOG, deadline_s=1.0)
    try:
        sp.elect()
        for i in range(60):
            _, fut = sp.submit([b"r%d" % i])
            assert fut.result(timeout=10) > 0
            if i % 10 == 0:
                time.sleep(0.06)  # let the watchdog (every 50 ms) see acknowledged commits
        time.sleep(0.2)
        assert not sp._waiting, "acknowledged commits stay in the watchdog's queue"
        assert calls["n"] == 0, f"peer_states() built {calls['n']} times for acknowledged commits"

        # Still: a commit no majority acknowledges fails after the deadline, with the peers named.
        cluster.nodes[1].stop()
        cluster.nodes[2].stop()
        _, fut = sp.submit([b"lost"])
        try:
            fut.result(timeout=15)
            raise AssertionError("a commit without a majority succeeded")
        except QuorumLostError as exc:
            assert "not acknowledged by a majority" in str(exc) or "majority" in str(exc), exc
        assert calls["n"] >= 1
    finally:
        sp.close()


def test_only_acceptors_after_the_first_majority_are_held_back(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(extra=FAST)

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=30, lazy_s=0.5)
        try:
            await p.elect()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while not all(peer.direct is not None and peer.synced for peer in p._peers):
                assert loop.time() < deadline, "the fast append channels did not open"
                await asyncio.sleep(0.005)
            await p.append([b"warm"])
            walks = []
            real = p._is_lazy

            def counting(peer):  # type: ignore[no-untyped-def]
                walks.append(peer.idx)
                return real(peer)

            p._is_lazy = counting  # type: ignore[method-assign]
            assert [p._hold_back(peer) for peer in p._peers] == [False, False, True]
            assert walks == [2], walks  # only the third acceptor's standing is looked at
            # and the lazy one really waits: a commit leaves it behind until the timer
            end = await p.append([b"one more"])
            assert p._peers[2].next < end <= min(p._peers[0].flush, p._peers[1].flush)
        finally:
            await p.close()

    asyncio.run(main())
