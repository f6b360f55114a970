"""`strata up` plans a fast append port per log store node and turns the stream on, over the
cluster's mutual TLS (logstore/fastappend.py); STRATA_LOGSTORE_FAST_APPEND=off leaves it off."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from control.reconciler import Policy, Reconciler
from control.spec import ClusterSpec, SpecError, validate
from control.state import ClusterDir, ClusterState
from logstore.fastappend import HEADER, MAGIC
from tests.cluster_support import Cluster, node_status, query, wait_for
from tests.control.fakes import FakeDriver, FakeServices


def _planned(cluster: Cluster) -> int:
    return int(cluster.flags[cluster.flags.index("--logstore-fast-port") + 1])


def test_the_cluster_commits_over_the_tls_fast_stream(cluster: Cluster) -> None:
    base = _planned(cluster)
    st = cluster.fast_status()
    for comp in (c for c in st["components"] if c["kind"] == "logstore"):
        text = (cluster.dir / "logs" / f"{comp['name']}.log").read_text()
        line = next(json.loads(x) for x in text.splitlines() if '"acceptor listening"' in x)
        assert line["fast_append_port"] == base + int(comp["name"].rpartition("-")[2]) - 1
        assert line["fast_append_tls"] is True
    dsn = st["primary_dsn"]
    query(dsn, "CREATE TABLE IF NOT EXISTS fast_probe (n int)")
    for i in range(20):
        query(dsn, "INSERT INTO fast_probe VALUES (%s)", (i,))
    assert query(dsn, "SELECT count(*) FROM fast_probe")[0][0] >= 20
    # the primary's proposer holds one fast stream to every acceptor (not gRPC AppendStream);
    # on this machine over the acceptor's Unix socket (decision 0018, tests/cluster/test_unix_append.py)
    wait_for(lambda: node_status(dsn)["extra"]["logstore_append_paths"] == ["unix"] * 3,
             "the primary's appends over every acceptor's Unix socket")


def test_plaintext_on_the_planned_port_is_refused(cluster: Cluster) -> None:
    with socket.create_connection(("127.0.0.1", _planned(cluster)), timeout=10) as s:
        s.sendall(MAGIC + HEADER.pack(0, 1))
        s.settimeout(10)
        data = b""
        try:
            while chunk := s.recv(1 << 16):
                data += chunk
        except ConnectionError:
            pass
    assert data == b"" or data[:1] == b"\x15", data  # nothing, or a TLS alert record


HOLD_S = 1.5
"""How long a majority of log store nodes is stopped: well inside the proposer's deadline."""


def test_a_commit_waits_for_a_majority_over_the_fast_stream(cluster: Cluster) -> None:
    st = cluster.fast_status()
    dsn = st["primary_dsn"]
    query(dsn, "CREATE TABLE IF NOT EXISTS quorum_probe (k int PRIMARY KEY)")
    query(dsn, "INSERT INTO quorum_probe VALUES (0)")
    wait_for(lambda: node_status(dsn)["extra"]["logstore_append_paths"] == ["unix"] * 3,
             "the primary's appends over every acceptor's Unix socket")
    stopped = [c["pid"] for c in st["components"] if c["kind"] == "logstore"][:2]
    assert len(stopped) == 2 and all(stopped)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(query, dsn, "INSERT INTO quorum_probe VALUES (1)")
            time.sleep(HOLD_S)
            assert not fut.done(), "a commit was answered without a majority"
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            fut.result(30)
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    assert query(dsn, "SELECT k FROM quorum_probe ORDER BY k") == [(0,), (1,)]


def _argv(tmp_path: Path, spec: ClusterSpec) -> list[str]:
    cdir = ClusterDir(tmp_path / "c")
    cdir.create()
    driver = FakeDriver()
    rec = Reconciler(cdir, ClusterState(spec=spec), driver, FakeServices(driver), Policy(),
                     port_free=lambda host, port: True, tls_dir=None)
    rec.step()
    comp = rec.state.component("logstore-2")
    assert comp is not None
    return rec.process_spec(comp).argv


def test_the_port_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ClusterSpec(dir=str(tmp_path / "c"), logstore_fast_port=56420, compute_port=56433)
    argv = _argv(tmp_path, spec)
    assert argv[argv.index("--fast-append-listen") + 1] == "127.0.0.1:56421"
    monkeypatch.setenv("STRATA_LOGSTORE_FAST_APPEND", "off")
    assert "--fast-append-listen" not in _argv(tmp_path / "off", spec)
    monkeypatch.delenv("STRATA_LOGSTORE_FAST_APPEND")
    assert "--fast-append-listen" not in _argv(tmp_path / "zero", ClusterSpec(
        dir=str(tmp_path / "zero"), logstore_fast_port=0, compute_port=56433))
    # the fast ports are part of the plan: an overlap with another service is refused
    with pytest.raises(SpecError) as info:
        validate(ClusterSpec(dir=str(tmp_path), logstore_port=56401, logstore_fast_port=56403),
                 check_ports=False, check_object_store=False)
    assert info.value.field in ("logstore_port", "logstore_fast_port")
    with pytest.raises(SpecError) as info:
        validate(ClusterSpec(dir=str(tmp_path), logstore_fast_port=55410),  # the page server's
                 check_ports=False, check_object_store=False)
    assert "pageserver_port" in str(info.value) or "logstore_fast_port" in str(info.value)
