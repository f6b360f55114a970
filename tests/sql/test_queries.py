"""SELECT / INSERT / UPDATE / DELETE translation: rows, result types, parameter types."""

from __future__ import annotations

import pytest

from compute import pgtypes as T
from compute.sql import translate
from compute.sql.api import Kind
from compute.sqlcache import ShapeCache
from tests.sql.conftest import Db


@pytest.fixture
def people(db: Db) -> Db:
    db.run(
        "create table people (id serial primary key, name varchar(20) not null, age int, "
        "score numeric(6,2), active boolean default true, born date, created timestamptz default now(), "
        "ratio double precision, data bytea)"
    )
    db.run("insert into people (name, age, score, born, ratio) values ('ann', 31, 12.5, '1993-04-05', 0.5)")
    db.run("insert into people (name, age, score, born, ratio, active) values ('bob', 25, 7, '1999-01-02', 1.25, false)")
    db.run("insert into people (name, age) values ('cid', null)")
    return db


def test_empty_and_comment_only_strings(db: Db) -> None:
    for sql in ("", "   ", "-- just a comment", "/* block */", ";"):
        result = translate(sql, db.catalog)
        assert [t.kind for t in result] == [Kind.EMPTY]


def test_multiple_statements_see_earlier_ddl(db: Db) -> None:
    results = db.run_all("create table m (a int); insert into m values (1), (2); select sum(a) from m")
    assert [r.translation.tag for r in results] == ["CREATE TABLE", "INSERT", "SELECT"]
    assert results[1].count == 2
    assert results[2].text() == [("3",)]


def test_select_literals_types_and_names(db: Db) -> None:
    result = db.run("select 1, 2.50, 'x', true, null, 3000000000, 1 + 2 as three, now() is not null")
    assert result.names == ["?column?", "?column?", "?column?", "?column?", "?column?", "?column?", "three", "?column?"]  # PostgreSQL 15: TRUE is a constant
    assert result.types == [T.INT4, T.NUMERIC, T.TEXT, T.BOOL, T.TEXT, T.INT8, T.INT4, T.BOOL]
    assert result.text() == [("1", "2.50", "x", "t", None, "3000000000", "3", "t")]


def test_select_star_and_column_types(people: Db) -> None:
    result = people.run("select * from people order by id")
    assert result.names == ["id", "name", "age", "score", "active", "born", "created", "ratio", "data"]
    assert result.types == [T.INT4, T.VARCHAR, T.INT4, T.NUMERIC, T.BOOL, T.DATE, T.TIMESTAMPTZ, T.FLOAT8, T.BYTEA]
    cols = result.translation.columns
    assert cols[1].typmod == 24 and cols[3].typmod == T.numeric_typmod(6, 2)
    assert cols[0].table_oid >= 16384 and cols[0].column_no == 1
    rows = result.text()
    assert rows[0][:6] == ("1", "ann", "31", "12.50", "t", "1993-04-05")
    assert rows[1][:6] == ("2", "bob", "25", "7.00", "f", "1999-01-02")
    assert rows[2][:6] == ("3", "cid", None, None, "t", None)
    assert rows[0][6] is not None and rows[0][6].endswith("+00")
    assert rows[0][7] == "0.5" and rows[1][7] == "1.25"


def test_where_order_limit_offset_params(people: Db) -> None:
    result = people.run("select name from people where age > $1 order by name desc limit $2 offset $3", (20, 5, 0))
    assert result.translation.param_oids == (T.INT4, T.INT8, T.INT8)
    assert result.text() == [("bob",), ("ann",)]
    assert people.rows("select name from people order by age nulls first, name") == [("cid",), ("bob",), ("ann",)]
    assert people.rows("select name from people order by age desc") == [("cid",), ("ann",), ("bob",)]


def test_string_parameter_and_unknown_parameter(people: Db) -> None:
    result = people.run("select id from people where name = $1", ("bob",))
    assert result.translation.param_oids == (T.VARCHAR,)
    assert result.text() == [("2",)]
    echo = people.run("select $1", ("hello",))
    assert echo.translation.param_oids == (T.TEXT,) and echo.types == [T.TEXT]


def test_aggregates_and_group_by(people: Db) -> None:
    result = people.run("select count(*), count(age), sum(age), avg(age), min(name), max(score), sum(score) from people")
    assert result.types == [T.INT8, T.INT8, T.INT8, T.NUMERIC, T.VARCHAR, T.NUMERIC, T.NUMERIC]
    assert result.text() == [("3", "2", "56", "28.0000000000000000", "ann", "12.50", "19.50")]
    grouped = people.rows("select active, count(*) from people group by active order by active")
    assert grouped == [("f", "1"), ("t", "2")]
    having = people.rows("select active, count(*) as n from people group by 1 having count(*) > 1")
    assert having == [("t", "2")]


