"""Page deltas in WAL records (strata/wal.py): page_delta/apply_delta round trips, version 1
records unchanged byte for byte, malformed version 2 records refused, and the standalone
store never taking a delta."""

from __future__ import annotations

import random
import sqlite3
import struct
from pathlib import Path

import pytest

from strata.wal import (
    MAX_DELTA_BYTES,
    PAGE_SIZE,
    PageDelta,
    PageImage,
    WalFormatError,
    WalRecord,
    apply_delta,
    check_delta,
    fits_one_record,
    page_delta,
    page_image,
    split_transaction,
)

_HEADER = struct.Struct("<BBHQqII")
_PAGE_V2 = struct.Struct("<IIBI")
_RUN = struct.Struct("<HH")


def mutate(rng: random.Random, page: bytes, n_changes: int, max_len: int) -> bytes:
    b = bytearray(page)
    for _ in range(n_changes):
        n = rng.randint(1, max_len)
        off = rng.randrange(PAGE_SIZE - n + 1)
        b[off : off + n] = rng.randbytes(n)
    return bytes(b)


def test_round_trips_on_random_page_pairs() -> None:
    rng = random.Random(16)
    sizes = {"none": 0, "few": 0, "many": 0, "all": 0}
    for i in range(400):
        old = rng.randbytes(PAGE_SIZE) if i % 2 else bytes(PAGE_SIZE)
        kind = ["none", "few", "many", "all"][i % 4]
        if kind == "none":
            new = old
        elif kind == "few":
            new = mutate(rng, old, rng.randint(1, 4), 8)
        elif kind == "many":
            new = mutate(rng, old, rng.randint(20, 200), 40)
        else:
            new = rng.randbytes(PAGE_SIZE)
        d = page_delta(old, new)
        if d is None:
            sizes[kind] += 1
            assert kind in ("many", "all")  # only big changes are refused
            continue
        assert len(d) <= MAX_DELTA_BYTES
        check_delta(d)
        assert apply_delta(old, d) == new
        if kind == "none":
            assert d == b""
        if kind == "few":
            assert len(d) <= 4 * (_RUN.size + 8 + 4), len(d)  # runs merged at most a gap apart
    assert sizes["all"] == 100  # a wholly new page is never a delta


def reference_delta(old: bytes, new: bytes) -> bytes | None:
    """page_delta's contract, one byte at a time: runs of differing bytes, merged when at
    most 4 equal bytes apart; None above MAX_DELTA_BYTES."""
    runs: list[list[int]] = []
    for i in range(PAGE_SIZE):
        if old[i] != new[i]:
            if runs and i - runs[-1][1] <= 4:
                runs[-1][1] = i + 1
            else:
                runs.append([i, i + 1])
    out = b"".join(_RUN.pack(lo, hi - lo) + new[lo:hi] for lo, hi in runs)
    return None if len(out) > MAX_DELTA_BYTES else out


def test_matches_a_byte_by_byte_reference() -> None:
    rng = random.Random(7)
    for i in range(300):
        old = rng.randbytes(PAGE_SIZE) if i % 3 else bytes(PAGE_SIZE)
        b = bytearray(old)
        for _ in range(rng.randint(0, 60)):
            n = rng.randint(1, 12)
            off = rng.randrange(PAGE_SIZE - n + 1)
            b[off : off + n] = rng.randbytes(n)
        if i % 5 == 0:  # changes right at the 256-byte block edges
            for p in range(rng.randrange(250, 262), PAGE_SIZE, 256):
                b[p] ^= 0x80
        new = bytes(b)
        assert page_delta(old, new) == reference_delta(old, new), i


def test_edges_first_and_last_byte_and_gaps() -> None:
    old = bytes(range(256)) * 16
    for positions in ([0], [PAGE_SIZE - 1], [0, PAGE_SIZE - 1], [10, 12], [10, 20], [5, 6, 7]):
        b = bytearray(old)
        for p in positions:
            b[p] ^= 0xFF
        d = page_delta(old, bytes(b))
        assert d is not None and apply_delta(old, d) == bytes(b)
    # a gap of up to 4 equal bytes is one run, a larger gap two
    b = bytearray(old)
    b[100] ^= 1
    b[105] ^= 1
    d = page_delta(old, bytes(b))
    assert d is not None and len(d) == _RUN.size + 6
    b[105] ^= 1
    b[106] ^= 1
    d = page_delta(old, bytes(b))
    assert d is not None and len(d) == 2 * (_RUN.size + 1)
    assert page_delta(old, old[:100]) is None  # not a page
    assert page_delta(old[:100], old) is None


def sqlite_pages(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + PAGE_SIZE] for i in range(0, len(data), PAGE_SIZE)]


