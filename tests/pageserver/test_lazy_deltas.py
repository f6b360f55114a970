"""Page deltas kept as deltas (session 12): the page server stores a WAL page delta as it came
and composes on read, at compaction, or when a key's chain reaches MAX_DELTA_CHAIN. These
tests fail if a composition returned a wrong version: a stream of hot pages (chains far
longer than the bound) pushed as full images and as deltas gives the same pages at every
LSN, across a flush (a file holding deltas), a compaction, a branch taken mid-chain, and a
SIGKILL; in process: the deltas really are kept, chains stay bounded, image layers hold
images, reads at every older LSN, a restart that reads them back from files, a page twice in
one transaction, and a shrunk database."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from pageserver import layers
from pageserver.layers import Delta, apply_deltas, page_key
from pageserver.server import PageServer
from pageserver.timeline import MAX_DELTA_CHAIN, InvalidArgument, Timeline
from strata.wal import (
    PAGE_SIZE,
    PageDelta,
    PageImage,
    WalFormatError,
    WalRecord,
    apply_delta,
    page_delta,
)
from tests.pageserver.conftest import PageServerProc, in_process_server
from tests.pageserver.test_page_deltas import DeltaEncoder, Pair, SmallChanges

T = "t1"


class HotChanges(SmallChanges):
    """Most transactions rewrite a few bytes of 1-3 of the first three pages of one database
    (as TPC-B does its branch, teller and history pages): each gets a delta per commit."""

    def txn(self) -> int:
        rng = self.rng
        self.xid += 1
        self.ts += rng.randint(1000, 50_000)
        db = self.dbs[0]
        size = self.cur_size(db)
        writes: dict[int, bytes] = {}
        if size < 6 or rng.random() < 0.05:  # grow
            new = max(6, size + 1)
            for p in range(size, new):
                writes[p] = self._page(db, p)
            size = new
        for _ in range(rng.randint(1, 3)):
            p = rng.randrange(3) if rng.random() < 0.9 else rng.randrange(size)
            writes[p] = self._page(db, p)
        max_bytes = PAGE_SIZE + 64 if rng.random() < 0.2 else 256 * 1024  # some chunked
        return self.commit(db, size, writes, max_bytes)


def test_hot_pages_agree_with_full_images_everywhere(ps_factory) -> None:  # type: ignore[no-untyped-def]
    ps: PageServerProc = ps_factory()
    ps.start()
    c = ps.c
    c.create_timeline(T, "full")
    c.create_timeline(T, "delta")
    pair = Pair(HotChanges(seed=21, dbs=(3,)), DeltaEncoder(0), "full", "delta")
    pair.grow(60)
    pair.push_from(c, 0, 0)
    assert pair.enc.n_deltas > 3 * MAX_DELTA_CHAIN  # chains longer than the bound
    pair.check(c)

    # a flush writes the deltas into a delta layer file; more chains on top of it
    for tl in ("full", "delta"):
        c.maintenance(T, tl, "flush")
    at = pair.wl.lsn
    pair.grow(40)
    pair.push_from(c, at, pair.enc.ends[at])
    pair.check(c)
    for tl in ("full", "delta"):
        c.maintenance(T, tl, "flush")
        c.maintenance(T, tl, "wait_uploads")
        c.maintenance(T, tl, "drop_caches")  # reads decode the files again
    pair.check(c)

    # a compaction folds every chain into an image layer; older LSNs still compose
    for tl in ("full", "delta"):
        assert c.maintenance(T, tl, "compact")["image"]
        c.maintenance(T, tl, "drop_caches")
    at = pair.wl.lsn
    pair.grow(40)
    pair.push_from(c, at, pair.enc.ends[at])
    pair.check(c)

    # a branch taken in the middle of chains: its first deltas rest on the ancestor's deltas
    branch_a = pair.wl.commits[len(pair.wl.commits) * 2 // 3][0]
    branch_b = pair.enc.ends[branch_a]
    c.create_timeline(T, "full_b", ancestor="full", ancestor_lsn=branch_a)
    c.create_timeline(T, "delta_b", ancestor="delta", ancestor_lsn=branch_b)
    replay = DeltaEncoder(0)
    for start, payload in pair.wl.records:
        if start + len(payload) > branch_a:
            break
        replay.feed(start, payload)
    bpair = Pair(HotChanges(seed=22, dbs=(3,), start_lsn=branch_a, base=pair.wl,
                            branch_lsn=branch_a), replay.copy(branch_b), "full_b", "delta_b")
    bpair.grow(40)
    bpair.push_from(c, branch_a, branch_b)
    assert bpair.enc.n_deltas > 2 * MAX_DELTA_CHAIN
    bpair.check(c)

    # SIGKILL with deltas in memory: restart at the last uploaded consistent LSN, resume
    at = pair.wl.lsn
    pair.grow(30)
    pair.push_from(c, at, pair.enc.ends[at])
    ps.kill()
    ps.start()
    c = ps.c
    la = int(c.timeline(T, "full").last_record_lsn)
    lb = int(c.timeline(T, "delta").last_record_lsn)
    assert pair.enc.ends[la] == lb, (la, lb)
    pair.push_from(c, la, lb)
    pair.check(c)
    lba = int(c.timeline(T, "full_b").last_record_lsn)
    lbb = int(c.timeline(T, "delta_b").last_record_lsn)
    bpair.push_from(c, lba, lbb)
    bpair.check(c)


# ---------------------------------------------------------------------- in process




class Model:
    """Records for one database made by hand, with every page's versions."""

    def __init__(self, tl: Timeline, db: int = 1) -> None:
        self.tl, self.db = tl, db
        self.lsn = tl.last_record_lsn
        self.xid = 100
        self.pages: dict[int, list[tuple[int, bytes]]] = {}
        self.size = 0
        self.rng = random.Random(5)

    def now(self, p: int) -> bytes:
        return self.pages[p][-1][1]

    def changed(self, p: int) -> bytes:
        b = bytearray(self.now(p))
        for _ in range(self.rng.randint(1, 3)):
            off = self.rng.randrange(PAGE_SIZE - 16)
            b[off : off + 8] = self.rng.randbytes(8)
        return bytes(b)

    def commit(self, images: dict[int, bytes], deltas: dict[int, bytes], size: int | None = None,
               chunk: list[PageImage] | None = None) -> int:
        """One transaction: ``chunk`` first (not committed), then images and deltas (the new
        page content, sent as a delta against the model's newest version)."""
        self.xid += 1
        if chunk:
            rec = WalRecord(self.xid, False, 0, (), tuple(chunk)).encode()
            self.tl.ingest(self.lsn, rec)
            self.lsn += len(rec)
        self.size = size if size is not None else max([self.size, *(p + 1 for p in images)])
        dl = []
        for p, new in deltas.items():
            base = ({c.page_no: c.data for c in chunk or []}).get(p) or self.now(p)
            d = page_delta(base, new)
            assert d is not None
            dl.append(PageDelta(self.db, p, d))
        rec = WalRecord(self.xid, True, self.xid, ((self.db, self.size),),
                        tuple(PageImage(self.db, p, d) for p, d in images.items()), tuple(dl)).encode()
        self.tl.ingest(self.lsn, rec)
        self.lsn += len(rec)
        for p, d in [*images.items(), *deltas.items()]:
            self.pages.setdefault(p, []).append((self.lsn, d))
        return self.lsn

    def check(self, tl: Timeline | None = None, upto: int | None = None) -> int:
        """Every page at every commit LSN (and between) equals the model's."""
        tl = tl or self.tl
        lsns = sorted({lsn for vs in self.pages.values() for lsn, _ in vs if upto is None or lsn <= upto})
        n = 0
        for lsn in lsns:
            for probe in (lsn, lsn + 1) if lsn + 1 <= tl.last_record_lsn else (lsn,):
                for p, vs in self.pages.items():
                    want = [(v_lsn, d) for v_lsn, d in vs if v_lsn <= probe]
                    got = tl.get_version(page_key(self.db, p), probe)
                    assert got == (want[-1] if want else None), (p, probe)
                    n += 1
        return n


