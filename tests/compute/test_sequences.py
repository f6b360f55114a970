"""Sequences are not transactional: a value nextval handed out is never handed out again, even
when its transaction rolls back. Each scenario runs on PostgreSQL 15 and on Strata, and the
values they return must be the same."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

Step = tuple[str, str]  # ("q", sql) returns rows; ("x", sql) executes; ("e", sql) must fail

SCENARIOS: dict[str, list[Step]] = {
    "rollback_keeps_nextval": [
        ("x", "create sequence s_rb"),
        ("x", "begin"), ("q", "select nextval('s_rb'), nextval('s_rb')"), ("x", "rollback"),
        ("q", "select nextval('s_rb')"),
        ("q", "select currval('s_rb')"),
    ],
    "serial_after_rollback": [
        ("x", "create table t_rb (id serial primary key, v text)"),
        ("x", "begin"), ("x", "insert into t_rb (v) values ('a'), ('b')"), ("x", "rollback"),
        ("x", "insert into t_rb (v) values ('c')"),
        ("q", "select id, v from t_rb order by id"),
    ],
    "failed_statement_keeps_nextval": [
        ("x", "create table t_fail (id serial primary key, v int not null)"),
        ("e", "insert into t_fail (v) values (1), (null)"),
        ("x", "insert into t_fail (v) values (2)"),
        ("q", "select id, v from t_fail"),
    ],
    "savepoint_rollback_keeps_nextval": [
        ("x", "create sequence s_sp"),
        ("x", "begin"), ("q", "select nextval('s_sp')"), ("x", "savepoint a"),
        ("q", "select nextval('s_sp')"), ("x", "rollback to savepoint a"),
        ("q", "select nextval('s_sp')"), ("x", "commit"),
        ("q", "select currval('s_sp'), nextval('s_sp')"),
    ],
    "setval_survives_rollback": [
        ("x", "create sequence s_set"),
        ("x", "begin"), ("q", "select setval('s_set', 50)"), ("x", "rollback"),
        ("q", "select nextval('s_set')"),
    ],
    "rolled_back_create_does_not_leak": [
        ("x", "begin"), ("x", "create sequence s_tmp"), ("q", "select nextval('s_tmp'), nextval('s_tmp')"),
        ("x", "rollback"),
        ("x", "create sequence s_tmp2"),
        ("q", "select nextval('s_tmp2')"),
    ],
    "alter_restart_then_nextval": [
        ("x", "create sequence s_alt"),
        ("q", "select nextval('s_alt'), nextval('s_alt')"),
        ("x", "alter sequence s_alt restart with 10"),
        ("q", "select nextval('s_alt')"),
    ],
    "truncate_restart_identity": [
        ("x", "create table t_tr (id serial, v int, n bigserial)"),
        ("x", "insert into t_tr (v) values (1), (2)"),
        ("x", "truncate t_tr restart identity"),
        ("x", "insert into t_tr (v) values (3)"),
        ("q", "select id, v, n from t_tr"),
    ],
}


def _run(dsn: str, steps: list[Step]) -> list[Any]:
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for kind, sql in steps:
            if kind == "e":
                with pytest.raises(psycopg.Error) as err:
                    conn.execute(sql)
                out.append(("error", err.value.sqlstate))
            elif kind == "q":
                out.append(conn.execute(sql).fetchall())
            else:
                conn.execute(sql)
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_sequence_scenario_matches_postgres(pg_oracle: PostgresOracle, strata: StrataProcess,
                                            name: str) -> None:
    pg_db = f"seq_{name}"
    with psycopg.connect(pg_oracle.dsn, autocommit=True) as admin:
        admin.execute(f"drop database if exists {pg_db}")
        admin.execute(f"create database {pg_db}")
    pg = _run(pg_oracle.dsn.rsplit("/", 1)[0] + f"/{pg_db}", SCENARIOS[name])
    st = _run(strata.dsn, SCENARIOS[name])
    assert st == pg


def test_nextval_after_rollback_survives_restart(strata: StrataProcess) -> None:
    """After a restart the next value is at least one past every committed value."""
    with psycopg.connect(strata.dsn, autocommit=True) as conn:
        conn.execute("create table t_r (id serial primary key)")
        conn.execute("insert into t_r default values")
        conn.execute("begin")
        conn.execute("insert into t_r default values")
        conn.execute("rollback")
        conn.execute("insert into t_r default values")
    strata.stop()
    strata.start()
    with psycopg.connect(strata.dsn, autocommit=True) as conn:
        conn.execute("insert into t_r default values")
        ids = [r[0] for r in conn.execute("select id from t_r order by id")]
    assert ids == sorted(set(ids)) and ids[:2] == [1, 3] and ids[-1] > 3
