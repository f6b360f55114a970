"""Run one statement on PostgreSQL 15 and on Strata through psycopg (text and binary results)
and asyncpg (binary), and compare what the clients see: columns, type OIDs, values, SQLSTATE."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import psycopg

Answer = tuple[str, Any]  # ("ok", (columns, oids, rows)) or ("error", sqlstate)


def _norm(value: Any) -> Any:
    """NaN != NaN: compare floats by repr; records and lists element by element."""
    if isinstance(value, float) and math.isnan(value) or isinstance(value, Decimal) and value.is_nan():
        return "NaN"
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, asyncpg.Record):
        return [_norm(v) for v in value.values()]
    return value


def psycopg_answer(dsn: str, sql: str, params: Sequence[Any] | None = None, *, binary: bool,
                   setup: Sequence[str] = ()) -> Answer:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set timezone = 'UTC'")
        for stmt in setup:
            conn.execute(stmt.encode())
        try:
            cur = conn.cursor(binary=binary)
            cur.execute(sql.encode() if params is None else sql, params)  # type: ignore[arg-type]
            if cur.description is None:
                return ("ok", cur.statusmessage)
            names = [d.name for d in cur.description]
            oids = [d.type_code for d in cur.description]
            return ("ok", (names, oids, [_norm(r) for r in cur.fetchall()]))
        except psycopg.Error as exc:
            return ("error", exc.sqlstate or type(exc).__name__)


def asyncpg_answer(dsn: str, sql: str, params: Sequence[Any] | None = None,
                   setup: Sequence[str] = ()) -> Answer:
    counter = iter(range(1, 1000))
    sql = re.sub(r"%s", lambda _: f"${next(counter)}", sql)  # psycopg placeholders -> $n

    async def run() -> Answer:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("set timezone = 'UTC'")
            for stmt in setup:
                await conn.execute(stmt)
            try:
                stmt = await conn.prepare(sql)
                attrs = stmt.get_attributes()
                rows = await stmt.fetch(*(params or ()))
                return ("ok", ([a.name for a in attrs], [a.type.oid for a in attrs],
                               [_norm(r) for r in rows]))
            except asyncpg.PostgresError as exc:
                return ("error", exc.sqlstate)
        finally:
            await conn.close()

    return asyncio.run(run())


def assert_agree(pg_dsn: str, st_dsn: str, sql: str, params: Sequence[Any] | None = None, *,
                 setup: Sequence[str] = (), clients: Sequence[str] = ("text", "binary", "asyncpg")
                 ) -> Answer:
    """Every client sees the same answer from both servers; returns PostgreSQL's text answer."""
    first: Answer | None = None
    for client in clients:
        if client == "asyncpg":
            pg = asyncpg_answer(pg_dsn, sql, params, setup)
            st = asyncpg_answer(st_dsn, sql, params, setup)
        else:
            pg = psycopg_answer(pg_dsn, sql, params, binary=client == "binary", setup=setup)
            st = psycopg_answer(st_dsn, sql, params, binary=client == "binary", setup=setup)
        assert st == pg, f"{client}: {sql} params={params!r}\n  postgres: {pg!r}\n  strata:   {st!r}"
        first = first or pg
        assert pg[0] == first[0], f"{client} and the first client disagree on PostgreSQL: {pg!r}"
    assert first is not None
    return first


def psycopg_script(dsn: str, script: Sequence[str]) -> list[Any]:
    """Run statements one by one in autocommit mode: rows, command status or ("error", SQLSTATE)."""
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in script:
            try:
                cur = conn.execute(sql.encode())
                out.append(cur.fetchall() if cur.description else cur.statusmessage)
            except psycopg.Error as exc:
                out.append(("error", exc.sqlstate))
    return out
