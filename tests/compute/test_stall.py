"""No statement stalls other sessions; cancel and statement_timeout stop any statement (57014).

Issue 11 item 5: a long statement used to run on the event loop, so for its whole length no
other client got an answer and a CancelRequest could not even be read. Here 8 sessions ping
while one session sleeps or scans, and their latency is measured from the client side.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from compute.engine import Database
from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode
from tests.support import StrataProcess

PINGERS = 8
P99_LIMIT_S = 0.050  # the issue's bound on the other sessions' p99 latency
CANCEL_LIMIT_S = 1.0  # a cancelled statement ends within this
QUIET_P99_S = 0.010  # a pinger p99 below this before and after the long statement: a quiet machine
AFTER_S = 1.0  # pinging goes on this long after the long statement: was the machine quiet throughout?
STALL_LIMIT_S = 0.5  # no query may wait this long while another session runs anything
PING_INTERVAL_S = 0.02  # each pinger's schedule (8 pingers: 400 queries/s)


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def _check_p99(pingers: _Pingers, baseline_until: int, during_until: int, what: str) -> None:
    """The issue's bound: p99 under P99_LIMIT_S while the long statement runs. It holds on a
    quiet machine; when the machine is busy (the pingers' own p99 before or after the long
    statement is above QUIET_P99_S, e.g. a shared box where other work starts mid-test)
    latency is the machine's, so then only the absence of a stall is checked: no query waits
    STALL_LIMIT_S (a statement holding the event loop shows as seconds)."""
    baseline = _p99(pingers.samples[:baseline_until])
    during_samples = pingers.samples[baseline_until:during_until]
    during = _p99(during_samples)
    after = _p99(pingers.samples[during_until:])
    worst = max(during_samples)
    detail = (f"p99 {during * 1000:.1f} ms while {what} (p99 before {baseline * 1000:.1f} ms, "
              f"after {after * 1000:.1f} ms, max {worst:.3f} s)")
    print(f"\n{detail}")
    assert worst < STALL_LIMIT_S, detail
    if baseline < QUIET_P99_S and after < QUIET_P99_S:
        assert during < P99_LIMIT_S, detail


class _Pingers:
    """PINGERS sessions running a point query in a loop, recording each round trip."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.samples: list[float] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(PINGERS)]
        self.conns = [psycopg.connect(dsn, autocommit=True) for _ in range(PINGERS)]
        for conn in self.conns:  # warm: connection set-up is not what is measured
            conn.execute("SELECT id FROM stall_ping WHERE id = %s", (1,)).fetchone()

    def _run(self) -> None:
        """Queries on a fixed schedule; latency counts from the scheduled start, so a stalled
        server shows as every query it delayed, not as one slow sample (coordinated omission)."""
        conn = self.conns.pop()
        try:
            scheduled = time.perf_counter()
            while not self.stop.is_set():
                scheduled += PING_INTERVAL_S
                pause = scheduled - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                row = conn.execute("SELECT id FROM stall_ping WHERE id = %s", (1,)).fetchone()
                elapsed = time.perf_counter() - scheduled
                assert row == (1,)
                with self.lock:
                    self.samples.append(elapsed)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            conn.close()

    def __enter__(self) -> _Pingers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)


def _setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS stall_ping")
        conn.execute("CREATE TABLE stall_ping (id int PRIMARY KEY)")
        conn.execute("INSERT INTO stall_ping VALUES (1)")
        conn.execute("DROP TABLE IF EXISTS stall_big")
        conn.execute("CREATE TABLE stall_big (x int)")
        conn.execute("INSERT INTO stall_big SELECT g FROM generate_series(1, 4000) g")


def _run_and_cancel(dsn: str, sql: str, run_s: float, prepare: Callable[[psycopg.Connection], None]
                    | None = None) -> tuple[str | None, float]:
    """Start ``sql`` in its own session, cancel it after ``run_s``; (SQLSTATE, cancel latency)."""
    conn = psycopg.connect(dsn, autocommit=True)
    if prepare is not None:
        prepare(conn)
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            conn.execute(sql)
            outcome["sqlstate"] = None
        except psycopg.Error as exc:
            outcome["sqlstate"] = exc.sqlstate
        outcome["ended"] = time.perf_counter()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    time.sleep(run_s)
    assert t.is_alive(), f"{sql!r} ended before it was cancelled: {outcome}"
    cancelled_at = time.perf_counter()
    conn.cancel()
    t.join(10)
    assert not t.is_alive(), f"{sql!r} still running 10 s after cancel"
    try:
        # the session is usable after the cancel
        assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        conn.close()
    return outcome["sqlstate"], float(outcome["ended"]) - cancelled_at  # type: ignore[arg-type]


