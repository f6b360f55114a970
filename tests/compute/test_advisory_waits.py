"""Advisory lock waits hold no engine thread and no pooled connection (compute/backend.py
``run_waiting``, compute/advisory.py ``wait_async``): a lock function that would wait ends its
statement, the session awaits the lock on the event loop and runs the statement again.

With the default pools (4 engine threads, 8 readers), 12 sessions waiting on one lock used to
leave no reader for anyone else. PostgreSQL 15 is the oracle for what the waiting sessions
see (which locks a statement holds while it waits, counts after the re-run, errors)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors as pgerr

from tests.support import PostgresOracle, StrataProcess

WAITERS = 12  # more than the 8 pooled readers and the 4 engine threads
READ_LIMIT_S = 0.2  # another session's point read or write while they wait
WAIT_LIMIT_S = 5.0  # how long a test waits for something it expects to happen
LOCKS_OF = ("SELECT objid, mode, granted FROM pg_locks WHERE locktype = 'advisory' AND pid = %s "
            "ORDER BY objid, mode, granted")


def _until(what: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _in_thread(conn: psycopg.Connection[Any], sql: str, out: list[Any]) -> threading.Thread:
    """Run ``sql`` on ``conn`` in a thread; ``out`` gets its rows or the exception."""

    def run() -> None:
        try:
            out.append(conn.execute(sql).fetchall())
        except psycopg.Error as exc:
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t


def _waiting(observer: psycopg.Connection[Any], pid: int) -> bool:
    rows = observer.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s "
                            "AND NOT granted", (pid,)).fetchone()
    return rows == (1,)


def _connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True)


def test_waiters_stall_nobody_and_each_gets_the_lock(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with _connect(dsn) as holder, _connect(dsn) as other:
        other.execute("CREATE TABLE adv_wait_reads (id int PRIMARY KEY, v text)")
        other.execute("INSERT INTO adv_wait_reads SELECT g, 'v' || g FROM generate_series(1, 100) g")
        holder.execute("SELECT pg_advisory_lock(700)")
        waiters = [_connect(dsn) for _ in range(WAITERS)]
        inside = 0
        order: list[int] = []
        errors: list[BaseException] = []
        mutex = threading.Lock()

        def wait(conn: psycopg.Connection[Any]) -> None:
            nonlocal inside
            try:
                conn.execute("SELECT pg_advisory_lock(700)")
                with mutex:
                    inside += 1
                    order.append(conn.info.backend_pid)
                    assert inside == 1, "two sessions held the exclusive lock at once"
                time.sleep(0.01)
                with mutex:
                    inside -= 1
                assert conn.execute("SELECT pg_advisory_unlock(700)").fetchone() == (True,)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=wait, args=(c,)) for c in waiters]
        try:
            for t in threads:
                t.start()
            _until(lambda: other.execute(
                "SELECT count(*) FROM pg_locks WHERE objid = 700 AND NOT granted").fetchone() == (WAITERS,))
            worst = 0.0
            for i in range(1, 101):  # point reads of another session, while all of them wait
                t0 = time.monotonic()
                assert other.execute("SELECT v FROM adv_wait_reads WHERE id = %s", (i,)).fetchone() == (f"v{i}",)
                worst = max(worst, time.monotonic() - t0)
            t0 = time.monotonic()
            other.execute("INSERT INTO adv_wait_reads VALUES (101, 'w')")
            write_s = time.monotonic() - t0
            print(f"\n{WAITERS} waiters: worst point read {worst * 1000:.1f} ms, write {write_s * 1000:.1f} ms")
            assert worst < READ_LIMIT_S and write_s < READ_LIMIT_S
            assert not order  # nobody got it while it was held
            holder.execute("SELECT pg_advisory_unlock(700)")
            for t in threads:
                t.join(WAIT_LIMIT_S * 2)
            assert not errors
            assert sorted(order) == sorted(c.info.backend_pid for c in waiters)  # each once
            assert other.execute("SELECT count(*) FROM pg_locks WHERE objid = 700").fetchone() == (0,)
        finally:
            for c in waiters:
                c.close()
            other.execute("DROP TABLE adv_wait_reads")


def _multi_lock(dsn: str) -> list[Any]:
    """A statement taking several locks waits on one of them: what it holds while it waits,
    and the exact counts after it ran (the re-run must not count a lock twice)."""
    seen: list[Any] = []
    with _connect(dsn) as a, _connect(dsn) as b, _connect(dsn) as c:
        notices: list[str] = []
        b.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        a.execute("SELECT pg_advisory_lock(711)")
        out: list[Any] = []
        t = _in_thread(b, "SELECT pg_advisory_lock(710), pg_try_advisory_lock(712), "
                          "pg_advisory_lock(711), pg_advisory_lock_shared(713), pg_advisory_lock(710)", out)
        _until(lambda: _waiting(c, b.info.backend_pid))
        seen.append(c.execute(LOCKS_OF, (b.info.backend_pid,)).fetchall())  # 710, 712 held; 711 awaited
        seen.append(c.execute("SELECT pg_try_advisory_lock(710)").fetchone())  # held while it waits
        seen.append(a.execute("SELECT pg_advisory_unlock(711)").fetchone())
        t.join(WAIT_LIMIT_S)
        seen.append(out)
        seen.append(b.execute(LOCKS_OF, (b.info.backend_pid,)).fetchall())
        for sql in ["pg_advisory_unlock(710)"] * 3 + ["pg_advisory_unlock(711)"] * 2 + \
                   ["pg_advisory_unlock(712)"] * 2 + ["pg_advisory_unlock_shared(713)"] * 2:
            seen.append((sql, b.execute(f"SELECT {sql}").fetchone()))
        seen.append(notices)
    return seen


def test_multi_lock_statement_reruns_with_exact_counts(strata_shared: StrataProcess,
                                                       pg_oracle: PostgresOracle) -> None:
    assert _multi_lock(strata_shared.dsn) == _multi_lock(pg_oracle.dsn)


def _timeouts_and_cancel(dsn: str) -> list[Any]:
    """lock_timeout keeps the locks the statement took before it (session locks outlive a
    failed statement); statement_timeout and cancel end a wait inside a block (57014)."""
    seen: list[Any] = []
    with _connect(dsn) as a, _connect(dsn) as b, _connect(dsn) as c:
        a.execute("SELECT pg_advisory_lock(721)")
        b.execute("SET lock_timeout = '200ms'")
        with pytest.raises(pgerr.LockNotAvailable) as info:
            b.execute("SELECT pg_advisory_lock(720), pg_advisory_lock(721)")
        seen.append(str(info.value))
        b.execute("SET lock_timeout = 0")
        seen.append(b.execute(LOCKS_OF, (b.info.backend_pid,)).fetchall())
        seen.append(b.execute("SELECT pg_advisory_unlock(720), pg_advisory_unlock(720)").fetchone())
        b.execute("SET statement_timeout = '300ms'")
        b.execute("BEGIN")
        with pytest.raises(pgerr.QueryCanceled) as canceled:
            b.execute("SELECT pg_advisory_xact_lock(721)")
        seen.append(str(canceled.value))
        b.execute("ROLLBACK")
        b.execute("SET statement_timeout = 0")
        b.execute("BEGIN")
        out: list[Any] = []
        t = _in_thread(b, "SELECT pg_advisory_xact_lock(722), pg_advisory_xact_lock(721)", out)
        _until(lambda: _waiting(c, b.info.backend_pid))
        c.execute("SELECT pg_cancel_backend(%s)", (b.info.backend_pid,))
        t.join(WAIT_LIMIT_S)
        seen.append([type(x).__name__ for x in out])
        # (PostgreSQL releases 722 when the statement fails, Strata at ROLLBACK: not compared)
        b.execute("ROLLBACK")
        seen.append(c.execute(LOCKS_OF, (b.info.backend_pid,)).fetchall())
    return seen


def test_lock_timeout_statement_timeout_cancel(strata_shared: StrataProcess,
                                               pg_oracle: PostgresOracle) -> None:
    assert _timeouts_and_cancel(strata_shared.dsn) == _timeouts_and_cancel(pg_oracle.dsn)


def _write_in_block(dsn: str) -> list[Any]:
    """A write inside a transaction block waits: the block's earlier writes survive the
    re-run, the waiting statement's rows are there once."""
    seen: list[Any] = []
    with _connect(dsn) as c:
        c.execute("DROP TABLE IF EXISTS adv_wait_block")
        c.execute("CREATE TABLE adv_wait_block (id int PRIMARY KEY)")
    try:
        with _connect(dsn) as a, _connect(dsn) as b, _connect(dsn) as c:
            a.execute("SELECT pg_advisory_lock(731)")
            b.execute("BEGIN")
            b.execute("INSERT INTO adv_wait_block VALUES (1)")
            out: list[Any] = []
            t = _in_thread(b, "INSERT INTO adv_wait_block SELECT 2 FROM (SELECT pg_advisory_xact_lock(730)::text AS x, "
                              "pg_advisory_xact_lock(731)::text AS y) s WHERE x = y RETURNING id", out)
            _until(lambda: _waiting(c, b.info.backend_pid))
            a.execute("SELECT pg_advisory_unlock(731)")
            t.join(WAIT_LIMIT_S)
            seen.append(out)
            seen.append(b.execute("SELECT id FROM adv_wait_block ORDER BY id").fetchall())
            seen.append(c.execute(LOCKS_OF, (b.info.backend_pid,)).fetchall())
            b.execute("COMMIT")
            seen.append(c.execute("SELECT id FROM adv_wait_block ORDER BY id").fetchall())
            seen.append(c.execute(LOCKS_OF, (b.info.backend_pid,)).fetchall())
    finally:  # after b is gone (an open block of b would hold the writer)
        with _connect(dsn) as c:
            c.execute("DROP TABLE adv_wait_block")
    return seen


