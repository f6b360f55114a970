"""Time zones (POSIX sign), timetz, pg_typeof()/to_regtype() as regtype, VALUES typing and
records, against PostgreSQL 15 through psycopg (text and binary results) and asyncpg."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.oracle import assert_agree
from tests.support import PostgresOracle, StrataProcess

CASES: list[tuple[list[str], str, list[Any] | None]] = [
    (["set timezone to '-02:00'"], "select '2024-01-01 00:00+00'::timestamptz::text, "
                                   "'2024-06-01 12:00:00.5+00'::timestamptz::text", None),
    (["set timezone to '+05:30'"], "select '2024-01-01 00:00+00'::timestamptz::text", None),
    (["set timezone to '-02:00'"], "select '2024-01-01 00:00+00'::timestamptz", None),
    (["set timezone = 'Asia/Tokyo'"], "select '12:00'::timetz::text, '12:00+01'::timetz::text", None),
    (["set timezone to '-02:00'"], "select '12:00'::timetz, %s::timetz", ["13:30"]),
    (["set timezone = 3"], "select '2024-01-01 00:00+00'::timestamptz::text", None),
    (["set timezone = -4"], "select '2024-01-01 00:00+00'::timestamptz::text", None),
    ([], "show timezone", None),
    ([], "select '00:00-10:00'::timetz = '00:00:00-10:00'::timetz, '12:00+02'::timetz = '12:00:00+02:00'", None),
    ([], "select '12:00+02'::timetz, '00:00:00.5-10:30'::timetz, '23:59:59.999999+14'::timetz", None),
    ([], "select '12:00:01-03'::timetz::text, '7:05 +0530'::timetz::text", None),
    ([], "select '12:00+02'::timetz < '11:00+00'::timetz, '10:00+00'::timetz < '12:00+02'::timetz", None),
    ([], "select x from (values ('12:00+02'::timetz), ('11:00+00'), ('10:30+00')) v(x) order by x", None),
    ([], "select pg_typeof(1), pg_typeof(1)::oid, pg_typeof('a'::text)::text, pg_typeof('a'::char(2)), "
         "pg_typeof('x'), pg_typeof(null), pg_typeof(array[1]), pg_typeof(1.5)::text", None),
    ([], "select pg_typeof(1) = 'integer'::regtype, pg_typeof(now()) = 'timestamptz'::regtype", None),
    ([], "select to_regtype('\"text\"'), to_regtype('integer'), to_regtype('int4[]'), to_regtype('nosuch'), "
         "to_regtype('character varying(3)'), to_regtype('\"Text\"'), to_regtype('pg_catalog.int8'), "
         "to_regtype('timestamp(3) with time zone')", None),
    ([], "select to_regtype('\"text\"')::oid, to_regtype('varchar[]')::oid", None),
    ([], "values (null), (0)", None),
    ([], "values (null), (1.5)", None),
    ([], "select * from (values (null, 'a'), (2, null)) v", None),
    ([], "values ('1'), (2)", None),
    ([], "values (null), (null)", None),
    ([], "values ('2020-01-01'), (date '2020-01-02')", None),
    ([], "select row('hello'::text)", None),
    ([], "select row(1, 'a'::text, null::text, true, 1.5)", None),
    ([], "select %s::timetz", ["12:34:56+03"]),
]


@pytest.mark.parametrize(("setup", "sql", "params"), CASES, ids=[c[1][:60] for c in CASES])
def test_agrees(pg_oracle: PostgresOracle, strata_shared: StrataProcess, setup: list[str], sql: str,
                params: list[Any] | None) -> None:
    # asyncpg: SHOW has no prepared form; a timetz parameter must be a datetime.time there
    clients = ("text", "binary") if sql.startswith("show") or params else ("text", "binary", "asyncpg")
    kind, _ = assert_agree(pg_oracle.dsn, strata_shared.dsn, sql, params, setup=setup, clients=clients)
    assert kind == "ok"


def test_simple_protocol_parameter_reference(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    kind, sqlstate = assert_agree(pg_oracle.dsn, strata_shared.dsn, "select $1::timetz", clients=("text",))
    assert (kind, sqlstate) == ("error", "42P02")
