"""Multidimensional arrays as clients see them, against PostgreSQL 15: nested lists through
psycopg (text and binary) and asyncpg (binary, ndim > 1), as results, parameters and table columns."""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg
import pytest

from tests.compat.oracle import assert_agree
from tests.support import PostgresOracle, StrataProcess

QUERIES = [
    "select '{{1,2},{3,4}}'::int[] as a, ARRAY[[1.5,2],[3,4]]::numeric[] as b",
    "select '{{a,\"b c\"},{NULL,d}}'::text[] as a, '{{{1}},{{2}}}'::int8[] as b",
    "select array[['2003-02-01'::date, null]] as a, '{{t,f}}'::bool[] as b",
    "select (ARRAY[[1,2],[3,4]])[2][1] as a, array_dims(ARRAY[[1,2],[3,4]]) as d, cardinality('{{1,2},{3,4}}'::int[]) as c",
    "select unnest('{{1,2},{3,4}}'::int[]) as u",
    "select '{{1,2},{3}}'::int[] as a",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_results_agree(pg_oracle: PostgresOracle, strata_shared: StrataProcess, sql: str) -> None:
    assert_agree(pg_oracle.dsn, strata_shared.dsn, sql)


def test_nested_list_parameters_agree(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    assert_agree(pg_oracle.dsn, strata_shared.dsn, "select %s::int[] as a, %s::text[] as b",
                 [[[1, 2], [3, 4]], [["a", "b c"], [None, "d"]]])


def _table_round_trip(dsn: str) -> list[object]:
    out: list[object] = []
    with psycopg.connect(dsn) as conn:
        conn.execute("create table md_rt (id int, a int[][], t text[])")
        for binary in (False, True):
            conn.cursor(binary=binary).execute("insert into md_rt values (%s, %s, %s)",
                                                (int(binary), [[1, 2], [3, None]], [["x"], ["y"]]))
            rows = conn.cursor(binary=binary).execute("select id, a, t, a[2][1] from md_rt order by id").fetchall()
            out.append(rows)
        conn.rollback()

    async def with_asyncpg() -> list[object]:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("create table md_rt2 (a int8[])")
                await conn.execute("insert into md_rt2 values ($1)", [[1, 2], [3, 4]])
                rows = await conn.fetch("select a, array_ndims(a) from md_rt2")
                await conn.execute("drop table md_rt2")
                return [list(r.values()) for r in rows]
        finally:
            await conn.close()

    out.append(asyncio.run(with_asyncpg()))
    return out


def test_table_columns_round_trip(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    assert _table_round_trip(strata_shared.dsn) == _table_round_trip(pg_oracle.dsn)
