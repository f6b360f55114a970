"""Values that used to come back silently wrong, compared with PostgreSQL 15 through psycopg
(text and binary results) and asyncpg (binary): arrays with control and non-ASCII characters,
bytea[] and json[] elements, multidimensional arrays (refused, never reshaped), -'NaN', NUL in
text parameters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.oracle import assert_agree, asyncpg_answer
from tests.support import PostgresOracle, StrataProcess

ODD_TEXTS = ["\x1c", "\x85", "\xa0", " x ", "", "NULL", "a,b", 'q"q', "back\\slash", "{}", "\t\n", "é✓"]

QUERIES: list[tuple[str, list[Any] | None]] = [
    ("select %s::text[]", [ODD_TEXTS]),
    ("select array[chr(28) || 'a', chr(133), chr(160), ' x ', '', null]::text[]", None),
    ("select ('{' || chr(160) || 'a' || chr(133) || ',' || chr(28) || '}')::text[]", None),
    ("select unnest(%s::text[]) as u", [ODD_TEXTS]),
    ("select array['\\x00ff'::bytea, '', null]", None),
    ("select '{\"\\\\x00ff\",NULL}'::bytea[]", None),
    ("select array['\\x01'::bytea]::text[]", None),
    ("select array['true'::jsonb, '{\"b\":1.50, \"a\":[1,null]}'::jsonb, '\"s\"'::jsonb]::text[]", None),
    ("select array['true'::jsonb, '{\"a\":1}'::jsonb]", None),
    ("select '{\"{\\\"b\\\":2,\\\"a\\\":1}\",\"\\\"s\\\"\"}'::jsonb[]", None),
    ("select array[1, 2]::text[], '{}'::int[], array[]::text[]", None),
    ("select unnest(array['{\"a\":1}'::jsonb, 'true', '\"s\"', null])", None),
    ("select u from unnest(array['\\x01ff'::bytea, null, '']) u", None),
    ("select array_agg(x), array_agg(y) from (values ('{\"a\":1}'::jsonb, '\\x01'::bytea), ('[1]', '\\x')) v(x, y)", None),
    ("select (array['{\"a\":1}'::jsonb, 'true'])[2], (array['\\x01ff'::bytea])[1]", None),
    ("select array_to_string(array[true, false], ','), array_to_string(array['\\x01'::bytea], ',')", None),
    # unary minus binds after the cast: -NaN is NaN
    ("select -'NaN'::float8 a, -'NaN'::numeric b, -'Infinity'::float8 c, -'-Infinity'::float4 d, "
     "-'1.5'::float8 e, -'Infinity'::numeric f, -'2.50'::numeric g", None),
    ("select -x from (values ('NaN'::float8), ('-0'::float8), ('1e308')) v(x)", None),
]
MULTIDIM = [
    "select unnest(array[array[14, 41, 7], array[54, 9, 49]])",
    "select cardinality(array[[1, 2], [3, 4]])",
    "select pg_typeof(array[array['a']])",
    "select array(select array[1])",
    "select array_agg(x) from (values (array[1]), (array[2])) v(x)",
    "select '{{1,2},{3,4}}'::int[]",
]


@pytest.mark.parametrize(("sql", "params"), QUERIES, ids=[q[:50] for q, _ in QUERIES])
def test_values_agree(pg_oracle: PostgresOracle, strata_shared: StrataProcess, sql: str,
                      params: list[Any] | None) -> None:
    kind, _ = assert_agree(pg_oracle.dsn, strata_shared.dsn, sql, params)
    assert kind == "ok"


@pytest.mark.parametrize("sql", MULTIDIM)
def test_multidimensional_arrays_agree_not_reshaped(
        pg_oracle: PostgresOracle, strata_shared: StrataProcess, sql: str) -> None:
    """Nested arrays keep their dimensions (tests/compat/test_multidim_arrays.py has more)."""
    kind, _ = assert_agree(pg_oracle.dsn, strata_shared.dsn, sql)
    assert kind == "ok"


def test_nul_in_text_parameters_is_22021(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """psycopg refuses NUL in str parameters itself: send raw Bind values with libpq."""
    import psycopg

    def probe(dsn: str) -> list[tuple[int, bytes | None, bytes | None]]:
        out = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            for fmt in (0, 1):
                for sql, oid, value in [(b"select $1::text", 25, b"a\x00b"), (b"select $1", 0, b"a\x00"),
                                        (b"select $1::varchar", 1043, b"\x00"),
                                        (b"select $1::jsonb", 3802, b'"\x00"'),
                                        (b"select $1::bytea", 17, b"a\x00"),
                                        (b"select $1::text", 25, b"\xff")]:
                    if oid == 3802 and fmt == 1:
                        value = b"\x01" + value
                    res = conn.pgconn.exec_params(sql, [value], [oid], [fmt])
                    out.append((fmt, res.error_field(psycopg.pq.DiagnosticField.SQLSTATE),
                                res.get_value(0, 0) if res.ntuples else None))
        return out

    pg = probe(pg_oracle.dsn)
    assert (1, b"22021", None) in pg
    assert probe(strata_shared.dsn) == pg
    assert asyncpg_answer(strata_shared.dsn, "select $1::text", ["a\x00b"]) == ("error", "22021")
    assert asyncpg_answer(pg_oracle.dsn, "select $1::text", ["a\x00b"]) == ("error", "22021")
