"""Statement rewrites for syntax sqlglot does not parse work on the token stream: the same words
inside a string literal or a quoted identifier are left as they are (a regular expression over
the text used to match them there)."""

from __future__ import annotations

from compute.sql import translate
from compute.sql.api import Kind
from tests.sql.conftest import Db


def test_overriding_clause_is_cut_only_as_keywords(db: Db) -> None:
    db.run("create table t (id int generated always as identity, s text)")
    db.run("insert into t (s) values ('overriding system value')")
    db.run("insert into t (id, s) overriding system value values (10, 'x')")
    db.run("insert into t (s) values (E'overriding user value')")
    db.run("insert into t (id, s) /* a comment */ overriding system value values (11, 'y')")
    assert db.rows("select id, s from t order by id") == [
        ("1", "overriding system value"), ("2", "overriding user value"), ("10", "x"), ("11", "y")]


def test_overriding_inside_a_quoted_table_name(db: Db) -> None:
    db.run('create table "overriding system value" (a text)')
    db.run('insert into "overriding system value" values (\'overriding system value\')')
    assert db.rows('select a from "overriding system value"') == [("overriding system value",)]


def test_unlogged_is_cut_only_as_a_keyword(db: Db) -> None:
    db.run('create table "unlogged table" (a int)')
    db.run("create unlogged table u (a text default 'create unlogged table')")
    db.run('insert into "unlogged table" values (1)')
    db.run("create /* a comment */ unlogged table v (a int)")
    db.run("insert into u default values")
    assert db.rows('select a from "unlogged table"') == [("1",)]
    assert db.rows("select a from u") == [("create unlogged table",)]


def test_table_without_columns_is_refused_only_when_it_is_one(db: Db) -> None:
    assert db.error("create table nc ()").sqlstate == "0A000"
    assert db.error("create unlogged table if not exists public.nc ( )").sqlstate == "0A000"
    db.run('create table "nc ()" (a text default \'create table x ()\')')
    db.run('insert into "nc ()" default values')
    assert db.rows('select a from "nc ()"') == [("create table x ()",)]


def test_lock_mode_is_read_from_keywords(db: Db) -> None:
    def mode(sql: str) -> str | None:
        (tr,) = translate(sql, db.catalog)
        assert tr.kind is Kind.LOCK
        return tr.lock_mode

    assert mode("lock table t in share row exclusive mode nowait") == "SHARE ROW EXCLUSIVE"
    assert mode("LOCK t IN ACCESS SHARE MODE") == "ACCESS SHARE"
    assert mode('lock table "in share mode"') == "ACCESS EXCLUSIVE"
    assert mode('lock table "in share mode" in row exclusive mode') == "ROW EXCLUSIVE"
    assert mode("lock t") == "ACCESS EXCLUSIVE"


def test_partition_ancestors_idiom_is_rewritten_only_as_a_call(db: Db) -> None:
    db.run("create table t (a int)")
    assert db.rows("select relid, depth from pg_partition_ancestors('t'::regclass) "
                   "with ordinality as a(relid, depth)") == [("t", "1")]
    assert db.rows("SELECT a.relid FROM pg_catalog.pg_partition_ancestors('t'::pg_catalog.regclass) "
                   "WITH ORDINALITY AS a(relid, depth) WHERE a.depth = 1") == [("t",)]
    literal = "pg_partition_ancestors(x) with ordinality as a(b, c)"
    assert db.rows(f"select '{literal}'") == [(literal,)]


def test_table_statement_after_a_comment(db: Db) -> None:
    db.run("create table t (a int)")
    db.run("insert into t values (1)")
    assert db.rows("table t") == [("1",)]
    assert db.rows("/* the table word */ TABLE t") == [("1",)]