LONG_STATEMENTS = {
    "sleep": "SELECT pg_sleep(30)",
    # a cross join of 16M rows: seconds of SQLite work the first time it is ever run
    "scan": "SELECT count(*) FROM stall_big a, stall_big b WHERE a.x + b.x > 3",
    # a long write (autocommit): interrupted, nothing of it stays
    "write": "INSERT INTO stall_big SELECT a.x FROM stall_big a, stall_big b",
}


@pytest.mark.parametrize("kind", sorted(LONG_STATEMENTS))
def test_long_statement_does_not_stall_other_sessions(strata: StrataProcess, kind: str) -> None:
    _setup(strata.dsn)
    with _Pingers(strata.dsn) as pingers:
        time.sleep(1.0)  # a baseline before the long statement starts
        baseline_until = len(pingers.samples)
        sqlstate, cancel_s = _run_and_cancel(strata.dsn, LONG_STATEMENTS[kind], run_s=2.0)
        time.sleep(0.3)  # the cancelled statement's tail still counts as "during"
        during_until = len(pingers.samples)
        time.sleep(AFTER_S)
    assert not pingers.errors, pingers.errors
    assert len(pingers.samples) > 150, len(pingers.samples)
    _check_p99(pingers, baseline_until, during_until, f"{kind} ran")
    assert sqlstate == "57014"
    assert cancel_s < CANCEL_LIMIT_S, f"cancel took {cancel_s:.2f} s"
    with psycopg.connect(strata.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM stall_big").fetchone() == (4000,)


def test_long_write_in_transaction_does_not_stall(strata: StrataProcess) -> None:
    """A write inside BEGIN … is never inline the first time, so it cannot hold the loop."""
    _setup(strata.dsn)
    conn = psycopg.connect(strata.dsn)
    with _Pingers(strata.dsn) as pingers:
        time.sleep(1.0)
        baseline_until = len(pingers.samples)
        started = time.perf_counter()
        conn.execute("INSERT INTO stall_big SELECT a.x FROM stall_big a, stall_big b WHERE b.x <= 1000")
        write_s = time.perf_counter() - started
        conn.rollback()
        time.sleep(0.3)
        during_until = len(pingers.samples)
        time.sleep(AFTER_S)
    conn.close()
    assert write_s > 0.3, f"the write took only {write_s:.2f} s: not long enough to show anything"
    _check_p99(pingers, baseline_until, during_until, f"a {write_s:.1f} s write ran")


def test_statement_timeout_stops_sleep_and_scan(strata_shared: StrataProcess) -> None:
    _setup(strata_shared.dsn)
    with psycopg.connect(strata_shared.dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '300ms'")
        for sql in (LONG_STATEMENTS["sleep"], LONG_STATEMENTS["scan"]):
            started = time.perf_counter()
            with pytest.raises(psycopg.errors.QueryCanceled) as info:
                conn.execute(sql)
            elapsed = time.perf_counter() - started
            assert "statement timeout" in str(info.value)
            assert elapsed < 0.3 + CANCEL_LIMIT_S, f"{sql!r} stopped after {elapsed:.2f} s"
        conn.execute("SET statement_timeout = 0")
        assert conn.execute("SELECT pg_sleep(0.05)").fetchone() == (None,)
        # in a transaction, the timeout fails the transaction as in PostgreSQL
        conn.execute("BEGIN")
        conn.execute("SET LOCAL statement_timeout = '200ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.execute("ROLLBACK")


@pytest.mark.parametrize("sql", [
    LONG_STATEMENTS["scan"],  # a literal: the simple-query shape lane tries it first
    "SELECT count(*) FROM stall_big a, stall_big b WHERE a.x <> b.x",  # no literal: no shape
])
def test_a_long_read_spends_one_inline_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              sql: str) -> None:
    """A read that runs past its inline budget on the event loop moves to a thread at once.

    Every lane that may run a read inline (the shape lane, the fast read, the general path)
    used to spend its own budget on it, and the memory of slow statements was cleared by the
    first look at it (its clock started at 0): one long read held the loop three budgets long
    (the CI run that saw a 55 ms p99 above). Counted here: budget interrupts per statement."""
    budget_hits: list[tuple[str, ...]] = []
    note_slow = Database.note_slow

    def counting(db: Database, steps: tuple[str, ...]) -> None:
        budget_hits.append(steps)
        note_slow(db, steps)

    monkeypatch.setattr(Database, "note_slow", counting)
    node = InProcessNode(StandaloneFactory(tmp_path / "data", page_cache_mb=8), max_readers=2)
    try:
        _setup(node.dsn())
        with psycopg.connect(node.dsn(), autocommit=True) as conn:
            conn.execute("SET statement_timeout = '300ms'")
            for run in range(2):
                budget_hits.clear()
                with pytest.raises(psycopg.errors.QueryCanceled):
                    conn.execute(sql)
                # the first run is stopped once by the budget and re-run on a thread (where the
                # statement_timeout ends it); the second goes to a thread straight away
                assert len(budget_hits) == (1 if run == 0 else 0), (run, budget_hits)
    finally:
        node.close()
