"""A control daemon that dies (SIGKILL) leaves its components serving; a new daemon adopts
them: restarted by the supervisor of `strata up --detach`, or by `strata up` when the
supervisor is gone too. Real processes; one cluster, the tests run in file order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from control.daemon import process_argv, runs_any
from tests.cluster_support import (
    Cluster,
    first_write_after_killing_the_primary,
    query,
    running_cluster,
    strata,
    wait_for,
)

FAILOVER_BOUND_S = 3.0
"""As test_cluster.test_killed_primary_fails_over_fast."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("strata-adopt")) as c:
        yield c


def _state(c: Cluster) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((c.dir / "cluster.json").read_text())
    return data


def _pids(c: Cluster) -> dict[str, int]:
    return {comp["name"]: comp["pid"] for comp in _state(c)["components"]}


def _kill_daemon_and_supervisor(c: Cluster) -> None:
    st = _state(c)
    assert runs_any(st["supervisor_pid"]) and runs_any(st["daemon_pid"])
    os.kill(st["supervisor_pid"], signal.SIGKILL)
    os.kill(st["daemon_pid"], signal.SIGKILL)
    wait_for(lambda: not runs_any(st["daemon_pid"]) and not runs_any(st["supervisor_pid"]),
             "the daemon and its supervisor to die", timeout=10)


def _cluster_processes(c: Cluster) -> list[int]:
    """Live (not zombie) processes whose command line names the cluster directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and runs_any(int(entry.name)):
            argv = process_argv(int(entry.name)) or []
            if any(str(c.dir).encode() in a for a in argv):
                found.append(int(entry.name))
    return found


def test_supervisor_restarts_a_killed_daemon_which_adopts(cluster: Cluster) -> None:
    st = _state(cluster)
    before = _pids(cluster)
    supervisor, old = st["supervisor_pid"], st["daemon_pid"]
    assert supervisor and b"supervise" in (process_argv(supervisor) or [])
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    back = wait_for(lambda: (s := _state(cluster))["daemon_pid"] not in (0, old)
                    and s["phase"] == "ready" and s, "a new daemon, ready", timeout=10)
    print(f"a new daemon ready {time.monotonic() - t0:.2f}s after SIGKILL of the old one")
    assert time.monotonic() - t0 < 10
    assert runs_any(back["daemon_pid"]) and back["supervisor_pid"] == supervisor
    assert _pids(cluster) == before  # adopted, not restarted
    assert all(runs_any(pid) for pid in before.values())
    assert "adopted 7 running component(s)" in (cluster.dir / "logs" / "control.log").read_text()
    assert cluster.status()["phase"] == "ready"


def test_up_adopts_when_daemon_and_supervisor_are_gone(cluster: Cluster) -> None:
    st = cluster.status()
    before = _pids(cluster)
    session = psycopg.connect(st["dsn"], autocommit=True, connect_timeout=5)
    try:
        session.execute("CREATE TABLE IF NOT EXISTS adopt (k int PRIMARY KEY)")
        session.execute("INSERT INTO adopt VALUES (1)")
        _kill_daemon_and_supervisor(cluster)
        gone = strata("status", "--dir", str(cluster.dir), check=False)
        assert gone.returncode != 0
        assert "is gone, 7 component(s) still running (run `strata up`" in " ".join(gone.stderr.split())
        t0 = time.monotonic()
        out = strata("up", "--detach", "--dir", str(cluster.dir)).stdout
        print(f"`strata up` adopted in {time.monotonic() - t0:.2f}s")
        assert "a new one adopts its 7 running component(s)" in " ".join(out.split())
        assert _pids(cluster) == before
        # the session opened before the daemon died goes on, and commits
        assert session.execute("SELECT count(*) FROM adopt").fetchall() == [(1,)]
        session.execute("INSERT INTO adopt VALUES (2)")
        assert query(st["dsn"], "SELECT count(*) FROM adopt") == [(2,)]
    finally:
        session.close()
    # healing goes on under the new daemon: SIGKILL the (adopted) primary
    took, primary, _ = first_write_after_killing_the_primary(
        cluster, "SELECT count(*) FROM adopt", [(2,)], "INSERT INTO adopt VALUES (3)")
    print(f"first write {took:.2f}s after SIGKILL of the adopted primary")
    assert took <= FAILOVER_BOUND_S
    wait_for(lambda: any(c["dsn"] == primary["dsn"] and c["state"] == "running"
                         for c in cluster.computes("replica")), "the dead slot back as a replica")
    text = (cluster.dir / "logs" / "control.log").read_text()
    assert f"{primary['name']}: died (exited (exit code unknown" in text


def test_a_recycled_pid_is_neither_adopted_nor_signalled(cluster: Cluster) -> None:
    wait_for(lambda: all(c["state"] == "running" for c in cluster.status()["components"]),
             "every component running")
    _kill_daemon_and_supervisor(cluster)
    st = _state(cluster)
    replica = next(c for c in st["components"] if c["role"] == "replica")
    os.killpg(replica["pid"], signal.SIGKILL)
    wait_for(lambda: not runs_any(replica["pid"]), "the replica to die", timeout=10)
    sleeper = subprocess.Popen(["sleep", "1000"])
    try:
        replica["pid"] = sleeper.pid  # as if the kernel had handed its pid to another process
        (cluster.dir / "cluster.json").write_text(json.dumps(st))
        before = _pids(cluster)
        strata("up", "--detach", "--dir", str(cluster.dir))
        after = wait_for(lambda: (p := _pids(cluster))[replica["name"]] not in (0, sleeper.pid) and p,
                         "the replica started afresh")
        assert sleeper.poll() is None  # never signalled
        assert {n: p for n, p in after.items() if n != replica["name"]} == \
               {n: p for n, p in before.items() if n != replica["name"]}
        wait_for(lambda: next(c for c in cluster.computes("replica")
                              if c["name"] == replica["name"])["state"] == "running",
                 "the fresh replica running")
        text = (cluster.dir / "logs" / "control.log").read_text()
        assert f"pid {sleeper.pid} is not {replica['name']} any more" in text
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_down_after_adoption_stops_everything(cluster: Cluster) -> None:
    st = _state(cluster)
    pids = [st["supervisor_pid"], st["daemon_pid"], *(c["pid"] for c in st["components"])]
    assert all(runs_any(p) for p in pids)
    strata("down", "--dir", str(cluster.dir))
    wait_for(lambda: not any(runs_any(p) for p in pids), "every process of the cluster to exit",
             timeout=15)
    time.sleep(2.0)  # a supervisor that restarted the daemon would have done so by now
    assert _cluster_processes(cluster) == []
    after = _state(cluster)
    assert after["phase"] == "stopped" and after["daemon_pid"] == 0 and after["supervisor_pid"] == 0
    assert all(c["pid"] == 0 for c in after["components"])
    gone = strata("status", "--dir", str(cluster.dir), check=False)
    assert "is not running" in gone.stderr
