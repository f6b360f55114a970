"""Transaction modes and session characteristics against PostgreSQL 15: the same script of
statements gives the same answers (rows or SQLSTATEs) on both servers, through psycopg and asyncpg."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from tests.compat.oracle import psycopg_script
from tests.support import PostgresOracle, StrataProcess

MODES = "select current_setting('transaction_isolation'), current_setting('transaction_read_only')"
SCRIPTS: dict[str, list[str]] = {
    "begin_modes": [
        "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY", MODES, "show transaction_isolation",
        "show transaction_read_only", "create table ss_t (a int)", "ROLLBACK", MODES],
    "start_transaction": [
        "start transaction read only, isolation level repeatable read", MODES, "commit",
        "start transaction", MODES, "rollback"],
    "default_read_only_enforced": [
        "create sequence ss_seq", "SET default_transaction_read_only = on", "create table ss_t (a int)",
        "select 1",
        "show default_transaction_read_only", "show transaction_read_only", MODES,
        "select nextval('ss_seq')", "BEGIN", "create table ss_t (a int)", "rollback",
        "BEGIN READ WRITE", "create table ss_t (a int)", "insert into ss_t values (1)", "rollback",
        "begin", "set transaction_read_only = off", "show transaction_read_only",
        "create table ss_t (a int)", "rollback",
        "SET default_transaction_read_only = 'true'", "SET default_transaction_read_only = 'maybe'",
        "reset default_transaction_read_only", "create table ss_t (a int)", "drop table ss_t",
        "drop sequence ss_seq"],
    "set_transaction": [
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", MODES, "BEGIN",
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", MODES,
        "create table ss_t (a int)", "rollback", "begin", "select 1",
        "set transaction isolation level serializable", "rollback",
        "begin", "set transaction read only", "set transaction_isolation = 'serializable'", MODES,
        "rollback"],
    "read_only_before_names": [
        "create table ss_t (a int)", "set default_transaction_read_only = on", "drop table ss_nosuch",
        "create table ss_t (a int)", "alter table ss_nosuch add column b int", "truncate ss_nosuch",
        "create index on ss_nosuch (a)", "insert into ss_nosuch values (1)", "begin", "drop table ss_nosuch",
        "rollback", "set default_transaction_read_only = off", "drop table ss_t"],
    "set_config_read_only": [
        "select set_config('default_transaction_read_only', 'true', false)",
        "create table ss_t (a int)", MODES, "select set_config('default_transaction_read_only', 'off', false)",
        "create table ss_t (a int)", "drop table ss_t"],
    "session_characteristics": [
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY",
        "show default_transaction_isolation", "show default_transaction_read_only", MODES,
        "create table ss_t (a int)", "BEGIN", MODES, "rollback",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", MODES,
        "set default_transaction_isolation = 'repeatable read'", "begin", MODES,
        "set transaction isolation level read committed", MODES, "rollback"],
}


def _asyncpg(dsn: str, script: list[str]) -> list[Any]:
    async def run() -> list[Any]:
        out: list[Any] = []
        conn = await asyncpg.connect(dsn)
        try:
            for sql in script:
                try:
                    out.append([tuple(r) for r in await conn.fetch(sql)])
                except asyncpg.PostgresError as exc:
                    out.append(("error", exc.sqlstate))
        finally:
            await conn.close()
        return out

    return asyncio.run(run())


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_session_script_agrees(pg_oracle: PostgresOracle, strata_shared: StrataProcess, name: str) -> None:
    script = SCRIPTS[name]
    pg = psycopg_script(pg_oracle.dsn, script)
    st = psycopg_script(strata_shared.dsn, script)
    diff = [(sql, a, b) for sql, a, b in zip(script, pg, st, strict=True) if a != b]
    assert not diff, "\n".join(f"{sql!r}: postgres {a!r}, strata {b!r}" for sql, a, b in diff)
    assert _asyncpg(strata_shared.dsn, script) == _asyncpg(pg_oracle.dsn, script)
    assert any(isinstance(r, tuple) and r[1] == "25006" for r in pg) or name == "start_transaction"


def test_datestyle_field_orders_read_dates_as_postgresql(pg_oracle: PostgresOracle,
                                                         strata_shared: StrataProcess) -> None:
    """A DMY/YMD DateStyle is accepted and reads '01/02/2024' in its order (tests/compat/test_datestyle.py)."""
    for sql in ("set datestyle = 'ISO, DMY'", "select set_config('datestyle', 'YMD', false)"):
        script = [sql, "select '01/02/03'::date::text"]
        assert psycopg_script(strata_shared.dsn, script) == psycopg_script(pg_oracle.dsn, script)
