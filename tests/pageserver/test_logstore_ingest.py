"""Ingest from a real 3-acceptor log store, one log per (tenant, timeline): committed stream,
acceptor failover, the remote consistent LSN reported back, a branch fed by its own log,
and an empty-disk rebuild (SIGKILL, data dir deleted) from object storage plus the log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logstore.client import LogStoreClient
from logstore.proposer import SyncProposer
from pageserver.client import PageNotFound
from strata.objectstore import open_object_store
from tests.logstore.logstore_helpers import Cluster
from tests.pageserver.conftest import Workload, check_samples

T = "t"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    (tmp_path / "ls").mkdir()
    c = Cluster(tmp_path / "ls", 3)
    c.start(create_log=False)
    try:
        yield c
    finally:
        c.close()


def wait_lsn(ps, timeline: str, lsn: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while ps.c.timeline(T, timeline).last_record_lsn < lsn:
        assert time.monotonic() < deadline, ps.c.timeline(T, timeline)
        time.sleep(0.05)


def answers(ps, timeline: str, wl: Workload, lsns: list[int]) -> dict[tuple[int, int], list]:
    """Every page (and two past the end) of every db at each LSN, via GetPages; checked
    against the model on the way."""
    out: dict[tuple[int, int], list] = {}
    for lsn in lsns:
        for db in wl.dbs:
            size = wl.expected_size(db, lsn) or 0
            got = ps.c.get_pages(T, timeline, db, list(range(size + 2)), lsn)
            assert got == [wl.expected(db, p, lsn) if p < size else None for p in range(size + 2)]
            assert ps.c.db_size(T, timeline, db, lsn) == size
            out[(lsn, db)] = got
    return out


def test_ingest_from_logstore(ps_factory, cluster: Cluster, tmp_path: Path) -> None:
    lc = LogStoreClient(cluster.addrs)
    lc.create_log(T, "main", 0)
    prop = SyncProposer(cluster.addrs, tenant=T, timeline="main")
    bprop: SyncProposer | None = None
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
        wait_lsn(ps, "main", wl.lsn)
        check_samples(ps, T, "main", wl, 100, seed=1, min_lsn=wl.start_lsn)

        # an acceptor dies; the stream fails over and keeps going
        cluster.nodes[0].kill()
        n0 = len(wl.records)
        wl.run(100)
        assert prop.append([p for _, p in wl.records[n0:]]) == wl.lsn
        wait_lsn(ps, "main", wl.lsn)
        check_samples(ps, T, "main", wl, 100, seed=2, min_lsn=wl.start_lsn)

        # flush: the remote consistent LSN reaches the live acceptors
        rcl = ps.c.maintenance(T, "main", "flush")["remote_consistent_lsn"]
        assert rcl == wl.lsn
        deadline = time.monotonic() + 10
        while any(a.status().remote_consistent_lsn < rcl for a in cluster.nodes[1:]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cluster.nodes[0].start()

        # a branch written through its own log (named unlike the timeline), starting at x
        x = wl.lsn
        assert lc.create_log(T, "br-log", start_lsn=x).start_lsn == x
        ps.c.create_timeline(
            T, "br", ancestor="main", ancestor_lsn=x, wal_source="logstore", log_timeline="br-log"
        )
        bprop = SyncProposer(cluster.addrs, tenant=T, timeline="br-log")
        bprop.elect()
        assert bprop.commit_lsn == x
        child = Workload(seed=22, start_lsn=x, base=wl, branch_lsn=x)
        child.run(60)
        assert bprop.append([p for _, p in child.records]) == child.lsn
        n1 = len(wl.records)
        wl.run(60)  # main goes on beyond x, unflushed: only the log has it
        prop.append([p for _, p in wl.records[n1:]])
        wait_lsn(ps, "main", wl.lsn)
        wait_lsn(ps, "br", child.lsn)
        main_lsns = [wl.commits[10][0], x, wl.lsn]
        br_lsns = [x, child.commits[len(child.commits) // 2][0], child.lsn]
        before = (answers(ps, "main", wl, main_lsns), answers(ps, "br", child, br_lsns))

        # the page server loses its disk: SIGKILL, data dir deleted, restart
        ps.kill()
        ps.wipe_disk()
        assert not ps.data_dir.exists()
        ps.start()
        info = {t.timeline: t for t in ps.c.list_timelines(T)}
        assert sorted(info) == ["br", "main"]
        assert (info["main"].wal_source, info["main"].log_timeline) == ("logstore", "")
        assert (info["br"].wal_source, info["br"].log_timeline) == ("logstore", "br-log")
        assert (info["br"].ancestor_timeline, info["br"].ancestor_lsn) == ("main", x)
        wait_lsn(ps, "main", wl.lsn)
        wait_lsn(ps, "br", child.lsn)
        after = (answers(ps, "main", wl, main_lsns), answers(ps, "br", child, br_lsns))
        assert after == before
        check_samples(ps, T, "main", wl, 100, seed=3, min_lsn=wl.start_lsn)

        # ingest goes on from the log on both timelines
        n2, m2 = len(wl.records), len(child.records)
        wl.run(30)
        child.run(30)
        prop.append([p for _, p in wl.records[n2:]])
        bprop.append([p for _, p in child.records[m2:]])
        wait_lsn(ps, "main", wl.lsn)
        wait_lsn(ps, "br", child.lsn)
        check_samples(ps, T, "br", child, 100, seed=4, min_lsn=x)
        answers(ps, "main", wl, [wl.lsn])

        # deleting a log-fed branch stops its ingest; later records of its log change nothing
        ps.c.delete_timeline(T, "br")
        m3 = len(child.records)
        child.run(20)
        bprop.append([p for _, p in child.records[m3:]])
        time.sleep(1.0)
        with pytest.raises(PageNotFound):
            ps.c.timeline(T, "br")
        store = open_object_store(ps.object_store)
        assert store.list(f"tenants/{T}/timelines/br/") == []
        assert not (ps.data_dir / "tenants" / T / "timelines" / "br").exists()
        answers(ps, "main", wl, [wl.lsn])
    finally:
        prop.close()
        if bprop is not None:
            bprop.close()
        lc.close()
