"""Compaction by key partition (session 13): an automatic compaction rewrites only the
partitions whose deltas call for it (partial image layers), unmerged delta layers are merged,
GC drops per partition; every page at every LSN still reads right, across restarts, branches
and SIGKILL mid-compaction."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from pageserver import compaction, layers
from pageserver import timeline as timeline_mod
from pageserver.layers import PART_SHIFT, LayerDesc, page_key
from pageserver.server import PageServer
from pageserver.timeline import Timeline
from strata.wal import PAGE_SIZE, PageDelta, PageImage, WalRecord, page_delta
from tests.pageserver.conftest import Workload, check_samples, in_process_server, push

T = "t"
PART = 1 << PART_SHIFT
DB = 1
HOT, WARM, COLD = 0, 2, 4
"""Partitions of db 1 (of 5 written): HOT changes in every transaction, WARM now and then, COLD
never after the load."""
LOW = (1 << (32 - PART_SHIFT)) - 1


def gp(part: int) -> int:
    """The partition id (``key >> PART_SHIFT``) of db 1's ``part``-th partition of pages."""
    return (DB << (32 - PART_SHIFT)) + part


def page_parts(d: LayerDesc) -> set[int]:
    """db 1's page partitions (0..4) named by ``d`` (not its size key's partition)."""
    return {p & LOW for p in d.parts or () if p >> (32 - PART_SHIFT) == DB and p & LOW != LOW}


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partitions with a few page deltas are due (the tests' deltas are tiny)."""
    monkeypatch.setattr(timeline_mod, "PARTITION_IMAGE_RATIO", 0.001)


class Pages:
    """Transactions on a sparse db spread over five partitions, with the model of every page."""

    def __init__(self, tl: Timeline, seed: int = 3) -> None:
        self.tl = tl
        self.lsn = tl.last_record_lsn
        self.xid = 1000
        self.rng = random.Random(seed)
        self.pages: dict[int, list[tuple[int, bytes]]] = {}
        self.sizes: list[tuple[int, int]] = []
        self.size = 5 * PART

    def _page(self, p: int) -> bytes:
        return (f"p{p} x{self.xid} ".encode() + self.rng.randbytes(24) * (PAGE_SIZE // 24 + 1))[:PAGE_SIZE]

    def _changed(self, p: int) -> bytes:
        b = bytearray(self.pages[p][-1][1])
        off = self.rng.randrange(PAGE_SIZE - 8)
        b[off : off + 8] = self.rng.randbytes(8)
        return bytes(b)

    def commit(self, images: list[int], deltas: list[int], size: int | None = None) -> int:
        self.xid += 1
        self.size = self.size if size is None else size
        imgs = {p: self._page(p) for p in images}
        dls = {p: self._changed(p) for p in deltas if p not in imgs}
        wal_d = []
        for p, new in dls.items():
            d = page_delta(self.pages[p][-1][1], new)
            assert d is not None
            wal_d.append(PageDelta(DB, p, d))
        rec = WalRecord(self.xid, True, self.xid, ((DB, self.size),),
                        tuple(PageImage(DB, p, d) for p, d in imgs.items()), tuple(wal_d)).encode()
        self.tl.ingest(self.lsn, rec)
        self.lsn += len(rec)
        for p, d in [*imgs.items(), *dls.items()]:
            self.pages.setdefault(p, []).append((self.lsn, d))
        self.sizes.append((self.lsn, self.size))
        return self.lsn

    def live(self, part: int) -> list[int]:
        return [p for p in self.pages if p // PART == part and p < self.size]

    def check(self, tl: Timeline, lo: int = 0) -> int:
        """Every page at every commit LSN at or above ``lo`` (and one past it) equals the model."""
        lsns = sorted({s for s, _ in self.sizes if s >= lo})
        n = 0
        for lsn in lsns:
            upto = [n for s, n in self.sizes if s <= lsn]
            size = upto[-1] if upto else None
            assert tl.db_size(DB, lsn) == size, lsn
            keys = [page_key(DB, p) for p in self.pages if size is not None and p < size]
            got = tl.get_versions(keys, lsn)
            for p, vs in self.pages.items():
                if size is None or p >= size:
                    continue
                want = [v for v in vs if v[0] <= lsn]
                expect = want[-1] if want else None
                assert got[page_key(DB, p)] == expect, (p, lsn)
                assert tl.get_version(page_key(DB, p), lsn) == expect, (p, lsn)
                n += 1
        return n


def _round(ps: PageServer, tl: Timeline, m: Pages, n: int, warm: bool) -> None:
    """``n`` transactions (deltas on the HOT partition, sometimes WARM), one flush."""
    for i in range(n):
        hot = m.live(HOT)
        deltas = m.rng.sample(hot, 2)
        if warm and i < 3:
            deltas.append(m.rng.choice(m.live(WARM)))
        m.commit([], deltas)
    tl.flush()
    assert ps.uploads.wait(timeout=60)


def _images(tl: Timeline) -> list[LayerDesc]:
    return [d for d in tl.layers if d.kind == "image"]


def _restart(tmp_path: Path, servers: list[PageServer], ps: PageServer, **conf: object) -> PageServer:
    ps.stop()
    servers.remove(ps)
    ps = in_process_server(tmp_path, **conf)  # type: ignore[arg-type]
    servers.append(ps)
    return ps


def test_partial_images_merges_and_gc_read_right_everywhere(
    tmp_path: Path, servers: list[PageServer], eager: None
) -> None:
    ps = in_process_server(tmp_path)
    servers.append(ps)
    tl = ps.create_timeline(T, "main")
    tl.conf.compaction_threshold = 2
    tl.conf.merge_factor = 2  # the switch (off by default): merges are read and GC'd right too
    m = Pages(tl)
    m.commit([part * PART + j for part in range(5) for j in range(6)], [])
    tl.flush()
    assert ps.uploads.wait(timeout=60)
    _round(ps, tl, m, 3, warm=False)
    first = tl.compact()
    assert first is not None and ps.uploads.wait(timeout=60)
    (full,) = _images(tl)
    assert not full.partial and page_parts(full) == {0, 1, 2, 3, 4}

    merged_seen = partial_seen = 0
    shrunk = 1 << 64
    for r in range(12):
        _round(ps, tl, m, 4, warm=r % 3 == 0 or r > 7)
        if r == 7:  # shrink the db into the WARM partition, then regrow it a little
            m.commit([], [], size=WARM * PART + 1)
            shrunk = m.commit([WARM * PART + j for j in (1, 2, 3)], [], size=WARM * PART + 4)
        tl.compact()
        assert ps.uploads.wait(timeout=60)
        merged_seen = max(merged_seen, sum(1 for d in tl.layers if d.merged))
        for d in _images(tl):
            if d.partial:
                partial_seen += 1
                assert COLD not in page_parts(d), d
                assert d.size < full.size
        if r % 4 == 3:
            ps.layer_store.drop_cache()
            assert m.check(tl) > 0
    # an image holds no page at or past its database's size at its LSN (the shrink above)
    for d in _images(tl):
        size = tl.db_size(DB, d.hi)
        assert size is not None
        keys = ps.layer_store.load(T, "main", d).keys
        assert not [k for k in keys if k >> 32 == DB and size <= k & 0xFFFFFFFF < 0xFFFFFFFF], d
    assert merged_seen >= 1, "unmerged delta layers were never merged"
    assert partial_seen >= 1, "no partial image was written"
    assert any(d.partial and HOT in page_parts(d) for d in _images(tl))
    assert any(d.partial and WARM in page_parts(d) and d.hi > shrunk for d in _images(tl))
    # no unmerged run of more than the merge bound is left above the full image
    assert len([d for d in tl.layers if d.kind == "delta" and not d.merged
                and d.lo >= full.hi]) < tl.conf.compaction_threshold * tl.conf.merge_factor + 2
    ps.layer_store.drop_cache()
    assert m.check(tl) > 0

    # a branch in the middle, compacted by the policy (its first image is a full one)
    mid = m.sizes[len(m.sizes) // 2][0]
    child = ps.create_timeline(T, "child", ancestor_timeline="main", ancestor_lsn=mid)
    cm = Pages(child, seed=4)
    cm.pages = {p: [v for v in vs if v[0] <= mid] for p, vs in m.pages.items()}
    cm.pages = {p: vs for p, vs in cm.pages.items() if vs}
    cm.sizes = [s for s in m.sizes if s[0] <= mid]
    cm.size = cm.sizes[-1][1]
    child.conf.compaction_threshold = 2
    for r in range(6):
        _round(ps, child, cm, 3, warm=r == 2)
        child.compact()
        assert ps.uploads.wait(timeout=60)
    assert any(d.partial for d in _images(child))
    ps.layer_store.drop_cache()
    assert cm.check(child) > 0

    # GC with a short retention window: reads at and above the cutoff still right
    tl.conf.retention_lsn = (m.lsn - full.hi) // 3
    before = len(tl.layers)
    res = tl.gc()
    assert ps.uploads.wait(timeout=60)
    assert res["removed"], "GC removed nothing"
    assert len(tl.layers) < before
    ps.layer_store.drop_cache()
    assert m.check(tl, lo=tl.gc_cutoff_lsn) > 0
    assert cm.check(child, lo=mid) > 0  # the branch point's history is kept

    # a restart: the manifest's partitions, partial and merged flags come back
    names = {d.name: (d.parts, d.partial, d.merged) for d in tl.layers}
    ps = _restart(tmp_path, servers, ps)
    tl = ps.get(T, "main")
    assert {d.name: (d.parts, d.partial, d.merged) for d in tl.layers} == names
    m.tl = tl
    assert m.check(tl, lo=tl.gc_cutoff_lsn) > 0
    assert cm.check(ps.get(T, "child"), lo=mid) > 0


def test_a_cold_partition_is_not_rewritten(tmp_path: Path, servers: list[PageServer],
                                           eager: None) -> None:
    """Bytes written by compaction follow what changed: with only the HOT partition
    changing, later images hold it (and the size and timestamp keys), not the database."""
    ps = in_process_server(tmp_path)
    servers.append(ps)
    tl = ps.create_timeline(T, "main")
    tl.conf.compaction_threshold = 2
    m = Pages(tl)
    m.commit([part * PART + j for part in range(5) for j in range(40)], [])
    tl.flush()
    assert ps.uploads.wait(timeout=60)
    _round(ps, tl, m, 2, warm=False)
    assert tl.compact() is not None and ps.uploads.wait(timeout=60)
    (full,) = _images(tl)
    for _ in range(20):
        _round(ps, tl, m, 3, warm=False)
        tl.compact()
        assert ps.uploads.wait(timeout=60)
    partial = [d for d in _images(tl) if d.partial]
    assert partial
    for d in partial:
        assert page_parts(d) == {HOT}, d.parts
        assert d.entries < full.entries / 4
    # a partial image has its own format string (a page server before session 13 refuses it
    # instead of taking it for an image of every key); a full one keeps the old one
    for d in _images(tl):
        path = ps.layer_store.local_path(T, "main", d.name)
        with ipc.open_file(pa.memory_map(path)) as r:
            fmt = (r.schema.metadata or {})[b"format"].decode()
        assert fmt == (layers.FORMAT_PARTIAL if d.partial else layers.FORMAT), (d.name, fmt)
    ps.layer_store.drop_cache()
    assert m.check(tl) > 0


def test_policy_units() -> None:
    """due_partitions and gc_removable on hand-made layer lists."""
    def img(name: str, at: int, parts: dict[int, int] | None, partial: bool = False) -> LayerDesc:
        return LayerDesc(name, "image", at, at, 100, "", parts=parts, partial=partial, remote=True)

    def dl(name: str, lo: int, hi: int, parts: dict[int, int] | None) -> LayerDesc:
        return LayerDesc(name, "delta", lo, hi, 10, "", parts=parts, remote=True)

    layers = [img("F", 10, {0: 1000, 1: 1000, 2: 1000}),
              *(dl(f"D{i}", 10 + i * 10, 20 + i * 10, {0: 50, 1: 0}) for i in range(4)),
              img("P", 30, {0: 1000}, partial=True)]
    due = compaction.due_partitions(layers, 50, threshold=2, cap=4, ratio=1.0, horizon=0)
    assert set(due) == {1}  # 1: 4 layers above F (the cap); 0: 2 above P, 100 < 1000 bytes
    assert due[1].name == "F"
    due = compaction.due_partitions(layers, 50, threshold=2, cap=4, ratio=0.1, horizon=0)
    assert set(due) == {0, 1} and due[0].name == "P"
    due = compaction.due_partitions(layers, 50, threshold=2, cap=9, ratio=1.0, horizon=25)
    assert set(due) == {1}  # D0 (hi 20) left the horizon; partition 0 is imaged at 30 above it
    # GC at horizon 50: D0, D1 hold partitions 0 and 1; only 0 is imaged above them (P)
    assert [d.name for d in compaction.gc_removable(layers, 50, [])] == []
    layers.append(img("Q", 40, {1: 1000}, partial=True))
    gone = {d.name for d in compaction.gc_removable(layers, 50, [])}
    assert gone == {"D0", "D1"}  # F stays: no newer full image; P, Q are the newest of theirs
    # a branch at 35 reads partition 1 from F and D0..D2; one at 45 from Q
    assert {d.name for d in compaction.gc_removable(layers, 50, [35])} == set()
    assert {d.name for d in compaction.gc_removable(layers, 50, [45])} == {"D0", "D1"}
    layers.append(img("F2", 50, None))
    gone = {d.name for d in compaction.gc_removable(layers, 50, [])}
    assert gone == {"F", "D0", "D1", "D2", "D3", "P", "Q"}


def _compact_auto_until_killed(ps: object) -> None:
    try:
        while True:
            ps.c.maintenance(T, "main", "compact_auto")  # type: ignore[attr-defined]
    except Exception:
        pass  # the process was killed


@pytest.mark.parametrize("failpoint", ["compaction-after-write=pause@2", "merge-before-write=pause"])
def test_kill9_mid_partial_compaction_and_merge(ps_factory, failpoint: str) -> None:  # type: ignore[no-untyped-def]
    # a short retention window makes every partition with a delta layer below it due
    ps = ps_factory(None, "--checkpoint-mb", "100", "--no-auto-compact", "--compaction-threshold",
                    "2", "--retention-lsn", "1000", "--gc-interval", "3600",
                    "--merge-deltas", "2").start(
        env={"STRATA_PAGESERVER_FAILPOINTS": failpoint})
    ps.c.create_timeline(T, "main")
    wl = Workload(seed=13)
    wl.run(400)
    n = len(wl.records)
    steps = 8
    name = failpoint.split("=")[0]
    killed = False
    for i in range(steps):
        push(ps, T, "main", wl.records[i * n // steps : (i + 1) * n // steps])
        ps.c.maintenance(T, "main", "flush")
        if i == 1:
            ps.c.maintenance(T, "main", "compact_auto")  # the first image: full
        if i >= 2:
            threading.Thread(target=_compact_auto_until_killed, args=(ps,), daemon=True).start()
            try:
                ps.wait_line(f"FAILPOINT {name}", 5)
            except AssertionError:
                continue
            ps.kill()
            killed = True
            break
    assert killed, f"never reached {name}"
    ps.start(env={"STRATA_PAGESERVER_FAILPOINTS": ""})
    have = ps.c.timeline(T, "main").last_record_lsn
    push(ps, T, "main", wl.records_from(have))
    assert check_samples(ps, T, "main", wl, n=250, seed=5, min_lsn=0) > 0
    # compaction goes on from there, and reads stay right
    for _ in range(3):
        ps.c.maintenance(T, "main", "compact_auto")
    ps.c.maintenance(T, "main", "drop_caches")
    assert check_samples(ps, T, "main", wl, n=250, seed=6) > 0
