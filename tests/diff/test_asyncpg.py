"""asyncpg against PostgreSQL 15 and Strata: type introspection and binary codecs round-trip.

asyncpg uses the binary format for every type it knows and introspects pg_type for the rest
(arrays, json, enums...). The same values are written with parameters and read back from both
servers; the Python values must be equal, and equal to what was written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import uuid
from typing import Any

import asyncpg
import pytest

from tests.support import PostgresOracle, StrataProcess

UTC = dt.UTC
# (column type, values written with a bound parameter and read back)
TYPES: list[tuple[str, list[Any]]] = [
    ("smallint", [0, -32768, 32767]),
    ("integer", [0, -2147483648, 2147483647]),
    ("bigint", [0, -(2**63), 2**63 - 1]),
    ("numeric(12,3)", [decimal.Decimal("0.000"), decimal.Decimal("-123456789.125"), decimal.Decimal("1.500")]),
    ("numeric", [decimal.Decimal("3.14159265358979323846"), decimal.Decimal("-0.5"), decimal.Decimal("1E+3")]),
    ("real", [1.5, -0.25, float("inf"), float("nan")]),
    ("double precision", [0.1, -1e300, float("-inf"), float("nan")]),
    ("boolean", [True, False]),
    ("text", ["", "héllo wörld", "with\ttab"]),
    ("varchar(10)", ["abc", "x" * 10]),
    ("char(4)", ["ab  ", "abcd"]),
    ("bytea", [b"", b"\x00\xff\x10", b"hello"]),
    ("date", [dt.date(2024, 2, 29), dt.date(1999, 12, 31), dt.date(1, 1, 1)]),
    ("time", [dt.time(0, 0), dt.time(23, 59, 59, 999999), dt.time(12, 30, 0, 5000)]),
    ("timestamp", [dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(1970, 1, 1)]),
    ("timestamptz", [dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
                     dt.datetime(1999, 12, 31, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))]),
    ("interval", [dt.timedelta(days=3, seconds=7200), dt.timedelta(microseconds=-1), dt.timedelta(0)]),
    ("uuid", [uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), uuid.UUID(int=0)]),
    ("json", ['{"a": [1, 2, {"b": null}]}', "[]", '"s"']),
    ("jsonb", ['{"a": 1, "b": [true, false]}', "1.5", "null"]),
    ("integer[]", [[1, 2, 3], [], [None, 5]]),
    ("bigint[]", [[2**62, -1], [0]]),
    ("text[]", [["a", "b c", '"q"', None], []]),
]


async def _roundtrip(dsn: str, column_type: str, values: list[Any]) -> tuple[list[Any], list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(f"create table ap_t (id int, v {column_type})")
            await conn.executemany("insert into ap_t values ($1, $2)", list(enumerate(values)))
            rows = await conn.fetch("select v from ap_t order by id")
            stmt = await conn.prepare("select v from ap_t where id = $1")
            type_names = [a.type.name for a in stmt.get_attributes()]
            raise _Rollback([r["v"] for r in rows], type_names)
    except _Rollback as done:
        return done.values, done.types
    finally:
        await conn.close()
    raise AssertionError("unreachable")


class _Rollback(Exception):  # noqa: N818 - control flow: leave the transaction by rolling back
    def __init__(self, values: list[Any], types: list[str]) -> None:
        super().__init__("rollback")
        self.values = values
        self.types = types


@pytest.mark.parametrize(("column_type", "values"), TYPES, ids=[t for t, _ in TYPES])
def test_asyncpg_binary_roundtrip(pg_oracle: PostgresOracle, strata_shared: StrataProcess,
                                  column_type: str, values: list[Any]) -> None:
    pg_values, pg_types = asyncio.run(_roundtrip(pg_oracle.dsn, column_type, values))
    st_values, st_types = asyncio.run(_roundtrip(strata_shared.dsn, column_type, values))
    assert st_types == pg_types
    assert repr(st_values) == repr(pg_values)  # repr: NaN != NaN, but prints alike
    if column_type not in ("jsonb", "char(4)", "timestamptz", "numeric"):
        assert repr(pg_values) == repr(values)


def test_asyncpg_query_types_and_errors(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    async def probe(dsn: str) -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            out: list[Any] = []
            row = await conn.fetchrow(
                "select 1::int2 a, 2::int8 b, 1.25::numeric c, 'x'::text d, true e, "
                "array[1, 2] f, '{\"k\": 1}'::jsonb g, date '2024-01-02' h, now() - now() i")
            out.append(dict(row))
            out.append(await conn.fetchval("select $1::int + $2::int", 40, 2))
            out.append(await conn.fetchval("select $1::text[]", ["a", None]))
            for sql in ("select 1/0", "select 2147483647 + 1", "select 'x'::int"):
                try:
                    await conn.fetchval(sql)
                    out.append(None)
                except asyncpg.PostgresError as exc:
                    out.append(exc.sqlstate)
            return out
        finally:
            await conn.close()

    assert asyncio.run(probe(strata_shared.dsn)) == asyncio.run(probe(pg_oracle.dsn))
