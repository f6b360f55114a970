"""The server-wide translation cache (compute/sqlcache.py) must never hand one statement the
translation of another. Statements of one *shape* (numeric literals lifted) whose literals are
equal to their parameter numbers used to teach the cache a shape that ignored the literal:
``null::varchar(1)`` then ``null::varchar(77)`` reported typmod 5. Every statement runs on a
fresh connection on both servers; the RowDescription (type OID and modifier) and the rows must
be PostgreSQL's."""

from __future__ import annotations

import psycopg

from tests.support import PostgresOracle, StrataProcess

# In order: the first of each group teaches the shape with literals equal to $1, $2, ...
STATEMENTS = [
    "select null::varchar(1)", "select null::varchar(77)", "SELECT NULL::VARCHAR(77)",
    "select 'abc'::varchar(1)", "select 'abc'::varchar(2)",
    "select 'a'::char(1)", "select 'a'::char(4)",
    "select 0.01::numeric(1, 2), 7", "select 1.25::numeric(5, 2), 7", "select 1.25::numeric(4, 1), 8",
    "select '2020-01-01 10:00:00.123456'::timestamp(1)", "select '2020-01-01 10:00:00.123456'::timestamp(4)",
    "select substr('abcdef', 1, 2)", "select substr('abcdef', 3, 2)",
    "select g from generate_series(1, 2) g", "select g from generate_series(3, 7) g",
    "select x from (values (1), (2), (3)) v(x) order by x limit 1",
    "select x from (values (1), (2), (3)) v(x) order by x limit 2",
    "select round(1.55, 1), 2", "select round(1.55, 0), 2",
    "select 1, 2, 3", "select 2, 2, 3", "select 2147483648, 2", "select 1::int2 + 1",
]


def _describe(dsn: str, sql: str, binary: bool) -> tuple[object, ...]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.cursor(binary=binary)
        cur.execute(sql.encode())
        res = cur.pgresult
        assert res is not None
        shape = [(res.ftype(i), res.fmod(i)) for i in range(res.nfields)]
        return sql, shape, cur.fetchall()


def test_statements_of_one_shape_keep_their_own_types(pg_oracle: PostgresOracle,
                                                      strata_shared: StrataProcess) -> None:
    for round_no in range(2):  # the second round runs on a warm cache
        for binary in (False, True):
            for sql in STATEMENTS:
                pg = _describe(pg_oracle.dsn, sql, binary)
                st = _describe(strata_shared.dsn, sql, binary)
                assert st == pg, f"round {round_no}, binary={binary}"
