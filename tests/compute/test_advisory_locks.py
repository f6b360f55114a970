"""Advisory locks (compute/advisory.py through compute/backend.py): PostgreSQL 15 is the oracle
for what one connection sees; several real connections for conflicts, waits and release."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import asyncpg
import psycopg
import pytest
from psycopg import errors as pgerr

from tests.support import PostgresOracle, StrataProcess

ONE_CONNECTION = [
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_try_advisory_lock(1)",
    "SELECT pg_advisory_unlock(1)",
    "SELECT pg_advisory_unlock(1)",
    "SELECT pg_advisory_unlock(1)",
    "SELECT pg_advisory_unlock_shared(3)",
    "SELECT pg_advisory_lock_shared(3)",
    "SELECT pg_advisory_unlock_shared(3)",
    "SELECT pg_try_advisory_lock(10, 20)",
    "SELECT pg_advisory_unlock(10, 20)",
    "SELECT pg_try_advisory_xact_lock(5)",
    "SELECT pg_try_advisory_xact_lock_shared(5, 6)",
    "SELECT pg_advisory_xact_lock(-1)",
    "SELECT pg_advisory_unlock(-1)",
    "SELECT pg_advisory_lock(NULL)",
    "SELECT pg_try_advisory_lock(9223372036854775807)",
    "SELECT pg_advisory_unlock(9223372036854775807)",
    "SELECT pg_advisory_lock(42)",
    "SELECT pg_advisory_unlock_all()",
    "SELECT pg_advisory_unlock(42)",
    "SELECT locktype, classid, objid, objsubid, mode, granted FROM pg_locks WHERE locktype = 'advisory'",
    "SELECT pg_advisory_lock(4294967297), pg_advisory_lock_shared(2, 3)",
    "SELECT locktype, classid, objid, objsubid, mode, granted FROM pg_locks WHERE locktype = 'advisory' "
    "ORDER BY objsubid, classid, objid",
    "SELECT pg_advisory_unlock_all()",
]


def _run(dsn: str, statements: list[str]) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        notices: list[tuple[str, str]] = []
        conn.add_notice_handler(lambda d: notices.append((d.severity_nonlocalized or "", d.message_primary or "")))
        for sql in statements:
            cur = conn.execute(sql)
            out.append((sql, cur.fetchall(), [d.type_code for d in cur.description or []], list(notices)))
            notices.clear()
    return out


def test_one_connection_matches_postgres(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> None:
    ours = _run(strata_shared.dsn, ONE_CONNECTION)
    theirs = _run(pg_oracle.dsn, ONE_CONNECTION)
    for got, want in zip(ours, theirs, strict=True):
        assert got == want


def test_conflicts_scopes_and_release(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        a.execute("SELECT pg_advisory_lock(100)")
        assert b.execute("SELECT pg_try_advisory_lock(100)").fetchone() == (False,)
        assert b.execute("SELECT pg_try_advisory_lock_shared(100)").fetchone() == (False,)
        # a session lock survives ROLLBACK
        a.execute("BEGIN")
        a.execute("SELECT pg_advisory_lock(101)")
        a.execute("SELECT pg_advisory_xact_lock(102)")
        a.execute("ROLLBACK")
        assert b.execute("SELECT pg_try_advisory_lock(101)").fetchone() == (False,)
        assert b.execute("SELECT pg_try_advisory_lock(102)").fetchone() == (True,)  # xact lock ended
        # the implicit transaction of an autocommit statement ends its xact locks
        a.execute("SELECT pg_advisory_xact_lock(103)")
        assert b.execute("SELECT pg_try_advisory_lock(103)").fetchone() == (True,)
        # shared locks share
        a.execute("SELECT pg_advisory_lock_shared(104)")
        assert b.execute("SELECT pg_try_advisory_lock_shared(104)").fetchone() == (True,)
        assert b.execute("SELECT pg_try_advisory_lock(104)").fetchone() == (False,)
        # xact lock in a block is held until COMMIT
        a.execute("BEGIN")
        a.execute("SELECT pg_advisory_xact_lock(105)")
        assert b.execute("SELECT pg_try_advisory_lock(105)").fetchone() == (False,)
        a.execute("COMMIT")
        assert b.execute("SELECT pg_try_advisory_lock(105)").fetchone() == (True,)
        b.execute("SELECT pg_advisory_unlock_all()")
    # disconnect released everything of a
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT pg_try_advisory_lock(100), pg_try_advisory_lock(101)").fetchone() == (True, True)


def test_killed_client_releases_its_locks(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    a = psycopg.connect(dsn, autocommit=True)
    a.execute("SELECT pg_advisory_lock(200)")
    sock = socket.socket(fileno=a.fileno())
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # an abrupt reset, no Terminate message
    with psycopg.connect(dsn, autocommit=True) as b:
        deadline = time.monotonic() + 5
        while b.execute("SELECT pg_try_advisory_lock(200)").fetchone() != (True,):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with contextlib.suppress(psycopg.Error):
        a.close()


def test_lock_timeout_cancel_and_others_not_stalled(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b, \
            psycopg.connect(dsn, autocommit=True) as c:
        a.execute("SELECT pg_advisory_lock(300)")
        b.execute("SET lock_timeout = '200ms'")
        started = time.monotonic()
        with pytest.raises(pgerr.LockNotAvailable):
            b.execute("SELECT pg_advisory_lock(300)")
        assert 0.15 < time.monotonic() - started < 3
        b.execute("SET lock_timeout = 0")
        waited: list[BaseException | None] = []

        def wait() -> None:
            try:
                b.execute("SELECT pg_advisory_lock(300)")
                waited.append(None)
            except BaseException as exc:  # noqa: BLE001 - reported below
                waited.append(exc)

        t = threading.Thread(target=wait)
        t.start()
        time.sleep(0.3)
        rows = c.execute("SELECT pid, granted FROM pg_locks WHERE objid = 300").fetchall()
        assert (b.info.backend_pid, False) in rows and (a.info.backend_pid, True) in rows
        worst = 0.0
        for _ in range(50):  # another session is not stalled by the waiter
            t0 = time.monotonic()
            assert c.execute("SELECT 1").fetchone() == (1,)
            worst = max(worst, time.monotonic() - t0)
        assert worst < 0.2
        assert c.execute("SELECT pg_cancel_backend(%s)", (b.info.backend_pid,)).fetchone() == (True,)
        t.join(5)
        assert isinstance(waited[0], pgerr.QueryCanceled)
        # a released lock wakes a waiter
        t = threading.Thread(target=wait)
        waited.clear()
        t.start()
        time.sleep(0.2)
        a.execute("SELECT pg_advisory_unlock(300)")
        t.join(5)
        assert waited == [None]


def test_deadlock_detected(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        a.execute("SELECT pg_advisory_lock(400)")
        b.execute("SELECT pg_advisory_lock(401)")
        errors: list[BaseException] = []

        def wait() -> None:
            try:
                a.execute("SELECT pg_advisory_lock(401)")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        t = threading.Thread(target=wait)
        t.start()
        time.sleep(0.2)
        with pytest.raises(pgerr.DeadlockDetected):
            b.execute("SELECT pg_advisory_lock(400)")
        b.execute("SELECT pg_advisory_unlock_all()")
        t.join(5)
        assert not errors


def test_asyncpg_take_lock_at_start(strata_shared: StrataProcess) -> None:
    async def main() -> None:
        one = await asyncpg.connect(strata_shared.dsn)
        two = await asyncpg.connect(strata_shared.dsn)
        try:
            await one.execute("SELECT pg_advisory_lock($1)", 500)
            assert await two.fetchval("SELECT pg_try_advisory_lock($1)", 500) is False
            async with one.transaction():
                assert await one.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", 1, 2) is True
            assert await two.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", 1, 2) is True
            assert await one.fetchval("SELECT pg_advisory_unlock($1)", 500) is True
        finally:
            await one.close()
            await two.close()

    asyncio.run(main())
