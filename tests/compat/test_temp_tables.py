"""Temporary tables against PostgreSQL 15: two sessions run the same script on both servers
(visibility, shadowing, ON COMMIT actions, DISCARD, catalogs), and on Strata alone what only a
process can show: a session's temporary tables go when it ends (also when its socket is reset)
and a restarted primary drops those a crash left behind."""

from __future__ import annotations

import socket
import time
from typing import Any

import psycopg
import pytest

from tests.support import PostgresOracle, StrataProcess

# (connection, statement): "a" and "b" are two sessions of the same database
SCRIPT: list[tuple[str, str]] = [
    ("a", "create table tt_shadow (x text)"), ("a", "insert into tt_shadow values ('public')"),
    ("a", "create temp table tt_shadow (x text, y int)"), ("a", "insert into tt_shadow values ('temp', 1)"),
    ("a", "select * from tt_shadow"), ("b", "select * from tt_shadow"), ("a", "select * from public.tt_shadow"),
    ("a", "select count(*) from pg_class where relname = 'tt_shadow' and relpersistence = 't'"),
    ("a", "select pg_my_temp_schema() <> 0, pg_is_other_temp_schema(pg_my_temp_schema())"),
    ("a", "select nspname like 'pg_temp_%' from pg_namespace where oid = pg_my_temp_schema()"),
    ("b", "select pg_my_temp_schema()"),
    ("b", "select pg_is_other_temp_schema(oid) from pg_namespace n where n.oid = "
          "(select relnamespace from pg_class where relname = 'tt_shadow' and relpersistence = 't')"),
    ("a", "select (current_schemas(true))[1] like 'pg_temp_%', current_schemas(false)"),
    ("b", "create temp table tt_shadow (z int)"), ("b", "select * from tt_shadow"),
    ("a", "create temporary table tt_as as select 1 as a"), ("a", "select * from tt_as"),
    ("a", "select * from pg_temp.tt_as"), ("b", "select * from tt_as"),
    ("a", "begin"), ("a", "create temp table tt_drop (a int) on commit drop"), ("a", "insert into tt_drop values (1)"),
    ("a", "select * from tt_drop"), ("a", "commit"), ("a", "select * from tt_drop"),
    ("a", "create temp table tt_del (a int) on commit delete rows"), ("a", "begin"),
    ("a", "insert into tt_del values (1)"), ("a", "select count(*) from tt_del"), ("a", "commit"),
    ("a", "select count(*) from tt_del"), ("a", "insert into tt_del values (2)"), ("a", "select count(*) from tt_del"),
    ("a", "create temp table tt_keep (a int) on commit preserve rows"), ("a", "insert into tt_keep values (1)"),
    ("a", "select count(*) from tt_keep"),
    ("a", "create table tt_plain (a int) on commit drop"),
    ("a", "create temp table tt_seq (id serial primary key, v text unique)"), ("a", "insert into tt_seq (v) values ('a')"),
    ("a", "insert into tt_seq (v) values ('a')"), ("a", "select * from tt_seq"),
    ("a", "create temp view tt_view as select * from tt_seq"), ("a", "select v from tt_view"),
    ("a", "create temp sequence tt_s"), ("a", "select nextval('tt_s'), nextval('pg_temp.tt_s')"),
    ("a", "begin read only"), ("a", "create temp table tt_ro (a int)"), ("a", "rollback"),
    ("a", "discard temp"), ("a", "select * from tt_shadow"), ("a", "select * from tt_keep"),
    ("a", "select count(*) from pg_class where relpersistence = 't' and relname like 'tt\\_%'"),
    ("a", "create temp table tt_all (a int)"), ("a", "discard all"), ("a", "select * from tt_all"),
    ("b", "select * from tt_shadow"),
    ("a", "drop table tt_shadow"),
]


def _run(dsn: str) -> list[Any]:
    out: list[Any] = []
    conns = {name: psycopg.connect(dsn, autocommit=True) for name in ("a", "b")}
    try:
        for who, sql in SCRIPT:
            try:
                cur = conns[who].execute(sql.encode())
                out.append(cur.fetchall() if cur.description else cur.statusmessage)
            except psycopg.Error as exc:
                out.append(("error", exc.sqlstate))
    finally:
        for conn in conns.values():
            conn.close()
    return out


def test_temp_table_script_agrees(pg_oracle: PostgresOracle, strata_shared: StrataProcess) -> None:
    expected, got = _run(pg_oracle.dsn), _run(strata_shared.dsn)
    diff = [(s, a, b) for s, a, b in zip(SCRIPT, expected, got, strict=True) if a != b]
    assert not diff, "\n".join(f"{s!r}: postgres {a!r}, strata {b!r}" for s, a, b in diff)


def _temp_schemas(dsn: str) -> list[tuple[str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("select nspname from pg_namespace where nspname like 'pg\\_temp\\_%'").fetchall()


def _wait_gone(dsn: str, timeout_s: float = 10.0) -> list[tuple[str]]:
    deadline = time.monotonic() + timeout_s
    while (left := _temp_schemas(dsn)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_session_end_drops_temp_tables(strata: StrataProcess) -> None:
    conn = psycopg.connect(strata.dsn, autocommit=True)
    conn.execute("create temp table gone (a int)")
    assert len(_temp_schemas(strata.dsn)) == 1
    conn.close()
    assert _wait_gone(strata.dsn) == []
    # a reset socket (no Terminate message) ends the session too
    conn = psycopg.connect(strata.dsn, autocommit=True)
    conn.execute("create temp table gone (a int)")
    sock = socket.socket(fileno=conn.pgconn.socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST
    with pytest.raises(psycopg.Error):
        conn.execute("select 1")
    assert _wait_gone(strata.dsn) == []


def test_restarted_primary_drops_orphaned_temp_tables(strata: StrataProcess) -> None:
    conn = psycopg.connect(strata.dsn, autocommit=True)
    conn.execute("create table kept (a int)")
    conn.execute("create temp table orphan (a int)")
    conn.execute("insert into orphan values (1)")
    assert len(_temp_schemas(strata.dsn)) == 1
    strata.kill9()
    conn.close()
    strata.start()
    assert _temp_schemas(strata.dsn) == []
    with psycopg.connect(strata.dsn, autocommit=True) as fresh:
        assert fresh.execute("select count(*) from pg_class where relname in ('kept', 'orphan')").fetchall() == [(1,)]
        fresh.execute("create temp table orphan (b text)")  # the name is free again
