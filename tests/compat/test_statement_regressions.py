"""Regressions from untyped seams between translation and session, against PostgreSQL 15.

Each script runs statement by statement in autocommit mode on both servers; the answers
(rows, command status or SQLSTATE) must be the same. The scripts clean up after themselves.
"""

from __future__ import annotations

import pytest

from tests.compat.oracle import psycopg_script
from tests.support import PostgresOracle, StrataProcess

MODES = "select current_setting('transaction_isolation'), current_setting('transaction_read_only')"
SCRIPTS: dict[str, list[str]] = {
    # COMMIT AND CHAIN used to be parsed and then ignored: the INSERT after it was kept
    "commit_and_chain": [
        "create table rg_chain (a int)", "begin isolation level repeatable read",
        "insert into rg_chain values (1)", "commit and chain", MODES,
        "insert into rg_chain values (2)", "rollback", "select a from rg_chain order by a",
        "drop table rg_chain"],
    "rollback_and_chain": [
        "create table rg_chain (a int)", "begin read only", "rollback and chain", MODES,
        "insert into rg_chain values (1)", "rollback", "select count(*) from rg_chain",
        "drop table rg_chain"],
    "chain_after_failure": [
        "create table rg_chain (a int)", "begin", "select 1/0", "commit and chain",
        "insert into rg_chain values (3)", "rollback", "select count(*) from rg_chain",
        "drop table rg_chain"],
    "chain_outside_block": ["commit and chain", "rollback and chain", "commit and no chain", "rollback"],
    # DISCARD ALL refuses to run inside a transaction block (PreventInTransactionBlock)
    "discard_all_in_block": ["set application_name = 'rg'", "begin", "discard all", "rollback",
                             "discard all", "show application_name"],
    # ADD CHECK used to be rewritten by a regular expression on the raw text, default included
    "add_check_words_in_default": [
        "create table rg_chk (a int)",
        "alter table rg_chk add column c text default 'please add check'",
        "alter table rg_chk add column d text default 'add constraint x check (a > 0)'",
        "insert into rg_chk (a) values (1)", "select a, c, d from rg_chk",
        "alter table rg_chk add check (a > 0)", "insert into rg_chk (a) values (-1)",
        "alter table rg_chk add constraint rg_pos check (a < 100)", "insert into rg_chk (a) values (100)",
        "select a, c, d from rg_chk", "drop table rg_chk"],
    # quoted savepoint names keep their case whatever sqlglot's tokenizer says
    "savepoint_quoting": [
        "begin", 'savepoint "My Point"', "savepoint plain", 'rollback to savepoint "My Point"',
        "rollback to savepoint my_point", "rollback", "begin", 'savepoint "Mixed"',
        'release savepoint "Mixed"', 'release savepoint "Mixed"', "rollback"],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_agrees_with_postgres(pg_oracle: PostgresOracle, strata_shared: StrataProcess,
                                     name: str) -> None:
    script = SCRIPTS[name]
    pg = psycopg_script(pg_oracle.dsn, script)
    st = psycopg_script(strata_shared.dsn, script)
    diff = [(sql, a, b) for sql, a, b in zip(script, pg, st, strict=True) if a != b]
    assert not diff, "\n".join(f"{sql!r}: postgres {a!r}, strata {b!r}" for sql, a, b in diff)


def test_chain_keeps_the_rollback(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    """The bug in one line: the INSERT after COMMIT AND CHAIN is rolled back, on both servers."""
    for dsn in (pg_oracle.dsn, strata_shared.dsn):
        answers = psycopg_script(dsn, SCRIPTS["commit_and_chain"])
        assert answers[7] == [(1,)], dsn


def test_default_text_is_stored_verbatim(strata_shared: StrataProcess) -> None:
    answers = psycopg_script(strata_shared.dsn, SCRIPTS["add_check_words_in_default"])
    assert answers[4] == [(1, "please add check", "add constraint x check (a > 0)")]
    assert answers[6] == ("error", "23514")
