"""Enum types through real clients, against PostgreSQL 15 and Strata side by side.

asyncpg meets an enum OID it does not know and introspects pg_type/pg_enum, then uses the binary
format (an enum's binary form is its label); SQLAlchemy's ``Enum`` checks pg_type before issuing
CREATE TYPE / DROP TYPE and lists enums with ``inspect().get_enums()``; psycopg uses text.
Every scenario runs on both servers and the outcomes must be equal.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import asyncpg
import psycopg
import sqlalchemy as sa

from tests.support import PostgresOracle, StrataProcess


def _sa_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)


# ---------------------------------------------------------------------- asyncpg


async def _asyncpg_scenario(dsn: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    out: list[Any] = []
    try:
        await conn.execute("drop table if exists ap_enum; drop type if exists ap_mood")
        await conn.execute("create type ap_mood as enum ('sad', 'ok', 'happy')")
        await conn.execute("create table ap_enum (id int, m ap_mood, ms ap_mood[])")
        await conn.executemany("insert into ap_enum values ($1, $2, $3)",
                               [(1, "happy", ["sad", "ok"]), (2, "sad", []), (3, None, None), (4, "ok", ["happy"])])
        out.append([tuple(r) for r in await conn.fetch("select id, m, ms from ap_enum order by m, id")])
        out.append([r["id"] for r in await conn.fetch("select id from ap_enum where m > $1 order by id", "sad")])
        out.append(await conn.fetchval("select max(m) from ap_enum"))
        out.append(await conn.fetchval("select enum_range(null::ap_mood)"))
        stmt = await conn.prepare("select m, ms from ap_enum where id = $1")
        out.append([(a.name, a.type.name, a.type.kind) for a in stmt.get_attributes()])
        out.append([(p.name, p.kind) for p in stmt.get_parameters()])
        try:
            await conn.execute("insert into ap_enum values ($1, $2)", 5, "angry")
        except asyncpg.PostgresError as exc:
            out.append((exc.sqlstate, str(exc)))
        await conn.execute("alter type ap_mood rename value 'ok' to 'fine'")
        out.append(await conn.fetchval("select m from ap_enum where id = 4"))
    finally:
        await conn.execute("drop table if exists ap_enum; drop type if exists ap_mood")
        await conn.close()
    return out


def test_asyncpg_introspects_and_roundtrips_enums(pg_oracle: PostgresOracle, strata: StrataProcess) -> None:
    pg = asyncio.run(_asyncpg_scenario(pg_oracle.dsn))
    st = asyncio.run(_asyncpg_scenario(strata.dsn))
    assert st == pg
    assert pg[0][0] == (2, "sad", [])  # ordered by the declared order, not alphabetically
    assert pg[-1] == "fine"


# ---------------------------------------------------------------------- SQLAlchemy


class Mood(enum.Enum):
    sad = 1
    ok = 2
    happy = 3


def _sqlalchemy_scenario(dsn: str) -> list[Any]:
    engine = sa.create_engine(_sa_url(dsn))
    md = sa.MetaData()
    people = sa.Table(
        "sa_people", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("mood", sa.Enum(Mood, name="sa_mood")),
        sa.Column("color", sa.Enum("red", "green", "blue", name="sa_color"), nullable=False),
    )
    out: list[Any] = []
    try:
        md.drop_all(engine)
        md.create_all(engine)
        md.create_all(engine)  # checks pg_type and creates nothing the second time
        with engine.begin() as conn:
            conn.execute(people.insert(), [{"id": 1, "mood": Mood.happy, "color": "blue"},
                                           {"id": 2, "mood": Mood.sad, "color": "red"},
                                           {"id": 3, "mood": None, "color": "green"}])
            out.append(conn.execute(sa.select(people.c.id, people.c.mood, people.c.color)
                                    .order_by(people.c.color)).all())
            out.append(conn.execute(sa.select(people.c.id).where(people.c.mood < Mood.happy)).all())
        insp = sa.inspect(engine)
        out.append(sorted((e for e in insp.get_enums() if e["name"].startswith("sa_")), key=lambda e: e["name"]))
        out.append([(c["name"], type(c["type"]).__name__, getattr(c["type"], "enums", None), c["nullable"])
                    for c in insp.get_columns("sa_people")])
        md.drop_all(engine)
        out.append([e["name"] for e in sa.inspect(engine).get_enums() if e["name"].startswith("sa_")])
    finally:
        md.drop_all(engine)
        engine.dispose()
    return out


def test_sqlalchemy_enum_create_all_drop_all_and_get_enums(pg_oracle: PostgresOracle,
                                                          strata: StrataProcess) -> None:
    pg = _sqlalchemy_scenario(pg_oracle.dsn)
    st = _sqlalchemy_scenario(strata.dsn)
    assert st == pg
    assert pg[2][1]["labels"] == ["sad", "ok", "happy"]
    assert pg[-1] == []


# ---------------------------------------------------------------------- psycopg


def _psycopg_scenario(dsn: str) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists pq_enum; drop type if exists pq_mood")
        conn.execute("create type pq_mood as enum ('low', 'mid', 'high')")
        conn.execute("create table pq_enum (id int, m pq_mood default 'mid')")
        with conn.cursor() as cur:
            cur.executemany("insert into pq_enum values (%s, %s)", [(1, "high"), (2, "low"), (3, None)])
            cur.execute("insert into pq_enum (id) values (4)")
            cur.execute("select id, m from pq_enum order by m nulls first, id")
            out.append(cur.fetchall())
            out.append([d.type_code >= 16384 for d in cur.description])
            cur.execute("select m from pq_enum where m = %s", ["mid"])
            out.append(cur.fetchall())
            try:
                cur.execute("insert into pq_enum values (%s, %s)", (5, "max"))
            except psycopg.Error as exc:
                out.append((exc.sqlstate, exc.diag.message_primary))
            cur.execute("select m from pq_enum where id = 1", binary=True)
            out.append(cur.fetchall())
        conn.execute("drop table pq_enum")
        conn.execute("drop type pq_mood")
    return out


def test_psycopg_enum_roundtrip(pg_oracle: PostgresOracle, strata: StrataProcess) -> None:
    pg = _psycopg_scenario(pg_oracle.dsn)
    st = _psycopg_scenario(strata.dsn)
    assert st == pg
    assert pg[0][1:] == [(2, "low"), (4, "mid"), (1, "high")]


def _copy_scenario(dsn: str) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists cp_enum; drop type if exists cp_mood")
        conn.execute("create type cp_mood as enum ('sad', 'ok', 'happy')")
        conn.execute("create table cp_enum (id int, m cp_mood, ms cp_mood[])")
        with conn.cursor().copy("copy cp_enum from stdin") as cp:
            cp.write("1\tok\t{sad,ok}\n2\t\\N\t{}\n3\thappy\t\\N\n")
        for sql in ("copy cp_enum to stdout", "copy (select m, ms from cp_enum order by m) to stdout (format csv)"):
            with conn.cursor().copy(sql) as cp:
                out.append(b"".join(bytes(chunk) for chunk in cp))
        for sql, data in (("copy cp_enum (id, m) from stdin", "4\tnope\n"),
                          ("copy cp_enum (id, ms) from stdin", "4\t{sad,nope}\n")):
            try:
                with conn.cursor().copy(sql) as cp:
                    cp.write(data)
            except psycopg.Error as exc:
                out.append((exc.sqlstate, exc.diag.message_primary))
        out.append(conn.execute("select id, m, ms from cp_enum order by m, id").fetchall())
        conn.execute("drop table cp_enum")
        conn.execute("drop type cp_mood")
    return out


def test_copy_enum_columns(pg_oracle: PostgresOracle, strata: StrataProcess) -> None:
    pg = _copy_scenario(pg_oracle.dsn)
    st = _copy_scenario(strata.dsn)
    assert st == pg
    assert pg[2][0] == "22P02"


class Level(enum.Enum):
    low = "low"
    mid = "mid"
    high = "high"


def _psycopg_register_enum_scenario(dsn: str) -> list[Any]:
    """psycopg's EnumInfo reads pg_type/pg_enum; registered enums are sent with their type OIDs."""
    from psycopg.types.enum import EnumInfo, register_enum

    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists re_enum; drop type if exists re_level")
        conn.execute("create type re_level as enum ('low', 'mid', 'high')")
        info = EnumInfo.fetch(conn, "re_level")
        assert info is not None
        out.append((info.name, info.labels, info.oid >= 16384, info.array_oid >= 16384))
        register_enum(info, conn, Level)
        conn.execute("create table re_enum (id int, l re_level, ls re_level[])")
        conn.execute("insert into re_enum values (%s, %s, %s)", (1, Level.high, [Level.low, Level.mid]))
        conn.execute("insert into re_enum values (%b, %b, %b)", (2, Level.low, [Level.high]))
        for binary in (False, True):
            out.append(conn.execute("select id, l, ls from re_enum order by l", binary=binary).fetchall())
        out.append(conn.execute("select id from re_enum where l > %s", (Level.low,)).fetchall())
        try:
            conn.execute("insert into re_enum (id, ls) values (%s, %s::text::re_level[])", (3, "{low,top}"))
        except psycopg.Error as exc:
            out.append(exc.sqlstate)
        conn.execute("drop table re_enum")
        conn.execute("drop type re_level")
    return out


