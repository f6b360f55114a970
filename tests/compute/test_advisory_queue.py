"""Advisory lock waiters queue first come first served (compute/advisory.py), as in PostgreSQL's
lock manager: PostgreSQL 15 is the oracle. The same scripts of several real connections run
on both servers and record what each session saw, in order.

Before the queue, a shared request went past a queued exclusive waiter (so readers could
starve a migration's exclusive lock), ``pg_try_advisory_lock_shared`` returned true where
PostgreSQL returns false, and waiters on one exclusive lock raced for it on each release."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

WAIT_S = 5.0  # longest a script waits for a state it expects (seconds)
HOLD_S = 0.15  # how long a session that got a lock keeps it before releasing (seconds)


class Script:
    """Sessions on one server, an observer, and the log of what happened."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.log: list[Any] = []
        self._mutex = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._conns: list[psycopg.Connection[Any]] = []
        self.observer = self.session()

    def session(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, autocommit=True)
        self._conns.append(conn)
        return conn

    def note(self, *event: Any) -> None:
        with self._mutex:
            self.log.append(event)

    def waiting(self) -> int:
        row = self.observer.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()
        assert row is not None
        return int(row[0])

    def until_waiting(self, n: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.waiting() != n:
            assert time.monotonic() < deadline, f"never {n} waiters"
            time.sleep(0.01)

    def background(self, name: str, conn: psycopg.Connection[Any], lock: str, unlock: str) -> None:
        """``name`` runs ``lock`` (which may wait), notes that it got it, keeps it HOLD_S,
        notes and runs ``unlock``."""

        def run() -> None:
            try:
                got = conn.execute(lock).fetchone()
                self.note(name, "got", got)
                time.sleep(HOLD_S)
                self.note(name, "releases")
                conn.execute(unlock)
            except psycopg.Error as exc:
                self.note(name, "error", exc.sqlstate)

        t = threading.Thread(target=run)
        t.start()
        self._threads.append(t)

    def join(self) -> None:
        for t in self._threads:
            t.join(WAIT_S * 2)
            assert not t.is_alive(), "a session never finished"

    def close(self) -> None:
        for conn in self._conns:
            conn.close()


@contextmanager
def script(dsn: str) -> Iterator[Script]:
    s = Script(dsn)
    try:
        yield s
    finally:
        s.close()


def shared_behind_exclusive_waiter(dsn: str) -> list[Any]:
    """A holds shared; B queues for exclusive; C's shared requests must not pass B."""
    with script(dsn) as s:
        a, b, c = s.session(), s.session(), s.session()
        a.execute("SELECT pg_advisory_lock_shared(501)")
        s.background("B", b, "SELECT pg_advisory_lock(501)", "SELECT pg_advisory_unlock(501)")
        s.until_waiting(1)
        s.note("C try shared", c.execute("SELECT pg_try_advisory_lock_shared(501)").fetchone())
        s.note("C try shared xact", c.execute("SELECT pg_try_advisory_xact_lock_shared(501)").fetchone())
        c.execute("SET lock_timeout = '200ms'")
        try:
            c.execute("SELECT pg_advisory_lock_shared(501)")
            s.note("C blocking shared", "granted")
        except psycopg.Error as exc:
            s.note("C blocking shared", exc.sqlstate)
        c.execute("RESET lock_timeout")
        s.note("A re-enters its shared", a.execute("SELECT pg_try_advisory_lock_shared(501)").fetchone())
        s.background("C", c, "SELECT pg_advisory_lock_shared(501)", "SELECT pg_advisory_unlock_shared(501)")
        s.until_waiting(2)
        s.note("A releases")
        a.execute("SELECT pg_advisory_unlock_all()")
        s.join()
        return s.log


def exclusive_waiters_in_order(dsn: str) -> list[Any]:
    """Three sessions queue for an exclusive lock one after another: each gets it in turn."""
    with script(dsn) as s:
        a = s.session()
        a.execute("SELECT pg_advisory_lock(502)")
        for n, name in enumerate(("B", "C", "D"), start=1):
            s.background(name, s.session(), "SELECT pg_advisory_lock(502)", "SELECT pg_advisory_unlock(502)")
            s.until_waiting(n)
        s.note("A releases")
        a.execute("SELECT pg_advisory_unlock(502)")
        s.join()
        return s.log


def upgrade_goes_ahead_of_waiter(dsn: str) -> list[Any]:
    """A holds shared and B queues for exclusive: A's try for exclusive fails (B's request is
    queued), but A asking for exclusive goes ahead of B at once (it would deadlock behind B)."""
    with script(dsn) as s:
        a, b = s.session(), s.session()
        a.execute("SELECT pg_advisory_lock_shared(503)")
        s.background("B", b, "SELECT pg_advisory_lock(503)", "SELECT pg_advisory_unlock(503)")
        s.until_waiting(1)
        s.note("A try exclusive", a.execute("SELECT pg_try_advisory_lock(503)").fetchone())
        a.execute("SET lock_timeout = '2s'")
        s.note("A exclusive", a.execute("SELECT pg_advisory_lock(503)").fetchone())
        s.note("waiting", s.waiting())
        s.note("A releases")
        a.execute("SELECT pg_advisory_unlock_all()")
        s.join()
        return s.log


def upgrade_waits_for_other_holder_only(dsn: str) -> list[Any]:
    """C and A hold shared, D queues for exclusive; A's exclusive request waits for C only,
    ahead of D, so A gets it when C releases, and D after A."""
    with script(dsn) as s:
        a, c, d = s.session(), s.session(), s.session()
        c.execute("SELECT pg_advisory_lock_shared(504)")
        a.execute("SELECT pg_advisory_lock_shared(504)")
        s.background("D", d, "SELECT pg_advisory_lock(504)", "SELECT pg_advisory_unlock(504)")
        s.until_waiting(1)
        s.background("A", a, "SELECT pg_advisory_lock(504)", "SELECT pg_advisory_unlock_all()")
        s.until_waiting(2)
        s.note("C releases")
        c.execute("SELECT pg_advisory_unlock_shared(504)")
        s.join()
        return s.log


def waiter_ahead_gives_up(dsn: str) -> list[Any]:
    """A holds shared; B queues for exclusive with a lock_timeout; C's shared request waits
    behind B, and gets the lock as soon as B gives up."""
    with script(dsn) as s:
        a, b, c = s.session(), s.session(), s.session()
        a.execute("SELECT pg_advisory_lock_shared(506)")
        b.execute("SET lock_timeout = '800ms'")
        s.background("B", b, "SELECT pg_advisory_lock(506)", "SELECT pg_advisory_unlock(506)")
        s.until_waiting(1)
        s.background("C", c, "SELECT pg_advisory_lock_shared(506)", "SELECT pg_advisory_unlock_shared(506)")
        s.until_waiting(2)
        time.sleep(0.1)
        s.note("still waiting", s.waiting())  # C stays behind B while B waits
        s.join()
        a.execute("SELECT pg_advisory_unlock_all()")
        return sorted(s.log)  # B's error and C's grant reach their clients in either order


def shared_waiters_go_together(dsn: str) -> list[Any]:
    """Behind an exclusive waiter, two shared waiters get the lock together once it is done."""
    with script(dsn) as s:
        a = s.session()
        a.execute("SELECT pg_advisory_lock(505)")
        s.background("B", s.session(), "SELECT pg_advisory_lock(505)", "SELECT pg_advisory_unlock(505)")
        s.until_waiting(1)
        for n, name in enumerate(("C", "D"), start=2):
            s.background(name, s.session(), "SELECT pg_advisory_lock_shared(505)",
                         "SELECT pg_advisory_unlock_shared(505)")
            s.until_waiting(n)
        s.note("A releases")
        a.execute("SELECT pg_advisory_unlock(505)")
        deadline = time.monotonic() + WAIT_S
        while s.waiting() != 0:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        row = s.observer.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND objid = 505 AND granted AND mode = 'ShareLock'").fetchone()
        s.note("shared holders once nobody waits", row)
        s.join()
        together = sorted(e for e in s.log if e[0] in ("C", "D"))  # granted at the same moment
        return [e for e in s.log if e[0] not in ("C", "D")] + together


SCRIPTS: list[Callable[[str], list[Any]]] = [
    shared_behind_exclusive_waiter, exclusive_waiters_in_order, upgrade_goes_ahead_of_waiter,
    upgrade_waits_for_other_holder_only, waiter_ahead_gives_up, shared_waiters_go_together]


@pytest.mark.parametrize("run", SCRIPTS, ids=lambda f: f.__name__)
def test_queue_matches_postgres(run: Callable[[str], list[Any]], strata_shared: StrataProcess,
                                pg_oracle: PostgresOracle) -> None:
    expected = run(pg_oracle.dsn)
    assert run(strata_shared.dsn) == expected
