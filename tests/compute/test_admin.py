"""pg_terminate_backend, pg_cancel_backend, pg_stat_activity and the startup ParameterStatus
that libpq's target_session_attrs reads, with real psycopg connections."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import errors as pgerr

from tests.support import StrataProcess


def test_terminate_idle_and_unknown(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        notices: list[str] = []
        b.add_notice_handler(lambda d: notices.append(f"{d.severity_nonlocalized}: {d.message_primary}"))
        assert b.execute("SELECT pg_terminate_backend(1)").fetchone() == (False,)
        assert notices == ["WARNING: PID 1 is not a PostgreSQL server process"]
        assert b.execute("SELECT pg_terminate_backend(%s)", (a.info.backend_pid,)).fetchone() == (True,)
        time.sleep(0.2)
        with pytest.raises(psycopg.OperationalError):
            a.execute("SELECT 1")
        pids = [r[0] for r in b.execute("SELECT pid FROM pg_stat_activity").fetchall()]
        assert a.info.backend_pid not in pids and b.info.backend_pid in pids


def test_terminate_and_cancel_running_statement(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
        errors: list[BaseException] = []

        def sleep() -> None:
            try:
                a.execute("SELECT pg_sleep(10)")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        t = threading.Thread(target=sleep)
        t.start()
        time.sleep(0.3)
        assert b.execute("SELECT pg_cancel_backend(%s)", (a.info.backend_pid,)).fetchone() == (True,)
        t.join(5)
        assert isinstance(errors.pop(), pgerr.QueryCanceled)
        t = threading.Thread(target=sleep)
        t.start()
        time.sleep(0.3)
        assert b.execute("SELECT pg_terminate_backend(%s)", (a.info.backend_pid,)).fetchone() == (True,)
        t.join(5)
        assert isinstance(errors.pop(), pgerr.AdminShutdown)


def test_pg_stat_activity_states(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn, autocommit=True, application_name="watched") as a, \
            psycopg.connect(dsn, autocommit=True) as b:
        q = ("SELECT state, query, xact_start IS NOT NULL, datname, usename, application_name, "
             "client_addr::text, client_port > 0, backend_start <= now() "
             "FROM pg_stat_activity WHERE pid = %s")
        a.execute("SELECT 41")
        assert b.execute(q, (a.info.backend_pid,)).fetchone() == (
            "idle", "SELECT 41", False, "postgres", "postgres", "watched", "127.0.0.1/32", True, True)
        a.execute("BEGIN")
        a.execute("SELECT 42")
        assert b.execute(q, (a.info.backend_pid,)).fetchone()[:3] == ("idle in transaction", "SELECT 42", True)
        with pytest.raises(pgerr.DivisionByZero):
            a.execute("SELECT 1/0")
        assert b.execute(q, (a.info.backend_pid,)).fetchone()[:2] == ("idle in transaction (aborted)", "SELECT 1/0")
        a.execute("ROLLBACK")
        row = b.execute(q, (b.info.backend_pid,)).fetchone()
        assert row[0] == "active" and row[2] is True


def test_target_session_attrs_on_a_primary(strata_shared: StrataProcess) -> None:
    dsn = strata_shared.dsn
    with psycopg.connect(dsn + "?target_session_attrs=read-write") as conn:
        assert conn.info.parameter_status("in_hot_standby") == "off"
        assert conn.info.parameter_status("default_transaction_read_only") == "off"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn + "?target_session_attrs=standby", connect_timeout=5)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn + "?target_session_attrs=read-only", connect_timeout=5)
    # a session whose default is read-only is what read-only selects
    with psycopg.connect(dsn + "?target_session_attrs=read-only&options=-c%20default_transaction_read_only%3Don") as conn:
        assert conn.info.parameter_status("default_transaction_read_only") == "on"
