"""Schemas and search_path against PostgreSQL 15 through real clients: psql's \\dn / \\dt s.* /
\\d s.t, SQLAlchemy reflection with ``schema=``, search_path changes across statements and
prepared statements, COPY of qualified tables. (Single statements: tests/diff/cases/schemas.sql.)"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from tests.compat.oracle import psycopg_script
from tests.support import PG_BIN, PostgresOracle, StrataProcess

SETUP = [
    "drop schema if exists app cascade",
    "drop table if exists t_sch",
    "create schema app",
    "create table app.t_sch (id serial primary key, a text unique, b numeric(5,2) default 1.5)",
    "create table app.child (id int primary key, tid int references app.t_sch (id) on delete cascade)",
    "create table t_sch (id int primary key, x text)",
    "create index app_b on app.t_sch (b)",
    "create view app.v_sch as select a from app.t_sch",
    "insert into app.t_sch (a) values ('one'), ('two')",
    "insert into t_sch values (1, 'public')",
]
TEARDOWN = ["drop schema app cascade", "drop table t_sch"]


def _exec(dsn: str, statements: list[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql.encode())


@pytest.fixture
def both(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[tuple[str, str]]:
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        _exec(dsn, SETUP)
    yield pg_oracle.dsn, strata_shared.dsn
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        _exec(dsn, TEARDOWN)


def _psql(dsn: str, command: str) -> str:
    done = subprocess.run([str(PG_BIN / "psql"), dsn, "-X", "-A", "-F|", "-c", command],
                          capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


@pytest.mark.parametrize("command", [r"\dn", r"\dt app.*", r"\d app.t_sch", r"\d app.child", r"\di app.*",
                                     r"\dv app.*", r"\ds app.*", r"\dt *sch*", r"\d+ app.t_sch", r"\d app.v_sch"])
def test_psql_describes_schemas_alike(both: tuple[str, str], command: str) -> None:
    pg, st = both
    assert _psql(st, command) == _psql(pg, command)


def _reflect(dsn: str) -> dict[str, Any]:
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))
    try:
        insp = inspect(engine)
        out: dict[str, Any] = {
            "schemas": [s for s in insp.get_schema_names() if s in ("app", "public")],
            "tables": sorted(insp.get_table_names(schema="app")),  # no ORDER BY: a set
            "public_tables": [t for t in insp.get_table_names() if t == "t_sch"],
            "views": sorted(insp.get_view_names(schema="app")),
            "has_table": (insp.has_table("t_sch", schema="app"), insp.has_table("child"),
                          insp.has_table("child", schema="app")),
        }
        for table in ("t_sch", "child"):
            out[table] = (
                [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in insp.get_columns(table, schema="app")],
                insp.get_pk_constraint(table, schema="app"),
                insp.get_foreign_keys(table, schema="app"),
                insp.get_unique_constraints(table, schema="app"),
                sorted((i["name"], i["column_names"]) for i in insp.get_indexes(table, schema="app")),
            )
        out["public_t"] = [c["name"] for c in insp.get_columns("t_sch")]
        return out
    finally:
        engine.dispose()


def test_sqlalchemy_reflection_with_schema(both: tuple[str, str]) -> None:
    pg, st = both
    expected = _reflect(pg)
    assert expected["tables"] == ["child", "t_sch"]
    got = _reflect(st)
    for key, value in expected.items():
        assert got[key] == value, key


SCRIPT = [
    "select * from t_sch",
    "set search_path = app, public",
    "select id, a from t_sch order by id",
    "select x from public.t_sch",
    "show search_path",
    "select current_schema(), current_schemas(false)",
    "create table made_here (a int)",
    "select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where relname = 'made_here'",
    "select 'made_here'::regclass::text, 'app.t_sch'::regclass::text, 'public.t_sch'::regclass::text",
    "select pg_table_is_visible('public.t_sch'::regclass), pg_table_is_visible('app.t_sch'::regclass)",
    "set search_path = public",
    "select * from t_sch",
    "select 'app.t_sch'::regclass::text",
    "select pg_get_expr(adbin, adrelid) from pg_attrdef where adrelid = 'app.t_sch'::regclass order by adnum",
    "set search_path = ''",
    "select current_schema()",
    "select * from t_sch",
    "select pg_get_viewdef('app.v_sch'::regclass)",
    "create table nowhere (a int)",
    "reset search_path",
    "drop table app.made_here",
]


def test_search_path_script_agrees(both: tuple[str, str]) -> None:
    pg, st = both
    expected, got = psycopg_script(pg, SCRIPT), psycopg_script(st, SCRIPT)
    diff = [(sql, a, b) for sql, a, b in zip(SCRIPT, expected, got, strict=True) if a != b]
    assert not diff, "\n".join(f"{sql!r}: postgres {a!r}, strata {b!r}" for sql, a, b in diff)


def _prepared(dsn: str) -> list[Any]:
    """A prepared statement follows search_path changes (PostgreSQL re-plans it)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        out = []
        for path in ("public", "app, public", "public"):
            conn.execute(f"set search_path = {path}".encode())
            for _ in range(2):  # psycopg prepares on the second run of the same text
                cur = conn.execute("select count(*), min(id) from t_sch where id > %s", (0,), prepare=True)
                out.append(cur.fetchall())
        return out


