"""Errors as PostgreSQL 15 reports them: SQLSTATE and error position, never SQLite's messages or
XX000. Each statement runs on both servers through psycopg (simple and extended protocol) and
asyncpg; the SQLSTATE and the position must agree (or both succeed)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

STATEMENTS = [
    "select", "wat", "wat wat", "select 1; wat", "selec 1", "'x'", "values", "drop", "grant",
    "select 1 +", "select * from", "select 1 from pg_class where", "insert into", "select (1",
    "select 'a' ||", "create table", "select foo(", "update", "delete from", "select 1 order by",
    "select 1 union", "with", "create index on", "alter table", "copy", "select 1,",
    "select 1, from pg_class", "select $$abc", "select 'abc", 'select "abc', "select 1 /* open",
    "select E'a\\'", "select x from cmp_nosuch", "select cmp_nosuchcol",
    "select 1 from pg_class where cmp_nosuch = 1", "select t.x from (select 1 a) t",
    'select * from "CmpNoSuch"', "insert into cmp_nosuch values (1)",
    "select 1; select * from cmp_nosuch",
]
TABLES = [
    "create unlogged table cmp_ut (id serial primary key, v text)",
    "insert into cmp_ut (v) values ('a') returning id, v",
]


def _psycopg(dsn: str, sql: str, prepare: bool) -> tuple[Any, ...]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            cur = conn.execute(sql.encode(), prepare=prepare)
            return ("ok", cur.statusmessage, cur.fetchall() if cur.description else None)
        except psycopg.Error as exc:
            return (exc.sqlstate, exc.diag.statement_position)


def _asyncpg(dsn: str, sql: str) -> tuple[Any, ...]:
    async def run() -> tuple[Any, ...]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(sql)
            return ("ok", [tuple(r) for r in rows])
        except asyncpg.PostgresError as exc:
            return (exc.sqlstate, getattr(exc, "position", None))
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.mark.parametrize("sql", STATEMENTS)
def test_error_sqlstate_and_position(pg_oracle: PostgresOracle, strata_shared: StrataProcess,
                                     sql: str) -> None:
    pg = _psycopg(pg_oracle.dsn, sql, prepare=False)
    assert pg[0] != "XX000"
    assert _psycopg(strata_shared.dsn, sql, prepare=False) == pg
    if ";" not in sql:  # the extended protocol takes one statement
        assert _psycopg(strata_shared.dsn, sql, prepare=True) == _psycopg(pg_oracle.dsn, sql, prepare=True)
        assert _asyncpg(strata_shared.dsn, sql) == _asyncpg(pg_oracle.dsn, sql)


def test_unused_declared_parameter_and_unlogged_table(pg_oracle: PostgresOracle,
                                                      strata_shared: StrataProcess) -> None:
    def probe(dsn: str) -> list[Any]:
        out: list[Any] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            for sql, values in [(b"select 1", [b"5"]), (b"select $2::int", [b"1", b"2"]),
                                (b"select $1::int + 1", [b"1", b"2"])]:
                res = conn.pgconn.exec_params(sql, values, [23] * len(values))
                out.append((res.error_field(psycopg.pq.DiagnosticField.SQLSTATE),
                            res.get_value(0, 0) if res.ntuples else None))
            with conn.transaction(force_rollback=True):
                for stmt in TABLES:
                    cur = conn.execute(stmt.encode())
                    out.append((cur.statusmessage, cur.fetchall() if cur.description else None))
            try:
                conn.execute(b"create table cmp_empty ()")
                out.append("created")
                conn.execute(b"drop table cmp_empty")
            except psycopg.Error as exc:
                out.append(exc.sqlstate)
        return out

    pg = probe(pg_oracle.dsn)
    st = probe(strata_shared.dsn)
    assert st[:-1] == pg[:-1]
    assert pg[-1] == "created" and st[-1] == "0A000"  # a table without columns: refused
