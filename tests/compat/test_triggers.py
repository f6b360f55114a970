"""User functions and triggers as tools see them, against PostgreSQL 15: psql's ``\\df`` and
``\\d table`` (Triggers: section), pg_proc / pg_trigger rows, pg_get_functiondef /
pg_get_triggerdef, pg_dump round trips both ways (the restored triggers still fire), and a
function or trigger created by one session being used by another."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.support import PG_BIN, PostgresOracle, StrataProcess

SCHEMA = r"""
CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer CHECK (qty >= 0),
                    updated_at timestamp);
CREATE TABLE audit (op text, item_id integer, info text);
CREATE FUNCTION add_tax(amount numeric, rate numeric DEFAULT 0.2) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT AS $$ select amount * (1 + rate) $$;
CREATE FUNCTION low_stock(below integer) RETURNS TABLE(item_id integer, item_name text)
    LANGUAGE sql STABLE AS $$ select id, name from items where qty < below order by id $$;
CREATE FUNCTION evens(n integer) RETURNS SETOF integer LANGUAGE plpgsql AS $$
begin
  for i in 1..n loop
    if i % 2 = 0 then return next i; end if;
  end loop;
end $$;
CREATE FUNCTION stock(OUT n bigint, INOUT total bigint) LANGUAGE sql STABLE
    AS $$ select count(*), sum(qty) + $1 from items $$;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
begin
  new.updated_at := '2020-01-01 00:00:00';
  return new;
end $$;
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
begin
  insert into audit values (tg_op, coalesce(new.id, old.id), tg_argv[0]);
  return null;
end $$;
CREATE FUNCTION audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$
begin
  insert into audit values (tg_op || ' ' || tg_level, (select count(*) from items), tg_when);
  return null;
end $$;
CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER items_statement AFTER INSERT OR UPDATE OR DELETE ON items EXECUTE FUNCTION audit_statement();
CREATE TRIGGER items_truncate BEFORE TRUNCATE ON items FOR EACH STATEMENT EXECUTE FUNCTION audit_statement();
CREATE TRIGGER items_audit AFTER INSERT OR DELETE OR UPDATE OF qty ON items FOR EACH ROW
    EXECUTE FUNCTION audit_row('tag');
INSERT INTO items (id, name, qty) VALUES (1, 'apple', 3), (2, 'pear', 5);
"""

QUERIES = [
    "\\df",
    "\\d items",
    "select proname, pronargs, pronargdefaults, prorettype, proargtypes, proargnames, provolatile, proisstrict, "
    "proretset, prorows, proallargtypes, proargmodes, "
    "prosrc, (select lanname from pg_language l where l.oid = prolang) from pg_proc p "
    "where pronamespace = 2200 order by proname",
    "select tgname, tgtype, tgnargs, tgattr, pg_get_triggerdef(oid), pg_get_triggerdef(oid, true) "
    "from pg_trigger where not tgisinternal order by tgname",
    "select c.relname, c.relhastriggers from pg_class c where c.relname in ('items', 'audit') order by 1",
    "select p.proname, pg_get_function_arguments(p.oid), pg_get_function_identity_arguments(p.oid), "
    "pg_get_function_result(p.oid) from pg_proc p where pronamespace = 2200 order by 1",
    "select pg_get_functiondef(p.oid) from pg_proc p where proname = 'add_tax'",
    "select id, name, qty, updated_at from items order by id",
    "select op, item_id, info from audit order by item_id, op",
]
# After the copy: the triggers and functions work on it.
EXERCISE = [
    "insert into items (id, name, qty) values (3, 'fig', 1)",
    "update items set qty = qty + 1 where id = 1",
    "delete from items where id = 2",
    "select add_tax(100), add_tax(100, 0.5), add_tax(null)",
    "select * from low_stock(10) order by item_id",
    "select * from stock(100)",
    "select e, evens(e) from evens(6) as e order by 1, 2",
    "select id, name, qty, updated_at from items order by id",
    "select op, item_id, info from audit order by item_id, op",
    "truncate items",
    "select op, item_id, info from audit order by item_id, op",
]


def _run(*args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    assert done.returncode == 0, (args, done.stderr.decode(errors="replace"))
    assert b"ERROR" not in done.stderr, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def _conn(port: int, db: str) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db]


def _psql(port: int, db: str, sql: str) -> str:
    return _run(str(PG_BIN / "psql"), *_conn(port, db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A",
                "-F", "|", "-f", "-", stdin=sql.encode())


def _create_db(port: int) -> str:
    name = f"trg_{uuid.uuid4().hex[:8]}"
    _psql(port, "postgres", f"CREATE DATABASE {name}")
    return name


def _answers(port: int, db: str, queries: list[str]) -> list[str]:
    return [_psql(port, db, q) for q in queries]


def _psql_agree(strata: StrataProcess, pg: PostgresOracle, schema: str, queries: list[str]) -> list[str]:
    """``schema`` run in a fresh database of each server, then ``queries`` through psql: the
    answers must be equal; Strata's are returned for further checks."""
    st_db, pg_db = _create_db(strata.port), _create_db(pg.port)
    _psql(strata.port, st_db, schema)
    _psql(pg.port, pg_db, schema)
    st_out, pg_out = _answers(strata.port, st_db, queries), _answers(pg.port, pg_db, queries)
    for query, a, b in zip(queries, pg_out, st_out, strict=True):
        assert a == b, f"{query}\n--- postgres\n{a}\n--- strata\n{b}"
    return st_out


