"""LISTEN / NOTIFY / pg_notify delivered between real connections (psycopg, asyncpg)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import asyncpg
import psycopg
import pytest

from compute.backend import Admin, Backend
from compute.sql.api import SqlError
from tests.support import PostgresOracle, StrataProcess


def _drain(conn: psycopg.Connection, timeout: float = 0.5) -> list[tuple[str, str, int]]:
    return [(n.channel, n.payload, n.pid) for n in conn.notifies(timeout=timeout)]


def test_delivery_order_duplicates_rollback_and_transactions(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        b.execute("LISTEN chan")
        a.execute("LISTEN chan")
        pid = a.info.backend_pid
        a.execute("BEGIN")
        a.execute("NOTIFY chan, 'one'")
        a.execute("SELECT pg_notify('chan', 'two')")
        a.execute("NOTIFY chan, 'one'")  # a duplicate in one transaction is sent once
        a.execute("NOTIFY other, 'x'")  # nobody listens
        assert _drain(b, 0.2) == []  # nothing before commit
        a.execute("COMMIT")
        # the notifier itself gets them too, after its CommandComplete
        assert [(c, p) for c, p, _ in _drain(a, 0.2)] == [("chan", "one"), ("chan", "two")]
        # an idle listener gets them without sending anything
        assert _drain(b) == [("chan", "one", pid), ("chan", "two", pid)]
        a.execute("BEGIN")
        a.execute("NOTIFY chan, 'rolled back'")
        a.execute("ROLLBACK")
        assert _drain(b, 0.2) == []
        # a listener inside a transaction gets them when its transaction ends
        b.execute("BEGIN")
        b.execute("SELECT 1")
        a.execute("NOTIFY chan, 'later'")
        assert _drain(b, 0.2) == []
        b.execute("COMMIT")
        assert _drain(b) == [("chan", "later", pid)]
        assert [(c, p) for c, p, _ in _drain(a, 0.2)] == [("chan", "later")]
        # LISTEN takes effect at commit; UNLISTEN *
        a.execute("BEGIN")
        a.execute("LISTEN late")
        b.execute("NOTIFY late, 'early'")
        a.execute("COMMIT")
        b.execute("NOTIFY late")
        assert [(c, p) for c, p, _ in _drain(a)] == [("late", "")]
        a.execute("UNLISTEN *")
        b.execute("NOTIFY late, 'gone'")
        assert _drain(a, 0.2) == []


ERRORS = [
    "NOTIFY \"\"",
    "SELECT pg_notify('', 'x')",
    "SELECT pg_notify(NULL, 'x')",
    "SELECT pg_notify('c', repeat('x', 8000))",
    "SELECT pg_notify(repeat('c', 64), 'x')",
]


def _sqlstate(dsn: str, sql: str) -> str | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(sql)
        except psycopg.Error as exc:
            return exc.sqlstate
    return None


def test_errors_match_postgres(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> None:
    for sql in [*ERRORS, "SELECT pg_notify('c', repeat('x', 7999))", "NOTIFY c, 'ok'", "LISTEN c"]:
        assert _sqlstate(strata_shared.dsn, sql) == _sqlstate(pg_oracle.dsn, sql), sql


def test_asyncpg_listener(strata_shared: StrataProcess) -> None:
    async def main() -> None:
        listener = await asyncpg.connect(strata_shared.dsn)
        sender = await asyncpg.connect(strata_shared.dsn)
        got: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()
        try:
            await listener.add_listener("jobs", lambda _c, pid, ch, payload: got.put_nowait((pid, ch, payload)))
            await sender.execute("SELECT pg_notify($1, $2)", "jobs", "42")
            pid, channel, payload = await asyncio.wait_for(got.get(), 5)
            assert (channel, payload) == ("jobs", "42")
            assert pid == sender.get_server_pid()
        finally:
            await listener.close()
            await sender.close()

    asyncio.run(main())


def test_read_only_node_refuses_listen_and_notify() -> None:
    """On a replica (engine read-only) LISTEN/NOTIFY/pg_notify are 25006 as on a hot standby;
    UNLISTEN is allowed (PostgreSQL: a no-op during recovery)."""
    session = SimpleNamespace(db=SimpleNamespace(name="postgres"), engine=SimpleNamespace(read_only=True))
    backend = Backend(Admin(), session)
    for kind in ("listen", "notify"):
        with pytest.raises(SqlError) as err:
            backend.statement(kind, "c", None)
        assert (err.value.sqlstate, err.value.message) == ("25006", f"cannot execute {kind.upper()} during recovery")
    with pytest.raises(SqlError) as err:
        backend.notify("c", "x")
    assert err.value.sqlstate == "25006"
    assert backend.statement("unlisten", "*", None) == "UNLISTEN"


SAVEPOINT_SCRIPT = [
    "LISTEN sp_chan", "BEGIN", "NOTIFY sp_chan, 'kept'", "SAVEPOINT s1", "NOTIFY sp_chan, 'dropped'",
    "LISTEN sp_other", "ROLLBACK TO SAVEPOINT s1", "NOTIFY sp_chan, 'after'", "SAVEPOINT s2",
    "NOTIFY sp_chan, 'released'", "RELEASE SAVEPOINT s2", "COMMIT",
    "SELECT pg_listening_channels()", "SELECT * FROM pg_listening_channels() AS c ORDER BY 1",
    "LISTEN \"Mixed Case\"", "SELECT c FROM pg_listening_channels() c ORDER BY 1", "UNLISTEN *",
    "SELECT count(*) FROM pg_listening_channels()",
]


def _script(dsn: str) -> tuple[list[object], list[tuple[str, str]]]:
    out: list[object] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in SAVEPOINT_SCRIPT:
            cur = conn.execute(sql.encode())
            out.append((cur.fetchall(), [d.name for d in cur.description]) if cur.description
                       else cur.statusmessage)
            if sql == "COMMIT":
                out.append([(c, p) for c, p, _ in _drain(conn, 0.3)])
    return out, []


def test_rollback_to_savepoint_and_pg_listening_channels_match_postgres(
        strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> None:
    """ROLLBACK TO drops the NOTIFYs and LISTENs made after the savepoint; pg_listening_channels()
    in the SELECT list and in FROM, named as PostgreSQL names it."""
    pg, _ = _script(pg_oracle.dsn)
    st, _ = _script(strata_shared.dsn)
    assert st == pg
    committed = pg[SAVEPOINT_SCRIPT.index("COMMIT") + 1]
    assert committed == [("sp_chan", "kept"), ("sp_chan", "after"), ("sp_chan", "released")]
