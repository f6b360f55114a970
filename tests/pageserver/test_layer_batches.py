"""Layer files read per key (session 7): a page's bytes come from decoding the one record
batch that holds it, never the whole file; files written before (one batch per file) read
the same; the decoded-batch cache stays within its byte budget; a page delta whose base is
only in an old image layer costs one batch at ingest. In process, local object store."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from pageserver import layers
from pageserver.layers import (
    LayerDesc,
    LoadedLayer,
    batch_bounds,
    encode_layer,
    page_key,
    sha256,
)
from pageserver.server import PageServer
from pageserver.storage import LayerStore
from pageserver.timeline import FailedPrecondition, Timeline
from strata.objectstore import open_object_store
from strata.wal import PAGE_SIZE, PageDelta, PageImage, WalRecord, page_delta
from tests.pageserver.conftest import Workload, in_process_server
from tests.pageserver.test_page_deltas import DeltaEncoder, SmallChanges

T = "t"
OLD_LAYOUT = 10**12
"""``batch_bytes`` that writes a file as before session 7: one batch for the whole file."""


def _entries(rng: random.Random, n_keys: int) -> list[tuple[int, int, bytes]]:
    """Sorted (key, lsn, data): pages, several versions each, plus small size/ts values."""
    out = []
    for k in sorted(rng.sample(range(1, 10**6), n_keys)):
        lsn = 0
        for _ in range(rng.randint(1, 4)):
            lsn += rng.randint(1, 1000)
            size = rng.choice((4, 8, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE, 0))
            out.append((k, lsn, rng.randbytes(size)))
    return out


def _reference_get(entries: list[tuple[int, int, bytes]], key: int,
                   lsn: int) -> tuple[int, bytes] | None:
    best = None
    for k, v_lsn, data in entries:
        if k == key and v_lsn <= lsn:
            best = (v_lsn, data)
    return best


@pytest.mark.parametrize("batch_bytes", [None, 1, 3 * PAGE_SIZE, OLD_LAYOUT])
def test_a_layer_reads_the_same_whatever_its_batches(batch_bytes: int | None) -> None:
    rng = random.Random(5)
    entries = _entries(rng, 120)
    data = encode_layer("delta", 0, 10**6, entries, batch_bytes)
    cuts = batch_bounds(entries, layers.LAYER_BATCH_BYTES if batch_bytes is None else batch_bytes)
    layer = LoadedLayer(data, sha256(data))
    assert layer.n_batches == len(cuts) - 1
    if batch_bytes == 1:
        assert layer.n_batches == len(entries)  # one entry per batch, never an empty one
    if batch_bytes == OLD_LAYOUT:
        assert layer.n_batches == 1
    else:
        assert layer.n_batches > 5
    # the reader of earlier sessions (read_all of every column) reads the same file
    table = ipc.open_file(pa.BufferReader(data)).read_all()
    assert table.column("key").to_pylist() == [e[0] for e in entries]
    assert table.column("data").to_pylist() == [e[2] for e in entries]
    assert (table.schema.metadata or {})[b"format"] == layers.FORMAT.encode()

    keys = sorted({e[0] for e in entries})
    first = layer.get(keys[7], 10**9)
    assert first == _reference_get(entries, keys[7], 10**9)
    assert layer.batches_decoded == 1, "one page read decodes one batch"
    for key in keys + [0, keys[3] + 1, 10**7]:
        lsns = sorted({e[1] for e in entries if e[0] == key}) or [5]
        for lsn in [0, *lsns, *(x - 1 for x in lsns), 10**9]:
            assert layer.get(key, lsn) == _reference_get(entries, key, lsn), (key, lsn)
        assert layer.versions_of(key) == [(e[1], e[2]) for e in entries if e[0] == key]
    assert layer.batches_decoded <= layer.n_batches  # each batch decoded at most once
    for lsn in (0, 400, 2000, 10**9):
        want = {}
        for k, v_lsn, d in entries:
            if v_lsn <= lsn:
                want[k] = (v_lsn, d)
        assert layer.latest_at(lsn) == want


def test_a_corrupt_file_is_refused() -> None:
    entries = _entries(random.Random(6), 30)
    data = bytearray(encode_layer("image", 9, 9, entries, 2 * PAGE_SIZE))
    with pytest.raises(layers.LayerCorrupt, match="checksum"):
        LoadedLayer(bytes(data[:-1]) + b"x", sha256(bytes(data)))
    with pytest.raises(layers.LayerCorrupt):
        LoadedLayer(b"not an arrow file" + bytes(data[:100]))


def _store_with_layers(tmp_path: Path, budget: int, n_layers: int,
                       batch_bytes: int) -> tuple[LayerStore, list[tuple[LayerDesc, list[Any]]]]:
    store = LayerStore(str(tmp_path / "data"), open_object_store(str(tmp_path / "objects")),
                       budget)
    rng = random.Random(7)
    made = []
    for i in range(n_layers):
        entries = [(k, 10 + i, rng.randbytes(PAGE_SIZE)) for k in range(i * 1000, i * 1000 + 40)]
        data = encode_layer("delta", i, 10 + i, entries, batch_bytes)
        desc = LayerDesc(f"D_{i}", "delta", i, 10 + i, len(data), sha256(data))
        store.write_local(T, "tl", desc.name, data)
        made.append((desc, entries))
    return store, made


def test_the_layer_cache_stays_within_its_budget(tmp_path: Path) -> None:
    budget = 400 * 1024
    store, made = _store_with_layers(tmp_path, budget, 6, 4 * PAGE_SIZE)  # ~1 MB of pages
    rng = random.Random(8)
    for _ in range(1500):
        desc, entries = rng.choice(made)
        k, lsn, data = rng.choice(entries)
        assert store.load(T, "tl", desc).get(k, lsn) == (lsn, data)
        assert store.cached_bytes <= budget
        # the count is exactly what the cache holds (no leaked or double-counted entry)
        assert store.cached_bytes == sum(v.nbytes for v in store._cache.values())
    assert store.batches_decoded > 60, "evicted batches are decoded again"
    assert store.batch_bytes_decoded > 4 * budget
    # removing a layer drops its batches too
    desc0 = made[0][0]
    store.remove_local(T, "tl", desc0.name)
    assert not [k for k in store._cache if (k[0] if isinstance(k, tuple) else k).endswith("D_0")]
    assert store.cached_bytes == sum(v.nbytes for v in store._cache.values())
    store.forget_timeline(T, "tl")
    assert store.cached_bytes == 0 and not store._cache


def test_one_entry_larger_than_the_budget_still_reads(tmp_path: Path) -> None:
    """A file written before session 7 is one batch; with a small budget it is decoded,
    used and evicted by the next entry (as the whole-file cache did)."""
    store, made = _store_with_layers(tmp_path, 64 * 1024, 3, OLD_LAYOUT)
    for desc, entries in made * 2:
        for k, lsn, data in entries[::7]:
            assert store.load(T, "tl", desc).get(k, lsn) == (lsn, data)
        largest = max(v.nbytes for v in store._cache.values())
        assert store.cached_bytes <= max(64 * 1024, largest)


# ---------------------------------------------------------------------- a page server




@pytest.mark.parametrize("batch", [4 * PAGE_SIZE, OLD_LAYOUT])
def test_a_delta_on_an_old_base_decodes_one_batch(tmp_path: Path, servers: list[PageServer],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   batch: int) -> None:
    """The base of an account leaf the primary read from its cache is in the image layer:
    ingest reads it by decoding one batch of that image and one of the newest delta layer
    (the database size), not the files (files written the old way: the whole image)."""
    monkeypatch.setattr(layers, "LAYER_BATCH_BYTES", batch)
    ps = in_process_server(tmp_path)
    servers.append(ps)
    tl = ps.create_timeline(T, "main")
    pages = {p: bytes([p]) * PAGE_SIZE for p in range(60)}
    first = _ingest(tl, WalRecord(1, True, 1, ((1, 60),),
                                  tuple(PageImage(1, p, d) for p, d in pages.items())))
    ps.maintenance(T, "main", "flush")
    assert ps.maintenance(T, "main", "compact")["image"]
    lsn = first
    for xid in range(2, 6):  # later commits, in delta layers, touch other pages
        pages[xid] = bytes([200 + xid]) * PAGE_SIZE
        lsn = _ingest(tl, WalRecord(xid, True, xid, ((1, 60),), (PageImage(1, xid, pages[xid]),)))
        ps.maintenance(T, "main", "flush")
    image = [d for d in tl.layers if d.kind == "image"][0]
    assert image.entries >= 60
    assert sum(1 for d in tl.layers if d.kind == "delta") >= 4
    ps.layer_store.drop_cache()
    before = ps.layer_store.batch_bytes_decoded
    # a key this timeline object saw ingested: the delta is kept as it came (session 12),
    # nothing decoded at ingest
    new49 = b"\x07" + pages[49][1:]
    d49 = page_delta(pages[49], new49)
    assert d49 is not None
    at49 = _ingest(tl, WalRecord(8, True, 8, ((1, 60),), (), (PageDelta(1, 49, d49),)))
    assert ps.layer_store.batch_bytes_decoded == before
    assert type(tl.open_layer.get(page_key(1, 49), at49)[1]) is layers.Delta  # type: ignore[index]
    tl._chain.clear()  # as after a restart: its base unknown, a delta is composed at ingest
    new = b"\x01\x02" + pages[50][2:]
    d = page_delta(pages[50], new)
    assert d is not None
    end = _ingest(tl, WalRecord(9, True, 9, ((1, 60),), (), (PageDelta(1, 50, d),)))
    decoded = ps.layer_store.batch_bytes_decoded - before
    assert type(tl.open_layer.get(page_key(1, 50), end)[1]) is bytes  # type: ignore[index]
    if batch == OLD_LAYOUT:
        assert decoded >= 60 * PAGE_SIZE, decoded
    else:
        assert decoded <= 2 * (batch + PAGE_SIZE), decoded  # the whole image: 60 pages
    assert tl.get_page(1, 50, end) == (end, new)
    assert tl.get_page(1, 50, lsn) == (first, pages[50])
    for p in range(60):
        v = tl.get_page(1, p, end)
        assert v is not None and v[1] == (new if p == 50 else new49 if p == 49 else pages[p])
    assert tl.get_page(1, 49, at49 - 1) == (first, pages[49])


def _ingest(tl: Timeline, rec: WalRecord) -> int:
    start = tl.last_record_lsn
    payload = rec.encode()
    tl.ingest(start, payload)
    return start + len(payload)


class _Stream:
    """A workload pushed into a timeline as the primary sends it (deltas where it can)."""

    def __init__(self, wl: Workload, enc: DeltaEncoder) -> None:
        self.wl, self.enc = wl, enc

    def grow(self, tl: Timeline, n: int) -> None:
        before = len(self.wl.records)
        self.wl.run(n)
        for start, payload in self.wl.records[before:]:
            at, out = self.enc.feed(start, payload)
            assert tl.ingest(at, out)

    def check(self, tl: Timeline, floor: int = 0) -> int:
        """Every page of every database at every record end at or above ``floor`` (delta
        stream LSNs), against the workload's model; the ones below raise."""
        checked = 0
        for a_end, b_end in sorted(self.enc.ends.items()):
            if b_end < floor:
                with pytest.raises(FailedPrecondition):
                    tl.get_pages(self.wl.dbs[0], [0], b_end)
                continue
            for db in self.wl.dbs:
                n = self.wl.expected_size(db, a_end) or 0
                assert tl.db_size(db, b_end) == (n if self.wl.expected_size(db, a_end)
                                                 is not None else None)
                got = tl.get_pages(db, list(range(n + 1)), b_end)
                want = [self.wl.expected(db, p, a_end) for p in range(n)] + [None]
                assert [v[1] if v else None for v in got] == want, (db, a_end, b_end)
                if n:
                    p = n // 2
                    one = tl.get_page(db, p, b_end)
                    assert one is not None and one[1] == want[p]
                checked += n
        return checked


