"""Happy path and failure reporting with three real acceptor processes."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import pytest
from conftest import MakeCluster
from logstore_helpers import LOG, free_port, payload_for, read_log, wait_flush

from logstore import FencedError, Proposer, QuorumLostError, SyncProposer, stream_committed


def test_elect_append_read_stream(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=5)
        term = await p.elect()
        assert term == 1
        payloads = [payload_for(i, 100 + i) for i in range(50)]
        end = 0
        for i in range(0, 50, 5):
            end = await p.append(payloads[i : i + 5])
        assert end == sum(len(x) for x in payloads) == p.commit_lsn
        await wait_flush(cluster.addrs, end)
        for addr in cluster.addrs:
            log = await read_log(addr)
            assert [x[2] for x in log] == payloads
            assert {x[1] for x in log} == {1}
        got = []
        agen = stream_committed(cluster.addrs, 0, **LOG)
        async for start, stop, payload in agen:
            got.append(payload)
            assert stop == start + len(payload)
            if stop == end:
                break
        await agen.aclose()
        assert got == payloads
        # A second proposer takes over: the first is fenced.
        p2 = Proposer(cluster.addrs, **LOG, deadline_s=5)
        assert await p2.elect() == 2
        with pytest.raises(FencedError, match="not primary any more"):
            await p.append([b"late"])
        with pytest.raises(FencedError):
            await p.append([b"later"])
        assert await p2.append([b"new"]) == end + 3
        await p.close()
        await p2.close()

    asyncio.run(main())


def test_quorum_lost_is_reported_within_deadline(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=1.5)
        await p.elect()
        assert await p.append([b"a" * 10]) == 10
        cluster.nodes[0].kill()
        assert await p.append([b"b" * 10]) == 20  # one of three down: still fine
        cluster.nodes[1].kill()
        t0 = time.monotonic()
        with pytest.raises(QuorumLostError, match="majority"):
            await p.append([b"c" * 10])
        assert time.monotonic() - t0 < 3
        cluster.nodes[1].start()
        assert await p.append([b"d" * 10]) == 40  # the majority is back
        await p.close()
        p2 = Proposer(cluster.addrs, **LOG, deadline_s=1.0)
        cluster.nodes[1].kill()
        with pytest.raises(QuorumLostError):
            await p2.elect()
        await p2.close()

    asyncio.run(main())


def test_metrics_endpoint(make_cluster: MakeCluster) -> None:
    mport = free_port()
    cluster = make_cluster(n=1, extra=["--metrics-listen", f"127.0.0.1:{mport}"])

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await p.elect()
        await p.append([b"x" * 100, b"y" * 100])
        await p.close()

    asyncio.run(main())
    body = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode()
    assert "logstore_appends_total" in body
    assert "logstore_fsync_seconds_bucket" in body
    assert 'logstore_promised_term{tenant="t",timeline="main"} 1.0' in body
    assert 'logstore_flush_lsn{tenant="t",timeline="main"} 200.0' in body
    assert "logstore_logs 1.0" in body


def test_stream_fails_over_when_its_acceptor_dies(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await p.elect()
        payloads = [payload_for(i, 300) for i in range(200)]
        got: list[bytes] = []
        # The stream starts at the first acceptor in the list; it is killed mid-way.
        order = [cluster.nodes[0].addr, cluster.nodes[1].addr, cluster.nodes[2].addr]

        async def consume() -> None:
            agen = stream_committed(order, 0, **LOG, retry_s=0.05)
            async for start, stop, payload in agen:
                assert start == sum(len(x) for x in got)
                assert stop == start + len(payload)
                got.append(payload)
                if len(got) == len(payloads):
                    break
            await agen.aclose()

        task = asyncio.create_task(consume())
        for i in range(0, 100, 10):
            await p.append(payloads[i : i + 10])
        while len(got) < 50:
            await asyncio.sleep(0.01)
        cluster.nodes[0].kill()
        for i in range(100, 200, 10):
            await p.append(payloads[i : i + 10])
        await p.append([b"x"])  # publishes the commit LSN of the last batch
        await asyncio.wait_for(task, 20)
        assert got == payloads
        await p.close()

    asyncio.run(main())


def test_sync_proposer_for_threaded_callers(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    sp = SyncProposer(cluster.addrs, **LOG, deadline_s=5)
    try:
        assert sp.elect() == 1
        end, fut = sp.submit([b"abc", b"defg"])
        assert end == 7
        assert fut.result(timeout=10) == 7
        assert sp.append([b"h"]) == 8
        assert sp.commit_lsn == 8
    finally:
        sp.close()
