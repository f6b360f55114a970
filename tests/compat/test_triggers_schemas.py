"""Triggers on tables outside public and functions in a schema as tools see them, against
PostgreSQL 15: psql ``\\df s.*`` and ``\\d s.t``, pg_trigger / pg_proc rows, and pg_dump round
trips both ways (the restored triggers still fire, the functions are still found)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.test_triggers import _answers, _conn, _create_db, _psql, _psql_agree, _run
from tests.support import PG_BIN, PostgresOracle, StrataProcess

SCHEMA = r"""
CREATE SCHEMA shop;
CREATE TABLE shop.items (id integer PRIMARY KEY, name text NOT NULL, qty integer);
CREATE TABLE shop.log (op text, tbl text, sch text);
CREATE FUNCTION shop.double_qty(q integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ select q * 2 $$;
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$
begin
  new.name := upper(new.name);
  return new;
end $$;
CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS $$
begin
  insert into shop.log values (tg_op, tg_table_name, tg_table_schema);
  return null;
end $$;
CREATE TRIGGER items_touch BEFORE INSERT ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE TRIGGER items_log AFTER INSERT ON shop.items FOR EACH ROW EXECUTE FUNCTION log_row();
INSERT INTO shop.items VALUES (1, 'apple', 3);
"""

QUERIES = [
    "\\df shop.*",
    "\\d shop.items",
    "select tgname, pg_get_triggerdef(oid) from pg_trigger where not tgisinternal order by tgname",
    "select p.proname, n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
    "where n.nspname in ('public', 'shop') order by 2, 1",
    "select id, name, qty, shop.double_qty(qty) from shop.items order by id",
    "select op, tbl, sch from shop.log order by op",
]
EXERCISE = [
    "insert into shop.items values (2, 'pear', 5)",
    "select id, name, shop.double_qty(qty) from shop.items order by id",
    "set search_path = shop, public; select double_qty(10)",
    "select op, tbl, sch from shop.log order by op",
]


def test_catalog_and_psql_agree(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> None:
    st = _psql_agree(strata_shared, pg_oracle, SCHEMA, QUERIES)
    assert "APPLE" in st[4]


@pytest.mark.parametrize("direction", ["strata_to_postgres", "postgres_to_strata"])
def test_pg_dump_round_trip(strata_shared: StrataProcess, pg_oracle: PostgresOracle, tmp_path: Path,
                            direction: str) -> None:
    src, dst = (strata_shared.port, pg_oracle.port) if direction == "strata_to_postgres" \
        else (pg_oracle.port, strata_shared.port)
    src_db, dst_db = _create_db(src), _create_db(dst)
    _psql(src, src_db, SCHEMA)
    tmp_path.chmod(0o777)
    dump = tmp_path / f"{src_db}.sql"
    _run(str(PG_BIN / "pg_dump"), *_conn(src, src_db), "-Fp", "-f", str(dump))
    _run(str(PG_BIN / "psql"), *_conn(dst, dst_db), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump))
    assert _answers(dst, dst_db, QUERIES) == _answers(src, src_db, QUERIES)
    assert _answers(dst, dst_db, EXERCISE) == _answers(src, src_db, EXERCISE)
