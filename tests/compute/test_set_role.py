"""SET ROLE / SET SESSION AUTHORIZATION, differentially against PostgreSQL 15: to NONE, DEFAULT
or the login role itself they are accepted (nothing changes), a role that does not exist is
PostgreSQL's 22023 and bad syntax its 42601; to another role Strata refuses with 0A000
(PostgreSQL switches privileges; Strata cannot, and used to answer SET while keeping the login
role's privileges: silently wrong)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

SAME = [
    "SET ROLE NONE", "SET SESSION ROLE none", "RESET ROLE", "SET ROLE postgres",
    "SET ROLE 'postgres'", "SET SESSION AUTHORIZATION DEFAULT", "RESET SESSION AUTHORIZATION",
    "SET SESSION AUTHORIZATION postgres", "SET ROLE nosuch_role", "SET ROLE public",
    "SET SESSION AUTHORIZATION nosuch_role", "SET ROLE current_user", "SET ROLE setrole_app extra",
]
REFUSED = ["SET ROLE setrole_app", "SET ROLE 'setrole_app'", "SET LOCAL ROLE setrole_app",
           "SET SESSION AUTHORIZATION setrole_app"]


def answer(dsn: str, sql: str) -> tuple[str, str, tuple[str, str] | None]:
    """(status or SQLSTATE, message, the roles afterwards) in a transaction rolled back."""
    with psycopg.connect(dsn) as conn:
        try:
            cur = conn.execute(sql)
            status = cur.statusmessage or ""
        except psycopg.Error as exc:
            return str(exc.sqlstate), exc.diag.message_primary or "", None
        row = conn.execute("SELECT current_user, session_user").fetchone()
        conn.rollback()
        assert row is not None
        return status, "", (str(row[0]), str(row[1]))


@pytest.fixture(scope="module")
def servers(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> Iterator[tuple[str, str]]:
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE ROLE setrole_app LOGIN")
    yield pg_oracle.dsn, strata_shared.dsn
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as conn:  # the oracle is shared by modules
        conn.execute("DROP ROLE IF EXISTS setrole_app")


@pytest.mark.parametrize("sql", SAME)
def test_answers_as_postgresql(servers: tuple[str, str], sql: str) -> None:
    pg, st = servers
    assert answer(st, sql) == answer(pg, sql)


@pytest.mark.parametrize("sql", REFUSED)
def test_another_role_is_refused_not_ignored(servers: tuple[str, str], sql: str) -> None:
    pg, st = servers
    assert answer(pg, sql)[2] == ("setrole_app", "setrole_app" if "AUTHORIZATION" in sql else "postgres")
    state, message, _ = answer(st, sql)
    assert state == "0A000" and "setrole_app" in message
