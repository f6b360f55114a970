"""`strata up` runs the acceptors on this machine, so its primary appends to them over their
Unix sockets, without TLS (decision 0018); an acceptor killed with SIGKILL meanwhile loses no
acknowledged commit, and once restarted (its stale socket replaced) is reached there again."""

from __future__ import annotations

import os
import signal
import stat
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from control.driver import LocalProcessDriver
from control.reconciler import Policy, Reconciler
from control.spec import ClusterSpec
from control.state import ClusterDir, ClusterState
from logstore.fastappend import UNIX_SOCKET_NAME
from logstore.transport import UNIX_SOCKETS_ENV, local_sockets
from tests.cluster_support import Cluster, node_status, query, wait_for
from tests.control.fakes import FakeDriver, FakeServices


def _logstores(st: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((c for c in st["components"] if c["kind"] == "logstore"), key=lambda c: c["name"])


def _paths(dsn: str) -> list[str]:
    return list(node_status(dsn)["extra"]["logstore_append_paths"])


def test_the_primary_appends_over_the_acceptors_unix_sockets(cluster: Cluster) -> None:
    st = cluster.fast_status()
    dsn = st["primary_dsn"]
    query(dsn, "CREATE TABLE IF NOT EXISTS unix_probe (n int)")
    query(dsn, "INSERT INTO unix_probe VALUES (1)")
    assert wait_for(lambda: _paths(dsn) == ["unix"] * 3, "appends over the Unix sockets")
    for comp in _logstores(st):
        sock = cluster.dir / comp["name"] / UNIX_SOCKET_NAME
        mode = os.lstat(sock).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600, (sock, oct(mode))


def test_sigkill_of_an_acceptor_during_unix_appends_loses_no_acknowledged_commit(cluster: Cluster) -> None:
    st = cluster.fast_status()
    dsn = st["primary_dsn"]
    query(dsn, "CREATE TABLE IF NOT EXISTS unix_kill (k int PRIMARY KEY)")
    assert wait_for(lambda: _paths(dsn) == ["unix"] * 3, "appends over the Unix sockets")
    acked: list[int] = []
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        k = 0
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            while not stop.is_set():
                try:
                    conn.execute("INSERT INTO unix_kill VALUES (%s)", (k,))
                except psycopg.Error as exc:  # an error is fine; a lost acknowledged row is not
                    errors.append(str(exc))
                    return
                acked.append(k)
                k += 1

    t = threading.Thread(target=writer)
    t.start()
    victim = _logstores(st)[1]
    try:
        wait_for(lambda: len(acked) >= 100, "commits before the kill")
        os.kill(victim["pid"], signal.SIGKILL)
        sock = cluster.dir / victim["name"] / UNIX_SOCKET_NAME
        assert sock.exists()  # left behind: nobody answers on it until the restart replaces it
        n = len(acked)
        wait_for(lambda: len(acked) >= n + 100, "commits with one acceptor down")

        def restarted() -> bool:
            comp = next(c for c in _logstores(cluster.fast_status()) if c["name"] == victim["name"])
            return bool(comp["state"] == "running" and comp["pid"] != victim["pid"])

        wait_for(restarted, "the acceptor restarted")
        wait_for(lambda: _paths(dsn) == ["unix"] * 3, "the restarted acceptor reached over its socket")
        n = len(acked)
        wait_for(lambda: len(acked) >= n + 50, "commits after the restart")
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    got = {r[0] for r in query(dsn, "SELECT k FROM unix_kill")}
    assert set(acked) <= got, sorted(set(acked) - got)[:10]


def test_strata_up_tells_local_computes_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ClusterSpec(dir=str(tmp_path / "c"), logstore_fast_port=56420, compute_port=56433)
    cdir = ClusterDir(tmp_path / "c")
    cdir.create()
    driver = FakeDriver()
    rec = Reconciler(cdir, ClusterState(spec=spec), driver, FakeServices(driver), Policy(),
                     port_free=lambda host, port: True, tls_dir=None)
    rec.step()
    compute = next(c for c in rec.state.components if c.kind == "compute")
    # another driver (Kubernetes: the acceptors are other pods): nothing told, TLS stays
    assert UNIX_SOCKETS_ENV not in rec.process_spec(compute).env
    rec.driver = LocalProcessDriver()  # the processes of this machine (`strata up`)
    told = local_sockets(rec.process_spec(compute).env[UNIX_SOCKETS_ENV])
    expected = {c.address: str(Path(c.data_dir) / UNIX_SOCKET_NAME)
                for c in rec.state.components if c.kind == "logstore"}
    assert told == expected and len(told) == 3
    assert set(told) == set(spec.logstore_addresses())
    logstore = next(c for c in rec.state.components if c.kind == "logstore")
    assert UNIX_SOCKETS_ENV not in rec.process_spec(logstore).env
    monkeypatch.setenv("STRATA_LOGSTORE_FAST_APPEND_UNIX", "off")
    assert UNIX_SOCKETS_ENV not in rec.process_spec(compute).env
    monkeypatch.delenv("STRATA_LOGSTORE_FAST_APPEND_UNIX")
    monkeypatch.setenv("STRATA_LOGSTORE_FAST_APPEND", "off")
    assert UNIX_SOCKETS_ENV not in rec.process_spec(compute).env