def test_sqlite_shaped_pages(tmp_path: Path) -> None:
    """Pages of a real SQLite file before and after TPC-B-like updates and an insert: every
    changed page is a small delta that applies back to the new page exactly."""
    path = tmp_path / "t.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA page_size = 4096")
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("PRAGMA synchronous = OFF")  # no fsyncs: the file's pages are the same without them
    db.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER, filler TEXT)")
    db.execute("CREATE TABLE hist (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, "
               "mtime TEXT, filler TEXT)")
    db.executemany("INSERT INTO acct VALUES (?, 0, ?)", [(i, " " * 84) for i in range(2000)])
    rng = random.Random(3)
    deltas = 0
    total = 0
    for _ in range(20):
        before = sqlite_pages(path)
        db.execute("BEGIN")
        aid = rng.randrange(2000)
        db.execute("UPDATE acct SET bal = bal + ? WHERE id = ?", (rng.randint(-5000, 5000), aid))
        db.execute("INSERT INTO hist VALUES (1, 2, ?, 3, '2026-12-04 04:00:00', '')", (aid,))
        db.execute("COMMIT")
        after = sqlite_pages(path)
        changed = [i for i in range(min(len(before), len(after))) if before[i] != after[i]]
        assert changed  # at least page 1 (the change counter) and the account's leaf
        for i in changed:
            d = page_delta(before[i], after[i])
            assert d is not None, i
            assert len(d) < 1024, (i, len(d))  # a cell moved within its page at most
            assert apply_delta(before[i], d) == after[i]
            deltas += 1
            total += len(d)
    db.close()
    assert deltas >= 40
    assert total / deltas < 300, total / deltas  # vs 4,096 bytes of the whole page


def test_v1_records_are_unchanged_byte_for_byte() -> None:
    """A record without deltas encodes as version 1, exactly the layout the page server,
    replicas and the standalone log have always read; decoding gives it back."""
    pages = (PageImage(3, 7, b"a" * PAGE_SIZE), PageImage(3, 9, b"b" * PAGE_SIZE))
    rec = WalRecord(42, True, 1234, ((3, 10),), pages)
    want = (_HEADER.pack(1, 1, 0, 42, 1234, 1, 2) + struct.pack("<II", 3, 10)
            + struct.pack("<III", 3, 7, PAGE_SIZE) + b"a" * PAGE_SIZE
            + struct.pack("<III", 3, 9, PAGE_SIZE) + b"b" * PAGE_SIZE)
    assert rec.encode() == want
    assert WalRecord.decode(want) == rec
    for r in split_transaction(5, list(pages) * 3, ((3, 10),), 9, max_bytes=2 * PAGE_SIZE):
        assert r.encode()[0] == 1 and WalRecord.decode(r.encode()) == r


def test_v2_round_trip() -> None:
    old = bytes(PAGE_SIZE)
    new = b"x" + bytes(PAGE_SIZE - 2) + b"y"
    d = page_delta(old, new)
    assert d is not None
    rec = WalRecord(7, False, 0, (), (PageImage(1, 2, b"z" * PAGE_SIZE),),
                    (PageDelta(1, 3, d), PageDelta(1, 4, b"")))
    buf = rec.encode()
    assert buf[0] == 2
    assert len(buf) < PAGE_SIZE + 100
    back = WalRecord.decode(buf)
    assert back == rec
    assert apply_delta(old, back.deltas[0].delta) == new
    assert apply_delta(old, back.deltas[1].delta) == old


def v2(entries: list[tuple[int, bytes]], n_pages: int | None = None, tail: bytes = b"") -> bytes:
    """A version 2 record of (kind, body) entries for pages 0, 1, ..."""
    parts = [_HEADER.pack(2, 1, 0, 1, 0, 0, len(entries) if n_pages is None else n_pages)]
    for i, (kind, body) in enumerate(entries):
        parts.append(_PAGE_V2.pack(0, i, kind, len(body)))
        parts.append(body)
    return b"".join(parts) + tail


def run(off: int, data: bytes, length: int | None = None) -> bytes:
    return _RUN.pack(off, len(data) if length is None else length) + data


@pytest.mark.parametrize("body,why", [
    (run(4090, b"1234567"), "past the page"),
    (run(4096, b"x"), "past the page"),
    (run(10, b""), "empty run"),
    (run(10, b"abcd") + run(12, b"zz"), "overlap"),
    (run(20, b"ab") + run(10, b"zz"), "out of order"),
    (run(10, b"abcd", 8), "truncated in a run's bytes"),
    (run(10, b"ab") + b"\x01", "truncated in a run header"),
])
def test_malformed_deltas_are_format_errors(body: bytes, why: str) -> None:
    with pytest.raises(WalFormatError):
        check_delta(body)
    with pytest.raises(WalFormatError):
        WalRecord.decode(v2([(1, body)]))


def test_malformed_v2_records_are_format_errors() -> None:
    good = v2([(1, run(0, b"ab")), (0, b"p" * PAGE_SIZE)])
    assert len(WalRecord.decode(good).deltas) == 1
    with pytest.raises(WalFormatError, match="kind"):
        WalRecord.decode(v2([(9, b"ab")]))
    with pytest.raises(WalFormatError):
        WalRecord.decode(v2([(1, run(0, b"ab"))], n_pages=2))  # a page header missing
    with pytest.raises(WalFormatError):
        WalRecord.decode(v2([(1, run(0, b"ab"))], tail=b"junk"))
    for cut in range(1, len(good)):
        with pytest.raises(WalFormatError):
            WalRecord.decode(good[:cut])
    with pytest.raises(WalFormatError):
        WalRecord.decode(_HEADER.pack(3, 1, 0, 1, 0, 0, 0))
    with pytest.raises(WalFormatError):
        apply_delta(b"short", b"")


