"""The WAL record format: what a compute ships at commit and what page servers replay.

"The log is the data": a committed transaction is one or more records holding full page
images or page deltas. A transaction's pages become visible together, at the end LSN of its
last record (the one with ``commit=True``); records of a transaction that never commits are
ignored.

Two versions. Version 1 holds full page images only (``pages``); every record without a
delta is still written as version 1, byte for byte as before (the standalone store's logs
hold nothing else). Version 2 adds page deltas (``deltas``): runs of changed bytes against
the page's previous version in the log, i.e. its value as of the start of the record's
transaction (a page appears at most once per transaction). Only the cluster primary's sink
makes them (``compute.remote.wal``); readers turn them back into images with
``apply_delta``. Per page entry, version 2 has a kind byte: full image or delta.

LSNs are byte positions in the logical log: a record that starts at LSN ``s`` with an
encoded payload of ``n`` bytes ends at ``s + n``. LSN 0 is the empty log. A snapshot "at
LSN X" sees every transaction whose commit record ends at or before X.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

Lsn = int

PAGE_SIZE = 4096
"""SQLite page size used by every Strata database (bytes)."""

MAX_RECORD_BYTES = 256 * 1024
"""Upper bound of one encoded record; larger transactions are split into chunks."""

FORMAT_VERSION = 1
"""Records without deltas (and every record of a standalone store)."""
DELTA_FORMAT_VERSION = 2
"""Records with at least one page delta."""
_HEADER = struct.Struct("<BBHQqII")  # version, flags, reserved, xid, commit_ts_us, n_sizes, n_pages
_SIZE = struct.Struct("<II")  # db_id, size in pages
_PAGE = struct.Struct("<III")  # db_id, page_no, len(data)
_PAGE_V2 = struct.Struct("<IIBI")  # db_id, page_no, kind, len(body)
_RUN = struct.Struct("<HH")  # offset in the page, length of the run's bytes
_KIND_IMAGE = 0
_KIND_DELTA = 1
_FLAG_COMMIT = 1

MAX_DELTA_BYTES = PAGE_SIZE // 2
"""``page_delta`` gives up (None: send the image) when the delta would be larger. Below half
a page a delta saves at least 2 KiB per copy of the record (3 acceptors' TLS reads and
writes and logs, each subscriber's stream), far more than the µs it costs to make and to
apply; above, the saving shrinks while the page still depends on a base, which a replica
may have to fetch to compose it."""
_MERGE_GAP = _RUN.size
"""Changed runs closer than this many unchanged bytes are sent as one run (a run header
costs as much as the gap)."""
_GAP = b"\x00" * (_MERGE_GAP + 1)
"""The shortest run of unchanged bytes (zeros of old XOR new) that splits two runs."""
_BLOCK = 256
"""``page_delta`` compares pages in blocks of this many bytes, and looks for the changed
bytes only inside blocks that differ (a TPC-B page changes in 1-3 places)."""
_QUARTER = PAGE_SIZE // 4
"""``page_delta`` skips equal quarters of a page before it compares their blocks."""


class WalFormatError(ValueError):
    """An encoded record is malformed (truncated, wrong version, inconsistent counts)."""


@dataclass(frozen=True, slots=True)
class PageImage:
    """The full content of one page after a transaction. page_no is 0-based."""

    db_id: int
    page_no: int
    data: bytes


@dataclass(frozen=True, slots=True)
class PageDelta:
    """A page's change against its previous version in the log: ``delta`` is the encoded
    runs (``page_delta``), to be applied with ``apply_delta``. page_no is 0-based."""

    db_id: int
    page_no: int
    delta: bytes


@dataclass(frozen=True, slots=True)
class WalRecord:
    """One record of a transaction: a chunk of its page images (and, version 2, deltas);
    the last one commits it."""

    xid: int
    commit: bool
    commit_ts_us: int = 0
    db_sizes: tuple[tuple[int, int], ...] = ()
    """(db_id, size in pages) after the transaction; set on the commit record."""
    pages: tuple[PageImage, ...] = field(default=())
    deltas: tuple[PageDelta, ...] = field(default=())
    """Pages sent as deltas (version 2 only); a (db, page) is in ``pages`` or here, once."""

    def encode(self) -> bytes:
        if self.deltas:
            return self._encode_v2()
        parts = [
            _HEADER.pack(
                FORMAT_VERSION,
                _FLAG_COMMIT if self.commit else 0,
                0,
                self.xid,
                self.commit_ts_us,
                len(self.db_sizes),
                len(self.pages),
            )
        ]
        parts.extend(_SIZE.pack(db, n) for db, n in self.db_sizes)
        for page in self.pages:
            parts.append(_PAGE.pack(page.db_id, page.page_no, len(page.data)))
            parts.append(page.data)
        return b"".join(parts)

    def _encode_v2(self) -> bytes:
        return self.encode_with_deltas(list(self.pages),
                                       [(d.db_id, d.page_no, d.delta) for d in self.deltas])

    def encode_with_deltas(self, whole: list[PageImage],
                           deltas: list[tuple[int, int, bytes]]) -> bytes:
        """``WalRecord(xid, commit, commit_ts_us, db_sizes, tuple(whole), deltas as
        PageDelta).encode()`` byte for byte, without building the PageDelta objects and the
        second record (the cluster sink's commit path, session 14); ``deltas`` are
        (db_id, page_no, delta) and non-empty."""
        parts = [
            _HEADER.pack(
                DELTA_FORMAT_VERSION,
                _FLAG_COMMIT if self.commit else 0,
                0,
                self.xid,
                self.commit_ts_us,
                len(self.db_sizes),
                len(whole) + len(deltas),
            )
        ]
        for db, n in self.db_sizes:
            parts.append(_SIZE.pack(db, n))
        pack = _PAGE_V2.pack
        for page in whole:
            data = page.data
            parts.append(pack(page.db_id, page.page_no, _KIND_IMAGE, len(data)))
            parts.append(data)
        for db_id, page_no, delta in deltas:
            parts.append(pack(db_id, page_no, _KIND_DELTA, len(delta)))
            parts.append(delta)
        return b"".join(parts)

    @classmethod
    def decode(cls, buf: bytes | memoryview) -> WalRecord:
        """The record encoded in ``buf``; WalFormatError if it is malformed (every page delta
        checked as ``check_delta`` does).

        Session 13 (the page server decodes every record it ingests; this was 7-11% of its
        Python): one pass over a ``bytes`` (a memoryview is copied once, not each page),
        the entry objects made without the frozen dataclasses' ``__init__`` (which sets each
        field through ``object.__setattr__``), the delta check inline; the same objects,
        the same errors."""
        if type(buf) is not bytes:
            buf = bytes(buf)
        size = len(buf)
        if size < _HEADER_SIZE:
            raise WalFormatError(f"record of {size} bytes is shorter than its header")
        version, flags, _, xid, ts, n_sizes, n_pages = _HEADER.unpack_from(buf, 0)
        if version == DELTA_FORMAT_VERSION:
            v2 = True
        elif version == FORMAT_VERSION:
            v2 = False
        else:
            raise WalFormatError(f"unknown WAL record version {version}")
        pos = _HEADER_SIZE + n_sizes * _SIZE_SIZE
        if pos > size:
            raise WalFormatError("record truncated in its size table")
        sizes = tuple(_SIZE.iter_unpack(buf[_HEADER_SIZE:pos])) if n_sizes else ()
        pages: list[PageImage] = []
        deltas: list[PageDelta] = []
        new = object.__new__
        entry = _PAGE_V2 if v2 else _PAGE
        unpack_entry = entry.unpack_from
        entry_size = entry.size
        unpack_run = _RUN.unpack_from
        for _ in range(n_pages):
            if pos + entry_size > size:
                raise WalFormatError("record truncated in a page header")
            if v2:
                db_id, page_no, kind, length = unpack_entry(buf, pos)
            else:
                db_id, page_no, length = unpack_entry(buf, pos)
                kind = _KIND_IMAGE
            pos += entry_size
            end = pos + length
            if end > size:
                raise WalFormatError(
                    "record truncated in a page entry" if v2 else "record truncated in a page image"
                )
            body = buf[pos:end]
            if kind == _KIND_IMAGE:
                img = new(PageImage)
                _SET_IMG_DB(img, db_id)
                _SET_IMG_PAGE(img, page_no)
                _SET_IMG_DATA(img, body)
                pages.append(img)
            elif kind == _KIND_DELTA:
                prev_end = 0  # check_delta, inline
                at = 0
                while at < length:
                    if at + 4 > length:
                        raise WalFormatError("page delta truncated in a run header")
                    off, n = unpack_run(body, at)
                    at += 4 + n
                    if n == 0:
                        raise WalFormatError("page delta has an empty run")
                    if off < prev_end:
                        raise WalFormatError("page delta runs overlap or are out of order")
                    if off + n > PAGE_SIZE:
                        raise WalFormatError(f"page delta run {off}+{n} runs past the page")
                    if at > length:
                        raise WalFormatError("page delta truncated in a run's bytes")
                    prev_end = off + n
                d = new(PageDelta)
                _SET_DELTA_DB(d, db_id)
                _SET_DELTA_PAGE(d, page_no)
                _SET_DELTA_DELTA(d, body)
                deltas.append(d)
            else:
                raise WalFormatError(f"unknown page entry kind {kind}")
            pos = end
        if pos != size:
            raise WalFormatError(f"{size - pos} trailing bytes after the record")
        rec = new(cls)
        _SET_REC(rec, "xid", xid)
        _SET_REC(rec, "commit", bool(flags & _FLAG_COMMIT))
        _SET_REC(rec, "commit_ts_us", ts)
        _SET_REC(rec, "db_sizes", sizes)
        _SET_REC(rec, "pages", tuple(pages))
        _SET_REC(rec, "deltas", tuple(deltas))
        return rec


_HEADER_SIZE = _HEADER.size
_SIZE_SIZE = _SIZE.size
# The slot descriptors of the frozen dataclasses: setting a field through them is what the
# generated __init__ does, minus its object.__setattr__ calls (decode only).
_SET_IMG_DB = PageImage.__dict__["db_id"].__set__
_SET_IMG_PAGE = PageImage.__dict__["page_no"].__set__
_SET_IMG_DATA = PageImage.__dict__["data"].__set__
_SET_DELTA_DB = PageDelta.__dict__["db_id"].__set__
_SET_DELTA_PAGE = PageDelta.__dict__["page_no"].__set__
_SET_DELTA_DELTA = PageDelta.__dict__["delta"].__set__
_SET_REC = object.__setattr__


def page_image(db_id: int, page_no: int, data: bytes) -> PageImage:
    """``PageImage(db_id, page_no, data)`` without the frozen dataclass's ``__init__`` (its
    three ``object.__setattr__`` calls): the commit path makes one per changed page."""
    img = object.__new__(PageImage)
    _SET_IMG_DB(img, db_id)
    _SET_IMG_PAGE(img, page_no)
    _SET_IMG_DATA(img, data)
    return img


def fits_one_record(n_pages: int, max_bytes: int = MAX_RECORD_BYTES) -> bool:
    """Whether ``split_transaction`` of ``n_pages`` whole pages makes a single record (its
    own size rule): the caller may then build that record directly."""
    return n_pages <= 1 or _HEADER.size + n_pages * (_PAGE.size + PAGE_SIZE) <= max_bytes


def page_delta(old: bytes, new: bytes) -> bytes | None:
    """The runs of ``new`` that differ from ``old`` (both PAGE_SIZE), encoded for
    ``apply_delta``; None when that would exceed MAX_DELTA_BYTES (or the pages are not
    PAGE_SIZE). Equal pages give b"" (no runs). Runs fewer than _GAP bytes apart are
    merged.

    No per-byte Python: equal 1 KiB quarters, then equal _BLOCK-byte blocks, are skipped
    by slice comparison (C); in a block that differs, ``_changed_spans`` finds the changed
    bytes in the two XORed as integers (the lowest set bit and the bit length give the
    first and the last, ``bytes.find`` of _GAP the splits). A TPC-B page changes in 1-3
    places: ~8 slice comparisons and one block's integers, where session 6's loop compared
    16 blocks and stripped each run's zeros byte by byte (session 14: ~10-25% less per
    page, the same bytes)."""
    if len(old) != PAGE_SIZE or len(new) != PAGE_SIZE:
        return None
    if old == new:
        return b""
    spans: list[tuple[int, int]] = []
    changed = 0
    for q in range(0, PAGE_SIZE, _QUARTER):
        qe = q + _QUARTER
        if old[q:qe] == new[q:qe]:
            continue
        for b in range(q, qe, _BLOCK):
            be = b + _BLOCK
            if old[b:be] != new[b:be]:
                changed += _changed_spans(old, new, b, be, spans)
                if changed > MAX_DELTA_BYTES:
                    return None  # early: the runs alone are too big (a rewritten page)
    parts: list[bytes] = []
    size = 0
    pack = _RUN.pack
    run_lo, run_hi = spans[0]
    for lo, hi in spans:
        if lo - run_hi <= _MERGE_GAP:
            run_hi = hi
            continue
        size += _RUN.size + run_hi - run_lo
        if size > MAX_DELTA_BYTES:
            return None
        parts.append(pack(run_lo, run_hi - run_lo))
        parts.append(new[run_lo:run_hi])
        run_lo, run_hi = lo, hi
    size += _RUN.size + run_hi - run_lo
    if size > MAX_DELTA_BYTES:
        return None
    parts.append(pack(run_lo, run_hi - run_lo))
    parts.append(new[run_lo:run_hi])
    return b"".join(parts)


def _changed_spans(old: bytes, new: bytes, lo: int, hi: int, out: list[tuple[int, int]]) -> int:
    """Append to ``out``, in order, the runs of differing bytes in the block [lo, hi) (which
    differs), split where at least len(_GAP) equal bytes lie between two (runs of two blocks
    may still be closer across the block edge: ``page_delta`` merges those); returns the
    bytes the runs cover."""
    # Little-endian: byte i of the block is bits 8i..8i+7 of v; v != 0 (the block differs).
    v = int.from_bytes(old[lo:hi], "little") ^ int.from_bytes(new[lo:hi], "little")
    x = v.to_bytes(hi - lo, "little")
    end = (v.bit_length() + 7) >> 3  # just past the last differing byte
    at = ((v & -v).bit_length() - 1) >> 3  # the first differing byte
    covered = 0
    while True:
        gap = x.find(_GAP, at, end)
        if gap < 0:
            out.append((lo + at, lo + end))
            return covered + end - at
        out.append((lo + at, lo + gap))
        covered += gap - at
        rest = v >> (gap << 3)  # nonzero: a differing byte lies past the gap
        at = gap + (((rest & -rest).bit_length() - 1) >> 3)


def check_delta(delta: bytes) -> None:
    """WalFormatError unless ``delta`` is well formed: whole runs, each non-empty, inside the
    page, in increasing order without overlap."""
    pos = 0
    end = len(delta)
    prev_end = 0
    unpack = _RUN.unpack_from
    while pos < end:
        if pos + _RUN.size > end:
            raise WalFormatError("page delta truncated in a run header")
        off, n = unpack(delta, pos)
        pos += _RUN.size
        if n == 0:
            raise WalFormatError("page delta has an empty run")
        if off < prev_end:
            raise WalFormatError("page delta runs overlap or are out of order")
        if off + n > PAGE_SIZE:
            raise WalFormatError(f"page delta run {off}+{n} runs past the page")
        if pos + n > end:
            raise WalFormatError("page delta truncated in a run's bytes")
        pos += n
        prev_end = off + n


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """``base`` with ``delta``'s runs written over it (delta as made by ``page_delta`` and
    checked by ``check_delta``, which ``WalRecord.decode`` does)."""
    if len(base) != PAGE_SIZE:
        raise WalFormatError(f"page delta applied to a base of {len(base)} bytes")
    parts: list[bytes] = []
    pos = 0
    at = 0
    end = len(delta)
    unpack = _RUN.unpack_from
    while pos < end:
        off, n = unpack(delta, pos)
        pos += _RUN.size
        parts.append(base[at:off])
        parts.append(delta[pos : pos + n])
        pos += n
        at = off + n
    parts.append(base[at:])
    return b"".join(parts)


def end_lsn(start: Lsn, payload: bytes) -> Lsn:
    """The LSN just past a record whose encoded payload starts at ``start``."""
    assert payload, "a WAL record is never empty"
    return start + len(payload)


def split_transaction(
    xid: int,
    pages: list[PageImage],
    db_sizes: tuple[tuple[int, int], ...],
    commit_ts_us: int,
    max_bytes: int = MAX_RECORD_BYTES,
) -> list[WalRecord]:
    """Chunk a transaction's pages into records of at most ``max_bytes`` each; the last commits."""
    records: list[WalRecord] = []
    chunk: list[PageImage] = []
    size = _HEADER.size
    for page in pages:
        page_bytes = _PAGE.size + len(page.data)
        if chunk and size + page_bytes > max_bytes:
            records.append(WalRecord(xid, False, 0, (), tuple(chunk)))
            chunk, size = [], _HEADER.size
        chunk.append(page)
        size += page_bytes
    records.append(WalRecord(xid, True, commit_ts_us, db_sizes, tuple(chunk)))
    return records