def test_catalog_and_psql_agree(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> None:
    st = _psql_agree(strata_shared, pg_oracle, SCHEMA, QUERIES)
    assert "items_touch BEFORE INSERT OR UPDATE ON items" in st[1]


@pytest.mark.parametrize("direction", ["strata_to_postgres", "postgres_to_strata"])
@pytest.mark.parametrize("fmt", ["p", "c"])
def test_pg_dump_round_trip(strata_shared: StrataProcess, pg_oracle: PostgresOracle, tmp_path: Path,
                            direction: str, fmt: str) -> None:
    src, dst = (strata_shared.port, pg_oracle.port) if direction == "strata_to_postgres" \
        else (pg_oracle.port, strata_shared.port)
    src_db, dst_db = _create_db(src), _create_db(dst)
    _psql(src, src_db, SCHEMA)
    tmp_path.chmod(0o777)
    dump = tmp_path / f"{src_db}.{fmt}"
    _run(str(PG_BIN / "pg_dump"), *_conn(src, src_db), f"-F{fmt}", "-f", str(dump))
    if fmt == "p":
        _run(str(PG_BIN / "psql"), *_conn(dst, dst_db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump))
    else:
        _run(str(PG_BIN / "pg_restore"), *_conn(dst, dst_db), "--exit-on-error", str(dump))
    assert _answers(dst, dst_db, QUERIES) == _answers(src, src_db, QUERIES)
    assert _answers(dst, dst_db, EXERCISE) == _answers(src, src_db, EXERCISE)


def test_other_sessions_use_new_functions_and_triggers(strata_shared: StrataProcess) -> None:
    """Functions and triggers are catalog rows: another session (another pooled connection) sees
    them at once, and a rolled-back CREATE leaves nothing behind."""
    db = _create_db(strata_shared.port)
    dsn = f"postgresql://postgres@127.0.0.1:{strata_shared.port}/{db}"
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        a.execute("create table t (id int, v text)")
        b.execute("select count(*) from t")  # b has read the catalog before the function exists
        a.execute("create function up() returns trigger language plpgsql as $$ begin new.v := upper(new.v); "
                  "return new; end $$")
        a.execute("create trigger t_up before insert on t for each row execute function up()")
        b.execute("insert into t values (1, 'abc')")
        assert a.execute("select v from t").fetchall() == [("ABC",)]
        with a.transaction():
            a.execute("create function gone() returns int language sql as 'select 1'")
            a.execute("drop trigger t_up on t")
            raise_rollback(a)
        with pytest.raises(psycopg.errors.UndefinedFunction):
            b.execute("select gone()")
        b.execute("insert into t values (2, 'def')")
        assert a.execute("select v from t order by id").fetchall() == [("ABC",), ("DEF",)]


def raise_rollback(conn: psycopg.Connection) -> None:  # type: ignore[type-arg]
    raise psycopg.Rollback()
