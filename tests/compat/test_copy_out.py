"""COPY ... TO STDOUT against PostgreSQL 15: framing (one CopyData per row) and formats.

Clients that read COPY output row by row (psycopg's ``Copy`` iterator, asyncpg) depend on the
message boundaries, so the test compares the CopyData messages themselves, byte for byte.
"""

from __future__ import annotations

import asyncio
import io

import asyncpg
import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

SETUP = (
    "create table cpo_t (a int, b text, c timestamptz, d numeric, e text[], f bytea, g float8)",
    "insert into cpo_t values (1, 'x', '2020-01-01 10:00+02', 1.5, '{a,\"b c\",NULL}', '\\x00ff', 'NaN'),"
    " (2, E'tab\\there', '1999-12-31 23:00-05', -0.25, '{}', '', '-Infinity'),"
    " (3, null, null, null, null, null, null)",
)
COPIES = [
    "copy cpo_t to stdout",
    "copy cpo_t to stdout with (format csv, header)",
    "copy cpo_t to stdout with (format binary)",
    "copy cpo_t to stdout binary",
    "copy cpo_t (b, a) to stdout with csv",
    "copy (select g, g * 2 from generate_series(1, 5) g) to stdout",
    "copy (select g, 'x'::text, 1.5::numeric, null::int from generate_series(1, 3) g) to stdout (format binary)",
    "copy (select 1 where false) to stdout with (format binary)",
    "copy (select 1 where false) to stdout",
]


def _messages(dsn: str, sql: str) -> list[bytes]:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction(force_rollback=True):
        conn.execute("set timezone = 'UTC'")
        for stmt in SETUP:
            conn.execute(stmt)
        with conn.cursor().copy(sql) as copy:
            return [bytes(chunk) for chunk in copy]


@pytest.mark.parametrize("sql", COPIES)
def test_copy_to_messages_match_postgres(pg_oracle: PostgresOracle, strata_shared: StrataProcess,
                                         sql: str) -> None:
    pg = _messages(pg_oracle.dsn, sql)
    st = _messages(strata_shared.dsn, sql)
    assert st == pg
    assert len(pg) >= 2 or "false" in sql  # the comparison covers several rows


def test_copy_to_rows_through_psycopg_and_asyncpg(pg_oracle: PostgresOracle,
                                                  strata_shared: StrataProcess) -> None:
    def psycopg_rows(dsn: str) -> list[tuple[object, ...]]:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction(force_rollback=True):
            conn.execute("set timezone = 'UTC'")
            for stmt in SETUP:
                conn.execute(stmt)
            with conn.cursor().copy("copy cpo_t (a, b, d) to stdout (format binary)") as copy:
                copy.set_types(["int4", "text", "numeric"])
                return list(copy.rows())

    async def asyncpg_bytes(dsn: str) -> bytes:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("set local timezone = 'UTC'")
                for stmt in SETUP:
                    await conn.execute(stmt)
                out = io.BytesIO()
                await conn.copy_from_query("select * from cpo_t order by a", output=out, format="binary")
                text = io.BytesIO()
                await conn.copy_from_table("cpo_t", output=text, format="csv")
                return out.getvalue() + b"|" + text.getvalue()
        finally:
            await conn.close()

    pg_rows = psycopg_rows(pg_oracle.dsn)
    assert len(pg_rows) == 3
    assert psycopg_rows(strata_shared.dsn) == pg_rows
    assert asyncio.run(asyncpg_bytes(strata_shared.dsn)) == asyncio.run(asyncpg_bytes(pg_oracle.dsn))
