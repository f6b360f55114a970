"""Durability under SIGKILL: every acknowledged record survives, byte-identical, everywhere."""

from __future__ import annotations

import asyncio
import random

from conftest import MakeCluster
from logstore_helpers import LOG, Acked, append_indexed, check_every_log

from logstore import Proposer

N_RECORDS = 10_000
WRITERS = 8


def test_10k_records_with_an_acceptor_killed_and_restarted_twice(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    rng = random.Random(4)
    sizes = [rng.randint(16, 2048) for _ in range(N_RECORDS)]

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=10)
        await p.elect()
        acked: Acked = {}

        async def killer() -> None:
            victim = cluster.nodes[1]
            for at in (N_RECORDS // 4, N_RECORDS // 2):
                while len(acked) < at:
                    await asyncio.sleep(0.01)
                victim.kill()
                await asyncio.sleep(0.5)
                await asyncio.to_thread(victim.start)

        await asyncio.gather(killer(), append_indexed(p, sizes, rng, WRITERS, acked))
        assert len(acked) == N_RECORDS
        assert p.commit_lsn >= max(e for e, _ in acked.values())
        await check_every_log(cluster.addrs, sizes, acked)
        await p.close()

    asyncio.run(main())
    for node in cluster.nodes:
        assert node.alive()
    assert cluster.nodes[1].log_tail(1_000_000).count('"acceptor listening"') == 3  # two restarts