def _stored(tl: Timeline, key: int) -> list[tuple[int, bytes]]:
    """Every stored version of ``key`` in the timeline's own layers, oldest first."""
    mems, files = tl._view
    out = [v for m in mems for v in m.versions_of(key)]
    for d in files:
        out += tl.layer_store.load(tl.tenant, tl.timeline_id, d).versions_of(key)
    return sorted(set(out))


def _max_run_of_deltas(versions: list[tuple[int, bytes]]) -> int:
    run = best = 0
    for _, data in versions:
        run = run + 1 if type(data) is Delta else 0
        best = max(best, run)
    return best


def _file_format(ps: PageServer, tl: Timeline, kind: str) -> set[str]:
    out = set()
    for d in tl.layers:
        if d.kind == kind:
            path = ps.layer_store.local_path(tl.tenant, tl.timeline_id, d.name)
            with ipc.open_file(pa.memory_map(path)) as r:
                out.add((r.schema.metadata or {})[b"format"].decode())
    return out


def test_deltas_are_kept_bounded_and_compose_at_every_lsn(tmp_path: Path,
                                                          servers: list[PageServer]) -> None:
    ps = in_process_server(tmp_path)
    servers.append(ps)
    tl = ps.create_timeline(T, "main")
    m = Model(tl)
    m.commit({p: bytes([p + 1]) * PAGE_SIZE for p in range(4)}, {})
    for i in range(3 * MAX_DELTA_CHAIN + 5):
        m.commit({}, {0: m.changed(0), 1 + i % 2: m.changed(1 + i % 2)})
    key0 = page_key(1, 0)
    stored = _stored(tl, key0)
    kept = sum(1 for _, d in stored if type(d) is Delta)
    assert kept >= 3 * (MAX_DELTA_CHAIN - 1), kept  # the deltas really are kept
    assert _max_run_of_deltas(stored) == MAX_DELTA_CHAIN  # ...and chains bounded
    assert m.check() > 0

    # a page twice in one transaction (image in a chunk, delta at the commit; and a delta
    # of a page whose newest version is a delta): composed, correct
    new3 = m.changed(3)
    m.commit({}, {3: m.changed(3), 2: m.changed(2)}, chunk=[PageImage(1, 3, new3)])
    assert type(tl.open_layer.get(page_key(1, 3), m.lsn)[1]) is bytes  # type: ignore[index]
    m.check()

    # flushed: the delta layer file holds deltas (its own format), reads from the file
    ps.maintenance(T, "main", "flush")
    ps.maintenance(T, "main", "wait_uploads")
    assert _file_format(ps, tl, "delta") == {layers.FORMAT_DELTAS}
    ps.layer_store.drop_cache()
    m.check()
    for _ in range(MAX_DELTA_CHAIN + 3):  # chains continue on top of the file's
        m.commit({}, {0: m.changed(0)})
    m.check()
    ps.maintenance(T, "main", "flush")
    ps.maintenance(T, "main", "wait_uploads")
    assert ps.maintenance(T, "main", "compact")["image"]
    assert _file_format(ps, tl, "image") == {layers.FORMAT}  # images only
    ps.layer_store.drop_cache()
    m.check()

    # a restart: the timeline object is new (no chain known), everything read from files
    before = m.lsn
    ps.stop()
    servers.remove(ps)
    ps = in_process_server(tmp_path)
    servers.append(ps)
    tl = ps.get(T, "main")
    assert tl.last_record_lsn == before
    m.tl = tl
    m.commit({}, {0: m.changed(0)})  # unknown chain: composed at ingest
    assert type(tl.open_layer.get(key0, m.lsn)[1]) is bytes  # type: ignore[index]
    m.commit({}, {0: m.changed(0)})  # known now: kept
    assert type(tl.open_layer.get(key0, m.lsn)[1]) is Delta  # type: ignore[index]
    m.check()

    # a branch in the middle of a chain, deltas on top of the ancestor's deltas
    mid = m.pages[0][-MAX_DELTA_CHAIN // 2][0]
    child = ps.create_timeline(T, "child", ancestor_timeline="main", ancestor_lsn=mid)
    cm = Model(child)
    cm.pages = {p: [v for v in vs if v[0] <= mid] for p, vs in m.pages.items()}
    cm.size = m.size
    for _ in range(5):
        cm.commit({}, {0: cm.changed(0)})
    m.commit({}, {0: m.changed(0)})  # the ancestor goes on
    assert cm.check() > 0
    m.check()
    # the child compacted: its image folds its deltas onto the ancestor's pages
    ps.maintenance(T, "child", "flush")
    ps.maintenance(T, "child", "wait_uploads")
    assert ps.maintenance(T, "child", "compact")["image"]
    assert _file_format(ps, child, "image") == {layers.FORMAT}
    ps.layer_store.drop_cache()
    cm.commit({}, {0: cm.changed(0)})
    assert cm.check() > 0


def test_a_shrunk_database_is_no_base(tmp_path: Path, servers: list[PageServer]) -> None:
    """A page whose chain is known but which the database was truncated below: its delta is
    refused as before (no version at the previous record's end), nothing applied."""
    ps = in_process_server(tmp_path)
    servers.append(ps)
    tl = ps.create_timeline(T, "main")
    m = Model(tl)
    m.commit({p: bytes([p + 1]) * PAGE_SIZE for p in range(4)}, {})
    m.commit({}, {3: m.changed(3)})
    m.commit({}, {}, size=3)
    d = page_delta(m.now(3), m.changed(3))
    assert d is not None
    rec = WalRecord(999, True, 999, ((1, 4),), (), (PageDelta(1, 3, d),)).encode()
    with pytest.raises(InvalidArgument, match="no version"):
        tl.ingest(m.lsn, rec)
    assert tl.last_record_lsn == m.lsn
    # compacted while shrunk (the image leaves page 3 out), then grown back without writing
    # page 3: no version of it at the delta's base, as composing at ingest would find
    ps.maintenance(T, "main", "flush")
    ps.maintenance(T, "main", "wait_uploads")
    assert ps.maintenance(T, "main", "compact")["image"]
    m.commit({}, {}, size=4)
    rec = WalRecord(1000, True, 1000, ((1, 4),), (), (PageDelta(1, 3, d),)).encode()
    with pytest.raises(InvalidArgument, match="no version"):
        tl.ingest(m.lsn, rec)
    assert tl.last_record_lsn == m.lsn


def test_apply_deltas_is_apply_delta_in_turn() -> None:
    rng = random.Random(7)
    for _ in range(200):
        page = rng.randbytes(PAGE_SIZE)
        versions = [page]
        deltas = []
        for _ in range(rng.randint(0, 20)):
            b = bytearray(versions[-1])
            for _ in range(rng.randint(0, 6)):
                off = rng.randrange(PAGE_SIZE)
                n = rng.randint(1, 64)
                b[off : off + n] = rng.randbytes(n)
            new = bytes(b[:PAGE_SIZE])
            dd = page_delta(versions[-1], new)
            if dd is None:
                continue
            deltas.append(dd)
            versions.append(new)
        want = page
        for dd in deltas:
            want = apply_delta(want, dd)
        assert want == versions[-1]
        assert apply_deltas(page, deltas) == want
    with pytest.raises(WalFormatError):
        apply_deltas(b"short", [])
    with pytest.raises(WalFormatError):  # a run past the page
        apply_deltas(bytes(PAGE_SIZE), [b"\xff\x0f\x08\x00" + b"x" * 8])
    with pytest.raises(WalFormatError):  # a truncated run
        apply_deltas(bytes(PAGE_SIZE), [b"\x00\x00\x08\x00xx"])