def test_standalone_store_never_takes_a_delta(tmp_path: Path) -> None:
    """The standalone LocalStore writes version 1 only: a record with a delta is refused
    (nothing written) and its reader refuses version 2."""
    from compute.localstore import LocalStore
    from compute.localstore_format import parse_record

    store = LocalStore(tmp_path / "data")
    try:
        ok = WalRecord(1, True, 1, ((0, 1),), (PageImage(0, 0, b"a" * PAGE_SIZE),))
        lsn = store.submit([ok]).durable.result(10)
        bad = WalRecord(2, True, 2, ((0, 1),), (), (PageDelta(0, 0, run(0, b"b")),))
        with pytest.raises(AssertionError):
            store.submit([bad])
        assert store.written_lsn == lsn
        assert store.get_page(0, 0, lsn) == b"a" * PAGE_SIZE
    finally:
        store.close()
    with pytest.raises(WalFormatError):
        parse_record(memoryview(bad.encode()))


def test_quarter_and_block_edges_match_the_reference() -> None:
    """Runs on both sides of each 1 KiB quarter and 256-byte block edge (page_delta skips
    equal quarters, then equal blocks, and merges runs across an edge): the byte-by-byte
    reference's bytes, and a gap of 4 / 5 equal bytes straddling an edge."""
    rng = random.Random(14)
    old = rng.randbytes(PAGE_SIZE)
    for edge in (256, 512, 1024, 2048, 3072, 3840):
        for left, right in ((1, 0), (0, 1), (3, 4), (1, 4), (2, 4), (5, 5), (1, 250)):
            b = bytearray(old)
            for p in (edge - left - 1, edge + right):
                if 0 <= p < PAGE_SIZE:
                    b[p] ^= 0x5A
            new = bytes(b)
            assert page_delta(old, new) == reference_delta(old, new), (edge, left, right)
    # every byte of one quarter changed, nothing else: the runs alone are > MAX_DELTA_BYTES
    # only from the third quarter on
    for quarters, refused in ((1, False), (2, True), (4, True)):
        b = bytearray(old)
        for i in range(quarters * 1024):
            b[i] ^= 0xFF
        d = page_delta(old, bytes(b))
        assert (d is None) == refused, quarters
        assert d == reference_delta(old, bytes(b))


def test_encode_with_deltas_is_the_v2_record_byte_for_byte() -> None:
    """The cluster sink's encoder (no PageDelta objects) gives exactly the bytes of the
    record built with them, which decodes back to it."""
    rng = random.Random(3)
    old = rng.randbytes(PAGE_SIZE)
    new = mutate(rng, old, 3, 8)
    d = page_delta(old, new)
    assert d
    whole = [PageImage(1, 2, b"z" * PAGE_SIZE), PageImage(1, 9, new)]
    for commit, sizes in ((True, ((1, 40), (2, 3))), (False, ())):
        rec = WalRecord(77, commit, 123456 if commit else 0, sizes, tuple(whole))
        deltas = [(1, 5, d), (2, 0, b"")]
        want = WalRecord(rec.xid, rec.commit, rec.commit_ts_us, rec.db_sizes, rec.pages,
                         tuple(PageDelta(*x) for x in deltas))
        buf = rec.encode_with_deltas(whole, deltas)
        assert buf == want.encode()
        assert WalRecord.decode(buf) == want
    only_deltas = WalRecord(8, True, 1, ((1, 6),), ())
    buf = only_deltas.encode_with_deltas([], [(1, 5, d)])
    assert buf == WalRecord(8, True, 1, ((1, 6),), (), (PageDelta(1, 5, d),)).encode()


def test_page_image_and_fits_one_record_agree_with_the_dataclass_and_the_split() -> None:
    """The VFS's commit builds its images with ``page_image`` and skips
    ``split_transaction`` when ``fits_one_record``: the same objects, and exactly when the
    split would make one record."""
    img = page_image(3, 9, b"q" * PAGE_SIZE)
    assert img == PageImage(3, 9, b"q" * PAGE_SIZE) and hash(img) == hash(PageImage(3, 9, b"q" * PAGE_SIZE))
    with pytest.raises(AttributeError):
        img.page_no = 1  # type: ignore[misc]
    for max_bytes in (100, 4 * PAGE_SIZE, 4 * (PAGE_SIZE + 12) + 31, 4 * (PAGE_SIZE + 12) + 32,
                      63 * 1024, 256 * 1024):
        for n in range(0, 70):
            pages = [PageImage(1, p, bytes(PAGE_SIZE)) for p in range(n)]
            one = len(split_transaction(1, pages, ((1, n),), 5, max_bytes)) == 1
            assert fits_one_record(n, max_bytes) == one, (max_bytes, n)
