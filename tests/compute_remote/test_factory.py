"""RemoteFactory in this process against real acceptors and a real page server: the overlay
floor, batched cold reads, a replica following the log, promotion."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import apsw

from compute.remote.factory import RemoteFactory
from tests.compute_remote.cluster import TENANT, TIMELINE, Cluster


@contextmanager
def factory(cluster: Cluster, role: str, name: str, **kw: object) -> Iterator[RemoteFactory]:
    f = RemoteFactory(role, cluster.logstore_addrs, cluster.pageserver.addr,  # type: ignore[arg-type]
                      TENANT, TIMELINE, name, **kw)  # type: ignore[arg-type]
    try:
        yield f
    finally:
        f.close()


def commit(f: RemoteFactory, conn: apsw.Connection, sql: str, *args: object) -> int:
    conn.execute(sql, args)
    ticket = f.take_commit_ticket(conn)
    assert ticket is not None
    return ticket.durable.result(10)


def balances(conn: apsw.Connection) -> dict[int, int]:
    return {int(k): int(v) for k, v in conn.execute("SELECT id, bal FROM acct")}  # type: ignore[arg-type]


def wait_until(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_overlay_floor_advances_and_stays_bounded(cluster: Cluster) -> None:
    with factory(cluster, "primary", "p1", overlay_mb=1, floor_interval_s=0.05) as f:
        w = f.connect(0, "writer")
        commit(f, w, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        limit = f.pages.overlay_limit
        peak = 0
        for i in range(400):  # ~400 commits of 2+ pages each: several times the overlay
            commit(f, w, "INSERT INTO t VALUES (?, randomblob(3000))", i)
            peak = max(peak, f.pages.overlay_bytes)
        assert peak <= limit + 16 * 4096, (peak, limit)
        start_floor = f.pages.floor
        wait_until(lambda: f.pages.floor >= f.sink.durable_lsn)  # type: ignore[union-attr]
        assert f.pages.floor > start_floor or f.pages.overlay_versions() == 0
        assert f.pages.stats.floor_moves > 0
        r = f.connect(0, "reader")
        assert r.execute("SELECT count(*), sum(length(v)) FROM t").fetchone() == (400, 1_200_000)
        r.close()
        w.close()


def test_cold_scan_uses_batched_reads(cluster: Cluster) -> None:
    with factory(cluster, "primary", "p1") as f:
        w = f.connect(0, "writer")
        commit(f, w, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        w.execute("BEGIN")
        for i in range(3000):
            w.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * 400))
        end = commit(f, w, "COMMIT")
        w.close()
    # a clean close left the commit LSN on the acceptors: the page server gets everything
    wait_until(lambda: cluster.ingested_lsn() >= end)
    with factory(cluster, "replica", "r1") as r:
        assert r.pages.floor >= end
        conn = r.connect(0, "reader")
        n_pages = int(conn.execute("PRAGMA page_count").fetchall()[0][0])  # type: ignore[arg-type]
        before = r.pages.stats.get_pages_calls
        assert conn.execute("SELECT count(*), sum(length(v)) FROM t").fetchone() == (3000, 1_200_000)
        calls = r.pages.stats.get_pages_calls - before
        assert n_pages > 300
        assert calls <= n_pages // 20, (calls, n_pages)  # not one round trip per page
        conn.close()


def test_replica_sees_whole_transactions_and_promotes(cluster: Cluster) -> None:
    accounts, total = 20, 20 * 1000
    with factory(cluster, "primary", "p1") as p:
        w = p.connect(0, "writer")
        commit(p, w, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER, pad TEXT)")
        w.execute("BEGIN")
        for i in range(accounts):
            w.execute("INSERT INTO acct VALUES (?, 1000, ?)", (i, "p" * 300))
        seeded = commit(p, w, "COMMIT")
        with factory(cluster, "replica", "r1") as r:
            assert r.role() == "replica"
            assert r.follower is not None and r.follower.wait_replay(seeded, 20)
            stop = threading.Event()
            seen: list[int] = []
            errors: list[str] = []

            def check() -> None:
                conn = r.connect(0, "reader")
                while not stop.is_set():
                    try:
                        s = conn.execute("SELECT sum(bal), count(*) FROM acct").fetchone()
                    except apsw.SQLError:  # table not replayed yet
                        continue
                    if s != (total, accounts):
                        errors.append(f"torn state {s} at {r.status().replay_lsn}")
                    seen.append(r.status().replay_lsn)
                conn.close()

            reader = threading.Thread(target=check)
            reader.start()
            rng = random.Random(5)
            last = 0
            for _ in range(150):
                a, b = rng.sample(range(accounts), 2)
                amount = rng.randint(1, 50)
                w.execute("BEGIN")
                w.execute("UPDATE acct SET bal = bal - ? WHERE id = ?", (amount, a))
                w.execute("UPDATE acct SET bal = bal + ? WHERE id = ?", (amount, b))
                last = commit(p, w, "COMMIT")
            assert r.follower is not None and r.follower.wait_replay(last, 20)
            stop.set()
            reader.join()
            assert not errors, errors[:3]
            assert len(set(seen)) > 3  # the reader saw several replay LSNs
            assert seen == sorted(seen)
            final = balances(w)
            w.close()
            rr = r.connect(0, "reader")
            assert balances(rr) == final
            assert r.status().last_replay_ts_us > 0
            names = [peer.name for peer in p.replication()]
            assert "r1" in names, names
            # The primary goes away (its proposer stops); the replica takes over.
            p.close()
            t0 = time.monotonic()
            r.promote(10)
            took = time.monotonic() - t0
            assert r.role() == "primary" and r.status().state == "writable", r.status()
            assert took < 3.0, took
            w2 = r.connect(0, "writer")
            assert balances(w2) == final
            commit(r, w2, "UPDATE acct SET bal = bal + 1 WHERE id = 0")
            assert w2.execute("SELECT bal FROM acct WHERE id = 0").fetchone() == (final[0] + 1,)
            # the old reader connection keeps working, at the new durable LSN
            assert rr.execute("SELECT sum(bal) FROM acct").fetchone() == (total + 1,)
            rr.close()
            w2.close()
