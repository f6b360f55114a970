"""The commit path on shared storage, against real processes: a COMMIT is answered only once
a majority of log store nodes has its record; while it waits, the single writer is free (the
next transaction's record reaches the log behind it) and readers do not see it; once
acknowledged it survives SIGKILL of the compute."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.compute_remote.cluster import Cluster

HOLD_S = 1.5
"""How long a majority of acceptors is stopped: well inside the proposer's 5 s deadline."""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        c.start()
        yield c
    finally:
        for a in c.acceptors:
            if a.alive():
                a.signal(signal.SIGCONT)
        c.close()


def connect(port: int) -> psycopg.Connection[Any]:
    return psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True)


def written_lsn(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def wait_until(cond: Any, what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_commit_acknowledged_only_by_a_majority_and_invisible_until_then(cluster: Cluster) -> None:
    primary = cluster.compute("primary", "c1").start()
    port = primary.port

    def insert(k: int) -> None:
        with connect(port) as c:
            c.execute("INSERT INTO t VALUES (%s)", (k,))

    with connect(port) as conn:
        conn.execute("CREATE TABLE t (k int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (0)")
        stopped = cluster.acceptors[:2]
        for a in stopped:
            a.signal(signal.SIGSTOP)
        try:
            with ThreadPoolExecutor(2) as pool:
                before = written_lsn(conn)
                first: Future[None] = pool.submit(insert, 1)
                wait_until(lambda: written_lsn(conn) > before, "the first record to reach the log")
                mid = written_lsn(conn)
                # the writer is free: a second transaction's record follows while the first waits
                second = pool.submit(insert, 2)
                wait_until(lambda: written_lsn(conn) > mid, "the second record to reach the log")
                time.sleep(HOLD_S)
                assert not first.done() and not second.done(), "answered without a majority"
                # readers see neither (their snapshots are at the durable LSN)
                assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(0,)]
                for a in stopped:
                    a.signal(signal.SIGCONT)
                first.result(30)
                second.result(30)
        finally:
            for a in stopped:
                a.signal(signal.SIGCONT)
        assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(0,), (1,), (2,)]
    # acknowledged means on a majority: a SIGKILL of the compute loses none of them
    primary.kill()
    again = cluster.compute("primary", "c2").start()
    with connect(again.port) as conn:
        assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(0,), (1,), (2,)]
