"""A primary compute on shared storage, as a process, over psycopg."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psycopg
import pytest

from tests.compute_remote.cluster import Cluster
from tests.support import REPO, free_port


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def test_crud_survives_sigkill_and_restart(cluster: Cluster) -> None:
    primary = cluster.compute("primary", "c1").start()
    with psycopg.connect(dsn(primary.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE kv (k int PRIMARY KEY, v text)")
        for i in range(50):
            conn.execute("INSERT INTO kv VALUES (%s, %s)", (i, f"v{i}"))
        conn.execute("UPDATE kv SET v = 'changed' WHERE k < 10")
        conn.execute("DELETE FROM kv WHERE k >= 40")
        with conn.transaction():
            conn.execute("INSERT INTO kv VALUES (100, 'tx')")
            conn.execute("UPDATE kv SET v = 'tx2' WHERE k = 11")
        assert conn.execute("SELECT count(*) FROM kv").fetchone() == (41,)
    primary.kill()
    again = cluster.compute("primary", "c2").start()
    with psycopg.connect(dsn(again.port), autocommit=True) as conn:
        rows: dict[int, str] = dict(conn.execute("SELECT k, v FROM kv").fetchall())
        assert len(rows) == 41
        assert rows[0] == "changed" and rows[11] == "tx2" and rows[100] == "tx"
        assert 45 not in rows
        conn.execute("INSERT INTO kv VALUES (200, 'after')")
        assert conn.execute("SELECT v FROM kv WHERE k = 200").fetchone() == ("after",)


def test_commits_and_recent_reads_do_not_wait_for_pageserver(cluster: Cluster) -> None:
    primary = cluster.compute("primary", "c1").start()
    with psycopg.connect(dsn(primary.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (k int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES (0, 'start')")
        cluster.pageserver.signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            for i in range(1, 30):
                conn.execute("INSERT INTO t VALUES (%s, %s)", (i, f"v{i}"))
                assert conn.execute("SELECT v FROM t WHERE k = %s", (i,)).fetchone() == (f"v{i}",)
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (30,)
            assert time.monotonic() - t0 < 10
        finally:
            cluster.pageserver.signal(signal.SIGCONT)
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (30,)


def test_quorum_loss_fails_clearly_and_recovers(cluster: Cluster) -> None:
    primary = cluster.compute("primary", "c1").start()
    with psycopg.connect(dsn(primary.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (k int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        cluster.acceptors[0].kill()
        cluster.acceptors[1].kill()
        t0 = time.monotonic()
        with pytest.raises(psycopg.Error) as info:
            conn.execute("INSERT INTO t VALUES (2)")
        assert time.monotonic() - t0 < 15  # the proposer deadline (5 s) plus slack
        assert "majority" in str(info.value), info.value
        t1 = time.monotonic()
        with pytest.raises(psycopg.Error) as info:  # later writes fail fast
            conn.execute("INSERT INTO t VALUES (3)")
        assert time.monotonic() - t1 < 2
        assert "majority" in str(info.value), info.value
        cluster.acceptors[0].start()
        deadline = time.monotonic() + 30
        while True:
            try:
                conn.execute("INSERT INTO t VALUES (4)")
                break
            except psycopg.Error:
                assert time.monotonic() < deadline, primary.log_tail()
                time.sleep(0.2)
        assert conn.execute("SELECT count(*) FROM t WHERE k IN (1, 4)").fetchone() == (2,)
    # the compute was not restarted; a fresh one sees the acknowledged commits
    primary.kill()
    again = cluster.compute("primary", "c2").start()
    with psycopg.connect(dsn(again.port), autocommit=True) as conn:
        ks = {k for (k,) in conn.execute("SELECT k FROM t").fetchall()}
        assert {1, 4} <= ks and 3 not in ks


def test_bad_flags_and_missing_timeline(cluster: Cluster, tmp_path: Path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "strata", "compute", *args],
                              capture_output=True, text=True, timeout=60, cwd=REPO)

    r = run("--role", "leader")
    assert r.returncode == 2 and "--role must be primary or replica" in r.stderr
    r = run("--role", "primary", "--pageserver", cluster.pageserver.addr)
    assert r.returncode == 2 and "--logstore" in r.stderr
    args = cluster.compute_args("primary", "x", free_port())
    args[args.index("--timeline") + 1] = "nosuch"
    r = run(*args[1:])
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr


def test_deposed_primary_is_fenced(cluster: Cluster) -> None:
    old = cluster.compute("primary", "c1").start()
    with psycopg.connect(dsn(old.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (k int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        new = cluster.compute("primary", "c2").start()  # elects the next term
        with pytest.raises(psycopg.Error) as info:
            conn.execute("INSERT INTO t VALUES (2)")
        assert info.value.sqlstate in ("25006", "08007"), info.value
        with pytest.raises(psycopg.Error) as info:  # and for ever after
            conn.execute("INSERT INTO t VALUES (3)")
        assert info.value.sqlstate == "25006", info.value
        assert "term" in str(info.value.diag.message_detail or info.value)
    with psycopg.connect(dsn(new.port), autocommit=True) as conn:
        conn.execute("INSERT INTO t VALUES (4)")
        ks = {k for (k,) in conn.execute("SELECT k FROM t").fetchall()}
        assert 1 in ks and 4 in ks and 3 not in ks
