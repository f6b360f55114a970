"""The compute's busy polling (strata/busypoll.py): on by default from the CLI, answers are the
same with it, and a bad STRATA_BUSY_POLL_US is a one-line usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from compute.pgwire.server import ServerConfig
from compute.standalone import StandaloneFactory
from strata.busypoll import ENV
from tests.compute.inprocess import InProcessNode

REPO = Path(__file__).resolve().parents[2]


def test_polling_server_answers_as_before(tmp_path: Path) -> None:
    node = InProcessNode(StandaloneFactory(tmp_path / "data", page_cache_mb=8), max_readers=2,
                         config=ServerConfig(port=0, busy_poll_us=500))
    try:
        with psycopg.connect(node.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (k int PRIMARY KEY, v text)")
            for k in range(200):
                conn.execute("INSERT INTO t VALUES (%s, %s)", (k, f"v{k}"))
            with conn.transaction():
                conn.execute("UPDATE t SET v = v || '!' WHERE k < 100")
            rows = conn.execute("SELECT k, v FROM t WHERE k IN (0, 99, 100) ORDER BY k").fetchall()
            assert rows == [(0, "v0!"), (99, "v99!"), (100, "v100")]
            assert sum(conn.execute("SELECT k FROM t WHERE k = %s", (k,)).fetchone()[0]  # type: ignore[index]
                       for k in range(200)) == sum(range(200))
        poll = node.server.busy_poll
        assert poll is not None and poll.window_s == 500e-6
        assert poll.stats.polls_started > 0
    finally:
        node.close()


def test_zero_turns_polling_off(tmp_path: Path) -> None:
    node = InProcessNode(StandaloneFactory(tmp_path / "data", page_cache_mb=8), max_readers=2,
                         config=ServerConfig(port=0, busy_poll_us=0))
    try:
        with psycopg.connect(node.dsn(), autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert node.server.busy_poll is None
    finally:
        node.close()


def test_bad_window_is_a_usage_error(tmp_path: Path) -> None:
    env = dict(os.environ, **{ENV: "fast"})
    done = subprocess.run(
        [sys.executable, "-m", "strata", "compute", "--standalone", "--listen", "127.0.0.1:0",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and ENV in lines[0] and "'fast'" in lines[0], done.stderr
