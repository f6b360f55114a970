"""pg_stat_activity's wait_event_type / wait_event and pg_blocking_pids (compute/backend.py
``waiting_on`` and ``blocking_pids``), with PostgreSQL 15 as the oracle: the same sessions on
both servers, pids mapped to names.

Monitoring queries find blocked sessions by ``wait_event_type = 'Lock'`` and who blocks them
by ``pg_blocking_pids``; both were NULL / missing before."""

from __future__ import annotations

import datetime as _dt
import threading
import time
from typing import Any

import psycopg

from compute.backend import _ts
from compute.sql.functions.datetime import utc_text
from tests.support import PostgresOracle, StrataProcess

WAIT_S = 5.0  # longest the script waits for a session to show a state (seconds)
ACTIVITY = "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s"


def _script(dsn: str) -> list[Any]:
    conns = {name: psycopg.connect(dsn, autocommit=True) for name in ("obs", "a", "b", "c")}
    obs = conns["obs"]
    names = {c.info.backend_pid: name for name, c in conns.items()}
    out: list[Any] = []
    threads: list[threading.Thread] = []

    def activity(name: str) -> tuple[Any, ...]:
        row = obs.execute(ACTIVITY, (conns[name].info.backend_pid,)).fetchone()
        assert row is not None
        return tuple(row)

    def blockers(name: str) -> list[str]:
        row = obs.execute("SELECT pg_blocking_pids(%s)", (conns[name].info.backend_pid,)).fetchone()
        assert row is not None
        return sorted(names.get(pid, "?") for pid in row[0])

    def until(name: str, state: tuple[Any, ...]) -> None:
        deadline = time.monotonic() + WAIT_S
        while activity(name) != state:
            assert time.monotonic() < deadline, f"{name} never {state}: {activity(name)}"
            time.sleep(0.01)

    def background(name: str, sql: str) -> None:
        t = threading.Thread(target=lambda: conns[name].execute(sql))
        t.start()
        threads.append(t)

    try:
        a = conns["a"]
        a.execute("DROP TABLE IF EXISTS wait_events_t")
        a.execute("CREATE TABLE wait_events_t (id int PRIMARY KEY, v int)")
        a.execute("INSERT INTO wait_events_t VALUES (1, 0)")
        until("a", ("idle", "Client", "ClientRead"))  # PostgreSQL: once it waits for input
        out.append(("idle", activity("a")))
        out.append(("own row", obs.execute(ACTIVITY, (obs.info.backend_pid,)).fetchone()))
        a.execute("BEGIN")
        a.execute("UPDATE wait_events_t SET v = 1 WHERE id = 1")
        until("a", ("idle in transaction", "Client", "ClientRead"))
        out.append(("idle in transaction", activity("a"), blockers("a")))
        background("b", "UPDATE wait_events_t SET v = 2 WHERE id = 1")
        until("b", ("active", "Lock", "transactionid"))
        out.append(("b waits for a's write", activity("b"), blockers("b"), blockers("a")))
        a.execute("COMMIT")
        threads.pop().join(WAIT_S)
        until("b", ("idle", "Client", "ClientRead"))
        out.append(("b done", activity("b"), blockers("b")))

        a.execute("SELECT pg_advisory_lock(77)")
        background("b", "SELECT pg_advisory_lock(77)")
        until("b", ("active", "Lock", "advisory"))
        background("c", "SELECT pg_advisory_lock_shared(77)")
        until("c", ("active", "Lock", "advisory"))
        out.append(("advisory", activity("b"), blockers("b"), blockers("c")))
        a.execute("SELECT pg_advisory_unlock(77)")
        threads.pop(0).join(WAIT_S)
        conns["b"].execute("SELECT pg_advisory_unlock(77)")
        threads.pop().join(WAIT_S)
        conns["c"].execute("SELECT pg_advisory_unlock_all()")

        background("b", "SELECT pg_sleep(0.6)")
        until("b", ("active", "Timeout", "PgSleep"))
        out.append(("sleeping", activity("b"), blockers("b")))
        threads.pop().join(WAIT_S)
        out.append(("no such pid", obs.execute("SELECT pg_blocking_pids(-5)").fetchone(),
                    obs.execute("SELECT pg_blocking_pids(NULL)").fetchone()))
        a.execute("DROP TABLE wait_events_t")
        return out
    finally:
        for t in threads:
            t.join(WAIT_S)
        for c in conns.values():
            c.close()


def test_wait_events_and_blocking_pids_match_postgres(strata_shared: StrataProcess,
                                                      pg_oracle: PostgresOracle) -> None:
    expected = _script(pg_oracle.dsn)
    assert _script(strata_shared.dsn) == expected


def test_activity_timestamps_are_in_stored_form() -> None:
    """pg_stat_activity's times are stored text as now() is (no trailing zeros in the
    fraction), so ``xact_start = now()`` holds whatever the microseconds (it failed when
    they ended in 0)."""
    for seconds in (1764918092.93646, 1764918092.0, 1764918092.5, 1764918092.123456):
        value = _ts(seconds)
        assert value is not None and value == utc_text(_dt.datetime.fromtimestamp(seconds, _dt.UTC))
    assert _ts(1764918092.93646) == "2025-12-05 07:01:32.93646+00"
    assert _ts(1764918092.0) == "2025-12-05 07:01:32+00"
