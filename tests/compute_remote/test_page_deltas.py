"""Page deltas on a real cluster (3 acceptors, a page server fed from the log store):
the primary's sink sends deltas, the page server materializes them, a replica composes
them lazily. The primary's, the replica's and the page server's pages agree at the same
LSN through a workload with multi-record transactions, a database that shrinks and grows
again, a page server restart and a replica restart; a SIGKILLed primary's replica is
promoted and goes on sending deltas on what it replayed."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import apsw
import psycopg
import pytest

from compute.remote import wal as remote_wal
from compute.remote.factory import RemoteFactory
from compute.remote.wal import PAGE_DELTAS_ENV
from pageserver.client import PageServerClient
from strata.storage import StorageError
from strata.wal import PageDelta
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


def wait_until(cond: object, timeout: float = 30.0) -> None:
    """Until ``cond()``; a StorageError (a page server coming back: gRPC's reconnect
    backoff) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():  # type: ignore[operator]
                return
        except StorageError:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Workload:
    """TPC-B-like small updates, inserts, deletes, whole-table updates (several records per
    transaction) and a shrink by VACUUM; ``model`` is what the table must hold."""

    def __init__(self, f: RemoteFactory, w: apsw.Connection, seed: int) -> None:
        self.f, self.w = f, w
        self.rng = random.Random(seed)
        self.model: dict[int, int] = {}
        self.next_id = 0
        self.last = 0

    def seed(self, n: int) -> None:
        self.w.execute("BEGIN")
        for _ in range(n):
            self.w.execute("INSERT INTO acct VALUES (?, 0, ?)", (self.next_id, "p" * 150))
            self.model[self.next_id] = 0
            self.next_id += 1
        self.last = commit(self.f, self.w, "COMMIT")

    def step(self) -> None:
        rng, w = self.rng, self.w
        r = rng.random()
        if r < 0.7 and len(self.model) >= 2:  # a transfer: two rows, two leaves + page 1
            a, b = rng.sample(sorted(self.model), 2)
            amount = rng.randint(1, 100)
            w.execute("BEGIN")
            w.execute("UPDATE acct SET bal = bal - ? WHERE id = ?", (amount, a))
            w.execute("UPDATE acct SET bal = bal + ? WHERE id = ?", (amount, b))
            self.model[a] -= amount
            self.model[b] += amount
            self.last = commit(self.f, w, "COMMIT")
        elif r < 0.85:
            self.last = commit(self.f, w, "INSERT INTO acct VALUES (?, 7, ?)", self.next_id,
                               "i" * rng.randint(10, 400))
            self.model[self.next_id] = 7
            self.next_id += 1
        elif r < 0.95 and self.model:
            k = rng.choice(sorted(self.model))
            self.last = commit(self.f, w, "DELETE FROM acct WHERE id = ?", k)
            del self.model[k]
        else:  # every leaf changes: a transaction of several records
            self.last = commit(self.f, w, "UPDATE acct SET bal = bal + 1")
            self.model = {k: v + 1 for k, v in self.model.items()}

    def run(self, n: int) -> int:
        for _ in range(n):
            self.step()
        return self.last

    def shrink(self) -> int:
        keep = sorted(self.model)[: len(self.model) // 4]
        commit(self.f, self.w, f"DELETE FROM acct WHERE id > {keep[-1]}")
        self.model = {k: self.model[k] for k in keep}
        self.last = commit(self.f, self.w, "VACUUM")
        return self.last


def table(conn: apsw.Connection) -> dict[int, int]:
    return {int(k): int(v) for k, v in conn.execute("SELECT id, bal FROM acct")}  # type: ignore[arg-type]


def pages_at(f: RemoteFactory, lsn: int) -> list[bytes | None]:
    n = f.pages.db_size(0, lsn)
    return [f.pages.get_page(0, p, lsn) for p in range(n)]


def check_agree(cluster: Cluster, p: RemoteFactory, r: RemoteFactory, wl: Workload) -> None:
    """Replica and primary at the primary's last commit: the same rows, the same pages, and
    the page server (once it ingested that LSN) the same pages too."""
    lsn = wl.last
    assert r.follower is not None and r.follower.wait_replay(lsn, 30)
    rconn = r.connect(0, "reader")
    try:
        if r.status().replay_lsn == lsn:
            assert table(rconn) == wl.model
    finally:
        rconn.close()
    assert table(wl.w) == wl.model
    mine = pages_at(p, lsn)
    assert pages_at(r, lsn) == mine
    wait_until(lambda: cluster.ingested_lsn() >= lsn)
    with PageServerClient(cluster.pageserver.addr) as ps:
        assert ps.db_size(TENANT, TIMELINE, 0, lsn) == len(mine)
        assert ps.get_pages(TENANT, TIMELINE, 0, list(range(len(mine))), lsn) == mine


@pytest.mark.parametrize("bases_from_cache", [False, True])
def test_primary_replica_and_pageserver_agree(cluster: Cluster, monkeypatch: pytest.MonkeyPatch,
                                              bases_from_cache: bool) -> None:
    monkeypatch.setenv(PAGE_DELTAS_ENV, "on")
    monkeypatch.setattr(remote_wal, "DELTA_BASES_FROM_CACHE", bases_from_cache)
    with factory(cluster, "primary", "p1", floor_interval_s=0.5) as p:
        assert p.sink is not None and p.sink.page_deltas
        w = p.connect(0, "writer")
        commit(p, w, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER, pad TEXT)")
        wl = Workload(p, w, seed=16)
        wl.seed(1500)  # ~70 leaves: a whole-table update is several records
        r = RemoteFactory("replica", cluster.logstore_addrs, cluster.pageserver.addr,
                          TENANT, TIMELINE, "r1", floor_interval_s=0.05)
        try:
            seeded = dataclasses.replace(p.sink.stats)
            wl.run(60)
            check_agree(cluster, p, r, wl)
            stats = p.sink.stats
            whole = stats.pages_whole - seeded.pages_whole
            deltas = stats.pages_delta - seeded.pages_delta
            assert deltas > (5 if bases_from_cache else 1) * whole, stats
            # a few hundred bytes per commit, not pages (the whole-table updates included)
            sent = stats.payload_bytes - seeded.payload_bytes
            assert sent < (stats.commits - seeded.commits) * 4096, (stats, seeded)
            assert r.pages.stats.deltas_applied > 0

            # the page server restarts mid-workload (commits never wait for it)
            cluster.pageserver.kill()
            for _ in range(8):  # hot pages only: the primary reads them from its caches
                a, b = sorted(wl.model)[:2]
                w.execute("BEGIN")
                w.execute("UPDATE acct SET bal = bal - 1 WHERE id = ?", (a,))
                w.execute("UPDATE acct SET bal = bal + 1 WHERE id = ?", (b,))
                wl.model[a] -= 1
                wl.model[b] += 1
                wl.last = commit(p, w, "COMMIT")
            cluster.pageserver.start()
            wl.run(30)
            check_agree(cluster, p, r, wl)

            # a replica restart mid-workload: the new one starts at the page server's LSN
            r.close()
            wl.run(10)
            r = RemoteFactory("replica", cluster.logstore_addrs, cluster.pageserver.addr,
                              TENANT, TIMELINE, "r2", floor_interval_s=0.05)
            wl.run(30)
            check_agree(cluster, p, r, wl)

            # the database shrinks, then grows again: pages past the old end go whole
            wl.shrink()
            wl.run(10)
            check_agree(cluster, p, r, wl)
            whole = p.sink.stats.pages_whole
            wl.seed(400)
            assert p.sink.stats.pages_whole > whole
            wl.run(20)
            check_agree(cluster, p, r, wl)
        finally:
            r.close()
        w.close()


def test_replica_composes_lazily_and_floor_drops_what_it_cannot(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay stores deltas as they come (no page server call); a read composes them; the
    floor moving past a delta whose base is not cached drops the page from the base cache,
    and the next read fetches it at the new floor."""
    monkeypatch.setenv(PAGE_DELTAS_ENV, "on")
    with factory(cluster, "primary", "p1") as p:
        w = p.connect(0, "writer")
        commit(p, w, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER, pad TEXT)")
        wl = Workload(p, w, seed=3)
        wl.seed(300)
        with factory(cluster, "replica", "r1", floor_interval_s=3600) as r:
            assert r.follower is not None and r.follower.wait_replay(wl.last, 30)
            calls = r.backend.calls
            wl.run(40)
            assert r.follower.wait_replay(wl.last, 30)
            assert r.backend.calls == calls  # replay fetched nothing
            deltas = sum(isinstance(v, PageDelta) for vs in r.pages._overlay.values()
                         for _, v in vs)
            assert deltas > 20
            assert pages_at(r, wl.last) == pages_at(p, wl.last)
            assert r.pages.stats.deltas_applied > 0
            # the floor passes every delta; nothing of the base was cached for half of them
            wl.run(20)
            assert r.follower.wait_replay(wl.last, 30)
            keys = list(r.pages._base)
            for k in keys[::2]:
                r.pages._base.pop(k)
            wait_until(lambda: cluster.ingested_lsn() >= wl.last)
            r.pages.poll_ingested()
            assert r.pages.advance_floor(force=True) == wl.last
            assert r.pages.overlay_versions() == 0
            assert pages_at(r, wl.last) == pages_at(p, wl.last)
        w.close()


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def lsn_of(conn: psycopg.Connection) -> int:  # type: ignore[type-arg]
    row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def test_failover_new_primary_sends_deltas(cluster: Cluster,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PAGE_DELTAS_ENV, "on")
    primary = cluster.compute("primary", "c1").start()
    replica = cluster.compute("replica", "r1").start()
    rng = random.Random(9)
    model: dict[int, int] = {}

    def transfers(conn: psycopg.Connection, n: int, hot: bool = False) -> None:  # type: ignore[type-arg]
        for _ in range(n):
            a, b = (0, 1) if hot else rng.sample(sorted(model), 2)
            with conn.transaction():
                conn.execute("UPDATE acct SET bal = bal - 5 WHERE id = %s", (a,))
                conn.execute("UPDATE acct SET bal = bal + 5 WHERE id = %s", (b,))
            model[a] -= 5
            model[b] += 5

    with psycopg.connect(dsn(primary.port), autocommit=True) as conn:
        conn.execute("CREATE TABLE acct (id int PRIMARY KEY, bal int, pad text)")
        with conn.transaction():
            for i in range(400):
                conn.execute("INSERT INTO acct VALUES (%s, 100, %s)", (i, "x" * 100))
                model[i] = 100
        transfers(conn, 60)
        before = lsn_of(conn)
        transfers(conn, 30, hot=True)
        # page 1 and a leaf per commit: ~8 KiB whole, ~0.2 KiB as deltas (a page is whole
        # when the overlay floor passed it since its last change: every 0.2 s at most)
        assert (lsn_of(conn) - before) / 30 < 3000
    primary.kill()  # SIGKILL right after acknowledged commits: the replica may lag
    with psycopg.connect(dsn(replica.port), autocommit=True) as conn:
        conn.execute("SELECT pg_promote()")
        assert dict(conn.execute("SELECT id, bal FROM acct").fetchall()) == model
        transfers(conn, 1, hot=True)  # whole pages: the floor passed them in the catch-up
        before = lsn_of(conn)
        transfers(conn, 30, hot=True)
        assert (lsn_of(conn) - before) / 30 < 3000  # deltas again
        transfers(conn, 40)
        assert dict(conn.execute("SELECT id, bal FROM acct").fetchall()) == model
        end = lsn_of(conn)
    wait_until(lambda: cluster.ingested_lsn() >= end)
    # a fresh replica, and then a fresh primary, read everything from the page server
    r2 = cluster.compute("replica", "r2").start()
    with psycopg.connect(dsn(r2.port), autocommit=True) as conn:
        assert dict(conn.execute("SELECT id, bal FROM acct").fetchall()) == model
    replica.kill()
    again = cluster.compute("primary", "c2").start()
    with psycopg.connect(dsn(again.port), autocommit=True) as conn:
        assert dict(conn.execute("SELECT id, bal FROM acct").fetchall()) == model
        transfers(conn, 10)
        assert dict(conn.execute("SELECT id, bal FROM acct").fetchall()) == model
