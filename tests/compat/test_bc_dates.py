"""BC dates and years after 9999 through a real client, against PostgreSQL 15: COPY FROM input,
order and extract."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support import PostgresOracle, StrataProcess


def _text_rows(dsn: str) -> list[Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set timezone = 'UTC'")
        conn.execute("create temporary table bcw (d date)")
        with conn.cursor().copy("copy bcw (d) from stdin") as copy:
            copy.write_row(["0044-03-15 BC"])
            copy.write_row(["10000-01-01"])
        cur = conn.execute("select d::text, extract(year from d)::int from bcw order by d")
        return cur.fetchall()


def test_bc_copy_and_sort(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    assert _text_rows(strata_shared.dsn) == _text_rows(pg_oracle.dsn) == [("0044-03-15 BC", -44), ("10000-01-01", 10000)]
