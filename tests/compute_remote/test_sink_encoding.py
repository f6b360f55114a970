"""The primary sink's commit encoding (compute/remote/wal.py, session 14), in process with a
fake proposer: its payloads are byte for byte the records built the older way (a delta,
as ``PageDelta``, against ``peek_latest`` of each page; whole images otherwise), the overlay
serves the next commit's bases, and ``peek_latest_many`` answers as ``peek_latest`` does
for every kind of key (an overlay image, an overlay delta composed on a base, a base-cache
page, a page past its database's end, a database never seen)."""

from __future__ import annotations

import concurrent.futures
import random

from compute.remote.pages import RemotePages
from compute.remote.wal import RemoteSink
from strata.wal import (
    PAGE_SIZE,
    PageDelta,
    PageImage,
    WalRecord,
    page_delta,
    split_transaction,
)


class _Inner:
    end_lsn = 0


class FakeProposer:
    """``SyncProposer.submit``: LSNs by payload bytes; keeps every payload."""

    term = 1

    def __init__(self) -> None:
        self.proposer = _Inner()
        self.end = 0
        self.payloads: list[bytes] = []

    def submit(self, payloads: list[bytes], fut: concurrent.futures.Future[int] | None = None
               ) -> tuple[int, concurrent.futures.Future[int]]:
        self.end += sum(len(p) for p in payloads)
        self.payloads.extend(payloads)
        if fut is None:
            fut = concurrent.futures.Future()
        fut.set_result(self.end)
        return self.end, fut


class Backend:
    """A page server holding ``base`` (db 1: 50 pages) at the floor."""

    def __init__(self, base: dict[tuple[int, int], bytes]) -> None:
        self.base = base

    def get_pages(self, db_id: int, page_nos: list[int], lsn: int) -> list[bytes | None]:
        return [self.base.get((db_id, p)) for p in page_nos]

    def db_size(self, db_id: int, lsn: int) -> int:
        return 50 if db_id == 1 else 0

    def last_record_lsn(self) -> int:
        return 0


def make_pages(rng: random.Random) -> tuple[RemotePages, dict[tuple[int, int], bytes]]:
    base = {(1, p): rng.randbytes(PAGE_SIZE) for p in range(50)}
    pages = RemotePages(Backend(base), 1, cache_bytes=64 * PAGE_SIZE * 4,
                        overlay_bytes=1 << 30, head=lambda: 1)
    return pages, base


def mutate(rng: random.Random, page: bytes, spots: int) -> bytes:
    b = bytearray(page)
    for _ in range(spots):
        n = rng.randint(1, 12)
        off = rng.randrange(PAGE_SIZE - n + 1)
        b[off : off + n] = rng.randbytes(n)
    return bytes(b)


def old_way(pages: RemotePages, records: list[WalRecord]) -> list[bytes]:
    """The payloads as the sink built them before session 14 (one peek and one PageDelta
    per page, a second WalRecord), from the same overlay state."""
    out = []
    for rec in records:
        whole, deltas = [], []
        for p in rec.pages:
            b = pages.peek_latest(p.db_id, p.page_no, overlay_only=True)
            d = None if b is None else page_delta(b, p.data)
            if d is None:
                whole.append(p)
            else:
                deltas.append(PageDelta(p.db_id, p.page_no, d))
        if deltas:
            rec = WalRecord(rec.xid, rec.commit, rec.commit_ts_us, rec.db_sizes,
                            tuple(whole), tuple(deltas))
        out.append(rec.encode())
    return out


def test_payloads_are_the_old_bytes_through_many_commits() -> None:
    rng = random.Random(16)
    pages, base = make_pages(rng)
    proposer = FakeProposer()
    sink = RemoteSink(proposer, pages, page_deltas=True)  # type: ignore[arg-type]
    current = dict(base)
    size = 50
    for xid in range(1, 120):
        touched = rng.sample(range(size), rng.randint(1, 6))
        if xid % 7 == 0:  # the database grows: new pages past the old end are whole
            touched += [size, size + 1]
            size += 2
        imgs = []
        for p in sorted(touched):
            key = (1, p)
            new = (mutate(rng, current[key], rng.randint(1, 4)) if key in current and xid % 5
                   else rng.randbytes(PAGE_SIZE))  # every 5th: rewritten (too big a delta)
            current[key] = new
            imgs.append(PageImage(1, p, new))
        max_bytes = 2 * PAGE_SIZE + 200 if xid % 3 == 0 else 1 << 20  # several records
        records = split_transaction(xid, imgs, ((1, size),), xid * 10, max_bytes)
        want = old_way(pages, records)
        before = len(proposer.payloads)
        ticket = sink.submit(records)
        got = proposer.payloads[before:]
        assert got == want, xid
        assert ticket.durable.result(1) == ticket.lsn == proposer.end
        back = [WalRecord.decode(b) for b in got]
        assert sum(len(r.pages) + len(r.deltas) for r in back) == len(imgs)
    assert sink.stats.pages_delta > 100 and sink.stats.pages_whole > 50


def test_peek_latest_many_answers_as_peek_latest() -> None:
    rng = random.Random(5)
    pages, base = make_pages(rng)
    # db 1 at 50 pages in the base cache for pages 0-9 (read once through the backend)
    for p in range(10):
        pages.get_page(1, p, 1)
    img = rng.randbytes(PAGE_SIZE)
    d = page_delta(base[(1, 3)], mutate(rng, base[(1, 3)], 2))
    assert d
    pages.insert(10, [(1, 2, img), (1, 3, PageDelta(1, 3, d))], ((1, 50),))
    pages.insert(20, [(1, 2, mutate(rng, img, 1))], ((1, 48),))  # shrinks: 48, 49 are past the end
    keys = [(1, p) for p in range(52)] + [(2, 0), (7, 5)]
    rng.shuffle(keys)
    for overlay_only in (True, False):
        want = [pages.peek_latest(db, p, overlay_only=overlay_only) for db, p in keys]
        assert pages.peek_latest_many(keys, overlay_only=overlay_only) == want
    got = dict(zip(keys, pages.peek_latest_many(keys), strict=True))
    assert got[(1, 3)] is not None and got[(1, 3)] != base[(1, 3)]  # composed on its base
    assert got[(1, 5)] == base[(1, 5)]  # from the base cache
    assert got[(1, 48)] is None and got[(2, 0)] is None
