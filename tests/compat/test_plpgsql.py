"""DO blocks and user functions against PostgreSQL 15, as a client sees them: NoticeResponses
(severity, SQLSTATE, text, in order, also those sent before an error), errors with their SQLSTATE,
DETAIL and HINT, and transaction behaviour (autocommit, inside a block, after an error), through
psycopg. The row-level behaviour is in tests/diff/cases/plpgsql.sql and functions_user.sql."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

Step = tuple[str, Any, list[tuple[str, str, str]]]  # (sql, rows/status or error, notices)


def run_script(dsn: str, script: list[str], schema_tag: str) -> list[Step]:
    """Run each statement in autocommit mode; collect what the client saw for each."""
    out: list[Step] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        notices: list[tuple[str, str, str]] = []
        conn.add_notice_handler(lambda d: notices.append(
            (d.severity_nonlocalized or "", d.sqlstate or "", d.message_primary or "")))
        for sql in script:
            sql = sql.replace("{t}", schema_tag)
            notices.clear()
            try:
                cur = conn.execute(sql.encode())
                answer: Any = cur.fetchall() if cur.description else cur.statusmessage
            except psycopg.Error as exc:
                diag = exc.diag
                answer = ("error", exc.sqlstate, diag.message_primary, diag.message_detail, diag.message_hint)
            out.append((sql, answer, list(notices)))
    return out


SCRIPTS: dict[str, list[str]] = {
    "notices_in_order": [
        "do $$ begin raise notice 'one %', 1; raise warning 'two'; raise notice 'three % %', 'a', null; end $$",
    ],
    "notices_before_error": [
        "do $$ begin raise notice 'before'; raise exception 'after %', 7 using detail = 'd', hint = 'h'; end $$",
        "select 1",
    ],
    "notice_custom_sqlstate": [
        "do $$ begin raise warning 'coded' using errcode = '01P01'; raise warning using message = 'msg only'; end $$",
    ],
    "function_notice_per_row": [
        "create table {t} (a int)",
        "insert into {t} values (1), (2), (3)",
        "create function {t}_f(x int) returns int language plpgsql as $$ begin raise notice 'row %', x; "
        "return x * 10; end $$",
        "select {t}_f(a) from {t} order by a",
        "drop function {t}_f(int)",
        "drop table {t}",
    ],
    "do_in_transaction_rollback": [
        "create table {t} (a int)",
        "begin",
        "do $$ begin insert into {t} values (1); end $$",
        "select count(*) from {t}",
        "rollback",
        "select count(*) from {t}",
        "drop table {t}",
    ],
    "do_error_aborts_transaction": [
        "create table {t} (a int)",
        "begin",
        "insert into {t} values (1)",
        "do $$ begin insert into {t} values (2); perform 1 / 0; end $$",
        "select count(*) from {t}",
        "rollback",
        "select count(*) from {t}",
        "drop table {t}",
    ],
    "do_commit_in_autocommit": [
        "create table {t} (a int)",
        "do $$ begin for i in 1..3 loop insert into {t} values (i); end loop; end $$",
        "select sum(a) from {t}",
        "do $$ begin insert into {t} values (100); raise exception 'undo'; end $$",
        "select sum(a) from {t}",
        "drop table {t}",
    ],
    "exception_block_is_a_subtransaction": [
        "create table {t} (a int primary key)",
        "do $$ begin insert into {t} values (1); begin insert into {t} values (2); insert into {t} values (1); "
        "exception when unique_violation then raise notice 'caught %', sqlstate; end; insert into {t} values (3); end $$",
        "select a from {t} order by a",
        "drop table {t}",
    ],
    "raise_errors": [
        "do $$ begin raise exception 'plain'; end $$",
        "do $$ begin raise exception 'coded %', 1 using errcode = 'check_violation'; end $$",
        "do $$ begin raise exception using message = 'only message', errcode = '22023', hint = 'a hint'; end $$",
        "do $$ begin raise too_many_rows; end $$",
        "do $$ begin raise exception 'x' using errcode = 'nonsense_condition'; end $$",
        "do $$ begin raise; end $$",
    ],
    "trigger_notices_and_errors": [
        "create table {t} (id int primary key, v text)",
        "create function {t}_trg() returns trigger language plpgsql as $$ begin raise notice '% % on %', tg_when, "
        "tg_op, tg_table_name; if new.v = 'bad' then raise exception 'bad row %', new.id using errcode = '23514', "
        "hint = 'fix it'; end if; return new; end $$",
        "create trigger {t}_b before insert or update on {t} for each row execute function {t}_trg()",
        "create trigger {t}_a after insert on {t} for each row execute function {t}_trg()",
        "insert into {t} values (1, 'ok'), (2, 'fine')",
        "insert into {t} values (3, 'bad')",
        "update {t} set v = 'bad' where id = 1",
        "select id, v from {t} order by id",
        "drop table {t}",
        "drop function {t}_trg()",
    ],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_plpgsql_script_agrees(pg_oracle: PostgresOracle, strata_shared: StrataProcess, name: str) -> None:
    tag = "pl_" + uuid.uuid4().hex[:8]
    pg = run_script(pg_oracle.dsn, SCRIPTS[name], tag)
    st = run_script(strata_shared.dsn, SCRIPTS[name], tag)
    diff = [(a[0], a[1:], b[1:]) for a, b in zip(pg, st, strict=True) if a != b]
    assert not diff, "\n".join(f"{sql}\n  postgres {a!r}\n  strata   {b!r}" for sql, a, b in diff)
    assert any(step[2] or isinstance(step[1], (tuple, list)) for step in pg)  # notices, errors or rows