def test_joins(db: Db) -> None:
    db.run_all(
        "create table a (id int, v text); create table b (id int, w text);"
        "insert into a values (1, 'x'), (2, 'y'); insert into b values (1, 'p'), (3, 'q')"
    )
    assert db.rows("select a.v, b.w from a join b on a.id = b.id") == [("x", "p")]
    assert db.rows("select a.v, b.w from a left join b on a.id = b.id order by a.id") == [("x", "p"), ("y", None)]
    using = db.run("select * from a join b using (id)")
    assert using.names == ["id", "v", "w"] and using.text() == [("1", "x", "p")]
    assert db.rows("select count(*) from a cross join b") == [("4",)]
    err = db.error("select id from a join b on a.id = b.id")
    assert err.sqlstate == "42702"


def test_subqueries_and_exists(people: Db) -> None:
    assert people.rows("select name from people where age = (select max(age) from people)") == [("ann",)]
    assert people.rows("select name from people p where exists (select 1 from people q where q.age < p.age)") == [("ann",)]
    assert people.rows("select name from people where id in (select id from people where age is null)") == [("cid",)]
    assert people.rows("select s.n from (select name as n from people) s order by 1 limit 1") == [("ann",)]
    assert people.rows("select x from (values (1), (2)) as v(x) order by x desc") == [("2",), ("1",)]


def test_union_and_cte(db: Db) -> None:
    result = db.run("select 1 as a union all select 2 order by a desc")
    assert result.text() == [("2",), ("1",)]
    assert db.rows("with t as (select 5 as x) select x * 2 from t") == [("10",)]
    assert db.rows(
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 4) select sum(n) from r"
    ) == [("10",)]


def test_insert_returning_and_defaults(people: Db) -> None:
    result = people.run("insert into people (name, age) values ($1, $2) returning id, name, active", ("dan", 40))
    assert result.translation.kind == Kind.QUERY and result.translation.tag == "INSERT"
    assert result.translation.param_oids == (T.VARCHAR, T.INT4)
    assert result.types == [T.INT4, T.VARCHAR, T.BOOL]
    assert result.text() == [("4", "dan", "t")]
    star = people.run("insert into people (name) values ('eve') returning *")
    assert star.names[0] == "id" and star.text()[0][:2] == ("5", "eve")
    multi = people.run("insert into people (name) values ('f'), ('g')")
    assert multi.translation.kind == Kind.COMMAND and multi.count == 2
    people.run("insert into people (id, name) values (default, 'h')")
    assert people.rows("select max(id) from people") == [("8",)]


def test_update_delete_returning(people: Db) -> None:
    update = people.run("update people set age = age + 1 where name = $1 returning age", ("ann",))
    assert update.text() == [("32",)] and update.translation.tag == "UPDATE"
    count = people.run("update people set active = false where age > 0")
    assert count.count == 2
    deleted = people.run("delete from people where active = false returning name")
    assert sorted(deleted.text()) == [("ann",), ("bob",)]
    assert people.rows("select count(*) from people") == [("1",)]


def test_value_too_long_and_not_null(people: Db) -> None:
    err = people.error("insert into people (name) values ('abcdefghijklmnopqrstuvwxyz')")
    assert err.sqlstate == "22001"
    assert err.message == "value too long for type character varying(20)"
    err = people.error("insert into people (age) values (1)")
    assert err.sqlstate == "23502"
    assert err.message == 'null value in column "name" of relation "people" violates not-null constraint'


def test_numeric_scale_and_overflow(people: Db) -> None:
    people.run("update people set score = 1.005 where id = 1")
    assert people.rows("select score from people where id = 1") == [("1.01",)]
    err = people.error("update people set score = 123456 where id = 1")
    assert err.sqlstate == "22003"


def test_invalid_literal_input(people: Db) -> None:
    err = people.error("insert into people (name, age) values ('x', 'abc')")
    assert err.sqlstate == "22P02"
    assert err.message == 'invalid input syntax for type integer: "abc"'
    err = people.error("select * from people where born = 'not a date'")
    assert err.sqlstate == "22007"


def test_undefined_things(people: Db) -> None:
    assert people.error("select nope from people").sqlstate == "42703"
    assert people.error("select * from nothere").sqlstate == "42P01"
    err = people.error("select no_such_function(1)")
    assert err.sqlstate == "42883"
    assert err.message == "function no_such_function(integer) does not exist"
    assert people.error("select x.name from people").sqlstate == "42P01"
    assert people.error("insert into people (nope) values (1)").sqlstate == "42703"


def test_syntax_error_position(db: Db) -> None:
    err = db.error("select 1; selec 2")
    assert err.sqlstate == "42601"
    err = db.error("select * from")
    assert err.sqlstate == "42601"