def test_write_in_block_waits_and_reruns_once(strata_shared: StrataProcess,
                                              pg_oracle: PostgresOracle) -> None:
    assert _write_in_block(strata_shared.dsn) == _write_in_block(pg_oracle.dsn)


def test_deadlock_through_a_lock_held_while_waiting(strata_shared: StrataProcess) -> None:
    """b holds 740 (taken by its waiting statement) and waits for 741; a holds 741 and asks
    for 740: a cycle, 40P01 (for a: Strata detects it when the cycle closes)."""
    dsn = strata_shared.dsn
    with _connect(dsn) as a, _connect(dsn) as b:
        a.execute("SELECT pg_advisory_lock(741)")
        out: list[Any] = []
        t = _in_thread(b, "SELECT pg_advisory_lock(740), pg_advisory_lock(741)", out)
        _until(lambda: _waiting(a, b.info.backend_pid))
        with pytest.raises(pgerr.DeadlockDetected):
            a.execute("SELECT pg_advisory_lock(740)")
        a.execute("SELECT pg_advisory_unlock_all()")
        t.join(WAIT_LIMIT_S)
        assert out == [[("", "")]]
        assert b.execute("SELECT pg_advisory_unlock(740), pg_advisory_unlock(741)").fetchone() == (True, True)
