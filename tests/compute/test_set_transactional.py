"""SET is transactional, as in PostgreSQL: ROLLBACK (and ROLLBACK TO SAVEPOINT) undo it.

Differential: the same script on PostgreSQL 15 and on Strata, comparing every SHOW. The
proxy relies on it too (it replays a client's settings on pooled server connections).
"""

from __future__ import annotations

import psycopg

from tests.support import PostgresOracle, StrataProcess

SCRIPT = [
    "SET TimeZone = 'UTC'",
    "SET application_name = 'before'",
    "BEGIN", "SET TimeZone = 'Europe/Paris'", "SHOW TimeZone", "ROLLBACK", "SHOW TimeZone",
    "BEGIN", "SET TimeZone = 'Asia/Tokyo'", "COMMIT", "SHOW TimeZone",
    "BEGIN", "SET LOCAL TimeZone = 'America/New_York'", "SHOW TimeZone", "COMMIT", "SHOW TimeZone",
    "BEGIN", "SET application_name = 'one'", "SAVEPOINT a", "SET application_name = 'two'",
    "SET LOCAL TimeZone = 'Europe/Berlin'", "SHOW application_name", "ROLLBACK TO SAVEPOINT a",
    "SHOW application_name", "SHOW TimeZone", "SAVEPOINT b", "SET application_name = 'three'",
    "RELEASE SAVEPOINT b", "SHOW application_name", "COMMIT", "SHOW application_name",
    "BEGIN", "SET application_name = 'lost'", "SELECT 1/0", "ROLLBACK", "SHOW application_name",
    "BEGIN", "SET LOCAL application_name = 'local'", "SET application_name = 'session'", "COMMIT",
    "SHOW application_name",
    "BEGIN", "SET application_name = 'x'", "SET LOCAL application_name = 'y'", "ROLLBACK",
    "SHOW application_name",
]


def _run(dsn: str) -> list[object]:
    out: list[object] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in SCRIPT:
            try:
                cur = conn.execute(sql)
                out.append((sql, cur.fetchall() if cur.description else cur.statusmessage))
            except psycopg.Error as exc:
                out.append((sql, exc.sqlstate))
        out.append(("reported application_name", conn.info.parameter_status("application_name")))
    return out


def test_set_is_undone_by_rollback_like_postgres(pg_oracle: PostgresOracle,
                                                 strata_shared: StrataProcess) -> None:
    assert _run(strata_shared.dsn) == _run(pg_oracle.dsn)
