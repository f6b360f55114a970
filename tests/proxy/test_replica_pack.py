"""--replica-pack: which replica a read goes to. The rule (proxy/server.py, ``pick_replica``):
among the replicas that have replayed the session's commits, the busiest one with fewer than
N server connections in use, else the least busy; 0 spreads (the least busy first). The
end-to-end tests hold read-only transactions open through a real proxy in front of a primary
and two replica computes and read where each one went from ``SHOW strata.servers``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from proxy.backend import Backend
from proxy.server import pick_replica
from tests.compute_remote.cluster import Cluster
from tests.proxy.support import ProxyProc, write_secret
from tests.proxy.test_cluster import wait_healthy
from tests.support import REPO


def _backends(*in_use: int) -> list[Backend]:
    return [Backend(address=f"127.0.0.1:{6000 + i}", role="replica", healthy=True, outstanding=n)
            for i, n in enumerate(in_use)]


def _chosen(pack: int, *in_use: int) -> int | None:
    bs = _backends(*in_use)
    got = pick_replica(bs, pack)
    return None if got is None else bs.index(got)


def test_spread_picks_the_least_busy_first_in_order_on_ties() -> None:
    assert _chosen(0, 3, 1, 2) == 1
    assert _chosen(0, 2, 2, 2) == 0
    assert _chosen(0, 5, 0, 0) == 1


def test_pack_picks_the_busiest_below_the_limit() -> None:
    assert _chosen(4, 0, 0) == 0          # all idle: the first, every time
    assert _chosen(4, 1, 0) == 0          # the busy one while it has room
    assert _chosen(4, 0, 3) == 1
    assert _chosen(4, 2, 3, 1) == 1       # the busiest of those below 4
    assert _chosen(4, 4, 1, 2) == 2       # the first is full: the busiest of the rest
    assert _chosen(4, 4, 5, 4) == 0       # every one full: the least busy
    assert _chosen(4, 6, 4, 5) == 1


def test_no_eligible_replica() -> None:
    assert pick_replica([], 0) is None
    assert pick_replica([], 8) is None


class Setup:
    def __init__(self, root: Path) -> None:
        self.secret = write_secret(root)
        self.cluster = Cluster(root).start()
        extra = ("--proxy-secret-file", str(self.secret))
        self.primary = self.cluster.compute("primary", "c1", *extra).start()
        self.replicas = [self.cluster.compute("replica", f"c{i}", *extra).start() for i in (2, 3)]

    def proxy(self, *args: str) -> ProxyProc:
        replicas = [a for r in self.replicas for a in ("--replica", r.addr)]
        proxy = ProxyProc(self.cluster.root, self.secret, "--auth", "trust",
                          "--primary", self.primary.addr, *replicas, *args)
        proxy.start()
        wait_healthy(proxy, 3)
        return proxy


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("replica-pack"))
    try:
        yield s
    finally:
        s.cluster.close()


def _hold_reads(proxy: ProxyProc, replicas: list[str], n: int) -> list[tuple[int, ...]]:
    """Open ``n`` read-only transactions one after the other, each kept open (its server
    connection stays in use); after each, the server connections in use on each replica."""
    seen: list[tuple[int, ...]] = []
    with contextlib.ExitStack() as stack, \
            psycopg.connect(proxy.dsn(), autocommit=True) as admin:
        for _ in range(n):
            conn = stack.enter_context(psycopg.connect(proxy.dsn(), autocommit=True))
            conn.execute("BEGIN READ ONLY")
            assert conn.execute("SELECT count(*) FROM pg_class").fetchone() is not None
            rows = {r[0]: r for r in admin.execute("SHOW strata.servers").fetchall()}
            seen.append(tuple(int(rows[a][4]) for a in replicas))
    return seen


def test_reads_pack_onto_one_replica_until_it_is_full(setup: Setup) -> None:
    proxy = setup.proxy("--replica-pack", "2")
    try:
        addrs = [r.addr for r in setup.replicas]
        assert _hold_reads(proxy, addrs, 5) == [(1, 0), (2, 0), (2, 1), (2, 2), (3, 2)]
        # every transaction above ended: the first replica takes a new read again
        assert _hold_reads(proxy, addrs, 1) == [(1, 0)]
    finally:
        proxy.stop()


def test_without_packing_reads_spread(setup: Setup) -> None:
    proxy = setup.proxy()
    try:
        addrs = [r.addr for r in setup.replicas]
        assert _hold_reads(proxy, addrs, 4) == [(1, 0), (1, 1), (2, 1), (2, 2)]
    finally:
        proxy.stop()


def test_a_bad_pack_value_stops_the_proxy() -> None:
    for value in ("-1", "10001", "many"):
        done = subprocess.run(
            [sys.executable, "-m", "strata", "proxy", "--listen", "127.0.0.1:0",
             "--primary", "127.0.0.1:1", "--replica-pack", value],
            capture_output=True, text=True, cwd=REPO, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "--replica-pack" in done.stderr, done.stderr
