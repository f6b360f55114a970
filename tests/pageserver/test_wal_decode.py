"""``WalRecord.decode`` (made cheaper in session 13 for the page server's ingest) against the
straightforward decoder it replaced, kept here as the reference: the same records, the same
objects, the same errors, on valid records and on truncated and corrupted ones."""

from __future__ import annotations

import random
import struct

import pytest

from strata.wal import (
    PAGE_SIZE,
    PageDelta,
    PageImage,
    WalFormatError,
    WalRecord,
    check_delta,
    page_delta,
)

_HEADER = struct.Struct("<BBHQqII")
_SIZE = struct.Struct("<II")
_PAGE = struct.Struct("<III")
_PAGE_V2 = struct.Struct("<IIBI")


def reference_decode(buf: bytes | memoryview) -> WalRecord:
    """The decoder of sessions 6-12, verbatim but for names."""
    view = memoryview(buf)
    if len(view) < _HEADER.size:
        raise WalFormatError(f"record of {len(view)} bytes is shorter than its header")
    version, flags, _, xid, ts, n_sizes, n_pages = _HEADER.unpack_from(view, 0)
    if version not in (1, 2):
        raise WalFormatError(f"unknown WAL record version {version}")
    pos = _HEADER.size
    need = pos + n_sizes * _SIZE.size
    if need > len(view):
        raise WalFormatError("record truncated in its size table")
    sizes = tuple(_SIZE.unpack_from(view, pos + i * _SIZE.size) for i in range(n_sizes))
    pos = need
    pages: list[PageImage] = []
    deltas: list[PageDelta] = []
    for _ in range(n_pages):
        entry = _PAGE_V2 if version == 2 else _PAGE
        if pos + entry.size > len(view):
            raise WalFormatError("record truncated in a page header")
        if version == 2:
            db_id, page_no, kind, length = entry.unpack_from(view, pos)
        else:
            db_id, page_no, length = entry.unpack_from(view, pos)
            kind = 0
        pos += entry.size
        if pos + length > len(view):
            raise WalFormatError("record truncated in a page entry" if version == 2
                                 else "record truncated in a page image")
        body = bytes(view[pos : pos + length])
        pos += length
        if kind == 0:
            pages.append(PageImage(db_id, page_no, body))
        elif kind == 1:
            check_delta(body)
            deltas.append(PageDelta(db_id, page_no, body))
        else:
            raise WalFormatError(f"unknown page entry kind {kind}")
    if pos != len(view):
        raise WalFormatError(f"{len(view) - pos} trailing bytes after the record")
    return WalRecord(xid, bool(flags & 1), ts, sizes, tuple(pages), tuple(deltas))


def _outcome(fn, buf):  # type: ignore[no-untyped-def]
    try:
        return ("ok", fn(buf))
    except WalFormatError as exc:
        return ("error", str(exc))


def _records(rng: random.Random) -> list[bytes]:
    out = []
    for i in range(60):
        n_img = rng.randint(0, 3)
        n_delta = rng.randint(0, 4) if i % 3 else 0
        images = tuple(PageImage(rng.randint(0, 3), rng.randint(0, 9999), rng.randbytes(PAGE_SIZE))
                       for _ in range(n_img))
        deltas = []
        for _ in range(n_delta):
            old = rng.randbytes(PAGE_SIZE)
            new = bytearray(old)
            for _ in range(rng.randint(1, 4)):
                off, n = rng.randrange(PAGE_SIZE - 40), rng.randint(1, 40)
                new[off : off + n] = rng.randbytes(n)
            d = page_delta(old, bytes(new))
            assert d is not None
            deltas.append(PageDelta(rng.randint(0, 3), rng.randint(0, 9999), d))
        sizes = tuple((rng.randint(0, 3), rng.randint(0, 1 << 20)) for _ in range(rng.randint(0, 2)))
        rec = WalRecord(rng.randint(0, 1 << 40), rng.random() < 0.7, rng.randint(-5, 1 << 50),
                        sizes, images, tuple(deltas))
        assert WalRecord.decode(rec.encode()) == rec
        out.append(rec.encode())
    return out


def test_decode_matches_the_reference_on_valid_and_broken_records() -> None:
    rng = random.Random(16)
    checked = 0
    for payload in _records(rng):
        variants: list[bytes | memoryview | bytearray] = [payload, memoryview(payload),
                                                          bytearray(payload)]
        for _ in range(25):
            b = bytearray(payload)
            what = rng.random()
            if what < 0.3:
                b = b[: rng.randrange(len(b))]
            elif what < 0.5:
                b += rng.randbytes(rng.randint(1, 9))
            else:  # flip bytes, mostly in headers and run headers
                for _ in range(rng.randint(1, 3)):
                    i = rng.randrange(min(len(b), 200) if rng.random() < 0.7 else len(b))
                    b[i] = rng.randrange(256)
            variants.append(bytes(b))
        for v in variants:
            want, got = _outcome(reference_decode, v), _outcome(WalRecord.decode, v)
            assert got == want, (want[0], got[0])
            if got[0] == "ok":
                rec = got[1]
                assert all(type(p) is PageImage and type(p.data) is bytes for p in rec.pages)
                assert all(type(d) is PageDelta and type(d.delta) is bytes for d in rec.deltas)
                assert type(rec.db_sizes) is tuple
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize("delta,msg", [
    (b"\x00\x00\x05", "truncated in a run header"),
    (b"\x00\x00\x00\x00", "empty run"),
    (b"\x10\x00\x02\x00ab\x00\x00\x02\x00cd", "overlap or are out of order"),
    (b"\xff\x0f\x02\x00ab", "runs past the page"),
    (b"\x00\x00\x09\x00ab", "truncated in a run's bytes"),
])
def test_malformed_deltas_are_refused(delta: bytes, msg: str) -> None:
    body = _PAGE_V2.pack(1, 2, 1, len(delta)) + delta
    payload = _HEADER.pack(2, 1, 0, 7, 0, 0, 1) + body
    with pytest.raises(WalFormatError, match=msg):
        WalRecord.decode(payload)
    with pytest.raises(WalFormatError, match=msg):
        reference_decode(payload)
