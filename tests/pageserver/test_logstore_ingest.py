"""Ingest from a real 3-acceptor log store: committed stream, acceptor failover, the remote
consistent LSN reported back, and resume from it after a restart with an empty disk."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logstore import SyncProposer
from tests.logstore.logstore_helpers import Cluster
from tests.pageserver.conftest import Workload, check_samples

T = "t"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    (tmp_path / "ls").mkdir()
    c = Cluster(tmp_path / "ls", 3)
    c.start()
    try:
        yield c
    finally:
        c.close()


def wait_lsn(ps, lsn: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while ps.c.timeline(T, "main").last_record_lsn < lsn:
        assert time.monotonic() < deadline, ps.c.timeline(T, "main")
        time.sleep(0.05)


def test_ingest_from_logstore(ps_factory, cluster: Cluster, tmp_path: Path) -> None:
    prop = SyncProposer(cluster.addrs)
    try:
        prop.elect()
        wl = Workload(seed=21, start_lsn=prop.commit_lsn)
        wl.run(150)
        end = prop.append([p for _, p in wl.records])
        assert end == wl.lsn
        ps = ps_factory(
            None, "--logstore", ",".join(cluster.addrs), "--checkpoint-mb", "0.3"
        ).start()
        ps.c.create_timeline(T, "main", wal_source="logstore")
        wait_lsn(ps, wl.lsn)
        check_samples(ps, T, "main", wl, 100, seed=1, min_lsn=wl.start_lsn)

        # an acceptor dies; the stream fails over and keeps going
        cluster.nodes[0].kill()
        n0 = len(wl.records)
        wl.run(100)
        assert prop.append([p for _, p in wl.records[n0:]]) == wl.lsn
        wait_lsn(ps, wl.lsn)
        check_samples(ps, T, "main", wl, 100, seed=2, min_lsn=wl.start_lsn)

        # flush: the remote consistent LSN reaches the live acceptors
        rcl = ps.c.maintenance(T, "main", "flush")["remote_consistent_lsn"]
        assert rcl == wl.lsn
        deadline = time.monotonic() + 10
        while any(a.status().remote_consistent_lsn < rcl for a in cluster.nodes[1:]):
            assert time.monotonic() < deadline
            time.sleep(0.05)

        # restart on an empty disk: layers from object storage, the rest from the log
        n1 = len(wl.records)
        wl.run(60)
        prop.append([p for _, p in wl.records[n1:]])
        ps.kill()
        ps.wipe_disk()
        ps.start()
        wait_lsn(ps, wl.lsn)
        check_samples(ps, T, "main", wl, 150, seed=3, min_lsn=wl.start_lsn)
    finally:
        prop.close()
