"""Prepared statements after DDL, against PostgreSQL 15: a statement prepared before a catalog
change (in this session or another) is translated anew when next bound, as PostgreSQL re-plans
it, and fails with 0A000 "cached plan must not change result type" where PostgreSQL does.

A script is a list of (who, sql): "p" runs on connection A as a prepared statement (psycopg
``prepare=True``: Parse once, then Bind/Execute, until psycopg itself forgets its statements
after a CREATE/ALTER/DROP on A; asyncpg: ``conn.prepare`` once per text, never forgotten),
"a" runs on A unprepared, "b" runs on a second connection B. Both servers must give the same
answers (rows, command status or SQLSTATE) step by step.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

SCRIPTS: dict[str, list[tuple[str, str]]] = {
    # the case: a prepared DROP TABLE IF EXISTS must see the table created since
    "drop_if_exists": [
        ("b", "drop table if exists rp_d"), ("p", "drop table if exists rp_d"),
        ("b", "create table rp_d (a int)"), ("p", "drop table if exists rp_d"),
        ("b", "select * from rp_d"), ("p", "drop table if exists rp_d")],
    "add_and_drop_column": [
        ("b", "drop table if exists rp_s"), ("b", "create table rp_s (a int)"),
        ("b", "insert into rp_s values (1)"), ("p", "select * from rp_s"),
        ("b", "alter table rp_s add column b int"), ("p", "select * from rp_s"),
        ("p", "select * from rp_s"), ("b", "alter table rp_s drop column b"),
        ("p", "select * from rp_s"), ("p", "select a from rp_s"),
        ("b", "alter table rp_s add column c text default 'x'"), ("p", "select a from rp_s"),
        ("b", "alter table rp_s drop column a"), ("p", "select a from rp_s"),
        ("b", "drop table rp_s")],
    "own_ddl_between_executions": [
        ("a", "drop table if exists rp_o"), ("a", "create table rp_o (a int)"),
        ("a", "insert into rp_o values (1)"), ("p", "select * from rp_o"),
        ("a", "alter table rp_o add column b int"), ("p", "select * from rp_o"),
        ("p", "insert into rp_o (a) values (2)"), ("a", "alter table rp_o drop column b"),
        ("p", "insert into rp_o (a) values (2)"), ("a", "select a from rp_o order by a"),
        ("a", "drop table rp_o")],
    "table_recreated": [
        ("b", "drop table if exists rp_r"), ("b", "create table rp_r (a int)"),
        ("b", "insert into rp_r values (1)"), ("p", "select a from rp_r"),
        ("p", "insert into rp_r values (5)"),
        ("b", "drop table rp_r"), ("p", "select a from rp_r"), ("p", "insert into rp_r values (5)"),
        ("b", "create table rp_r (a int)"), ("b", "insert into rp_r values (2)"),
        ("p", "select a from rp_r"), ("p", "insert into rp_r values (5)"),
        ("b", "create table rp_r2 (a text)"), ("b", "drop table rp_r"),
        ("b", "alter table rp_r2 rename to rp_r"), ("p", "select a from rp_r"),
        ("b", "drop table rp_r")],
    "enum_types": [
        ("b", "drop table if exists rp_e"), ("b", "drop type if exists rp_mood"),
        ("b", "create type rp_mood as enum ('sad', 'happy')"),
        ("b", "create table rp_e (m rp_mood)"), ("b", "insert into rp_e values ('happy')"),
        ("p", "select m::text from rp_e"), ("p", "select count(*) from rp_e where m::text = 'ok'"),
        ("b", "alter type rp_mood add value 'ok'"), ("b", "insert into rp_e values ('ok')"),
        ("p", "select count(*) from rp_e where m::text = 'ok'"), ("p", "select m::text from rp_e"),
        ("b", "drop table rp_e"), ("p", "select m::text from rp_e"), ("b", "drop type rp_mood")],
    "sequences": [
        ("b", "drop sequence if exists rp_q"), ("b", "create sequence rp_q"),
        ("p", "select nextval('rp_q')"), ("p", "select nextval('rp_q')"),
        ("b", "drop sequence rp_q"), ("p", "select nextval('rp_q')"),
        ("b", "create sequence rp_q start 100"), ("p", "select nextval('rp_q')"),
        ("b", "alter sequence rp_q restart with 7"), ("p", "select nextval('rp_q')"),
        ("b", "drop sequence rp_q")],
}


def _outcome(run: Any) -> Any:
    try:
        return run()
    except psycopg.Error as exc:
        return ("error", exc.sqlstate)


def _psycopg(dsn: str, script: list[tuple[str, str]]) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        for who, sql in script:
            conn = b if who == "b" else a
            prepare = who == "p"

            def run(conn: psycopg.Connection[Any] = conn, sql: str = sql,
                    prepare: bool = prepare) -> Any:
                cur = conn.execute(sql.encode(), prepare=prepare)
                return cur.fetchall() if cur.description else cur.statusmessage

            out.append(_outcome(run))
    return out


def _asyncpg(dsn: str, script: list[tuple[str, str]]) -> list[Any]:
    async def run() -> list[Any]:
        out: list[Any] = []
        a = await asyncpg.connect(dsn)  # with its statement cache, prepare() names statements
        b = await asyncpg.connect(dsn)
        prepared: dict[str, Any] = {}
        try:
            for who, sql in script:
                try:
                    if who == "p":
                        stmt = prepared.get(sql)
                        if stmt is None:
                            stmt = prepared[sql] = await a.prepare(sql)
                        out.append([tuple(r) for r in await stmt.fetch()])
                    else:
                        out.append(await (b if who == "b" else a).execute(sql))
                except asyncpg.PostgresError as exc:
                    out.append(("error", exc.sqlstate))
        finally:
            await a.close()
            await b.close()
        return out

    return asyncio.run(run())


def _diff(script: list[tuple[str, str]], pg: list[Any], st: list[Any]) -> str:
    lines = [f"{who} {sql!r}: postgres {x!r}, strata {y!r}"
             for (who, sql), x, y in zip(script, pg, st, strict=True) if x != y]
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_prepared_statement_after_ddl_agrees(pg_oracle: PostgresOracle,
                                             strata_shared: StrataProcess, name: str) -> None:
    script = SCRIPTS[name]
    pg = _psycopg(pg_oracle.dsn, script)
    st = _psycopg(strata_shared.dsn, script)
    assert pg == st, _diff(script, pg, st)
    pg_a = _asyncpg(pg_oracle.dsn, script)
    st_a = _asyncpg(strata_shared.dsn, script)
    assert pg_a == st_a, _diff(script, pg_a, st_a)


def test_changed_result_type_is_0a000(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """The 0A000 of ``select *`` after ADD COLUMN, on both servers, with PostgreSQL's message."""
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
            b.execute("drop table if exists rp_m")
            b.execute("create table rp_m (a int)")
            a.execute("select * from rp_m", prepare=True)
            b.execute("alter table rp_m add column b int")
            with pytest.raises(psycopg.errors.FeatureNotSupported) as info:
                a.execute("select * from rp_m", prepare=True)
            assert info.value.diag.message_primary == "cached plan must not change result type"
            b.execute("drop table rp_m")
