"""The page server loses its disk and every process dies: the control plane restarts them,
the page server rebuilds from object storage plus the log store, and every answer is the same."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from tests.cluster import tpcb
from tests.cluster_support import Cluster, node_status, query, wait_for

SCALE = 1
RUN_S = 4
RECOVERY_LIMIT_S = 60.0

QUERIES = (
    "SELECT count(*), sum(abalance) FROM pgbench_accounts",
    "SELECT count(*), sum(delta), min(mtime), max(mtime) FROM pgbench_history",
    "SELECT bid, bbalance FROM pgbench_branches ORDER BY bid",
    "SELECT tid, bid, tbalance FROM pgbench_tellers ORDER BY tid",
    "SELECT aid, bid, abalance FROM pgbench_accounts WHERE aid IN (1, 777, 50000, 99999, 100000) ORDER BY aid",
    "SELECT aid, abalance FROM pgbench_accounts WHERE abalance <> 0 ORDER BY aid LIMIT 50",
    "SELECT k, v FROM notes ORDER BY k",
)


def answers(dsn: str) -> list[list[tuple[Any, ...]]]:
    return [query(dsn, q) for q in QUERIES]


def main_computes(st: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in st["components"] if c["kind"] == "compute"]


def test_pageserver_rebuilds_after_losing_its_disk(cluster: Cluster, tmp_path: Path) -> None:
    dsn: str = cluster.fast_status()["primary_dsn"]
    tpcb.init(dsn, SCALE)
    rc, out, err = tpcb.start(dsn, RUN_S, tmp_path / "run").wait()
    assert rc == 0, out + err
    layers = cluster.dir / "objects" / "tenants" / "default" / "timelines" / "main" / "layers"
    uploaded = wait_for(lambda: list(layers.glob("*")), "a layer uploaded to object storage")
    query(dsn, "CREATE TABLE notes (k int PRIMARY KEY, v text)")
    query(dsn, "INSERT INTO notes VALUES (1, 'one'), (2, 'two'), (3, repeat('x', 5000))")
    expected = answers(dsn)
    assert expected[0] == [(100000, expected[0][0][1])] and expected[1][0][0] > 0
    st = cluster.fast_status()
    replica = next(c for c in main_computes(st) if c["role"] == "replica")
    wait_for(lambda: node_status(replica["dsn"])["replay_lsn"] == node_status(dsn)["durable_lsn"],
             "the replica to catch up")
    assert answers(replica["dsn"]) == expected

    pageserver = next(c for c in st["components"] if c["kind"] == "pageserver")
    old_pids = {c["name"]: c["pid"] for c in st["components"]}
    shutil.rmtree(pageserver["data_dir"])
    os.kill(pageserver["pid"], signal.SIGKILL)
    for c in main_computes(st):
        os.kill(c["pid"], signal.SIGKILL)
    t0 = time.monotonic()

    def recovered() -> dict[str, Any] | None:
        now = cluster.fast_status()
        restarted = [c for c in now["components"] if c["kind"] in ("pageserver", "compute")]
        if all(c["state"] == "running" and c["pid"] != old_pids[c["name"]] for c in restarted) \
                and any(c["role"] == "primary" and c["node_state"] == "writable" for c in restarted):
            return now
        return None

    now: dict[str, Any] = wait_for(recovered, "the page server and computes restarted",
                                   timeout=RECOVERY_LIMIT_S)
    print(f"\n{len(uploaded)} layers in object storage before the loss; page server and "
          f"{len(main_computes(now))} computes back {time.monotonic() - t0:.1f}s after "
          "losing the page server's disk")
    assert Path(pageserver["data_dir"]).is_dir()
    for c in now["components"]:
        if c["kind"] == "logstore":
            assert c["pid"] == old_pids[c["name"]]
    primary = next(c for c in main_computes(now) if c["role"] == "primary")
    assert answers(now["primary_dsn"]) == expected
    assert primary["dsn"] == now["primary_dsn"]
    for c in main_computes(now):
        if c["role"] == "replica":
            wait_for(lambda c=c: answers(c["dsn"]) == expected, f"replica {c['name']} answers")
    query(now["primary_dsn"], "INSERT INTO notes VALUES (4, 'after the rebuild')")
    assert query(now["primary_dsn"], "SELECT count(*) FROM notes") == [(4,)]
