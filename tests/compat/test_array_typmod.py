"""Arrays of typmod'd elements (char(n)[], varchar(n)[], numeric(p,s)[]) against PostgreSQL 15:
what the diff case format cannot say. RowDescription's typmod of an array column is its element's,
typed (text[] / list) parameters and COPY FROM get the element typmod applied on assignment, and
binary results (psycopg binary, asyncpg) show the padded / rounded elements."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import psycopg
import pytest

from tests.compat.oracle import psycopg_answer
from tests.support import PostgresOracle, StrataProcess

TABLE = "create table {t} (c char(3)[], v varchar(2)[], n numeric(5,2)[])"


def _fmods(dsn: str, table: str, sql: str) -> list[int]:
    """The typmods RowDescription reports for the columns of ``sql``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop table if exists {table}")
        conn.execute(TABLE.format(t=table).encode())
        try:
            cur = conn.execute(sql.encode())
            assert cur.pgresult is not None
            return [cur.pgresult.fmod(i) for i in range(cur.pgresult.nfields)]
        finally:
            conn.execute(f"drop table {table}")


@pytest.mark.parametrize("sql", [
    "select c, v, n from {t}",
    "select '{{a}}'::char(3)[] as c, '{{a}}'::varchar(2)[] as v, '{{1}}'::numeric(5,2)[] as n",
    "select array['a']::char(3)[] as c, c[1] as c1 from {t}",
])
def test_row_description_typmod(pg_oracle: PostgresOracle, strata_shared: StrataProcess, sql: str) -> None:
    table = "tat_fmod"
    pg = _fmods(pg_oracle.dsn, table, sql.format(t=table))
    st = _fmods(strata_shared.dsn, table, sql.format(t=table))
    assert st == pg
    assert pg[0] == 7  # char(3): the element's typmod


def _script(dsn: str, table: str, steps: list[tuple[str, Any]]) -> list[Any]:
    """Run (sql, params) steps: rows, status or ("error", SQLSTATE)."""
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop table if exists {table}")
        conn.execute(TABLE.format(t=table).encode())
        try:
            for sql, params in steps:
                try:
                    cur = conn.execute(sql.format(t=table), params)
                    out.append(cur.fetchall() if cur.description else cur.statusmessage)
                except psycopg.Error as exc:
                    out.append(("error", exc.sqlstate))
        finally:
            conn.execute(f"drop table {table}")
    return out


def test_typed_list_parameters(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """psycopg sends a Python list as a typed text[] / numeric[] parameter: assignment applies the
    element typmod (pads, rounds, or 22001 when an element is too long)."""
    steps: list[tuple[str, Any]] = [
        ("insert into {t} values (%s, %s, %s)", (["a", None], ["ab"], [1.234, None])),
        ("insert into {t} (v) values (%s)", (["abc"],)),
        ("insert into {t} (n) values (%s)", ([12345.6],)),
        ("update {t} set v = %s where v is not null", (["xy", "z"],)),
        ("update {t} set v = %s where v is not null", (["xyz"],)),
        ("select c, v, n from {t} order by v", None),
        ("select %s::varchar(2)[], %s::char(2)[]", (["abc"], ["a"])),
    ]
    assert _script(strata_shared.dsn, "tat_params", steps) == _script(pg_oracle.dsn, "tat_params", steps)


def _copy(dsn: str, table: str, data: str) -> list[Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop table if exists {table}")
        conn.execute(TABLE.format(t=table).encode())
        try:
            try:
                with conn.cursor().copy(f"copy {table} (c, v, n) from stdin".encode()) as copy:
                    copy.write(data)
            except psycopg.Error as exc:
                return [("error", exc.sqlstate)]
            return conn.execute(f"select c, v, n from {table} order by v".encode()).fetchall()
        finally:
            conn.execute(f"drop table {table}")


@pytest.mark.parametrize("data", [
    "{a,NULL}\t{ab}\t{1.234}\n\\N\t{x}\t{NULL,9.999}\n",
    "{a}\t{abc}\t{1}\n",
    "{abcd}\t{a}\t{1}\n",
    "{a}\t{a}\t{1000.5}\n",
])
def test_copy_from(pg_oracle: PostgresOracle, strata_shared: StrataProcess, data: str) -> None:
    assert _copy(strata_shared.dsn, "tat_copy", data) == _copy(pg_oracle.dsn, "tat_copy", data)


def test_binary_results(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    sql = "select '{a,NULL}'::char(3)[], '{abc}'::varchar(2)[], '{1.234,-5.555}'::numeric(5,2)[]"
    pg = psycopg_answer(pg_oracle.dsn, sql, binary=True)
    assert psycopg_answer(strata_shared.dsn, sql, binary=True) == pg

    async def fetch(dsn: str) -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow(sql)
            assert row is not None
            return list(row.values())
        finally:
            await conn.close()

    assert asyncio.run(fetch(strata_shared.dsn)) == asyncio.run(fetch(pg_oracle.dsn))
