"""pg_prepared_statements lists a session's statements prepared by Parse and by PREPARE, as
PostgreSQL 15 shows them (differential; the plan counters are not compared: SQLite plans are not
PostgreSQL's)."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support import PostgresOracle, StrataProcess

VIEW = ("select name, statement, parameter_types, parameter_types::text, from_sql, "
        "prepare_time <= now() + interval '1 minute', prepare_time > now() - interval '1 minute', "
        "pg_typeof(prepare_time), pg_typeof(parameter_types), pg_typeof(generic_plans) "
        "from pg_prepared_statements order by name")


def _session(dsn: str) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        out.append(conn.execute(VIEW).fetchall())
        conn.execute("PREPARE ps_one (int, text) AS select $1 + 1, $2")
        conn.execute("prepare ps_two as select now()")
        conn.execute("PREPARE ps_three(numeric) AS SELECT $1::text; PREPARE ps_four AS select 1")
        conn.execute("select %s::int + 1", [41], prepare=True)  # a named protocol statement
        conn.execute("select %s::text || 'x', %s::bool", ["a", True], prepare=True)
        out.append(conn.execute(VIEW).fetchall())
        conn.execute("DEALLOCATE ps_two")
        out.append(conn.execute(VIEW).fetchall())
        conn.execute("DEALLOCATE ALL")
        out.append(conn.execute(VIEW).fetchall())
    with psycopg.connect(dsn, autocommit=True) as other:  # another session sees none of them
        out.append(other.execute("select count(*) from pg_prepared_statements").fetchall())
    return out


def test_prepared_statements_view_matches_postgres(pg_oracle: PostgresOracle,
                                                   strata_shared: StrataProcess) -> None:
    assert _session(strata_shared.dsn) == _session(pg_oracle.dsn)

