"""Page deltas at the page server: one transaction stream pushed once as full images and once
as deltas (encoded the way the primary's sink does) gives the same pages at every LSN, across
a flush, a compaction, a branch and a page server SIGKILL resumed mid-stream; a delta without
a base stops ingest without applying anything."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pageserver.client import PageServerClient
from strata.storage import StorageError
from strata.wal import PAGE_SIZE, PageDelta, PageImage, WalRecord, page_delta
from tests.pageserver.conftest import PageServerProc, Workload

T = "t1"


class SmallChanges(Workload):
    """The conftest workload (chunked, abandoned and truncating transactions), but a page
    rewrite changes a few bytes of its previous version, as SQLite does."""

    def _page(self, db: int, page: int) -> bytes:
        prev = self.expected(db, page, self.lsn)
        if prev is None or len(prev) != PAGE_SIZE or self.rng.random() < 0.1:
            return super()._page(db, page)
        b = bytearray(prev)
        for _ in range(self.rng.randint(1, 4)):
            n = self.rng.randint(1, 24)
            off = self.rng.randrange(PAGE_SIZE - n)
            b[off : off + n] = self.rng.randbytes(n)
        return bytes(b)


@dataclass
class DeltaEncoder:
    """Re-encodes a full-image stream as RemoteSink does with deltas on: a page inside its
    database at the last commit, with a known image there, goes as a delta against it."""

    lsn: int
    pages: dict[tuple[int, int], bytes] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    txn: dict[int, list[PageImage]] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)
    """End LSN in the full stream -> end LSN in the delta stream."""
    n_deltas: int = 0

    def feed(self, start: int, payload: bytes) -> tuple[int, bytes]:
        rec = WalRecord.decode(payload)
        whole: list[PageImage] = []
        deltas: list[PageDelta] = []
        for p in rec.pages:
            base = self.pages.get((p.db_id, p.page_no))
            inside = p.page_no < self.sizes.get(p.db_id, 0)
            d = page_delta(base, p.data) if base is not None and inside else None
            if d is None:
                whole.append(p)
            else:
                deltas.append(PageDelta(p.db_id, p.page_no, d))
        self.n_deltas += len(deltas)
        out = WalRecord(rec.xid, rec.commit, rec.commit_ts_us, rec.db_sizes, tuple(whole),
                        tuple(deltas)).encode()
        at = self.lsn
        self.lsn += len(out)
        self.ends[start + len(payload)] = self.lsn
        self.txn.setdefault(rec.xid, []).extend(rec.pages)
        if rec.commit:
            for p in self.txn.pop(rec.xid):
                self.pages[(p.db_id, p.page_no)] = p.data
            self.txn.clear()
            self.sizes.update(rec.db_sizes)
        return at, out

    def copy(self, lsn: int) -> DeltaEncoder:
        return DeltaEncoder(lsn, dict(self.pages), dict(self.sizes))


def push(c: PageServerClient, timeline: str, records: list[tuple[int, bytes]]) -> None:
    for i in range(0, len(records), 32):
        c.ingest(T, timeline, records[i : i + 32])


class Pair:
    """The same workload on two timelines: ``full`` gets its records, ``delta`` them
    re-encoded with deltas."""

    def __init__(self, wl: Workload, enc: DeltaEncoder, full: str, delta: str) -> None:
        self.wl, self.enc, self.full, self.delta = wl, enc, full, delta
        self.pushed = wl.start_lsn  # full-stream LSN pushed up to
        self.converted: list[tuple[int, int, bytes]] = []  # (full start, delta start, payload)

    def grow(self, n: int) -> None:
        before = len(self.wl.records)
        self.wl.run(n)
        for start, payload in self.wl.records[before:]:
            b_start, out = self.enc.feed(start, payload)
            self.converted.append((start, b_start, out))

    def push_from(self, c: PageServerClient, full_lsn: int, delta_lsn: int) -> None:
        push(c, self.full, [(s, p) for s, p in self.wl.records if s >= full_lsn])
        push(c, self.delta, [(b, p) for s, b, p in self.converted if b >= delta_lsn])
        self.pushed = self.wl.lsn

    def check(self, c: PageServerClient, every: int = 1) -> int:
        """get_pages of every page the workload knows, at every record end (every n-th)."""
        checked = 0
        ends = sorted(self.enc.ends.items())[::every]
        for a_end, b_end in ends:
            for db in self.wl.dbs:
                n = c.db_size(T, self.full, db, a_end)
                assert c.db_size(T, self.delta, db, b_end) == n
                nos = list(range(n + 1))
                got_full = c.get_pages(T, self.full, db, nos, a_end)
                got_delta = c.get_pages(T, self.delta, db, nos, b_end)
                assert got_full == got_delta, (db, a_end, b_end)
                for p in nos[:n]:
                    assert got_full[p] == self.wl.expected(db, p, a_end), (db, p, a_end)
                checked += len(nos)
        return checked


def test_full_and_delta_streams_agree_everywhere(ps_factory) -> None:  # type: ignore[no-untyped-def]
    ps: PageServerProc = ps_factory()
    ps.start()
    c = ps.c
    c.create_timeline(T, "full")
    c.create_timeline(T, "delta")
    pair = Pair(SmallChanges(seed=11), DeltaEncoder(0), "full", "delta")
    pair.grow(40)
    pair.push_from(c, 0, 0)
    assert pair.enc.n_deltas > 40  # the stream really is mostly deltas
    full_bytes = sum(len(p) for _, p in pair.wl.records)
    delta_bytes = sum(len(p) for _, _, p in pair.converted)
    assert delta_bytes < full_bytes * 0.7, (delta_bytes, full_bytes)  # new pages go whole
    pair.check(c)

    # across a flush to a delta layer and a compaction to an image layer
    for tl in ("full", "delta"):
        c.maintenance(T, tl, "flush")
    at = pair.wl.lsn
    pair.grow(25)
    pair.push_from(c, at, pair.enc.ends[at])
    for tl in ("full", "delta"):
        c.maintenance(T, tl, "flush")
        c.maintenance(T, tl, "wait_uploads")
        assert c.maintenance(T, tl, "compact")["image"]
    at = pair.wl.lsn
    pair.grow(25)
    pair.push_from(c, at, pair.enc.ends[at])
    pair.check(c)

    # a branch: its deltas' bases come from the ancestor
    branch_a = pair.wl.commits[len(pair.wl.commits) // 2][0]
    branch_b = pair.enc.ends[branch_a]
    c.create_timeline(T, "full_b", ancestor="full", ancestor_lsn=branch_a)
    c.create_timeline(T, "delta_b", ancestor="delta", ancestor_lsn=branch_b)
    bwl = SmallChanges(seed=12, start_lsn=branch_a, base=pair.wl, branch_lsn=branch_a)
    replay = DeltaEncoder(0)  # the encoder's state at the branch point
    for start, payload in pair.wl.records:
        if start + len(payload) > branch_a:
            break
        replay.feed(start, payload)
    benc = replay.copy(branch_b)
    bpair = Pair(bwl, benc, "full_b", "delta_b")
    bpair.grow(30)
    bpair.push_from(c, branch_a, branch_b)
    assert benc.n_deltas > 20
    bpair.check(c)
    for tl in ("full_b", "delta_b"):
        c.maintenance(T, tl, "flush")
        c.maintenance(T, tl, "wait_uploads")

    # SIGKILL mid-stream: each timeline restarts at its last uploaded consistent LSN, which
    # is the same transaction boundary on both; resuming there gives the same pages
    at = pair.wl.lsn
    pair.grow(30)
    half = pair.wl.records[len(pair.wl.records) - 15][0]
    push(c, "full", [(s, p) for s, p in pair.wl.records if at <= s < half])
    push(c, "delta", [(b, p) for s, b, p in pair.converted if at <= s < half])
    for tl in ("full", "delta"):
        c.maintenance(T, tl, "flush")
        c.maintenance(T, tl, "wait_uploads")
    more = pair.wl.records[len(pair.wl.records) - 5][0]
    push(c, "full", [(s, p) for s, p in pair.wl.records if half <= s < more])
    push(c, "delta", [(b, p) for s, b, p in pair.converted if half <= s < more])
    ps.kill()
    ps.start()
    c = ps.c
    la = int(c.timeline(T, "full").last_record_lsn)
    lb = int(c.timeline(T, "delta").last_record_lsn)
    assert at < la <= more and pair.enc.ends[la] == lb, (at, la, lb, more)
    pair.push_from(c, la, lb)
    pair.check(c)
    bpair.check(c, every=3)


def test_delta_without_a_base_applies_nothing(ps_factory) -> None:  # type: ignore[no-untyped-def]
    ps: PageServerProc = ps_factory()
    ps.start()
    c = ps.c
    c.create_timeline(T, "main")
    page = bytes(PAGE_SIZE)
    new = b"\x01" + page[1:]
    d = page_delta(page, new)
    assert d is not None
    r1 = WalRecord(1, True, 1, ((0, 2),), (PageImage(0, 0, page), PageImage(0, 1, page))).encode()
    lsn = c.ingest(T, "main", [(0, r1)])
    # page 2 is past the database's end and page 0 of db 5 never existed: no base
    for rec in (WalRecord(2, True, 2, ((0, 3),), (), (PageDelta(0, 2, d),)),
                WalRecord(2, True, 2, ((5, 1),), (), (PageDelta(5, 0, d),))):
        with pytest.raises(StorageError, match="no version"):
            c.ingest(T, "main", [(lsn, rec.encode())])
        assert int(c.timeline(T, "main").last_record_lsn) == lsn
    # a chunk of the transaction first, then the commit: the delta applies to the image
    # earlier in the same transaction, and to the committed page otherwise
    chunk = WalRecord(3, False, 0, (), (PageImage(0, 2, new),)).encode()
    d2 = page_delta(new, b"\x02" + new[1:])
    assert d2 is not None
    commit = WalRecord(3, True, 3, ((0, 3),), (),
                       (PageDelta(0, 2, d2), PageDelta(0, 1, d))).encode()
    end = c.ingest(T, "main", [(lsn, chunk), (lsn + len(chunk), commit)])
    assert c.get_page(T, "main", 0, 2, end) == b"\x02" + new[1:]
    assert c.get_page(T, "main", 0, 1, end) == new
    assert c.get_page(T, "main", 0, 0, end) == page
    assert c.get_page(T, "main", 0, 1, lsn) == page
