"""SQLAlchemy's begin_nested() (SAVEPOINT "sa_savepoint_1" / RELEASE SAVEPOINT / ROLLBACK TO
SAVEPOINT) against PostgreSQL 15 and Strata, through psycopg and asyncpg: a nested block, released
or rolled back, must leave the outer transaction able to commit the same rows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import PostgresOracle, StrataProcess

TABLE = "orm_sp_rows"


def _scenario_sync(dsn: str) -> list[Any]:
    engine = sa.create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {TABLE}"))
            conn.execute(sa.text(f"create table {TABLE} (id int primary key, v text)"))
        with engine.connect() as conn:
            with conn.begin():
                conn.execute(sa.text(f"insert into {TABLE} values (1, 'outer')"))
                with conn.begin_nested():  # released
                    conn.execute(sa.text(f"insert into {TABLE} values (2, 'nested')"))
                nested = conn.begin_nested()  # rolled back after an error
                try:
                    conn.execute(sa.text(f"insert into {TABLE} values (1, 'duplicate')"))
                except sa.exc.IntegrityError:
                    nested.rollback()
                with conn.begin_nested():
                    with conn.begin_nested():  # two levels
                        conn.execute(sa.text(f"insert into {TABLE} values (3, 'deep')"))
            rows = conn.execute(sa.text(f"select id, v from {TABLE} order by id")).all()
            conn.rollback()
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table {TABLE}"))
        return [tuple(r) for r in rows]
    finally:
        engine.dispose()


async def _scenario_async(dsn: str) -> list[Any]:
    engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"drop table if exists {TABLE}"))
            await conn.execute(sa.text(f"create table {TABLE} (id int primary key, v text)"))
        async with engine.connect() as conn:
            async with conn.begin():
                await conn.execute(sa.text(f"insert into {TABLE} values (1, 'outer')"))
                async with conn.begin_nested():
                    await conn.execute(sa.text(f"insert into {TABLE} values (2, 'nested')"))
                nested = await conn.begin_nested()
                try:
                    await conn.execute(sa.text(f"insert into {TABLE} values (1, 'duplicate')"))
                except sa.exc.IntegrityError:
                    await nested.rollback()
            rows = (await conn.execute(sa.text(f"select id, v from {TABLE} order by id"))).all()
            await conn.rollback()
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"drop table {TABLE}"))
        return [tuple(r) for r in rows]
    finally:
        await engine.dispose()


def test_begin_nested_commits_the_outer_transaction(pg_oracle: PostgresOracle,
                                                    strata_shared: StrataProcess) -> None:
    pg = _scenario_sync(pg_oracle.dsn)
    assert pg == [(1, "outer"), (2, "nested"), (3, "deep")]
    assert _scenario_sync(strata_shared.dsn) == pg


def test_begin_nested_through_asyncpg(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    pg = asyncio.run(_scenario_async(pg_oracle.dsn))
    assert pg == [(1, "outer"), (2, "nested")]
    assert asyncio.run(_scenario_async(strata_shared.dsn)) == pg


@pytest.mark.parametrize("script", [
    ['BEGIN', 'SAVEPOINT "s1"', 'ROLLBACK TO "s1"', 'RELEASE SAVEPOINT "s1"', "COMMIT"],
    ["BEGIN", "SAVEPOINT s1", "RELEASE SAVEPOINT s1", "SAVEPOINT \"Mixed Case\"",
     "ROLLBACK TO SAVEPOINT \"Mixed Case\"", "RELEASE \"Mixed Case\"", "COMMIT"],
    ["BEGIN", "SAVEPOINT a", "RELEASE SAVEPOINT A", "RELEASE a", "ROLLBACK"],
])
def test_savepoint_names(pg_oracle: PostgresOracle, strata_shared: StrataProcess, script: list[str]) -> None:
    import psycopg

    def run(dsn: str) -> list[Any]:
        out: list[Any] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            for sql in script:
                try:
                    out.append(conn.execute(sql.encode()).statusmessage)
                except psycopg.Error as exc:
                    out.append(exc.sqlstate)
        return out

    assert run(strata_shared.dsn) == run(pg_oracle.dsn)
