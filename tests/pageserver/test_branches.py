"""Branches read their own layers above the branch point and the ancestor's below it;
PITR branches at a commit timestamp; GC never removes what a child still needs."""

from __future__ import annotations

import pytest

from pageserver.client import PageServerError
from tests.pageserver.conftest import Workload, check_samples, push

T = "t"


def test_branch_each_sees_own_history(ps_factory) -> None:
    ps = ps_factory(
        None, "--checkpoint-mb", "0.2", "--no-auto-compact", "--retention-lsn", "1"
    ).start()
    ps.c.create_timeline(T, "main")
    parent = Workload(seed=1)
    x = parent.run(120)
    push(ps, T, "main", parent.records)
    ps.c.maintenance(T, "main", "flush")

    child_info = ps.c.create_timeline(T, "dev", ancestor="main", ancestor_lsn=x)
    assert child_info.ancestor_lsn == x and child_info.last_record_lsn == x
    child = Workload(seed=2, start_lsn=x, base=parent, branch_lsn=x)
    # both keep writing after the branch point, to overlapping pages
    parent.run(120)
    child.run(120)
    push(ps, T, "main", parent.records_from(x))
    push(ps, T, "dev", child.records)

    check_samples(ps, T, "main", parent, 150, seed=3)
    check_samples(ps, T, "dev", child, 150, seed=4, min_lsn=x)
    # the child at the branch point equals the parent there
    for db in parent.dbs:
        for pg in range(parent.expected_size(db, x) or 0):
            assert ps.c.get_page(T, "dev", db, pg, x) == parent.expected(db, pg, x)
    # the histories really diverged
    diverged = [
        (db, pg)
        for db in parent.dbs
        for pg in range(min(parent.cur_size(db), child.cur_size(db)))
        if parent.expected(db, pg, parent.lsn) != child.expected(db, pg, child.lsn)
    ]
    assert diverged

    # flush + compact both, GC the parent with a 1-byte window: the branch point survives
    for tl in ("main", "dev"):
        ps.c.maintenance(T, tl, "flush")
        ps.c.maintenance(T, tl, "compact")
    gc = ps.c.maintenance(T, "main", "gc")
    assert gc["branch_points"] == [x]
    info = ps.c.timeline(T, "main")
    assert info.gc_cutoff_lsn > x  # the parent's own window moved past the branch point
    ps.c.maintenance(T, "", "drop_caches")
    check_samples(ps, T, "dev", child, 150, seed=5, min_lsn=x)
    check_samples(ps, T, "main", parent, 100, seed=6, min_lsn=info.gc_cutoff_lsn)

    # restart on an empty disk: the tree of timelines comes back from object storage
    ps.kill()
    ps.wipe_disk()
    ps.start()
    tls = {t.timeline: t for t in ps.c.list_timelines(T)}
    assert tls["dev"].ancestor_timeline == "main" and tls["dev"].ancestor_lsn == x
    for tl, wl in (("main", parent), ("dev", child)):
        push(ps, T, tl, wl.records_from(tls[tl].last_record_lsn))
    check_samples(ps, T, "dev", child, 150, seed=7, min_lsn=x)

    # branching below the GC cutoff is refused
    with pytest.raises(PageServerError, match="GC cutoff"):
        ps.c.create_timeline(T, "old", ancestor="main", ancestor_lsn=x - 1)


def test_pitr_at_timestamp(ps_factory) -> None:
    ps = ps_factory(None, "--checkpoint-mb", "0.3").start()
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=5)
    wl.run(150)
    push(ps, T, "main", wl.records[: len(wl.records) // 2])
    ps.c.maintenance(T, "main", "flush")
    push(ps, T, "main", wl.records[len(wl.records) // 2 :])
    # a timestamp between two commits, in flushed history and in memory
    for i, idx in enumerate((20, 130)):
        (lsn_a, ts_a), (_, ts_b) = wl.commits[idx], wl.commits[idx + 1]
        info = ps.c.create_timeline(
            T, f"pitr{i}", ancestor="main", ancestor_timestamp_us=(ts_a + ts_b) // 2
        )
        assert info.ancestor_lsn == lsn_a
        for db in wl.dbs:
            size = wl.expected_size(db, lsn_a) or 0
            assert ps.c.db_size(T, f"pitr{i}", db, lsn_a) == size
            for pg in range(size):
                assert ps.c.get_page(T, f"pitr{i}", db, pg, lsn_a) == wl.expected(db, pg, lsn_a)
        # exactly at a commit's timestamp includes that commit
        info = ps.c.create_timeline(T, f"exact{i}", ancestor="main", ancestor_timestamp_us=ts_b)
        assert info.ancestor_lsn == wl.commits[idx + 1][0]
    with pytest.raises(PageServerError, match="no commit at or before"):
        ps.c.create_timeline(
            T, "before", ancestor="main", ancestor_timestamp_us=wl.commits[0][1] - 1
        )
