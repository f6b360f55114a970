"""TPC-B (pgbench -s 10) against a real cluster: a killed primary, log store faults, a
replica under load. The tests share one initialized cluster and run in file order."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cluster import tpcb
from tests.cluster_support import Cluster, node_status, query, wait_for

SCALE = 10
FAILOVER_RUN_S = 20
KILL_AFTER_S = 7
FAILOVER_LIMIT_S = 10.0
FAILOVER_TARGET_S = 3.0
FAULT_RUN_S = 12
ACCEPTOR_KILL_AFTER_S = 3
RESUME_LIMIT_S = 10.0
LOAD_RUN_S = 10
CATCH_UP_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def bench(cluster: Cluster) -> str:
    """`pgbench -i -s 10` on the primary; returns its DSN."""
    dsn: str = cluster.fast_status()["primary_dsn"]
    t0 = time.monotonic()
    tpcb.init(dsn, SCALE)
    print(f"\npgbench -i -s {SCALE}: {time.monotonic() - t0:.1f}s")
    query(dsn, "CREATE TABLE probe (note text)")
    return dsn


def component(st: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in st["components"] if c["name"] == name)


def main_computes(st: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [c for c in st["components"] if c["kind"] == "compute" and c["timeline"] == "main"
            and c["role"] == role and c["state"] == "running"]


def caught_up_replica(cluster: Cluster) -> dict[str, Any]:
    """A running replica whose replay LSN equals the primary's durable LSN."""
    def check() -> dict[str, Any] | None:
        st = cluster.fast_status()
        primary = main_computes(st, "primary")
        for r in main_computes(st, "replica"):
            if primary and r["lsn"] is not None and r["lsn"] == primary[0]["lsn"]:
                return r
        return None
    replica: dict[str, Any] = wait_for(check, "a caught-up replica")
    return replica


def test_primary_killed_mid_tpcb(cluster: Cluster, bench: str, tmp_path: Path) -> None:
    st = cluster.fast_status()
    primary = main_computes(st, "primary")[0]
    assert primary["dsn"] == st["primary_dsn"]
    before = tpcb.assert_invariant(st["primary_dsn"])
    run = tpcb.start(st["primary_dsn"], FAILOVER_RUN_S, tmp_path / "failover")
    time.sleep(KILL_AFTER_S)
    assert run.proc.poll() is None, run.wait()
    os.kill(primary["pid"], signal.SIGKILL)
    t0 = time.monotonic()

    def first_write() -> str:
        dsn: str = cluster.fast_status()["primary_dsn"]
        query(dsn, "INSERT INTO probe VALUES ('after failover')")
        return dsn

    new_dsn: str = wait_for(first_write, "a write on the new primary's DSN", timeout=30)
    took = time.monotonic() - t0
    print(f"\nfailover: first write on the new primary {took:.2f}s after SIGKILL "
          f"(target {FAILOVER_TARGET_S}s, limit {FAILOVER_LIMIT_S}s)")
    assert new_dsn != primary["dsn"]
    rc, out, err = run.wait()
    acked = run.acknowledged()
    rows = tpcb.assert_invariant(new_dsn) - before
    print(f"pgbench exit {rc} (non-zero expected: its server died); acknowledged {acked}, "
          f"history rows added {rows}")
    assert acked > 0, out + err
    assert acked <= rows <= acked + tpcb.CLIENTS
    assert took <= FAILOVER_LIMIT_S
    assert query(new_dsn, "SELECT pg_is_in_recovery()") == [(False,)]
    assert cluster.status()["primary_dsn"] == new_dsn