def test_boolean_and_null_semantics(people: Db) -> None:
    assert people.rows("select name from people where active order by id") == [("ann",), ("cid",)]
    assert people.rows("select name from people where not active") == [("bob",)]
    assert people.rows("select name from people where active is false") == [("bob",)]
    assert people.rows("select name from people where age is distinct from 25 order by id") == [("ann",), ("cid",)]
    assert people.rows("select coalesce(age, -1) from people order by id") == [("31",), ("25",), ("-1",)]


def test_like_is_case_sensitive_and_ilike_is_not(people: Db) -> None:
    assert people.rows("select name from people where name like 'A%'") == []
    assert people.rows("select name from people where name like 'a%'") == [("ann",)]
    assert people.rows("select name from people where name ilike 'A%'") == [("ann",)]
    assert people.rows("select name from people where name not like '%n%' order by 1") == [("bob",), ("cid",)]


def test_text_ordering_is_bytewise(db: Db) -> None:
    db.run_all("create table s (v text); insert into s values ('b'), ('B'), ('a'), ('A')")
    assert db.rows("select v from s order by v") == [("A",), ("B",), ("a",), ("b",)]


def test_case_cast_and_concat(people: Db) -> None:
    result = people.run("select case when age > 30 then 'old' else 'young' end, age::text, name || '!' from people where id = 1")
    assert result.types == [T.TEXT, T.TEXT, T.TEXT]
    assert result.names == ["case", "age", "?column?"]
    assert result.text() == [("old", "31", "ann!")]
    assert people.rows("select '12'::int + 1, 1.5::float8 * 2, '2024-01-02'::date") == [("13", "3", "2024-01-02")]
    assert people.rows("select true::text, 3.7::int, (-2.5)::int") == [("true", "4", "-3")]


def test_integer_division_and_division_by_zero(db: Db) -> None:
    assert db.rows("select 7 / 2, -7 / 2, 7 % 3, 7.0 / 2") == [("3", "-3", "1", "3.5000000000000000")]
    db.run_all("create table z (a int); insert into z values (0)")
    err = db.error("select 1 / a from z")
    assert err.sqlstate == "22012" and err.message == "division by zero"


def test_numeric_arithmetic_is_exact(db: Db) -> None:
    assert db.rows("select 0.1 + 0.2, 1.10 * 3, 10.0 - 0.01") == [("0.3", "3.30", "9.99")]
    db.run_all("create table n (v numeric); insert into n values (0.1), (0.2)")
    assert db.rows("select sum(v), v + 1 from n group by v order by v") == [("0.1", "1.1"), ("0.2", "1.2")]
    assert db.rows("select sum(v) from n") == [("0.3",)]
    assert db.rows("select v from n where v > 0.15") == [("0.2",)]
    assert db.rows("select v from n order by v desc") == [("0.2",), ("0.1",)]


def test_float_output(db: Db) -> None:
    result = db.run("select 1.5::float8, 1e20::float8, 0.1::float4, 'NaN'::float8, '-Infinity'::float8, 100::real")
    assert result.types == [T.FLOAT8, T.FLOAT8, T.FLOAT4, T.FLOAT8, T.FLOAT8, T.FLOAT4]
    assert result.text()[0][:3] == ("1.5", "1e+20", "0.1")
    assert result.text()[0][4:] == ("-Infinity", "100")


def test_timestamp_functions(db: Db) -> None:
    result = db.run("select now(), current_timestamp, transaction_timestamp(), clock_timestamp(), current_date")
    assert result.types == [T.TIMESTAMPTZ] * 4 + [T.DATE]
    assert result.names == ["now", "current_timestamp", "transaction_timestamp", "clock_timestamp", "current_date"]
    now, cur, txn, _clock, _day = result.text()[0]
    assert now == cur == txn
    assert db.rows("select '2024-01-31'::date + 1, '2024-03-01'::date - '2024-02-01'::date") == [("2024-02-01", "29")]
    assert db.rows("select timestamp '2024-01-31 10:00' + interval '1 month'") == [("2024-02-29 10:00:00",)]
    assert db.rows("select date_trunc('hour', timestamp '2024-01-31 10:42:13')") == [("2024-01-31 10:00:00",)]
    assert db.rows("select extract(year from date '2024-05-06')") == [("2024",)]


def test_timestamptz_in_session_time_zone(db: Db) -> None:
    db.run_all("create table ev (at timestamptz); insert into ev values ('2024-07-01 12:00:00+00')")
    db.ctx.timezone = "Europe/Paris"
    assert db.rows("select at from ev") == [("2024-07-01 14:00:00+02",)]
    db.run("insert into ev values ('2024-01-01 00:00:00')")
    db.ctx.timezone = "UTC"
    assert db.rows("select at from ev order by at") == [("2023-12-31 23:00:00+00",), ("2024-07-01 12:00:00+00",)]


