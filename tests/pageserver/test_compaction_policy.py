"""Automatic compaction waits for delta bytes comparable to the image it rewrites (issue 16):
a big database is not rewritten every few small deltas; forced compaction is unchanged.
Since session 13 the policy is per key partition and delta layers are merged (see
test_partitioned_compaction.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pageserver import timeline as timeline_mod
from pageserver.server import PageServer, ServerConf
from pageserver.timeline import Timeline, TimelineConf
from strata.wal import PAGE_SIZE, PageImage, WalRecord

T = "t"
THRESHOLD = 2
UPLOAD_WAIT_S = 30.0


@pytest.fixture
def ps(tmp_path: Path) -> Iterator[PageServer]:
    conf = ServerConf(data_dir=str(tmp_path / "data"), object_store=str(tmp_path / "objects"),
                      housekeeping_interval_s=3600, auto_compact=False,
                      timeline=TimelineConf(compaction_threshold=THRESHOLD))
    server = PageServer(conf)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _delta(ps: PageServer, tl: Timeline, xid: int, pages: range) -> tuple[PageImage, ...]:
    """One committed transaction writing ``pages`` (random bytes: they do not compress),
    flushed to a delta layer and uploaded."""
    images = tuple(PageImage(1, n, os.urandom(PAGE_SIZE)) for n in pages)
    payload = WalRecord(xid, True, xid, ((1, 64),), images).encode()
    tl.ingest(tl.last_record_lsn, payload)
    tl.flush()
    assert ps.uploads.wait(timeout=UPLOAD_WAIT_S)
    return images


def _images(tl: Timeline) -> int:
    return sum(1 for d in tl.layers if d.kind == "image")


def test_auto_compaction_waits_for_delta_bytes_like_the_image(ps: PageServer) -> None:
    tl = ps.create_timeline(T, "main")
    _delta(ps, tl, 1, range(64))  # the whole database: 64 pages
    _delta(ps, tl, 2, range(1))
    assert tl.compact() is not None, "the first image is made at the threshold"
    assert ps.uploads.wait(timeout=UPLOAD_WAIT_S)
    assert _images(tl) == 1
    # Small deltas (page images, no page deltas): nothing is due before the bound on the
    # delta layers holding the partition that a read walks (per partition since session 13).
    cap = THRESHOLD * timeline_mod.PARTITION_MAX_FACTOR
    for xid in range(3, 3 + cap - 1):
        _delta(ps, tl, xid, range(xid % 4, xid % 4 + 1))
        assert tl.compact() is None, f"compacted after {xid - 2} one-page deltas"
    _delta(ps, tl, 3 + cap, range(1))
    name = tl.compact()
    assert name is not None
    assert ps.uploads.wait(timeout=UPLOAD_WAIT_S)
    (new,) = [d for d in tl.layers if d.name == name]
    assert new.partial and _images(tl) == 2  # only the partitions the deltas hold
    # Forced compaction ignores the policy and writes a full image; reads see the newest
    # pages either way.
    (last,) = _delta(ps, tl, 200, range(5, 6))
    assert tl.compact() is None
    full = tl.compact(force=True)
    assert full is not None
    assert not [d for d in tl.layers if d.name == full][0].partial
    found = tl.get_page(1, 5, tl.last_record_lsn)
    assert found is not None and found[1] == last.data
