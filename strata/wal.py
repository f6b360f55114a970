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
        parts = [
            _HEADER.pack(
                DELTA_FORMAT_VERSION,
                _FLAG_COMMIT if self.commit else 0,
                0,
                self.xid,
                self.commit_ts_us,
                len(self.db_sizes),
                len(self.pages) + len(self.deltas),
            )
        ]
        parts.extend(_SIZE.pack(db, n) for db, n in self.db_sizes)
        for page in self.pages:
            parts.append(_PAGE_V2.pack(page.db_id, page.page_no, _KIND_IMAGE, len(page.data)))
            parts.append(page.data)
        for d in self.deltas:
            parts.append(_PAGE_V2.pack(d.db_id, d.page_no, _KIND_DELTA, len(d.delta)))
            parts.append(d.delta)
        return b"".join(parts)

    @classmethod
    def decode(cls, buf: bytes | memoryview) -> WalRecord:
        view = memoryview(buf)
        if len(view) < _HEADER.size:
            raise WalFormatError(f"record of {len(view)} bytes is shorter than its header")
        version, flags, _, xid, ts, n_sizes, n_pages = _HEADER.unpack_from(view, 0)
        if version == DELTA_FORMAT_VERSION:
            return cls._decode_v2(view, bool(flags & _FLAG_COMMIT), xid, ts, n_sizes, n_pages)
        if version != FORMAT_VERSION:
            raise WalFormatError(f"unknown WAL record version {version}")
        pos = _HEADER.size
        need = pos + n_sizes * _SIZE.size
        if need > len(view):
            raise WalFormatError("record truncated in its size table")
        sizes = tuple(_SIZE.unpack_from(view, pos + i * _SIZE.size) for i in range(n_sizes))
        pos = need
        pages: list[PageImage] = []
        for _ in range(n_pages):
            if pos + _PAGE.size > len(view):
                raise WalFormatError("record truncated in a page header")
            db_id, page_no, length = _PAGE.unpack_from(view, pos)
            pos += _PAGE.size
            if pos + length > len(view):
                raise WalFormatError("record truncated in a page image")
            pages.append(PageImage(db_id, page_no, bytes(view[pos : pos + length])))
            pos += length
        if pos != len(view):
            raise WalFormatError(f"{len(view) - pos} trailing bytes after the record")
        return cls(xid, bool(flags & _FLAG_COMMIT), ts, sizes, tuple(pages))

    @classmethod
    def _decode_v2(
        cls, view: memoryview, commit: bool, xid: int, ts: int, n_sizes: int, n_pages: int
    ) -> WalRecord:
        pos = _HEADER.size
        need = pos + n_sizes * _SIZE.size
        if need > len(view):
            raise WalFormatError("record truncated in its size table")
        sizes = tuple(_SIZE.unpack_from(view, pos + i * _SIZE.size) for i in range(n_sizes))
        pos = need
        pages: list[PageImage] = []
        deltas: list[PageDelta] = []
        for _ in range(n_pages):
            if pos + _PAGE_V2.size > len(view):
                raise WalFormatError("record truncated in a page header")
            db_id, page_no, kind, length = _PAGE_V2.unpack_from(view, pos)
            pos += _PAGE_V2.size
            if pos + length > len(view):
                raise WalFormatError("record truncated in a page entry")
            body = bytes(view[pos : pos + length])
            pos += length
            if kind == _KIND_IMAGE:
                pages.append(PageImage(db_id, page_no, body))
            elif kind == _KIND_DELTA:
                check_delta(body)
                deltas.append(PageDelta(db_id, page_no, body))
            else:
                raise WalFormatError(f"unknown page entry kind {kind}")
        if pos != len(view):
            raise WalFormatError(f"{len(view) - pos} trailing bytes after the record")
        return cls(xid, commit, ts, sizes, tuple(pages), tuple(deltas))


def page_delta(old: bytes, new: bytes) -> bytes | None:
    """The runs of ``new`` that differ from ``old`` (both PAGE_SIZE), encoded for
    ``apply_delta``; None when that would exceed MAX_DELTA_BYTES (or the pages are not
    PAGE_SIZE). Equal pages give b"" (no runs).

    No per-byte Python: equal _BLOCK-byte blocks are skipped by slice comparison; in a
    block that differs, the two XORed as integers leave zero bytes where they agree, and
    ``bytes.find``/``strip`` (C) find the changed runs. Runs fewer than _GAP bytes apart
    are merged, within and across blocks."""
    if len(old) != PAGE_SIZE or len(new) != PAGE_SIZE:
        return None
    if old == new:
        return b""
    parts: list[bytes] = []
    size = 0
    run_lo = run_hi = -1  # the run being extended (absolute offsets)
    pack = _RUN.pack
    for b in range(0, PAGE_SIZE, _BLOCK):
        o = old[b : b + _BLOCK]
        n = new[b : b + _BLOCK]
        if o == n:
            continue
        x = (int.from_bytes(o, "little") ^ int.from_bytes(n, "little")).to_bytes(
            _BLOCK, "little"
        )
        lo = _BLOCK - len(x.lstrip(b"\x00"))
        while True:
            hi = x.find(_GAP, lo)
            if hi < 0:
                hi = len(x.rstrip(b"\x00"))
            if run_hi >= 0 and b + lo - run_hi <= _MERGE_GAP:
                run_hi = b + hi
            else:
                if run_hi >= 0:
                    size += _RUN.size + run_hi - run_lo
                    if size > MAX_DELTA_BYTES:
                        return None
                    parts.append(pack(run_lo, run_hi - run_lo))
                    parts.append(new[run_lo:run_hi])
                run_lo, run_hi = b + lo, b + hi
            rest = len(x[hi:].lstrip(b"\x00"))
            if not rest:
                break
            lo = _BLOCK - rest
        if size + _RUN.size + run_hi - run_lo > MAX_DELTA_BYTES:
            return None  # early: a wholly rewritten page stops after half of it
    size += _RUN.size + run_hi - run_lo
    if size > MAX_DELTA_BYTES:
        return None
    parts.append(pack(run_lo, run_hi - run_lo))
    parts.append(new[run_lo:run_hi])
    return b"".join(parts)


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
