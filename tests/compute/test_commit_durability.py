"""The commit path's invariant, end to end through the protocol on a standalone compute:
a COMMIT is answered only once its record is fsynced, the single writer is free for the
next transaction while the first waits for its fsync (group commit), readers never see a
commit before it is durable, and a failed fsync fails that commit and every commit logged
after it (none of them is acknowledged, none becomes visible)."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode

WAIT_S = 10.0
"""Bound on every wait in these tests."""


class GatedFsync:
    """The store's log fsync, held at a gate while ``closed`` (and failing with EIO on
    release when ``fail``): the test decides when a commit becomes durable."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.entered = threading.Event()
        self.fail = False  # the next held fsync fails with EIO (once: a later one succeeds,
        # as Linux reports a write-back error once and then forgets it)
        self.calls = 0

    def close(self) -> None:
        """Hold every fsync from now on (``calls`` counts from here)."""
        self.calls = 0
        self.entered.clear()
        self.open.clear()

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.entered.set()
        assert self.open.wait(WAIT_S * 3), "the test never opened the fsync gate"
        if self.fail:
            self.fail = False
            raise OSError(errno.EIO, "injected fsync failure")
        os.fdatasync(fd)


@contextlib.contextmanager
def opened_on_exit(gate: GatedFsync) -> Iterator[None]:
    """A failing test must not leave pool threads blocked at the gate."""
    try:
        yield
    finally:
        gate.open.set()


def wait_until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[InProcessNode, StandaloneFactory, GatedFsync]]:
    factory = StandaloneFactory(tmp_path / "data", page_cache_mb=8)
    n = InProcessNode(factory)
    with psycopg.connect(n.dsn(), autocommit=True) as c:
        c.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    gate = GatedFsync()
    factory.store.log_fsync = gate
    try:
        yield n, factory, gate
    finally:
        gate.fail = False
        gate.open.set()
        n.close()


def connect(n: InProcessNode) -> psycopg.Connection[Any]:
    return psycopg.connect(n.dsn(), autocommit=True)


def insert(n: InProcessNode, row_id: int) -> None:
    with connect(n) as c:
        c.execute("INSERT INTO t VALUES (%s, %s)", (row_id, row_id))


def explicit_insert(n: InProcessNode, row_id: int) -> None:
    with connect(n) as c:
        c.execute("BEGIN")
        c.execute("UPDATE t SET v = v + 1 WHERE id = 0")
        c.execute("INSERT INTO t VALUES (%s, %s)", (row_id, row_id))
        c.execute("COMMIT")


def visible(n: InProcessNode) -> set[int]:
    with connect(n) as c:
        return {int(r[0]) for r in c.execute("SELECT id FROM t").fetchall()}


def test_commit_waits_for_fsync_writer_is_free_and_readers_see_only_durable(
        node: tuple[InProcessNode, StandaloneFactory, GatedFsync]) -> None:
    n, factory, gate = node
    store = factory.store
    insert(n, 0)
    gate.close()
    with ThreadPoolExecutor(4) as pool, connect(n) as reader, opened_on_exit(gate):
        before = store.written_lsn
        first: Future[None] = pool.submit(insert, n, 1)
        wait_until(lambda: gate.entered.is_set() and store.written_lsn > before,
                   "the first commit's record to reach the log and its fsync")
        time.sleep(0.1)
        assert not first.done(), "COMMIT answered before its record was fsynced"
        assert store.durable_lsn < store.written_lsn
        # readers, autocommit and in a transaction block, do not see it yet
        assert visible(n) == {0}
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM t WHERE id = 1").fetchone() == (0,)
        reader.execute("COMMIT")
        # the writer is free: more transactions reach the log while the first waits
        mid = store.written_lsn
        later = [pool.submit(insert, n, 2), pool.submit(explicit_insert, n, 3)]
        wait_until(lambda: store.written_lsn > mid and len(store._pending) >= 2,
                   "later commits to reach the log while the first waits for its fsync")
        calls = gate.calls
        assert calls == 1, "the flusher is still in its first fsync"
        assert not any(f.done() for f in later)
        assert visible(n) == {0}
        gate.open.set()
        first.result(WAIT_S)
        for f in later:
            f.result(WAIT_S)
    # group commit: the commits queued behind the first fsync needed one more round at most
    assert gate.calls <= 2, gate.calls
    assert visible(n) == {0, 1, 2, 3}
    assert store.durable_lsn == store.written_lsn


def test_failed_fsync_fails_that_commit_and_every_later_one(
        node: tuple[InProcessNode, StandaloneFactory, GatedFsync]) -> None:
    n, factory, gate = node
    store = factory.store
    insert(n, 0)
    gate.close()
    gate.fail = True
    with ThreadPoolExecutor(4) as pool, opened_on_exit(gate):
        before = store.written_lsn
        first = pool.submit(insert, n, 1)
        wait_until(lambda: gate.entered.is_set() and store.written_lsn > before,
                   "the first commit to reach the fsync")
        mid = store.written_lsn
        # a later transaction reads the first one's row on the writer and commits after it:
        # its record is later in the log, so it must not be acknowledged either
        second = pool.submit(explicit_insert, n, 2)
        wait_until(lambda: store.written_lsn > mid, "the second commit to reach the log")
        gate.open.set()
        for f in (first, second):
            with pytest.raises(psycopg.Error) as err:
                f.result(WAIT_S)
            assert err.value.sqlstate == "08007", err.value
    # nothing after the failure ever becomes visible, and the store takes no more writes
    assert visible(n) == {0}
    with pytest.raises(psycopg.Error) as err:
        insert(n, 4)
    assert err.value.sqlstate in {"58030", "08007"}, err.value
    assert visible(n) == {0}