def _layouts(tl: Timeline, ps: PageServer) -> set[int]:
    return {ps.layer_store.load(T, tl.timeline_id, d).n_batches > 1 for d in tl.layers}


def test_every_page_at_every_lsn_across_layouts(tmp_path: Path, servers: list[PageServer],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """One timeline with layer files of both layouts (written before session 7 and after),
    fed page deltas: every page at every LSN matches the model across flushes,
    compactions, a branch whose deltas rest on the ancestor's old layers, GC, a restart on
    the same disk, one on an empty disk (downloads) and a layer cache far smaller than the
    data (constant eviction)."""
    monkeypatch.setattr(layers, "LAYER_BATCH_BYTES", OLD_LAYOUT)
    ps = in_process_server(tmp_path)
    servers.append(ps)
    tl = ps.create_timeline(T, "main")
    s = _Stream(SmallChanges(seed=31), DeltaEncoder(0))
    s.grow(tl, 60)
    ps.maintenance(T, "main", "flush")
    assert ps.maintenance(T, "main", "compact")["image"]
    s.grow(tl, 30)
    ps.maintenance(T, "main", "flush")
    assert _layouts(tl, ps) == {False}, "every file one batch, as before"

    monkeypatch.setattr(layers, "LAYER_BATCH_BYTES", 2 * PAGE_SIZE)
    s.grow(tl, 40)  # deltas whose bases are in the old files
    ps.maintenance(T, "main", "flush")
    assert s.enc.n_deltas > 60
    branch_full = s.wl.commits[len(s.wl.commits) * 2 // 3][0]
    branch_at = s.enc.ends[branch_full]
    s.grow(tl, 30)
    ps.maintenance(T, "main", "flush")
    assert ps.maintenance(T, "main", "compact")["image"]
    s.grow(tl, 20)  # in the open in-memory layer
    assert _layouts(tl, ps) == {False, True}
    s.check(tl)

    # a branch: its deltas' bases are on the ancestor, in old and new files
    ps.create_timeline(T, "b", ancestor_timeline="main", ancestor_lsn=branch_at)
    btl = ps.get(T, "b")
    replay = DeltaEncoder(0)
    for start, payload in s.wl.records:
        if start + len(payload) > branch_full:
            break
        replay.feed(start, payload)
    bs = _Stream(SmallChanges(seed=32, start_lsn=branch_full, base=s.wl,
                              branch_lsn=branch_full), replay.copy(branch_at))
    bs.grow(btl, 40)
    ps.maintenance(T, "b", "flush")
    assert bs.enc.n_deltas > 20
    bs.check(btl, floor=branch_at)

    # GC inside a retention window that drops the oldest layers
    tl.conf.retention_lsn = (tl.last_record_lsn - branch_at) // 2
    res = ps.maintenance(T, "main", "gc")
    assert res["removed"], res
    cutoff = tl.gc_cutoff_lsn
    assert cutoff > 0
    s.check(tl, floor=cutoff)
    bs.check(btl, floor=branch_at)
    ps.maintenance(T, "main", "flush")
    ps.maintenance(T, "b", "flush")
    ps.maintenance(T, "main", "wait_uploads")
    ps.stop()
    servers.remove(ps)

    # a restart on the same disk, then on an empty one (every layer downloaded), with a
    # cache far smaller than the data
    for name, budget in (("data", 256 * 1024 * 1024), ("empty", 48 * 1024)):
        ps = in_process_server(tmp_path, name, layer_cache_bytes=budget)
        servers.append(ps)
        tl, btl = ps.get(T, "main"), ps.get(T, "b")
        s.check(tl, floor=cutoff)
        bs.check(btl, floor=branch_at)
        more = 15
        s.grow(tl, more)
        bs.grow(btl, more)
        s.check(tl, floor=cutoff)
        bs.check(btl, floor=branch_at)
        largest = max(v.nbytes for v in ps.layer_store._cache.values())
        assert ps.layer_store.cached_bytes <= max(budget, largest)
        ps.maintenance(T, "main", "flush")
        ps.maintenance(T, "b", "flush")
        ps.maintenance(T, "main", "wait_uploads")
        ps.stop()
        servers.remove(ps)
