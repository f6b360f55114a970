"""Utility statements, DDL, COPY and error mapping."""

from __future__ import annotations

import apsw
import pytest

from compute import pgtypes as T
from compute.sql import Catalog, translate
from compute.sql.api import Kind, SqlError
from compute.sql.errors import map_sqlite_error
from tests.sql.conftest import Db


def one(db: Db, sql: str):  # type: ignore[no-untyped-def]
    result = translate(sql, db.catalog)
    assert len(result) == 1
    return result[0]


@pytest.mark.parametrize(
    ("sql", "kind", "tag"),
    [
        ("BEGIN", Kind.BEGIN, "BEGIN"),
        ("begin transaction", Kind.BEGIN, "BEGIN"),
        ("START TRANSACTION", Kind.BEGIN, "START TRANSACTION"),
        ("COMMIT", Kind.COMMIT, "COMMIT"),
        ("END", Kind.COMMIT, "COMMIT"),
        ("commit work", Kind.COMMIT, "COMMIT"),
        ("ROLLBACK", Kind.ROLLBACK, "ROLLBACK"),
        ("ABORT", Kind.ROLLBACK, "ROLLBACK"),
        ("SAVEPOINT s1", Kind.SAVEPOINT, "SAVEPOINT"),
        ("RELEASE SAVEPOINT s1", Kind.RELEASE, "RELEASE"),
        ("RELEASE s1", Kind.RELEASE, "RELEASE"),
        ("ROLLBACK TO SAVEPOINT s1", Kind.ROLLBACK_TO, "ROLLBACK"),
        ("ROLLBACK TO s1", Kind.ROLLBACK_TO, "ROLLBACK"),
        ("VACUUM", Kind.NOOP, "VACUUM"),
        ("vacuum analyze pgbench_branches", Kind.NOOP, "VACUUM"),
        ("ANALYZE", Kind.NOOP, "ANALYZE"),
        ("CHECKPOINT", Kind.NOOP, "CHECKPOINT"),
        ("DISCARD ALL", Kind.DISCARD, "DISCARD ALL"),
        ("DEALLOCATE ALL", Kind.DEALLOCATE, "DEALLOCATE ALL"),
        ("SET search_path = public", Kind.SET, "SET"),
        ("RESET ALL", Kind.SET, "RESET"),
        ("SHOW server_version", Kind.SHOW, "SHOW"),
    ],
)
def test_utility_kinds_and_tags(db: Db, sql: str, kind: Kind, tag: str) -> None:
    tr = one(db, sql)
    assert (tr.kind, tr.tag) == (kind, tag)