def test_prepared_statement_follows_search_path(both: tuple[str, str]) -> None:
    pg, st = both
    expected = _prepared(pg)
    assert expected[0] != expected[2]
    assert _prepared(st) == expected


def _copy(dsn: str) -> tuple[str, list[Any]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.cursor().copy("copy app.t_sch (a, b) from stdin") as copy:
            copy.write("three\t3.5\nfour\t\\N\n")
        buf = io.StringIO()
        with conn.cursor().copy("copy app.t_sch to stdout") as copy:
            for data in copy:
                buf.write(bytes(data).decode())
        rows = conn.execute("select a, b from app.t_sch order by id").fetchall()
        return buf.getvalue(), rows


def test_copy_qualified_tables(both: tuple[str, str]) -> None:
    pg, st = both
    assert _copy(st) == _copy(pg)


DUMP_SCHEMA = ("create schema app; create table app.t (id serial primary key, a text unique, b numeric(5,2) "
               "default 1.5); create table app.c (id int references app.t (id)); create index app_b on app.t (b); "
               "create view app.v as select a from app.t; create type app.mood as enum ('x', 'y'); "
               "create table app.m (m app.mood default 'x'); insert into app.t (a) values ('one'), ('two'); "
               "insert into app.m values ('y'); create table pub (a int); insert into pub values (7);")
DUMP_CHECKS = [r"\dn", r"\d app.t", r"\d app.m", r"\d+ app.v", "select * from app.t order by id",
               "select m from app.m", "select * from pub", "select nextval('app.t_id_seq')"]


def _fresh_db(dsn: str, name: str) -> str:
    _exec(dsn, [f"drop database if exists {name}", f"create database {name}"])
    return dsn.rsplit("/", 1)[0] + "/" + name


def _restore(src: str, dst: str, tmp: Any) -> None:
    dump = tmp / "schemas.sql"
    subprocess.run([str(PG_BIN / "pg_dump"), src, "-f", str(dump)], check=True, timeout=60)
    done = subprocess.run([str(PG_BIN / "psql"), dst, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "ERROR" not in done.stderr, done.stderr


@pytest.mark.parametrize("direction", ["strata_to_postgres", "postgres_to_strata"])
def test_pg_dump_round_trip_with_schemas(pg_oracle: PostgresOracle, strata_shared: StrataProcess,
                                         direction: str, tmp_path: Any) -> None:
    tmp_path.chmod(0o777)
    servers = (strata_shared.dsn, pg_oracle.dsn)
    src_server, dst_server = servers if direction == "strata_to_postgres" else servers[::-1]
    src, dst = _fresh_db(src_server, "sch_src"), _fresh_db(dst_server, "sch_dst")
    subprocess.run([str(PG_BIN / "psql"), src, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", DUMP_SCHEMA],
                   check=True, timeout=60)
    _restore(src, dst, tmp_path)
    for check in DUMP_CHECKS:
        assert _psql(dst, check) == _psql(src, check), check


MOVE_CHECKS = [r"\d app2.t_sch", r"\d app2.child", r"\di app2.*", r"\dv app2.*", r"\ds app2.*", r"\dt moved.*",
               r"\d moved.t_sch2"]


def _moved(dsn: str) -> list[Any]:
    """Renames a schema holding objects and moves a table, committed, then reads and writes in a
    new connection (which loads the catalog from the database, not from the translation)."""
    out: list[Any] = []
    _exec(dsn, ["alter schema app rename to app2", "create schema moved",
                "create table t_sch2 (id serial primary key, tid int references app2.t_sch (id), n int check (n > 0))",
                "alter table t_sch2 set schema moved", "insert into moved.t_sch2 (tid, n) values (1, 1)"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        out.append(conn.execute("select a from app2.v_sch order by a").fetchall())
        out.append(conn.execute("insert into app2.t_sch (a) values ('three') returning id, a, b").fetchall())
        out.append(conn.execute("insert into app2.child values (1, 3) returning id, tid").fetchall())
        for bad in ("insert into app2.child values (2, 99)", "insert into moved.t_sch2 (tid, n) values (1, -1)",
                    "delete from app2.t_sch where id = 1", "select * from app.t_sch"):
            try:
                conn.execute(bad)
                out.append("no error")
            except psycopg.Error as err:
                out.append((err.sqlstate, str(err).splitlines()[0]))
        out.append(conn.execute("select * from moved.t_sch2").fetchall())
    return out


def test_schema_rename_and_set_schema_committed(both: tuple[str, str]) -> None:
    pg, st = both
    try:
        assert _moved(st) == _moved(pg)
        for check in MOVE_CHECKS:
            assert _psql(st, check) == _psql(pg, check), check
    finally:
        for dsn in (pg, st):
            _exec(dsn, ["drop schema if exists moved cascade", "alter schema app2 rename to app"])
