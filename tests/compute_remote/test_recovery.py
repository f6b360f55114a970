"""The compute's background loops heal themselves or end the process loudly.

Real processes: a replica keeps replaying the primary's commits across a restart of all
three acceptors. In-process: the log follower retries a failing stream with backoff and
resumes at its position; a log gap on every acceptor (LsnGapError) is fatal with a clear
message; the primary's proposer watchdog reports a dead or stalled event loop; the fatal
hook exits the process non-zero with the message on stderr.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg

from compute.remote.factory import FATAL_EXIT_CODE, ProposerWatchdog
from compute.remote.follower import Follower
from logstore.errors import LsnGapError
from strata.wal import WalRecord
from tests.compute_remote.cluster import Cluster
from tests.support import REPO


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def retry(conn: psycopg.Connection[Any], sql: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute(sql)
            return
        except psycopg.Error:
            assert time.monotonic() < deadline, sql
            time.sleep(0.2)


def wait_count(conn: psycopg.Connection[Any], n: int, log: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while conn.execute("SELECT count(*) FROM t").fetchone() != (n,):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)


def test_replica_replays_across_a_restart_of_every_acceptor(cluster: Cluster) -> None:
    primary = cluster.compute("primary", "c1").start()
    replica = cluster.compute("replica", "r1").start()
    with psycopg.connect(dsn(primary.port), autocommit=True) as pconn, \
            psycopg.connect(dsn(replica.port), autocommit=True) as rconn:
        pconn.execute("CREATE TABLE t (k int PRIMARY KEY)")
        pconn.execute("INSERT INTO t VALUES (1)")
        retry(rconn, "SELECT 1 FROM t")
        wait_count(rconn, 1, replica.log_tail())

        for a in cluster.acceptors:
            a.kill()
        time.sleep(1.0)  # the replica's stream fails against dead acceptors for a while
        for a in cluster.acceptors:
            a.start(wait=False)
        for a in cluster.acceptors:
            assert a.proc is not None
            from tests.support import wait_for_port
            wait_for_port(a.port, a.proc, 30)

        retry(pconn, "INSERT INTO t VALUES (2)")
        for k in range(3, 13):
            pconn.execute(f"INSERT INTO t VALUES ({k})")
        wait_count(rconn, 12, replica.log_tail())
        assert replica.alive() and primary.alive()
        row = rconn.execute("SELECT strata_node_status()").fetchone()
        assert row is not None and "read-only" in str(row[0]), row


# ---------------------------------------------------------------------- in-process


class FakePages:
    """What the follower calls on RemotePages while replaying commits."""

    def __init__(self) -> None:
        self.inserted: list[int] = []

    def insert(self, end: int, pages: list[Any], db_sizes: Any) -> None:
        self.inserted.append(end)


def commits(n: int) -> list[tuple[int, int, bytes]]:
    out, lsn = [], 0
    for i in range(n):
        payload = WalRecord(i + 1, True, 1_700_000_000_000_000 + i, ((0, 1),), ()).encode()
        out.append((lsn, lsn + len(payload), payload))
        lsn += len(payload)
    return out


def test_follower_retries_with_backoff_and_resumes_at_its_position() -> None:
    recs = commits(10)
    opened: list[tuple[float, int]] = []
    fatal: list[str] = []

    def open_stream(from_lsn: int) -> AsyncIterator[tuple[int, int, bytes]]:
        opened.append((time.monotonic(), from_lsn))
        attempt = len(opened)

        async def gen() -> AsyncIterator[tuple[int, int, bytes]]:
            todo = [r for r in recs if r[0] >= from_lsn]
            if attempt == 1:
                for r in todo[:4]:
                    yield r
                raise ConnectionError("acceptors restarting")
            if attempt < 6:
                raise ConnectionError("acceptors restarting")
            for r in todo:
                yield r
            await asyncio.sleep(3600)

        return gen()

    pages = FakePages()
    f = Follower(open_stream, pages, 0, on_fatal=fatal.append)  # type: ignore[arg-type]
    f.start()
    try:
        assert f.wait_replay(recs[-1][1], 20), (f.position, f.last_error, opened)
        assert [lsn for _, lsn in opened] == [0] + [recs[4][0]] * 5
        gaps = [b[0] - a[0] for a, b in zip(opened, opened[1:], strict=False)]
        assert gaps[-1] > gaps[1] * 3, gaps  # doubling (the first pause is after progress)
        assert pages.inserted == [e for _, e, _ in recs]  # each commit once, in order
        assert not fatal and not f.failed and f.last_error == ""
    finally:
        f.close()


def test_follower_gap_everywhere_is_fatal_with_a_clear_message() -> None:
    fatal: list[str] = []
    done = threading.Event()

    def open_stream(from_lsn: int) -> AsyncIterator[tuple[int, int, bytes]]:
        async def gen() -> AsyncIterator[tuple[int, int, bytes]]:
            raise LsnGapError(f"no acceptor holds LSN {from_lsn:#x} any more")
            yield (0, 0, b"")  # pragma: no cover

        return gen()

    def on_fatal(msg: str) -> None:
        fatal.append(msg)
        done.set()

    f = Follower(open_stream, FakePages(), 4096, on_fatal=on_fatal)  # type: ignore[arg-type]
    f.start()
    try:
        assert done.wait(10)
        assert len(fatal) == 1 and "LSN 4096" in fatal[0] and "restart" in fatal[0], fatal
        assert f.failed == fatal[0]
    finally:
        f.close()


class LoopOwner:
    """Stands in for SyncProposer: an event loop run forever by its own thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()


def test_watchdog_reports_a_dead_and_a_stalled_proposer_loop() -> None:
    dead = LoopOwner()
    got: list[str] = []
    done = threading.Event()

    def on_fatal(msg: str) -> None:
        got.append(msg)
        done.set()

    dog = ProposerWatchdog(dead, on_fatal, interval_s=0.05, stall_s=5).start()  # type: ignore[arg-type]
    time.sleep(0.3)
    assert not got  # a live loop is fine
    dead._loop.call_soon_threadsafe(dead._loop.stop)  # the thread ends
    assert done.wait(5) and "thread died" in got[0], got
    dog.stop()

    stalled = LoopOwner()
    got.clear()
    done.clear()
    dog = ProposerWatchdog(stalled, on_fatal, interval_s=0.05, stall_s=0.5).start()  # type: ignore[arg-type]
    stalled._loop.call_soon_threadsafe(time.sleep, 2.0)  # blocks the loop
    assert done.wait(5) and "has not run" in got[0], got
    dog.stop()

    quiet = LoopOwner()
    got.clear()
    dog = ProposerWatchdog(quiet, on_fatal, interval_s=0.05, stall_s=5).start()  # type: ignore[arg-type]
    dog.stop()  # a clean close stops the watchdog first
    quiet._loop.call_soon_threadsafe(quiet._loop.stop)
    time.sleep(0.3)
    assert not got


def test_fatal_exit_is_non_zero_and_says_why() -> None:
    code = ("import threading\n"
            "from compute.remote.factory import exit_process\n"
            "t = threading.Thread(target=exit_process, args=('the follower cannot resume',))\n"
            "t.start(); t.join(); import time; time.sleep(10)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, cwd=REPO)
    assert res.returncode == FATAL_EXIT_CODE
    assert "fatal: the follower cannot resume" in res.stderr