def test_logstore_faults_during_tpcb(cluster: Cluster, bench: str, tmp_path: Path) -> None:
    dsn: str = wait_for(lambda: (st := cluster.fast_status())["phase"] == "ready"
                        and main_computes(st, "primary")
                        and main_computes(st, "primary")[0]["node_state"] == "writable"
                        and st["primary_dsn"], "a writable primary")
    before = tpcb.assert_invariant(dsn)
    victim = component(cluster.fast_status(), "logstore-1")
    run = tpcb.start(dsn, FAULT_RUN_S, tmp_path / "acceptor-kill")
    time.sleep(ACCEPTOR_KILL_AFTER_S)
    assert run.proc.poll() is None, run.wait()
    os.kill(victim["pid"], signal.SIGKILL)
    rc, out, err = run.wait()
    acked = run.acknowledged()
    rows = tpcb.assert_invariant(dsn) - before
    print(f"\none acceptor SIGKILLed under TPC-B: pgbench exit {rc}, acknowledged {acked}, "
          f"history rows added {rows}")
    assert rc == 0, out + err
    assert "number of failed transactions: 0 " in out, out
    assert "error" not in err.lower(), err
    assert rows == acked > 0
    wait_for(lambda: (c := component(cluster.fast_status(), "logstore-1"))["state"] == "running"
             and c["pid"] != victim["pid"], "logstore-1 restarted by the control plane")

    replica = caught_up_replica(cluster)
    replica_sums = tpcb.sums(replica["dsn"])
    st = cluster.fast_status()
    frozen = [component(st, "logstore-1")["pid"], component(st, "logstore-2")["pid"]]
    try:
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(psycopg.Error) as first:
            query(dsn, "INSERT INTO probe VALUES ('no quorum')")
        failed_after = time.monotonic() - t0
        with pytest.raises(psycopg.Error) as second:
            query(dsn, "INSERT INTO probe VALUES ('no quorum again')")
        for exc in (first.value, second.value):
            text = f"{exc.diag.message_primary} {exc.diag.message_detail}".lower()
            print(f"quorum lost: SQLSTATE {exc.sqlstate}: {exc.diag.message_primary}")
            assert exc.sqlstate in ("57P03", "08007"), exc
            assert "log store" in text and ("quorum" in text or "majority" in text), text
        assert second.value.sqlstate == "57P03"
        print(f"first write failed after {failed_after:.2f}s")
        assert tpcb.sums(replica["dsn"]) == replica_sums
        a, b, t, d, _ = replica_sums
        assert a == b == t == d
        os.kill(frozen[0], signal.SIGCONT)
        t0 = time.monotonic()
        wait_for(lambda: query(dsn, "INSERT INTO probe VALUES ('quorum back')") == [],
                 "a write after one acceptor thawed", timeout=30)
        took = time.monotonic() - t0
        print(f"writes resumed {took:.2f}s after SIGCONT of one acceptor")
        assert took <= RESUME_LIMIT_S
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    tpcb.assert_invariant(dsn)


def test_replica_consistent_under_load(cluster: Cluster, bench: str, tmp_path: Path) -> None:
    replica = caught_up_replica(cluster)
    dsn: str = cluster.fast_status()["primary_dsn"]
    run = tpcb.start(dsn, LOAD_RUN_S, tmp_path / "replica-load")
    seen: set[tuple[int, ...]] = set()
    lags: list[Any] = []
    checks = 0
    with psycopg.connect(replica["dsn"], autocommit=True, connect_timeout=3) as conn:
        while run.proc.poll() is None:
            if checks % 2 == 0:
                row = conn.execute(tpcb.INVARIANT_SQL).fetchone()
                assert row is not None
                sums = tuple(int(x) for x in row)
            else:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                parts = [conn.execute(f"SELECT coalesce(sum({col}), 0) FROM {table}").fetchone()
                         for col, table in (("abalance", "pgbench_accounts"),
                                            ("bbalance", "pgbench_branches"),
                                            ("tbalance", "pgbench_tellers"),
                                            ("delta", "pgbench_history"))]
                rows = conn.execute("SELECT count(*) FROM pgbench_history").fetchone()
                conn.execute("COMMIT")
                sums = tuple(int(p[0]) for p in (*parts, rows) if p is not None)
            checks += 1
            a, b, t, d, _ = sums
            assert a == b == t == d, f"torn state on the replica (check {checks}): {sums}"
            seen.add(sums)
            if checks % 4 == 0:
                lags.append(component(cluster.fast_status(), replica["name"])["lag_bytes"])
    rc, out, err = run.wait()
    assert rc == 0 and "number of failed transactions: 0 " in out, out + err
    print(f"\nreplica under TPC-B: {checks} invariant checks, {len(seen)} distinct states, "
          f"lag_bytes samples {lags}")
    assert checks >= 5 and len(seen) >= 2
    assert lags and all(isinstance(x, int) and x >= 0 for x in lags)

    t0 = time.monotonic()

    def caught_up() -> bool:
        p = node_status(dsn)
        r = node_status(replica["dsn"])
        return bool(r["replay_lsn"] == p["durable_lsn"])

    wait_for(caught_up, "the replica's replay LSN to reach the primary's durable LSN",
             timeout=CATCH_UP_LIMIT_S)
    print(f"replica caught up {time.monotonic() - t0:.2f}s after pgbench stopped")
    assert tpcb.sums(replica["dsn"]) == tpcb.sums(dsn)
    st = wait_for(lambda: (s := cluster.status()) and component(s, replica["name"])["lag_bytes"] == 0
                  and s, "status --json to report lag_bytes 0", timeout=CATCH_UP_LIMIT_S * 2)
    r = component(st, replica["name"])
    p = main_computes(st, "primary")[0]
    assert isinstance(r["lag_bytes"], int) and r["lag_bytes"] == 0 and r["lsn"] == p["lsn"]