def test_transaction_modes(db: Db) -> None:
    tr = one(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    assert tr.isolation == "repeatable read" and tr.read_only is True
    tr = one(db, "start transaction isolation level serializable, read write")
    assert tr.isolation == "serializable" and tr.read_only is False
    tr = one(db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    assert tr.kind == Kind.SET and tr.name == "transaction" and tr.isolation == "read committed"
    assert one(db, "SAVEPOINT \"My Point\"").name == "My Point"
    assert one(db, "rollback to savepoint sp").name == "sp"


def test_set_show_reset(db: Db) -> None:
    tr = one(db, "SET application_name = 'my app'")
    assert (tr.name, tr.value, tr.is_local) == ("application_name", "my app", False)
    tr = one(db, "SET LOCAL statement_timeout TO 1000")
    assert (tr.name, tr.value, tr.is_local) == ("statement_timeout", "1000", True)
    tr = one(db, "set search_path to public, \"$user\"")
    assert tr.value == 'public, "$user"'
    tr = one(db, "SET TIME ZONE 'Europe/Paris'")
    assert (tr.name, tr.value) == ("TimeZone", "Europe/Paris")
    tr = one(db, "set timezone = default")
    assert (tr.name, tr.value) == ("TimeZone", None)
    tr = one(db, "RESET statement_timeout")
    assert (tr.kind, tr.name, tr.value) == (Kind.SET, "statement_timeout", None)
    tr = one(db, "SHOW TimeZone")
    assert tr.name == "TimeZone" and [c.name for c in tr.columns] == ["TimeZone"]
    tr = one(db, "show transaction isolation level")
    assert tr.name == "transaction_isolation" and tr.columns[0].type_oid == T.TEXT
    assert db.error("SET TIME ZONE 'Mars/Olympus'").sqlstate == "22023"


def test_copy_specs(db: Db) -> None:
    db.run("create table c (a int, b text, n numeric(5,1), s serial)")
    tr = one(db, "COPY c (a, b) FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'NA')")
    spec = tr.copy
    assert tr.kind == Kind.COPY_FROM and tr.is_write and spec is not None
    assert (spec.format, spec.header, spec.delimiter, spec.null, spec.quote) == ("csv", True, ";", "NA", '"')
    assert [c.name for c in spec.columns] == ["a", "b"]
    assert spec.insert_sql is not None and "nextval('c_s_seq')" in spec.insert_sql
    old = one(db, "copy c from stdin with csv header").copy
    assert old is not None and (old.format, old.header, old.delimiter, old.null) == ("csv", True, ",", "")
    text = one(db, "copy c from stdin").copy
    assert text is not None and (text.format, text.delimiter, text.null) == ("text", "\t", "\\N")
    assert text.insert_sql is not None and "pg_typmod(?3, 1700, 327685)" in text.insert_sql
    out = one(db, "COPY c TO STDOUT")
    assert out.kind == Kind.COPY_TO and [c.type_oid for c in out.columns] == [T.INT4, T.TEXT, T.NUMERIC, T.INT4]
    query = one(db, "copy (select a, b from c where a > 1) to stdout with (format csv)")
    assert query.kind == Kind.COPY_TO and query.copy is not None and query.copy.table is None
    assert db.error("copy c from '/etc/passwd'").sqlstate == "0A000"
    assert db.error("copy nothere from stdin").sqlstate == "42P01"


def test_copy_from_inserts_rows(db: Db) -> None:
    db.run("create table c (a int, b varchar(3), s serial)")
    spec = one(db, "copy c (a, b) from stdin").copy
    assert spec is not None and spec.insert_sql is not None
    for line in ("1\tx", "2\t\\N"):
        fields = line.split("\t")
        values = [None if f == spec.null else T.decode_text(c.type_oid, f.encode()) for c, f in zip(spec.columns, fields, strict=True)]
        db.conn.execute(spec.insert_sql, values)
    assert db.rows("select a, b, s from c order by a") == [("1", "x", "1"), ("2", None, "2")]
    with pytest.raises(SqlError) as info:
        try:
            db.conn.execute(spec.insert_sql, [3, "toolong"])
        except apsw.Error as exc:
            raise map_sqlite_error(exc) from None
    assert info.value.sqlstate == "22001"


def test_create_table_variants(db: Db) -> None:
    tr = one(db, "create table t (id bigserial primary key, code char(3) unique, note text default 'n/a', "
                 "amount numeric(10,2) not null default 0, at timestamp default current_timestamp, "
                 "flag bool, check (amount >= 0))")
    assert tr.kind == Kind.COMMAND and tr.tag == "CREATE TABLE" and tr.is_ddl and tr.is_write
    for step in tr.steps:
        db.conn.execute(step)
    catalog = db.catalog
    table = catalog.table("t")
    assert table is not None
    assert [c.type_oid for c in table.columns] == [T.INT8, T.BPCHAR, T.TEXT, T.NUMERIC, T.TIMESTAMP, T.BOOL]
    assert table.columns[0].not_null and table.columns[0].default_expr == "nextval('t_id_seq'::regclass)"
    assert sorted(i.name for i in table.indexes) == ["t_code_key", "t_pkey"]
    assert "t_id_seq" in catalog.sequences
    db.run("insert into t (code) values ('ab')")
    assert db.rows("select id, code, note, amount, at is not null from t") == [("1", "ab ", "n/a", "0.00", "t")]
    err = db.error("insert into t (code, amount) values ('zz', -1)")
    assert err.sqlstate == "23514"
    assert db.error("insert into t (code) values ('ab')").message == 'duplicate key value violates unique constraint "t_code_key"'
    assert db.error("create table t (a int)").sqlstate == "42P07"
    notice = one(db, "create table if not exists t (a int)")
    assert notice.steps == () and notice.notices == ('relation "t" already exists, skipping',)


def test_drop_table(db: Db) -> None:
    db.run_all("create table a (x serial); create table b (y int)")
    tr = one(db, "drop table if exists a, b, nothere cascade")
    assert tr.tag == "DROP TABLE" and tr.notices == ('table "nothere" does not exist, skipping',)
    for step in tr.steps:
        db.conn.execute(step)
    catalog = db.catalog
    assert catalog.table("a") is None and catalog.table("b") is None and not catalog.sequences
    assert db.conn.execute("select count(*) from __strata_columns").fetchall() == [(0,)]
    err = db.error("drop table nothere")
    assert (err.sqlstate, err.message) == ("42P01", 'table "nothere" does not exist')


def test_catalog_version_and_load(db: Db) -> None:
    before = db.catalog
    db.run("create table v1 (a int)")
    after = db.catalog
    assert after.version != before.version and after.fingerprint != before.fingerprint
    table = after.table("v1")
    assert table is not None and table.oid >= 16384
    db.run("create table v2 (a int)")
    table2 = db.catalog.table("v2")
    assert table2 is not None and table2.oid == table.oid + 1
    assert Catalog.load(apsw.Connection(":memory:")).tables == {}


def test_rolled_back_ddl_leaves_catalog_unchanged(db: Db) -> None:
    db.conn.execute("begin")
    db.run("create table gone (a int)")
    db.conn.execute("rollback")
    assert db.catalog.table("gone") is None
    assert db.conn.execute("select count(*) from __strata_tables").fetchall() == [(0,)]


def test_alter_table_forms(db: Db) -> None:
    db.run_all("create table t (a int, b text); insert into t values (1, 'x')")
    db.run("alter table t add column c int default 7")
    assert db.rows("select c from t") == [("7",)]
    db.run("alter table t alter column c set default 9")
    db.run("insert into t (a) values (2)")
    assert db.rows("select c from t where a = 2") == [("9",)]
    db.run("alter table t rename column b to bb")
    assert db.run("select * from t").names == ["a", "bb", "c"]
    db.run("alter table t alter column a set not null")
    assert db.error("insert into t (a) values (null)").sqlstate == "23502"
    db.run("alter table t drop column c")
    assert db.run("select * from t").names == ["a", "bb"]
    db.run("alter table t alter column a type bigint")
    assert db.run("select a from t").types == [T.INT8]
    db.run("alter table t rename to t2")
    assert db.rows("select count(*) from t2") == [("2",)]
    assert db.error("alter table t2 add column a int").sqlstate == "42701"
    assert db.error("alter table t2 add foreign key (a) references t2 (a)").sqlstate == "42830"  # no unique key


def test_indexes(db: Db) -> None:
    db.run("create table t (a int, b text)")
    db.run("create unique index t_b on t (b)")
    db.run("create index on t (a desc)")
    catalog = db.catalog
    table = catalog.table("t")
    assert table is not None and sorted(i.name for i in table.indexes) == ["t_a_idx", "t_b"]
    db.run("insert into t values (1, 'x')")
    assert db.error("insert into t values (2, 'x')").message == 'duplicate key value violates unique constraint "t_b"'
    db.run("drop index t_b")
    db.run("insert into t values (2, 'x')")
    assert db.error("drop index nothere").sqlstate == "42704"


def test_sequences(db: Db) -> None:
    db.run("create sequence s start with 10 increment by 5")
    tr = one(db, "select nextval('s')")
    assert tr.is_write and tr.columns[0].type_oid == T.INT8
    assert db.rows("select nextval('s'), nextval('s')") == [("10", "15")]
    assert db.rows("select currval('s')") == [("15",)]
    db.run("select setval('s', 100)")
    assert db.rows("select nextval('s')") == [("105",)]
    assert db.error("select nextval('nope')").sqlstate == "42P01"
    db.run("drop sequence s")
    assert "s" not in db.catalog.sequences


def test_views(db: Db) -> None:
    db.run_all("create table t (a int, b text); insert into t values (1, 'x'), (2, 'y')")
    db.run("create view v as select a * 10 as ten, b from t")
    result = db.run("select * from v order by ten")
    assert result.types == [T.INT4, T.TEXT] and result.text() == [("10", "x"), ("20", "y")]
    assert db.error("insert into v values (1, 'z')").sqlstate == "0A000"  # PostgreSQL too: 'ten' is not a column of t
    assert db.error("drop table v").sqlstate == "42809"
    db.run("drop view v")


def test_truncate_restart_identity(db: Db) -> None:
    db.run_all("create table t (id serial, v int); insert into t (v) values (1), (2)")
    tr = one(db, "truncate t restart identity")
    assert tr.tag == "TRUNCATE TABLE"
    db.execute(tr)
    db.run("insert into t (v) values (3)")
    assert db.rows("select id from t") == [("1",)]


def test_create_table_as(db: Db) -> None:
    db.run_all("create table t (a int, b text); insert into t values (1, 'x')")
    db.run("create table u as select a, b, a + 0.5 as c from t")
    result = db.run("select * from u")
    assert result.types == [T.INT4, T.TEXT, T.NUMERIC] and result.text() == [("1", "x", "1.5")]


def test_unsupported_features_are_0a000(db: Db) -> None:
    for sql in ("create table p (a int) partition by range (a)", "create extension postgis"):
        err = db.error(sql)
        assert err.sqlstate == "0A000", sql
        assert err.message


def test_map_sqlite_error_codes() -> None:
    conn = apsw.Connection(":memory:")
    conn.execute("create table t (a int primary key, b int not null, c int check (c > 0))")
    conn.execute("insert into t values (1, 1, 1)")
    cases = [
        ("insert into t values (1, 1, 1)", "23505"),
        ("insert into t values (2, null, 1)", "23502"),
        ("insert into t values (3, 1, -1)", "23514"),
        ("select * from nope", "42P01"),
        ("select nope from t", "42703"),
        ("select nope()", "42883"),
    ]
    for sql, state in cases:
        with pytest.raises(apsw.Error) as info:
            conn.execute(sql)
        assert map_sqlite_error(info.value).sqlstate == state, sql
    assert map_sqlite_error(apsw.InterruptError("interrupted")).sqlstate == "57014"
    assert map_sqlite_error(apsw.BusyError("database is locked")).sqlstate == "55P03"
    assert map_sqlite_error(apsw.ReadOnlyError("readonly")).sqlstate == "25006"
    original = SqlError("22012", "division by zero")
    assert map_sqlite_error(original) is original
