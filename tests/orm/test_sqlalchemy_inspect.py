"""SQLAlchemy 2 ``inspect()`` on Strata reports what it reports on PostgreSQL 15 for the same
schema (psycopg and asyncpg dialects): columns, keys, constraints, indexes (unique, multi-column,
partial, expression, DESC / NULLS FIRST keys), comments, and the table / view / sequence lists."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import PostgresOracle, StrataProcess

SCHEMA = [
    "drop view if exists si_v",
    "drop table if exists si_c, si_b, si_a cascade",
    "drop sequence if exists si_seq",
    "create table si_a (id serial primary key, name varchar(20) not null unique, "
    "qty numeric(8,2) default 0 check (qty >= 0), created timestamptz default now(), flag boolean)",
    "create table si_b (id bigint primary key, a_id int references si_a on delete cascade, note text, "
    "code char(3) default 'abc', constraint si_b_u unique (a_id, note))",
    "alter table si_b add constraint si_b_a2 foreign key (a_id) references si_a (id) on update set null",
    "alter table si_b add constraint si_b_note_len check (length(note) < 100)",
    "create index si_b_note on si_b (note)",
    "create unique index si_b_code_note on si_b (code, note)",
    "create index si_b_sorted on si_b (code desc, note nulls first, a_id desc nulls last)",
    "create index si_b_partial on si_b (a_id) where note is not null and id > 10",
    "create index si_b_lower on si_b (lower(note))",
    "create index si_b_mixed on si_b (a_id, lower(code) desc)",
    "create table si_c (x int, y int, z text, primary key (y, x))",
    "create view si_v as select id, name from si_a",
    "create sequence si_seq",
    "comment on table si_a is 'the A table'",
    "comment on column si_a.name is 'display name'",
]
TABLES = ("si_a", "si_b", "si_c")
METHODS = ("get_columns", "get_foreign_keys", "get_check_constraints", "get_table_comment", "get_pk_constraint",
           "get_unique_constraints", "get_indexes")


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


def _ours(names: list[str]) -> list[str]:
    """Other test modules share the PostgreSQL oracle: only this module's relations count."""
    return sorted(n for n in names if n.startswith("si_"))


def _multi(result: dict[tuple[str | None, str], Any]) -> dict[str, Any]:
    return {name: _plain(value) for (_schema, name), value in sorted(result.items()) if name.startswith("si_")}


def _reflect(insp: Any) -> dict[str, Any]:
    out = {f"{t}.{m}": _plain(getattr(insp, m)(t)) for t in TABLES for m in METHODS}
    out["get_table_names"] = _ours(insp.get_table_names())
    out["get_view_names"] = _ours(insp.get_view_names())
    out["get_sequence_names"] = _ours(insp.get_sequence_names())
    out["has_table"] = [insp.has_table(n) for n in ("si_a", "si_v", "si_nope")]
    out["has_sequence"] = [insp.has_sequence(n) for n in ("si_seq", "si_nope")]
    out["has_index"] = [insp.has_index("si_b", n) for n in ("si_b_sorted", "si_nope")]
    out["get_multi_indexes"] = _multi(insp.get_multi_indexes())
    out["get_multi_pk_constraint"] = _multi(insp.get_multi_pk_constraint())
    out["get_multi_unique_constraints"] = _multi(insp.get_multi_unique_constraints())
    out["get_multi_columns"] = _multi(insp.get_multi_columns())
    return out


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
            conn.execute(text("drop view if exists si_v"))
            conn.execute(text("drop table if exists si_c, si_b, si_a cascade"))
            conn.execute(text("drop sequence if exists si_seq"))
        engine.dispose()


@pytest.mark.parametrize("reflect", [_sync, _async], ids=["psycopg", "asyncpg"])
def test_inspect_matches_postgres(dsns: tuple[str, str], reflect: Any) -> None:
    pg, strata = (reflect(dsn) for dsn in dsns)
    assert pg["si_b.get_foreign_keys"]  # the schema really has what is compared
    assert len(pg["si_b.get_indexes"]) == 7 and pg["get_view_names"] == ["si_v"]
    for key in pg:
        assert strata[key] == pg[key], key