def test_session_functions(db: Db) -> None:
    db.ctx.user = "alice"
    db.ctx.database = "shop"
    result = db.run("select version(), current_database(), current_user, pg_backend_pid(), current_setting('server_version')")
    assert result.types == [T.TEXT, T.NAME, T.NAME, T.INT4, T.TEXT]
    version, dbname, user, pid, server_version = result.text()[0]
    assert version is not None and version.startswith("PostgreSQL 15")
    assert (dbname, user, pid, server_version) == ("shop", "alice", "4242", "15.8")
    uuid = db.rows("select gen_random_uuid()")[0][0]
    assert uuid is not None and len(uuid) == 36 and uuid[14] == "4"


def test_bytea_roundtrip(people: Db) -> None:
    people.run("update people set data = $1 where id = 1", (b"\x00\xffab",))
    assert people.run("update people set data = $1 where id = 1", (b"\x00\xffab",)).translation.param_oids == (T.BYTEA,)
    assert people.rows("select data from people where id = 1") == [("\\x00ff6162",)]
    people.run("update people set data = '\\x0102' where id = 2")
    assert people.rows("select data from people where id = 2") == [("\\x0102",)]


def test_for_update_takes_the_writer(people: Db) -> None:
    tr = translate("select * from people where id = 1 for update", people.catalog)[0]
    assert tr.is_write and "FOR UPDATE" not in tr.steps[-1].upper()


def test_on_conflict(db: Db) -> None:
    db.run("create table kv (k text primary key, v int)")
    db.run("insert into kv values ('a', 1)")
    db.run("insert into kv values ('a', 5) on conflict (k) do update set v = kv.v + excluded.v")
    assert db.rows("select v from kv") == [("6",)]
    db.run("insert into kv values ('a', 9) on conflict do nothing")
    assert db.rows("select v from kv") == [("6",)]


def test_arrays(db: Db) -> None:
    result = db.run("select array[1,2,3], '{a,b}'::text[], current_schemas(true), array_position(array['x','y'], 'y')")
    assert result.types == [T.INT4_ARRAY, T.TEXT_ARRAY, T.NAME_ARRAY, T.INT4]
    assert result.text() == [("{1,2,3}", "{a,b}", "{pg_catalog,public}", "2")]
    ids = db.run("select 1 where 2 = any($1)", ('[1,2]',))
    assert ids.translation.param_oids == (T.INT4_ARRAY,) and ids.text() == [("1",)]


def test_string_functions(db: Db) -> None:
    assert db.rows("select lower('ÀB'), upper('ab'), length('héllo'), substring('hello' from 2 for 3)") == [
        ("àb", "AB", "5", "ell")
    ]
    assert db.rows("select trim('  x  '), replace('aXa', 'X', '-'), concat('a', null, 1), left('abc', 2)") == [
        ("x", "a-a", "a1", "ab")
    ]
    assert db.rows("select position('c' in 'abc'), split_part('a,b,c', ',', 2), lpad('7', 3, '0')") == [
        ("3", "b", "007")
    ]


def test_generate_series_and_unnest(db: Db) -> None:
    assert db.rows("select sum(g) from generate_series(1, 10) g") == [("55",)]
    assert db.rows("select x from generate_series(10, 1, -3) as s(x)") == [("10",), ("7",), ("4",), ("1",)]
    assert db.rows("select u from unnest(array[3,4]) as u") == [("3",), ("4",)]


def test_window_functions(db: Db) -> None:
    db.run_all("create table w (g int, v int); insert into w values (1, 10), (1, 20), (2, 5)")
    result = db.run("select g, v, row_number() over (partition by g order by v desc), sum(v) over (partition by g) from w order by g, v")
    assert result.types == [T.INT4, T.INT4, T.INT8, T.INT8]
    assert result.text() == [("1", "10", "2", "30"), ("1", "20", "1", "30"), ("2", "5", "1", "5")]


def test_translation_cache_returns_same_objects(people: Db) -> None:
    """The one translation cache (the engine's ShapeCache) keys on catalog content."""
    cache = ShapeCache()
    catalog = people.catalog
    first = cache.translate("select * from people", catalog, translate)
    second = cache.translate("select * from people", catalog, translate)
    assert first[0] is second[0]
    assert translate("select * from people", catalog)[0] is not first[0]  # compute.sql itself: uncached
    people.run("alter table people add column extra int")
    third = cache.translate("select * from people", people.catalog, translate)
    assert third[0] is not first[0] and third[0].columns[-1].name == "extra"
