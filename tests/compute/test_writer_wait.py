"""A statement waiting for the single writer (Session._acquire_writer) stops for each of its
bounds and gets the writer when it is free: statement_timeout (57014), a cancel
(pg_cancel_backend, 57014), lock_timeout (55P03); none of them leaves the writer taken, and
a waiter gets it once the holder commits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode

WAIT_S = 10.0
"""Bound on every wait in these tests."""


@pytest.fixture
def dsn(tmp_path: Path) -> Iterator[str]:
    n = InProcessNode(StandaloneFactory(tmp_path / "data", page_cache_mb=8))
    try:
        with psycopg.connect(n.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE acc (id int PRIMARY KEY, v int NOT NULL)")
            conn.execute("INSERT INTO acc SELECT g, 0 FROM generate_series(1, 5) g")
        yield n.dsn()
    finally:
        n.close()


def waiting_update(conn: psycopg.Connection, row: int) -> str | None:
    """BEGIN; UPDATE one row (waits for the writer); the SQLSTATE it failed with, or None."""
    conn.execute("BEGIN")
    try:
        conn.execute("UPDATE acc SET v = v + 1 WHERE id = %s", (row,))
    except psycopg.Error as exc:
        conn.execute("ROLLBACK")
        return exc.sqlstate
    conn.execute("COMMIT")
    return None


def test_waiting_for_the_writer_obeys_its_bounds(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as holder, \
            psycopg.connect(dsn, autocommit=True) as waiter:
        holder.execute("BEGIN")
        holder.execute("UPDATE acc SET v = v + 1 WHERE id = 1")  # holds the writer

        waiter.execute("SET statement_timeout = 150")
        started = time.monotonic()
        assert waiting_update(waiter, 2) == "57014"
        assert 0.1 < time.monotonic() - started < WAIT_S
        waiter.execute("SET statement_timeout = 0")

        waiter.execute("SET lock_timeout = 150")
        assert waiting_update(waiter, 2) == "55P03"
        waiter.execute("SET lock_timeout = 0")

        # a cancel while it waits (no timeout at all)
        outcome: dict[str, str | None] = {}
        t = threading.Thread(target=lambda: outcome.update(state=waiting_update(waiter, 2)))
        t.start()
        time.sleep(0.3)
        assert t.is_alive()  # still waiting for the writer
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("SELECT pg_cancel_backend(%s)", (waiter.info.backend_pid,))
        t.join(WAIT_S)
        assert not t.is_alive() and outcome["state"] == "57014"

        # a waiter that is not stopped gets the writer once the holder commits
        t = threading.Thread(target=lambda: outcome.update(state=waiting_update(waiter, 3)))
        t.start()
        time.sleep(0.3)
        assert t.is_alive()
        holder.execute("COMMIT")
        t.join(WAIT_S)
        assert not t.is_alive() and outcome["state"] is None
        # nobody kept the writer: both sessions write again at once
        holder.execute("UPDATE acc SET v = v + 10 WHERE id = 4")
        assert waiting_update(waiter, 5) is None
        rows = holder.execute("SELECT id, v FROM acc ORDER BY id").fetchall()
        assert rows == [(1, 1), (2, 0), (3, 1), (4, 10), (5, 1)]