def test_psycopg_register_enum(pg_oracle: PostgresOracle, strata: StrataProcess) -> None:
    pg = _psycopg_register_enum_scenario(pg_oracle.dsn)
    st = _psycopg_register_enum_scenario(strata.dsn)
    assert st == pg
    assert pg[1] == [(2, Level.low, [Level.high]), (1, Level.high, [Level.low, Level.mid])]


def _alter_type_under_views_scenario(dsn: str) -> list[Any]:
    """Views and CHECKs made before ALTER TYPE ... ADD/RENAME VALUE order and compare new labels
    by the type's current order (PostgreSQL stores enum values by OID)."""
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop view if exists av_view; drop table if exists av_t; drop type if exists av_mood")
        conn.execute("create type av_mood as enum ('sad', 'ok', 'happy')")
        conn.execute("create table av_t (id int, m av_mood check (m >= 'ok'))")
        conn.execute("insert into av_t values (1, 'happy'), (2, 'ok')")
        conn.execute("create view av_view as select id, m, m > 'ok' as above from av_t order by m, id")
        conn.execute("alter type av_mood add value 'meh' before 'ok'")
        conn.execute("alter type av_mood add value 'great' after 'ok'")
        conn.execute("alter type av_mood rename value 'happy' to 'joyful'")
        conn.execute("insert into av_t values (3, 'great'), (4, 'joyful')")
        for label in ("meh", "sad"):
            try:
                conn.execute("insert into av_t values (5, %s)", (label,))
            except psycopg.Error as exc:
                out.append((label, exc.sqlstate))
        out.append(conn.execute("select * from av_view").fetchall())
        out.append(conn.execute("select min(m), max(m) from av_t").fetchone())
        out.append(conn.execute("select id from av_t order by m desc").fetchall())
        conn.execute("drop view av_view; drop table av_t; drop type av_mood")
    return out


def test_views_and_checks_follow_alter_type(pg_oracle: PostgresOracle, strata: StrataProcess) -> None:
    pg = _alter_type_under_views_scenario(pg_oracle.dsn)
    st = _alter_type_under_views_scenario(strata.dsn)
    assert st == pg
    assert pg[0] == ("meh", "23514")
