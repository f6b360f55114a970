"""set_config() obeys transaction scope as SET does: ROLLBACK undoes it, is_local ends with the
transaction, ROLLBACK TO SAVEPOINT restores it (differential against PostgreSQL 15)."""

from __future__ import annotations

import psycopg
import pytest

from tests.compat.oracle import psycopg_script

SCRIPTS = {
    "rollback_undoes_session_value": [
        "SET application_name = 'before'",
        "BEGIN", "SELECT set_config('application_name', 'inside', false)", "SHOW application_name",
        "ROLLBACK", "SHOW application_name", "SELECT current_setting('application_name')",
    ],
    "commit_keeps_session_value": [
        "SET application_name = 'before'",
        "BEGIN", "SELECT set_config('application_name', 'kept', false)", "COMMIT",
        "SHOW application_name",
    ],
    "local_ends_with_commit": [
        "SET application_name = 'before'",
        "BEGIN", "SELECT set_config('application_name', 'local', true)", "SHOW application_name",
        "COMMIT", "SHOW application_name",
    ],
    "local_outside_block_ends_with_statement": [
        "SET application_name = 'before'",
        "SELECT set_config('application_name', 'local', true), current_setting('application_name')",
        "SHOW application_name",
    ],
    "autocommit_session_value_persists": [
        "SELECT set_config('application_name', 'persist', false)", "SHOW application_name",
    ],
    "twice_in_one_statement_rolls_back_to_first": [
        "SET application_name = 'before'",
        "BEGIN",
        "SELECT set_config('application_name', 'one', false), set_config('application_name', 'two', false)",
        "ROLLBACK", "SHOW application_name",
    ],
    "rollback_to_savepoint": [
        "SET application_name = 'before'",
        "BEGIN", "SAVEPOINT a", "SELECT set_config('application_name', 'after_sp', false)",
        "ROLLBACK TO SAVEPOINT a", "SHOW application_name", "COMMIT", "SHOW application_name",
    ],
    "timezone_rollback": [
        "SET TimeZone = 'UTC'",
        "BEGIN", "SELECT set_config('TimeZone', 'Asia/Tokyo', false)",
        "SELECT '2020-01-01 00:00:00+00'::timestamptz::text", "ROLLBACK",
        "SHOW TimeZone", "SELECT '2020-01-01 00:00:00+00'::timestamptz::text",
    ],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_set_config_scope_matches_postgres(name: str, strata_shared, pg_oracle) -> None:  # type: ignore[no-untyped-def]
    script = SCRIPTS[name]
    assert psycopg_script(strata_shared.dsn, script) == psycopg_script(pg_oracle.dsn, script)


RESET_SCRIPT = [
    "SHOW DateStyle", "SHOW application_name", "SHOW search_path", "SHOW statement_timeout",
    "SET DateStyle = ISO", "SET application_name = 'changed'", "SET statement_timeout = '5s'",
    "RESET DateStyle", "SHOW DateStyle", "SELECT '2003-02-01'::date::text",
    "SET search_path = public", "SET search_path TO DEFAULT", "SHOW search_path",
    "RESET ALL", "SHOW application_name", "SHOW statement_timeout", "SHOW DateStyle",
    "SET DateStyle = ISO", "DISCARD ALL", "SHOW DateStyle", "SHOW application_name",
    "SET work_mem = '8MB'", "RESET work_mem", "SHOW work_mem",
]


def _with_startup_options(dsn: str) -> list[object]:
    out: list[object] = []
    with psycopg.connect(dsn, autocommit=True, application_name="from_startup",
                         options="-c DateStyle=German -c search_path=public,pg_temp -c statement_timeout=2s") as conn:
        for sql in RESET_SCRIPT:
            cur = conn.execute(sql)
            out.append(cur.fetchall() if cur.description else cur.statusmessage)
    return out


def test_reset_returns_to_startup_values(strata_shared, pg_oracle) -> None:  # type: ignore[no-untyped-def]
    """RESET, SET … TO DEFAULT, RESET ALL and DISCARD ALL go back to the values the client gave at
    startup (options / parameters), not to the server defaults, as PostgreSQL does."""
    assert _with_startup_options(strata_shared.dsn) == _with_startup_options(pg_oracle.dsn)
