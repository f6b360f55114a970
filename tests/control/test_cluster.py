"""End to end: `strata up --detach` runs real log store, page server and compute processes.

One cluster per module (starting one costs seconds); the tests run in file order and each
leaves the cluster serving for the next.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.cluster_support import (
    Cluster,
    distinct_ports,
    first_write_after_killing_the_primary,
    query,
    running_cluster,
    strata,
    wait_for,
)
from tests.support import REPO


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("strata-control")) as c:
        assert "psql \"postgresql://postgres:" in c.up_output  # the proxy, with the first user's password
        yield c


def test_up_then_write_and_read(cluster: Cluster) -> None:
    st = cluster.status()
    kinds = sorted(c["kind"] for c in st["components"])
    assert kinds == ["compute", "compute", "logstore", "logstore", "logstore", "pageserver", "proxy"]
    for c in st["components"]:
        assert c["state"] == "running" and c["pid"] > 0 and c["address"].startswith("127.0.0.1:")
        os.kill(c["pid"], 0)
        if c["kind"] in ("logstore", "pageserver"):
            assert Path(c["data_dir"]).is_dir() and c["role"] == ""
        elif c["kind"] == "proxy":
            assert c["data_dir"] == "" and c["address"] == st["dsn"].rsplit("@", 1)[1].split("/")[0]
            argv = Path(f"/proc/{c['pid']}/cmdline").read_bytes().split(b"\0")
            # one machine: reads pack onto a replica (the spec's default, 8 in use)
            assert argv[argv.index(b"--replica-pack") + 1] == b"8"
    primary = [c for c in st["components"] if c["role"] == "primary"]
    assert len(primary) == 1 and primary[0]["dsn"] == st["primary_dsn"]
    query(st["primary_dsn"], "CREATE TABLE kv (k int PRIMARY KEY, v text)")
    query(st["primary_dsn"], "INSERT INTO kv VALUES (1, 'one'), (2, 'two')")
    assert query(st["primary_dsn"], "SELECT k, v FROM kv ORDER BY k") == [(1, "one"), (2, "two")]
    proc = subprocess.run(["psql", st["primary_dsn"], "-Atc", "SELECT count(*) FROM kv"],
                          capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == "2", proc.stderr
    after = wait_for(lambda: (p := cluster.computes("primary")[0])["term"] >= 1 and p["lsn"] > 0
                     and p, "the primary's term and LSN in status")
    assert after["node_state"] == "writable"
    table = strata("status", "--dir", str(cluster.dir)).stdout
    assert "compute-1" in table and "logstore-3" in table
    assert st["local_dsn"] and f"local: {st['local_dsn']}" in table  # the proxy's Unix socket
    assert "strata logstore --id 1" in strata("logs", "logstore-1", "--dir", str(cluster.dir)).stdout
    nolog = strata("logs", "nosuch", "--dir", str(cluster.dir), check=False)
    assert nolog.returncode != 0 and "compute-1" in nolog.stderr
    again = strata("up", "--detach", "--dir", str(cluster.dir), check=False)
    assert again.returncode != 0 and "already running" in again.stderr


def test_rest_auth_and_validation(cluster: Cluster) -> None:
    with cluster.rest() as api:
        resp = httpx.get(f"{str(api.base_url).rstrip('/')}/v1/status")
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")
        resp = httpx.get(f"{str(api.base_url).rstrip('/')}/v1/status", headers={"Authorization": "Bearer nope"})
        assert resp.status_code == 401
        resp = api.put("/v1/replicas", json={"replicas": -1})
        assert resp.status_code == 422 and resp.json()["status"] == 422
        assert api.delete("/v1/branches/nosuch").status_code == 404
        future = api.post("/v1/branches", json={"name": "future", "lsn": 1 << 40})
        assert future.status_code == 422 and "future" in future.json()["detail"]
        assert api.get("/openapi.json").json()["info"]["title"] == "Strata admin API"
    assert cluster.status()["replicas"] == 1


def test_scale_up_serves_reads_then_down(cluster: Cluster) -> None:
    strata("scale", "--replicas", "2", "--dir", str(cluster.dir))
    replicas = cluster.computes("replica")
    assert len(replicas) == 2 and all(r["state"] == "running" for r in replicas)
    for r in replicas:
        wait_for(lambda r=r: query(r["dsn"], "SELECT count(*) FROM kv") == [(2,)],
                 f"replica {r['name']} to serve the committed rows")
    with cluster.rest() as api:
        assert api.put("/v1/replicas", json={"replicas": 1}).json() == {"replicas": 1}
    wait_for(lambda: len(cluster.computes("replica")) == 1, "scale down to 1 replica")
    gone = {r["pid"] for r in replicas} - {r["pid"] for r in cluster.computes("replica")}
    assert len(gone) == 1
    pid = gone.pop()
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), "the removed replica's process to exit")


def test_planned_failover(cluster: Cluster) -> None:
    old = cluster.status()["primary_dsn"]
    replica = cluster.computes("replica")[0]
    wait_for(lambda: query(replica["dsn"], "SELECT count(*) FROM kv") == [(2,)], "replica caught up")
    out = strata("failover", "--dir", str(cluster.dir)).stdout
    assert replica["name"] in out
    new = cluster.status()["primary_dsn"]
    assert new == replica["dsn"] and new != old
    query(new, "INSERT INTO kv VALUES (3, 'three')")
    assert query(new, "SELECT count(*) FROM kv") == [(3,)]
    assert query(new, "SELECT pg_is_in_recovery()") == [(False,)]
    back = wait_for(lambda: [c for c in cluster.computes("replica") if c["dsn"] == old
                             and c["state"] == "running"], "the old primary back as a replica")
    assert back
    wait_for(lambda: query(old, "SELECT count(*) FROM kv") == [(3,)], "old primary replaying")


def test_killed_primary_fails_over_fast(cluster: Cluster) -> None:
    took, primary, replica = first_write_after_killing_the_primary(
        cluster, "SELECT count(*) FROM kv", [(3,)], "INSERT INTO kv VALUES (4, 'four')")
    print(f"first write {took:.2f}s after SIGKILL of the primary")
    assert took <= 3.0
    assert cluster.status()["primary_dsn"] == replica["dsn"]
    wait_for(lambda: any(c["dsn"] == primary["dsn"] and c["state"] == "running"
                         for c in cluster.computes("replica")), "the dead slot back as a replica")


def test_branch_has_its_own_compute(cluster: Cluster) -> None:
    dsn = cluster.status()["primary_dsn"]
    out = strata("branch", "create", "dev", "--json", "--dir", str(cluster.dir)).stdout
    branch = json.loads(out)
    assert branch["dsn"] != dsn and branch["state"] == "running"
    assert query(branch["dsn"], "SELECT count(*) FROM kv") == [(4,)]
    query(branch["dsn"], "INSERT INTO kv VALUES (100, 'branch only')")
    query(dsn, "INSERT INTO kv VALUES (5, 'main only')")
    assert query(branch["dsn"], "SELECT max(k) FROM kv") == [(100,)]
    assert query(dsn, "SELECT max(k) FROM kv") == [(5,)]
    listed = json.loads(strata("branch", "list", "--json", "--dir", str(cluster.dir)).stdout)
    assert [b["name"] for b in listed] == ["dev"]
    dup = strata("branch", "create", "dev", "--dir", str(cluster.dir), check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    strata("branch", "delete", "dev", "--dir", str(cluster.dir))
    assert cluster.status()["branches"] == []
    with pytest.raises(psycopg.OperationalError):
        query(branch["dsn"], "SELECT 1")


def test_down_then_up_keeps_every_commit(cluster: Cluster) -> None:
    strata("down", "--dir", str(cluster.dir))
    bad = strata("status", "--dir", str(cluster.dir), check=False)
    assert bad.returncode != 0 and "not running" in bad.stderr
    cluster.up()
    dsn = cluster.status()["primary_dsn"]
    assert query(dsn, "SELECT k FROM kv ORDER BY k") == [(1,), (2,), (3,), (4,), (5,)]
    query(dsn, "INSERT INTO kv VALUES (6, 'after restart')")


def test_point_in_time_restore(cluster: Cluster) -> None:
    dsn = cluster.status()["primary_dsn"]
    lsn = query(dsn, "SELECT pg_current_wal_lsn()")[0][0]
    time.sleep(0.05)
    when = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    query(dsn, "INSERT INTO kv VALUES (7, 'after the restore point')")
    with cluster.rest() as api:
        for name, point in (("at-lsn", {"lsn": str(lsn)}), ("at-time", {"timestamp": when})):
            resp = api.post("/v1/restore", json={"name": name, **point})
            assert resp.status_code == 201, resp.text
            assert resp.json()["kind"] == "restore"
        branches = wait_for(lambda: (bs := api.get("/v1/branches").json())
                            and all(b["state"] == "running" for b in bs) and bs, "restores up")
        for b in branches:
            rows = wait_for(lambda b=b: query(b["dsn"], "SELECT max(k) FROM kv"), b["name"])
            assert rows == [(6,)], b
            assert api.delete(f"/v1/branches/{b['name']}").status_code == 204
        assert api.get("/v1/branches").json() == []
    assert query(dsn, "SELECT max(k) FROM kv") == [(7,)]


def test_frozen_primary_fails_over(cluster: Cluster) -> None:
    """A primary that stops answering without exiting (SIGSTOP here; a stuck loop or a
    paused VM alike) accepts connections and answers nothing: its status poll never
    returned, so it was never failed over. Now a poll unanswered for ``status_hang_s``
    counts as unreachable."""
    primary = next(c for c in cluster.status()["components"] if c["role"] == "primary")
    replica = cluster.computes("replica")[0]
    wait_for(lambda: query(replica["dsn"], "SELECT max(k) FROM kv") == [(7,)], "replica caught up")
    os.kill(primary["pid"], signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        def write_on_new_primary() -> bool:
            query(replica["dsn"], "INSERT INTO kv VALUES (8, 'eight')")
            return True

        wait_for(write_on_new_primary, "a write on the promoted replica", timeout=30)
        took = time.monotonic() - t0
        print(f"first write {took:.2f}s after SIGSTOP of the primary")
        assert took <= 12.0
        assert cluster.status()["primary_dsn"] == replica["dsn"]
        wait_for(lambda: not Path(f"/proc/{primary['pid']}").exists(), "the frozen primary killed")
    finally:
        if Path(f"/proc/{primary['pid']}").exists():
            os.kill(primary["pid"], signal.SIGCONT)
    wait_for(lambda: any(c["dsn"] == primary["dsn"] and c["state"] == "running"
                         for c in cluster.computes("replica")), "the frozen slot back as a replica")
    wait_for(lambda: query(primary["dsn"], "SELECT max(k) FROM kv") == [(8,)], "it replays")


def test_frozen_log_store_node_and_page_server_are_restarted(cluster: Cluster) -> None:
    """A frozen log store node or page server (SIGSTOP: alive, accepting connections,
    answering nothing) used to stay frozen forever. Their liveness probes go unanswered
    for ``liveness_hang_s`` (10 s): both are SIGKILLed and restarted. Commits go on while
    they are frozen (two log store nodes of three answer), none acknowledged is lost, and
    afterwards a new compute reads its pages from the restarted page server."""
    st = cluster.fast_status()
    dsn = st["primary_dsn"]
    frozen = {c["name"]: c["pid"] for c in st["components"] if c["name"] in ("logstore-2", "pageserver-1")}
    query(dsn, "CREATE TABLE frozen (k int PRIMARY KEY)")
    acked: list[int] = []

    def commit() -> None:
        k = len(acked) + 1
        query(dsn, "INSERT INTO frozen VALUES (%s)", (k,))
        acked.append(k)

    for pid in frozen.values():
        os.kill(pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        def replaced() -> bool:
            commit()
            now = {c["name"]: c for c in cluster.fast_status()["components"]}
            return all(now[n]["pid"] != pid and now[n]["state"] == "running" for n, pid in frozen.items())

        wait_for(replaced, "the frozen log store node and page server replaced", timeout=30)
        took = time.monotonic() - t0
        print(f"both running again {took:.2f}s after SIGSTOP; {len(acked)} commits meanwhile")
        assert 10.0 <= took <= 20.0
        assert not any(Path(f"/proc/{pid}").exists() for pid in frozen.values())
    finally:
        for pid in frozen.values():
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGCONT)
    control_log = (cluster.dir / "logs" / "control.log").read_text()
    for name in frozen:
        assert f"{name}: hung: no answer to liveness probes for 1" in control_log
    assert len(acked) >= 5  # commits went on during the freeze
    commit()
    assert query(dsn, "SELECT k FROM frozen ORDER BY k") == [(k,) for k in acked]
    with cluster.rest() as api:  # a new compute: every page it reads comes from the page server
        resp = api.post("/v1/branches", json={"name": "afterfreeze"})
        assert resp.status_code == 201, resp.text
        branch = resp.json()
        try:
            assert wait_for(lambda: query(branch["dsn"], "SELECT count(*) FROM frozen"),
                            "the branch compute reads") == [(len(acked),)]
        finally:
            assert api.delete("/v1/branches/afterfreeze").status_code == 204


def test_status_without_a_cluster(tmp_path: Path) -> None:
    proc = strata("status", "--dir", str(tmp_path / "none"), check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("error: no cluster in")
    assert len(proc.stderr.strip().splitlines()) == 1
    bad = strata("up", "--dir", str(tmp_path / "x"), "--replicas", "-1", check=False)
    assert bad.returncode != 0 and "replicas" in bad.stderr
    assert not (tmp_path / "x" / "cluster.json").exists()


def test_foreground_up_stops_on_ctrl_c(tmp_path: Path) -> None:
    cdir = tmp_path / "fg"
    logstore, fast, compute, pageserver, rest, proxy = distinct_ports()
    flags = ["--logstore-port", str(logstore), "--logstore-fast-port", str(fast),
             "--pageserver-port", str(pageserver), "--compute-port", str(compute), "--rest-port", str(rest),
             "--proxy-port", str(proxy)]
    proc = subprocess.Popen([sys.executable, "-m", "strata", "up", "--dir", str(cdir),
                             "--replicas", "0", *flags], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops the cluster" in line:
                break
        assert any("psql \"postgresql://" in x for x in lines), "".join(lines)
        pids = [c["pid"] for c in json.loads((cdir / "cluster.json").read_text())["components"]]
        assert len(pids) == 6 and all(pids)  # 3 log store nodes, page server, primary, proxy
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        state = json.loads((cdir / "cluster.json").read_text())
        assert state["phase"] == "stopped"
        assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            strata("down", "--dir", str(cdir), check=False)
