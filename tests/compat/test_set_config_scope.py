"""set_config() obeys transaction scope as SET does: ROLLBACK undoes it, is_local ends with the
transaction, ROLLBACK TO SAVEPOINT restores it (differential against PostgreSQL 15)."""

from __future__ import annotations

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
