"""Randomized round trip against PostgreSQL 15 (issue 10's "Must show").

Seeded values of every supported type (and arrays of them): NULLs, empty strings, control and
non-ASCII characters, extreme and special numbers, timestamps with time zones of both signs. They
go in as parameters (psycopg, text and binary) and come back out through SELECT (psycopg text and
binary, asyncpg), COPY TO (text, csv, binary: the bytes) and COPY FROM (each of PostgreSQL's COPY
outputs loaded into a fresh table, then read back). Strata must answer exactly what PostgreSQL
answers. Bounded: ROWS rows per run, a few seconds in the default suite; set
STRATA_ROUNDTRIP_SEED to replay or explore another seed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import os
import random
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import psycopg
from psycopg.types.json import Json, Jsonb

from tests.compat.oracle import _norm
from tests.support import PostgresOracle, StrataProcess

SEED = int(os.environ.get("STRATA_ROUNDTRIP_SEED", "20261203"))
ROWS = 24

ODD_CHARS = ["\x01", "\x07", "\t", "\n", "\r", "\x1c", "\x1f", "\x7f", "\x85", "\xa0", "é", "ß", "✓",
             "😀", "\u2028", "\\", '"', "'", ",", "{", "}", "(", ")", " ", "N", "U", "L", "a", "Z", "0"]


def _text(r: random.Random) -> str:
    pick = r.random()
    if pick < 0.1:
        return ""
    if pick < 0.15:
        return r.choice(["NULL", "null", " ", "\\N", "\\.", "a b", "{}"])
    return "".join(r.choice(ODD_CHARS) for _ in range(r.randint(1, 8)))


def _numeric(r: random.Random) -> decimal.Decimal:
    pick = r.random()
    if pick < 0.1:
        return decimal.Decimal(r.choice(["NaN", "0", "-0.000", "1E+3", "0.00000001", "-99999999999999999999.5"]))
    digits = r.randint(1, 30)
    scale = r.randint(0, min(digits, 12))
    value = r.randrange(10 ** digits) * (-1 if r.random() < 0.5 else 1)
    return decimal.Decimal(value).scaleb(-scale)


def _float8(r: random.Random) -> float:
    pick = r.random()
    if pick < 0.25:
        return r.choice([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e308, -1e-308, 5e-324,
                         1.7976931348623157e308, 0.1, 1 / 3])
    return r.uniform(-1e6, 1e6) * 10 ** r.randint(-20, 20)


def _float4(r: random.Random) -> float:
    if r.random() < 0.2:
        return r.choice([0.0, float("inf"), float("-inf"), float("nan"), 3.4028234663852886e38, 1.5])
    return float(decimal.Decimal(r.uniform(-1e4, 1e4)).quantize(decimal.Decimal("0.01")))


def _timestamp(r: random.Random) -> dt.datetime:
    base = dt.datetime(1, 1, 1) + dt.timedelta(seconds=r.randrange(0, 315_000_000_000))
    return base.replace(microsecond=r.choice([0, r.randrange(1_000_000)]))


def _zone(r: random.Random) -> dt.timezone:
    minutes = r.choice([0, 60, -60, 330, -570, 345, -210, 14 * 60, -12 * 60, 5 * 60 + 30])
    return dt.timezone(dt.timedelta(minutes=minutes))


def _timestamptz(r: random.Random) -> dt.datetime:
    return dt.datetime(1900, 1, 1, tzinfo=_zone(r)) + dt.timedelta(seconds=r.randrange(0, 6_000_000_000),
                                                                microseconds=r.randrange(1_000_000))


def _json(r: random.Random, depth: int = 0) -> Any:
    pick = r.random()
    if depth < 2 and pick < 0.3:
        return {_text(r): _json(r, depth + 1) for _ in range(r.randint(0, 3))}
    if depth < 2 and pick < 0.5:
        return [_json(r, depth + 1) for _ in range(r.randint(0, 3))]
    return r.choice([None, True, False, r.randint(-10**6, 10**6), _text(r), 1.5])


def _interval(r: random.Random) -> dt.timedelta:
    return dt.timedelta(days=r.randint(-10000, 10000), seconds=r.randint(0, 86399),
                        microseconds=r.randrange(1_000_000))


Gen = Callable[[random.Random], Any]
SCALARS: list[tuple[str, Gen]] = [
    ("smallint", lambda r: r.choice([-32768, 32767, 0, r.randint(-32768, 32767)])),
    ("integer", lambda r: r.choice([-2**31, 2**31 - 1, 0, r.randint(-2**31, 2**31 - 1)])),
    ("bigint", lambda r: r.choice([-2**63, 2**63 - 1, 0, r.randint(-2**63, 2**63 - 1)])),
    ("numeric", _numeric),
    ("double precision", _float8),
    ("real", _float4),
    ("boolean", lambda r: r.random() < 0.5),
    ("text", _text),
    ("varchar(12)", lambda r: _text(r)[:12]),
    ("bytea", lambda r: bytes(r.randrange(256) for _ in range(r.randint(0, 6)))),
    ("date", lambda r: dt.date(1, 1, 1) + dt.timedelta(days=r.randrange(0, 3_600_000))),
    ("time", lambda r: dt.time(r.randrange(24), r.randrange(60), r.randrange(60), r.choice([0, r.randrange(10**6)]))),
    ("timestamp", _timestamp),
    ("timestamptz", _timestamptz),
    ("interval", _interval),
    ("uuid", lambda r: uuid.UUID(int=r.getrandbits(128))),
    ("jsonb", lambda r: Jsonb(_json(r))),
    ("json", lambda r: Json(_json(r))),
    ("char(5)", lambda r: _text(r)[:5].rstrip(" ")),
    ("time with time zone", lambda r: dt.time(r.randrange(24), r.randrange(60), r.randrange(60),
                                              r.choice([0, r.randrange(10**6)]), tzinfo=_zone(r))),
]
ARRAYS = ["smallint", "integer", "bigint", "text", "varchar(12)", "numeric", "double precision", "real",
          "boolean", "bytea", "date", "time", "timestamp", "timestamptz", "interval", "uuid"]


def _columns() -> list[tuple[str, str, Gen]]:
    cols = [(f"c{i}", name, gen) for i, (name, gen) in enumerate(SCALARS)]
    gens = dict(SCALARS)
    for j, name in enumerate(ARRAYS):
        elem = gens[name]

        def gen(r: random.Random, elem: Gen = elem) -> list[Any]:
            return [None if r.random() < 0.15 else elem(r) for _ in range(r.randint(0, 4))]

        cols.append((f"a{j}", f"{name}[]", gen))
    return cols


COLUMNS = _columns()
TABLE = "rt_random"


def _rows(seed: int) -> list[tuple[Any, ...]]:
    r = random.Random(seed)
    return [(i, *[None if r.random() < 0.1 else gen(r) for _, _, gen in COLUMNS]) for i in range(ROWS)]


def _ddl(table: str) -> str:
    return f"create table {table} (id int primary key, " + ", ".join(f"{c} {t}" for c, t, _ in COLUMNS) + ")"


def _server_answers(dsn: str, rows: list[tuple[Any, ...]], pg_copies: dict[str, bytes] | None
                    ) -> dict[str, Any]:
    """Everything one server answers for the generated rows (its tables are dropped after)."""
    out: dict[str, Any] = {}
    names = ", ".join(c for c, _, _ in COLUMNS)
    marks = ", ".join(["%s"] * (len(COLUMNS) + 1))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set timezone = 'UTC'")
        conn.execute(f"drop table if exists {TABLE}")
        conn.execute(f"drop table if exists {TABLE}_in")
        conn.execute(_ddl(TABLE))
        half = len(rows) // 2
        with conn.cursor() as cur:  # text-format parameters for half the rows, binary for the rest
            cur.executemany(f"insert into {TABLE} (id, {names}) values ({marks})", rows[:half])
        with conn.cursor(binary=True) as cur:
            cur.executemany(f"insert into {TABLE} (id, {names}) values ({marks})", rows[half:])
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            cur.execute(f"select * from {TABLE} order by id")
            out[f"select binary={binary}"] = [_norm(row) for row in cur.fetchall()]
            out[f"oids binary={binary}"] = [d.type_code for d in cur.description or []]
        copies: dict[str, bytes] = {}
        for fmt in ("text", "csv", "binary"):
            with conn.cursor().copy(f"copy (select * from {TABLE} order by id) to stdout (format {fmt})") as copy:
                copies[fmt] = b"".join(bytes(chunk) for chunk in copy)
            out[f"copy to {fmt}"] = copies[fmt]
        source = pg_copies or copies  # COPY FROM loads PostgreSQL's output on both servers
        for fmt, data in source.items():
            conn.execute(_ddl(f"{TABLE}_in"))
            with conn.cursor().copy(f"copy {TABLE}_in from stdin (format {fmt})") as copy:
                copy.write(data)
            cur = conn.cursor(binary=True)
            cur.execute(f"select * from {TABLE}_in order by id")
            out[f"copy from {fmt}"] = [_norm(row) for row in cur.fetchall()]
            conn.execute(f"drop table {TABLE}_in")
    out["asyncpg"] = asyncio.run(_asyncpg_rows(dsn))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop table {TABLE}")
    out["_copies"] = copies
    return out


async def _asyncpg_rows(dsn: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        for name in ("json", "jsonb"):
            await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        await conn.execute("set timezone = 'UTC'")
        return [_norm(row) for row in await conn.fetch(f"select * from {TABLE} order by id")]
    finally:
        await conn.close()


def test_random_values_round_trip_like_postgres(pg_oracle: PostgresOracle,
                                                 strata_shared: StrataProcess) -> None:
    rows = _rows(SEED)
    pg = _server_answers(pg_oracle.dsn, rows, None)
    st = _server_answers(strata_shared.dsn, rows, pg["_copies"])
    assert len(pg["select binary=False"]) == ROWS
    for key in sorted(k for k in pg if not k.startswith("_")):
        if pg[key] == st[key]:
            continue
        if isinstance(pg[key], list) and len(pg[key]) == len(st[key]):
            for a, b in zip(pg[key], st[key], strict=True):
                if a != b:
                    if isinstance(a, list) and isinstance(b, list):
                        cols = ["id", *(f"{c} {t}" for c, t, _ in COLUMNS)]
                        diff = {cols[i] if i < len(cols) else i: (x, y)
                                for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y}
                        raise AssertionError(f"seed {SEED}, {key}: row differs: {diff}")
                    raise AssertionError(f"seed {SEED}, {key}: {a!r} != {b!r}")
        if isinstance(pg[key], bytes):
            pg_lines, st_lines = pg[key].split(b"\n"), st[key].split(b"\n")
            for a, b in zip(pg_lines, st_lines, strict=False):
                assert a == b, f"seed {SEED}, {key}: first differing line:\n  {a!r}\n  {b!r}"
        raise AssertionError(f"seed {SEED}, {key}: {pg[key]!r} != {st[key]!r}")
