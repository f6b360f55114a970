"""inet/cidr, bit/varbit, bpchar and range values in the binary wire format, and the typmods in
RowDescription, compared byte for byte with PostgreSQL 15 (both directions: results and parameters)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

VALUES = [
    ("'10.1.2.3/24'::inet", 869), ("'::ffff:1.2.3.4'::inet", 869), ("'10.0.0.0/8'::cidr", 650),
    ("B'101100101'::varbit", 1562), ("B'101'::bit(3)", 1560), ("'ab'::char(4)", 1042),
    ("'[1,5]'::int4range", 3904), ("'empty'::int4range", 3904), ("'(,5]'::int8range", 3926),
    ("'[1.50,2.25)'::numrange", 3906), ("'[2020-01-01,2020-02-01)'::daterange", 3912),
    ("'[2020-01-01 10:00,)'::tsrange", 3908), ("'[2020-01-01 10:00+00,2020-01-02 00:00+00]'::tstzrange", 3910),
]


@pytest.fixture(scope="module")
def conns(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[tuple[psycopg.Connection, ...]]:
    pg = psycopg.connect(pg_oracle.dsn, autocommit=True)
    st = psycopg.connect(strata_shared.dsn, autocommit=True)
    for conn in (pg, st):
        conn.execute("SET TimeZone = 'UTC'")
    try:
        yield pg, st
    finally:
        pg.close()
        st.close()


def _binary(conn: psycopg.Connection, sql: str, params: list[bytes] | None = None,
            oids: list[int] | None = None) -> tuple[int, bytes | None]:
    res = conn.pgconn.exec_params(sql.encode(), params or [], param_types=oids, param_formats=[1] * len(params or []),
                                  result_format=1)
    assert res.error_message == b"", res.error_message
    return res.ftype(0), res.get_value(0, 0)


@pytest.mark.parametrize(("literal", "oid"), VALUES, ids=[v[0] for v in VALUES])
def test_binary_results_and_parameters_match(conns: tuple[psycopg.Connection, ...], literal: str, oid: int) -> None:
    pg, st = conns
    pg_type, pg_bytes = _binary(pg, f"select {literal}")
    st_type, st_bytes = _binary(st, f"select {literal}")
    assert (st_type, st_bytes) == (pg_type, pg_bytes) == (oid, pg_bytes)
    assert pg_bytes is not None
    # PostgreSQL's binary value as a binary parameter: Strata reads it back to the same value
    echoed = _binary(st, "select $1", [pg_bytes], [oid])
    assert echoed == (oid, pg_bytes)


def test_row_description_typmods(conns: tuple[psycopg.Connection, ...]) -> None:
    sql = "select 'a'::char(5) as c, B'101'::bit(3) as b, B'1'::varbit(4) as v, '1.2.3.4'::inet as i"
    mods = []
    for conn in conns:
        res = conn.pgconn.exec_(sql.encode())
        mods.append([(res.ftype(i), res.fmod(i)) for i in range(res.nfields)])
    assert mods[0] == mods[1]
