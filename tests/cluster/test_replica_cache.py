"""A fresh replica keeps its warmed page cache across the first commit it sees (issue 16).

A replica starts following the log at the page server's last_record_lsn. It used to throw
away its whole page cache at the first commit after that point (that commit might have
started before it, so it was read from the page server instead), which made a replica
added to an idle, select-only cluster cold again at the first write: one page server call
per page for tens of seconds. Now, when the page server reports that point as a
transaction boundary (TimelineInfo.consistent_lsn == last_record_lsn), the first commit is
replayed like every other one.

Real acceptors and page server processes, the compute in this process
(tests/compute_remote's harness).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from compute.remote.factory import RemoteFactory
from tests.compute_remote.cluster import TENANT, TIMELINE, Cluster

ROWS = 300


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        c.close()


def _commit(f: RemoteFactory, conn: apsw.Connection, sql: str, *args: object) -> int:
    conn.execute(sql, args)
    ticket = f.take_commit_ticket(conn)
    assert ticket is not None
    return ticket.durable.result(10)


def _wait(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_first_commit_keeps_a_fresh_replicas_cache(cluster: Cluster) -> None:
    p = RemoteFactory("primary", cluster.logstore_addrs, cluster.pageserver.addr,
                      TENANT, TIMELINE, "p1")
    try:
        w = p.connect(0, "writer")
        _commit(p, w, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)")
        w.execute("BEGIN")
        for i in range(ROWS):
            w.execute("INSERT INTO t VALUES (?, 0, ?)", (i, "x" * 400))
        seeded = _commit(p, w, "COMMIT")
        _wait(lambda: cluster.ingested_lsn() >= seeded)
        info = p.client.timeline(TENANT, TIMELINE)
        assert info.consistent_lsn == info.last_record_lsn >= seeded  # a boundary
        r = RemoteFactory("replica", cluster.logstore_addrs, cluster.pageserver.addr,
                          TENANT, TIMELINE, "r1")
        try:
            rc = r.connect(0, "reader")
            assert rc.execute("SELECT count(*), sum(v) FROM t").fetchone() == (ROWS, 0)
            rc.close()
            warm = r.pages.stats.pages_fetched
            assert warm > 20  # the table came from the page server once
            last = _commit(p, w, "UPDATE t SET v = 7 WHERE id = 5")
            assert r.follower is not None and r.follower.wait_replay(last, 20)
            rc = r.connect(0, "reader")  # a new connection: no SQLite cache of its own
            assert rc.execute("SELECT count(*), sum(v) FROM t").fetchone() == (ROWS, 7)
            rc.close()
            # the commit's page came from the log; nothing else was fetched again
            assert r.pages.stats.pages_fetched - warm <= 2, (warm, r.pages.stats)
        finally:
            r.close()
        w.close()
    finally:
        p.close()
