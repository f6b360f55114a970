"""SQLAlchemy 2 ``inspect()`` on Strata reports what it reports on PostgreSQL 15 for the same
schema (psycopg and asyncpg dialects): columns, foreign keys, CHECK constraints, table comments."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import PostgresOracle, StrataProcess

SCHEMA = [
    "drop table if exists si_b, si_a cascade",
    "create table si_a (id serial primary key, name varchar(20) not null unique, "
    "qty numeric(8,2) default 0 check (qty >= 0), created timestamptz default now(), flag boolean)",
    "create table si_b (id bigint primary key, a_id int references si_a on delete cascade, note text, "
    "code char(3) default 'abc', constraint si_b_u unique (a_id, note))",
    "alter table si_b add constraint si_b_a2 foreign key (a_id) references si_a (id) on update set null",
    "alter table si_b add constraint si_b_note_len check (length(note) < 100)",
    "create index si_b_note on si_b (note)",
    "comment on table si_a is 'the A table'",
    "comment on column si_a.name is 'display name'",
]
TABLES = ("si_a", "si_b")
METHODS = ("get_columns", "get_foreign_keys", "get_check_constraints", "get_table_comment")


def _url(dsn: str, driver: str) -> str:
    return dsn.replace("postgresql://", f"postgresql+{driver}://")


def _create(dsn: str) -> None:
    engine = create_engine(_url(dsn, "psycopg"))
    try:
        with engine.begin() as conn:
            for stmt in SCHEMA:
                conn.execute(text(stmt))
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    """Reflected values with SQLAlchemy type objects as their repr (types compare by identity)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: repr(v) if k == "type" else _plain(v) for k, v in value.items()}
    return value


def _reflect(insp: Any) -> dict[str, Any]:
    return {f"{t}.{m}": _plain(getattr(insp, m)(t)) for t in TABLES for m in METHODS}


def _sync(dsn: str) -> dict[str, Any]:
    engine: Engine = create_engine(_url(dsn, "psycopg"))
    try:
        return _reflect(inspect(engine))
    finally:
        engine.dispose()


def _async(dsn: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        engine = create_async_engine(_url(dsn, "asyncpg"))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda sync_conn: _reflect(inspect(sync_conn)))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def dsns(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[tuple[str, str]]:
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        _create(dsn)
    yield pg_oracle.dsn, strata_shared.dsn
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        engine = create_engine(_url(dsn, "psycopg"))
        with engine.begin() as conn:
            conn.execute(text("drop table if exists si_b, si_a cascade"))
        engine.dispose()


@pytest.mark.parametrize("reflect", [_sync, _async], ids=["psycopg", "asyncpg"])
def test_inspect_matches_postgres(dsns: tuple[str, str], reflect: Any) -> None:
    pg, strata = (reflect(dsn) for dsn in dsns)
    assert pg["si_b.get_foreign_keys"]  # the schema really has what is compared
    for key in pg:
        assert strata[key] == pg[key], key
