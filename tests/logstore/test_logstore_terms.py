"""Terms and fencing: racing proposers, deposed proposers, divergent tails."""

from __future__ import annotations

import asyncio
import random

import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, read_log, wait_flush

from logstore import FencedError, Proposer, QuorumLostError
from logstore.errors import LogstoreError


def test_racing_proposers_never_share_a_term(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()

    async def main() -> None:
        acked: list[tuple[str, int, int, bytes]] = []  # (proposer, term, end LSN, payload)

        async def run(name: str, seed: int) -> None:
            rng = random.Random(seed)
            for round_ in range(6):
                p = Proposer(cluster.addrs, **LOG, deadline_s=2, name=name)
                try:
                    term = await p.elect()
                except (QuorumLostError, FencedError):
                    await p.close()
                    continue
                try:
                    for i in range(rng.randint(5, 30)):
                        payload = f"{name}-t{term}-r{round_}-{i}".encode()
                        end = await p.append([payload])
                        acked.append((name, term, end, payload))
                except (FencedError, QuorumLostError):
                    pass
                finally:
                    await p.close()
                await asyncio.sleep(rng.uniform(0, 0.05))

        await asyncio.gather(run("A", 1), run("B", 2), run("C", 3))
        assert acked, "somebody must have committed something"
        owners: dict[int, set[str]] = {}
        for name, term, _, _ in acked:
            owners.setdefault(term, set()).add(name)
        assert all(len(v) == 1 for v in owners.values()), owners
        # Nothing acknowledged is lost or changed: a last proposer reads them all back.
        final = Proposer(cluster.addrs, **LOG, deadline_s=5)
        t_final = await final.elect()
        end = final.commit_lsn
        await wait_flush(cluster.addrs, end, term=t_final)
        logs = [await read_log(addr) for addr in cluster.addrs]
        assert logs[0] == logs[1] == logs[2]
        by_end = {lsn + len(payload): (term, payload) for lsn, term, payload in logs[0]}
        for _, term, ack_end, payload in acked:
            assert by_end[ack_end] == (term, payload)
        await final.close()

    asyncio.run(main())


def test_deposed_proposer_is_refused(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()

    async def main() -> None:
        old = Proposer(cluster.addrs, **LOG, deadline_s=2)
        await old.elect()
        await old.append([b"one", b"two"])
        new = Proposer(cluster.addrs, **LOG, deadline_s=2)
        t2 = await new.elect()
        assert t2 == old.term + 1
        with pytest.raises(FencedError) as info:
            await old.append([b"stale"])
        assert info.value.promised_term >= t2
        assert old.fenced
        with pytest.raises(FencedError):  # and it stays deposed
            await old.elect()
        assert await new.append([b"three"]) == 11
        await wait_flush(cluster.addrs, 11, term=t2)
        logs = [await read_log(a) for a in cluster.addrs]
        for log in logs:
            assert [x[2] for x in log] == [b"one", b"two", b"three"]
        await old.close()
        await new.close()

    asyncio.run(main())


def test_divergent_tail_is_truncated_and_logs_converge(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    a, b, c = cluster.nodes

    async def main() -> None:
        p1 = Proposer(cluster.addrs, **LOG, deadline_s=1.0)
        await p1.elect()
        committed = [b"c1" * 10, b"c2" * 10]
        end = await p1.append(committed)
        await wait_flush(cluster.addrs, end)
        b.kill()
        c.kill()
        # Only A gets these: written in term 1 but never committed.
        with pytest.raises(QuorumLostError):
            await p1.append([b"orphan-1" * 5, b"orphan-2" * 5])
        await wait_flush([a.addr], end + 80)
        assert [x[2] for x in await read_log(a.addr)][-1] == b"orphan-2" * 5
        a.kill()
        await p1.close()
        b.start()
        c.start()
        p2 = Proposer(cluster.addrs, **LOG, deadline_s=5)
        t2 = await p2.elect()  # B and C vote; A is down
        new = [b"n1" * 7, b"n2" * 9, b"n3" * 11]
        end2 = await p2.append(new)
        a.start()
        await wait_flush(cluster.addrs, end2, term=t2)
        logs = [await read_log(x) for x in cluster.addrs]
        assert logs[0] == logs[1] == logs[2]
        assert [x[2] for x in logs[0]] == committed + new
        assert [x[1] for x in logs[0]] == [1, 1, t2, t2, t2]
        assert "truncating divergent tail" in a.log_tail(100_000)
        await p2.close()

    asyncio.run(main())


def test_new_proposer_adopts_uncommitted_records_of_the_most_advanced_log(make_cluster: MakeCluster) -> None:
    """Records on a minority may survive an election (they are then committed by it), but
    whatever a new term adopts is identical on every acceptor afterwards."""
    cluster = make_cluster()
    a, b, c = cluster.nodes

    async def main() -> None:
        p1 = Proposer(cluster.addrs, **LOG, deadline_s=1.0)
        await p1.elect()
        end = await p1.append([b"base"])
        await wait_flush(cluster.addrs, end)
        c.kill()
        b.kill()
        with pytest.raises(LogstoreError):
            await p1.append([b"maybe"])
        await p1.close()
        b.start()
        c.start()
        p2 = Proposer(cluster.addrs, **LOG, deadline_s=5)
        t2 = await p2.elect()
        await p2.append([b"after"])
        await wait_flush(cluster.addrs, p2.commit_lsn, term=t2)
        logs = [[x[2] for x in await read_log(x)] for x in cluster.addrs]
        assert logs[0] == logs[1] == logs[2]
        assert logs[0] in ([b"base", b"after"], [b"base", b"maybe", b"after"])
        await p2.close()

    asyncio.run(main())
