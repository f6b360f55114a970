"""Prewarm on a real cluster (3 acceptors, a page server fed from the log store): a compute
that starts fills its page cache from the page server, so its first reads make no round
trips; what it caches is exactly the page server's pages at the floor, also while a primary
keeps writing and the floor keeps moving; it never grows the cache past its bound nor
evicts what a reader used; and a compute process does it by itself once it knows its
databases."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg

from compute.remote.factory import PREWARM_ENV
from compute.remote.pages import MAX_BATCH_PAGES
from pageserver.client import PageServerClient
from tests.compute_remote.cluster import TENANT, TIMELINE, Cluster
from tests.compute_remote.test_page_deltas import Workload, check_agree, commit, factory, wait_until


def seeded(cluster: Cluster, rows: int, filler: int) -> int:
    """A primary creates ``acct`` with ``rows`` rows and stops; returns the last commit LSN
    once the page server has ingested it."""
    with factory(cluster, "primary", "seed") as p:
        w = p.connect(0, "writer")
        try:
            commit(p, w, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER, note TEXT)")
            w.execute("BEGIN")
            for i in range(rows):
                w.execute("INSERT INTO acct VALUES (?, 0, ?)", (i, "n" * filler))
            lsn = commit(p, w, "COMMIT")
        finally:
            w.close()
    wait_until(lambda: cluster.ingested_lsn() >= lsn)
    return lsn


def test_prewarm_caches_every_page_and_reads_make_no_round_trip(cluster: Cluster) -> None:
    lsn = seeded(cluster, 3000, 150)
    with factory(cluster, "replica", "r1") as r:
        assert r.follower is not None and r.follower.wait_replay(lsn, 30)
        wait_until(lambda: r.pages.floor >= lsn)
        n = r.pages.db_size(0, lsn)
        assert n > MAX_BATCH_PAGES // 4, n  # several calls' worth would need more rows
        calls = r.pages.stats.get_pages_calls
        r.prewarm([0])
        thread = r._prewarm_thread
        assert thread is not None
        thread.join(60)
        assert not thread.is_alive()
        assert r.pages.stats.prewarmed_pages == n
        assert r.pages.stats.prewarm_calls == -(-n // MAX_BATCH_PAGES)
        pages = [r.pages.get_page(0, i, lsn) for i in range(n)]
        assert r.pages.stats.get_pages_calls == calls, "a read missed after the prewarm"
        with PageServerClient(cluster.pageserver.addr) as ps:
            assert ps.get_pages(TENANT, TIMELINE, 0, list(range(n)), lsn) == pages
        r.prewarm([0])  # once per process
        assert r._prewarm_thread is thread


def test_prewarm_stays_exact_while_the_primary_writes(cluster: Cluster) -> None:
    """The floor moves every 20 ms under the primary's commits while a replica prewarms:
    batches fetched at a floor that moved are fetched again, and afterwards the replica, the
    primary and the page server agree page for page at the primary's last commit."""
    with factory(cluster, "primary", "p1", floor_interval_s=0.02) as p:
        w = p.connect(0, "writer")
        try:
            commit(p, w, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER, note TEXT)")
            wl = Workload(p, w, seed=11)
            wl.seed(3000)
            # The replica starts at what the page server has ingested: its cache is empty.
            wait_until(lambda: cluster.ingested_lsn() >= wl.last)
            with factory(cluster, "replica", "r1", floor_interval_s=0.02) as r:
                r.prewarm([0])
                thread = r._prewarm_thread
                assert thread is not None
                while thread.is_alive():
                    wl.run(5)
                wl.run(20)
                assert r.pages.stats.prewarmed_pages > 0
                check_agree(cluster, p, r, wl)
        finally:
            w.close()


def test_prewarm_respects_the_cache_bound_and_keeps_what_readers_used(cluster: Cluster) -> None:
    lsn = seeded(cluster, 4000, 300)
    with factory(cluster, "replica", "r1", page_cache_mb=1) as r:  # 256 pages
        assert r.follower is not None and r.follower.wait_replay(lsn, 30)
        wait_until(lambda: r.pages.floor >= lsn)
        n = r.pages.db_size(0, lsn)
        assert n > r.pages.cache_pages, (n, r.pages.cache_pages)
        last = r.pages.get_page(0, n - 1, lsn)  # a reader's page, beyond what prewarm reaches
        r.prewarm([0])
        thread = r._prewarm_thread
        assert thread is not None
        thread.join(60)
        assert r.pages.stats.prewarmed_pages == r.pages.cache_pages - 1
        calls = r.pages.stats.get_pages_calls
        assert r.pages.get_page(0, n - 1, lsn) == last
        assert r.pages.stats.get_pages_calls == calls, "prewarm evicted a page a reader used"


def node_extra(port: int, timeout: float = 30.0) -> dict[str, Any]:
    """``strata_node_status()``'s extra fields, once the compute takes connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                                 autocommit=True) as conn:
                row = conn.execute("SELECT strata_node_status()").fetchone()
            break
        except psycopg.OperationalError:  # 57P03 while the replica catches up
            assert time.monotonic() < deadline, "the compute never took connections"
            time.sleep(0.1)
    assert row is not None
    status = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return dict(status["extra"])


def test_a_compute_process_prewarms_once_it_knows_its_databases(cluster: Cluster,
                                                                 monkeypatch: Any) -> None:
    lsn = seeded(cluster, 3000, 150)
    with PageServerClient(cluster.pageserver.addr) as ps:
        pages = ps.db_size(TENANT, TIMELINE, 0, lsn)
    monkeypatch.setenv(PREWARM_ENV, "on")
    warm = cluster.compute("primary", "c1").start()
    monkeypatch.setenv(PREWARM_ENV, "off")
    cold = cluster.compute("replica", "r-off").start()
    deadline = time.monotonic() + 30
    while True:  # every page cached: by the prewarm, or by a miss of the connection's reads
        extra = node_extra(warm.port)
        if extra["prewarmed_pages"] > 0 and extra["prewarmed_pages"] + extra["pages_fetched"] >= pages:
            break
        assert time.monotonic() < deadline, f"the compute did not prewarm: {extra}, {pages} pages"
        time.sleep(0.1)
    assert node_extra(cold.port)["prewarmed_pages"] == 0
