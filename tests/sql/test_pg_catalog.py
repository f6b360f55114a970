"""Catalog queries clients send: psql's \\d family, information_schema, settings."""

from __future__ import annotations

from compute import pgtypes as T
from tests.sql.conftest import Db


def make(db: Db) -> int:
    db.run("create table t (id serial primary key, name varchar(10) not null default 'x', n numeric(5,2))")
    table = db.catalog.table("t")
    assert table is not None
    return table.oid


def test_psql_describe_lookup(db: Db) -> None:
    oid = make(db)
    result = db.run(
        "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c "
        "LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default "
        "AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;"
    )
    assert result.types == [T.OID, T.NAME, T.NAME]
    assert result.text() == [(str(oid), "public", "t")]


def test_psql_describe_columns(db: Db) -> None:
    oid = make(db)
    result = db.run(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
        "(SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d "
        " WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef), a.attnotnull, "
        "(SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t "
        " WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation, "
        "a.attidentity, a.attgenerated FROM pg_catalog.pg_attribute a "
        f"WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;"
    )
    assert result.text() == [
        ("id", "integer", "nextval('t_id_seq'::regclass)", "t", None, "", ""),
        ("name", "character varying(10)", "'x'::character varying", "t", None, "", ""),
        ("n", "numeric(5,2)", None, "f", None, "", ""),
    ]


def test_psql_describe_indexes(db: Db) -> None:
    oid = make(db)
    result = db.run(
        "SELECT c2.relname, i.indisprimary, i.indisunique, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true), "
        "pg_catalog.pg_get_constraintdef(con.oid, true), contype "
        "FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i "
        "LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid "
        "AND contype IN ('p','u','x')) "
        f"WHERE c.oid = '{oid}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid "
        "ORDER BY i.indisprimary DESC, c2.relname;"
    )
    assert result.text() == [
        ("t_pkey", "t", "t", "CREATE UNIQUE INDEX t_pkey ON t USING btree (id)", "PRIMARY KEY (id)", "p")
    ]


def test_psql_list_relations(db: Db) -> None:
    make(db)
    result = db.run(
        "SELECT n.nspname as \"Schema\", c.relname as \"Name\", "
        "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence' END as \"Type\", "
        "pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" FROM pg_catalog.pg_class c "
        "LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r','p','v','m','S','f','') AND n.nspname <> 'pg_catalog' "
        "AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' "
        "AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2;"
    )
    assert result.names == ["Schema", "Name", "Type", "Owner"]
    assert result.text() == [("public", "t", "table", "postgres"), ("public", "t_id_seq", "sequence", "postgres")]


def test_information_schema_and_settings(db: Db) -> None:
    make(db)
    assert db.rows(
        "select table_name, column_name, data_type, is_nullable from information_schema.columns "
        "where table_schema = 'public' order by ordinal_position"
    ) == [
        ("t", "id", "integer", "NO"),
        ("t", "name", "character varying", "NO"),
        ("t", "n", "numeric", "YES"),
    ]
    assert db.rows("select table_name from information_schema.tables") == [("t",)]
    assert db.rows("select setting from pg_settings where name = 'server_version'") == [("15.8",)]
    assert db.rows("select typname, typlen from pg_type where oid = 23") == [("int4", "4")]
    assert db.rows("select datname from pg_database where not datistemplate") == [("postgres",)]
    assert db.rows("select datname, datallowconn from pg_database where datistemplate order by 1") == [
        ("template0", "f"), ("template1", "t")]
    assert db.rows("select 'pg_class'::regclass::oid, 't'::regclass = (select oid from pg_class where relname = 't')") == [
        ("1259", "t")
    ]
