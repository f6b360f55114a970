"""Durability under SIGKILL: every acknowledged record survives, byte-identical, everywhere."""

from __future__ import annotations

import asyncio
import random

from conftest import MakeCluster
from logstore_helpers import LOG, payload_for, read_log, wait_flush

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
        acked: dict[int, tuple[int, bytes]] = {}  # record index -> (end LSN, payload)
        next_index = 0
        lock = asyncio.Lock()

        async def writer() -> None:
            nonlocal next_index
            while True:
                async with lock:
                    if next_index >= N_RECORDS:
                        return
                    batch = list(range(next_index, min(next_index + rng.randint(1, 4), N_RECORDS)))
                    next_index = batch[-1] + 1
                    payloads = [payload_for(i, sizes[i]) for i in batch]
                    end, fut = p.submit(payloads)  # LSN order == index order
                await p.wait_commit(end, fut)
                pos = end
                for i, pl in zip(reversed(batch), reversed(payloads), strict=True):
                    acked[i] = (pos, pl)
                    pos -= len(pl)

        async def killer() -> None:
            victim = cluster.nodes[1]
            for at in (N_RECORDS // 4, N_RECORDS // 2):
                while len(acked) < at:
                    await asyncio.sleep(0.01)
                victim.kill()
                await asyncio.sleep(0.5)
                await asyncio.to_thread(victim.start)

        await asyncio.gather(killer(), *(writer() for _ in range(WRITERS)))
        assert len(acked) == N_RECORDS
        end = max(e for e, _ in acked.values())
        assert p.commit_lsn >= end
        await wait_flush(cluster.addrs, end, timeout=60)
        expected = [payload_for(i, sizes[i]) for i in range(N_RECORDS)]
        for addr in cluster.addrs:
            log = await read_log(addr)
            assert [x[2] for x in log] == expected, addr
            lsn = 0
            for i, (start, _, payload) in enumerate(log):
                assert start == lsn
                lsn += len(payload)
                assert acked[i][0] == lsn
        await p.close()

    asyncio.run(main())
    for node in cluster.nodes:
        assert node.alive()
    assert cluster.nodes[1].log_tail(1_000_000).count('"acceptor listening"') == 3  # two restarts
