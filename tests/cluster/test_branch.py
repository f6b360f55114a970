"""A branch at a past LSN: old data, its own writes, and those writes survive a SIGKILL of
its compute."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from tests.cluster_support import Cluster, query, strata, wait_for


def branch_compute(cluster: Cluster, name: str) -> dict[str, Any] | None:
    st = cluster.fast_status()
    return next((c for c in st["components"] if c["name"] == f"branch-{name}"), None)


def test_branch_at_past_lsn(cluster: Cluster) -> None:
    dsn: str = cluster.fast_status()["primary_dsn"]
    query(dsn, "CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance int)")
    query(dsn, "INSERT INTO accounts VALUES (1, 'ann', 100), (2, 'bob', 200), (3, 'cid', 300)")
    lsn = query(dsn, "SELECT pg_current_wal_lsn()")[0][0]
    old = query(dsn, "SELECT id, owner, balance FROM accounts ORDER BY id")
    query(dsn, "UPDATE accounts SET balance = balance + 1000 WHERE id = 1")
    query(dsn, "DELETE FROM accounts WHERE id = 2")
    query(dsn, "INSERT INTO accounts VALUES (4, 'dee', 400)")
    new = query(dsn, "SELECT id, owner, balance FROM accounts ORDER BY id")
    assert new == [(1, "ann", 1100), (3, "cid", 300), (4, "dee", 400)]

    out = strata("branch", "create", "past", "--lsn", str(lsn), "--json", "--dir", str(cluster.dir))
    branch = json.loads(out.stdout)
    print(f"\nbranch 'past' at LSN {lsn}: ancestor_lsn {branch['ancestor_lsn_text']}")
    assert branch["ancestor"] == "main" and branch["dsn"] != dsn
    bdsn: str = branch["dsn"]
    assert wait_for(lambda: query(bdsn, "SELECT id, owner, balance FROM accounts ORDER BY id"),
                    "the branch's compute") == old

    query(bdsn, "UPDATE accounts SET balance = 0 WHERE id = 3")
    query(bdsn, "INSERT INTO accounts VALUES (10, 'branch only', 10)")
    branch_rows = query(bdsn, "SELECT id, owner, balance FROM accounts ORDER BY id")
    assert branch_rows == [(1, "ann", 100), (2, "bob", 200), (3, "cid", 0), (10, "branch only", 10)]
    assert query(dsn, "SELECT id, owner, balance FROM accounts ORDER BY id") == new

    comp = branch_compute(cluster, "past")
    assert comp is not None and comp["dsn"] == bdsn and comp["state"] == "running"
    os.kill(comp["pid"], signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(lambda: (c := branch_compute(cluster, "past")) is not None and c["pid"] != comp["pid"]
             and c["state"] == "running", "the branch's compute restarted")
    rows = wait_for(lambda: query(bdsn, "SELECT id, owner, balance FROM accounts ORDER BY id"),
                    "the restarted branch compute to answer")
    print(f"branch compute back {time.monotonic() - t0:.2f}s after SIGKILL")
    assert rows == branch_rows
    query(bdsn, "INSERT INTO accounts VALUES (11, 'after restart', 11)")
    assert query(bdsn, "SELECT count(*) FROM accounts") == [(5,)]
    assert query(dsn, "SELECT id, owner, balance FROM accounts ORDER BY id") == new
