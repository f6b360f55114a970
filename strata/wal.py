"""The WAL record format: what a compute ships at commit and what page servers replay.

"The log is the data": a committed transaction is one or more records holding full page
images. A transaction's pages become visible together, at the end LSN of its last record
(the one with ``commit=True``); records of a transaction that never commits are ignored.

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
_HEADER = struct.Struct("<BBHQqII")  # version, flags, reserved, xid, commit_ts_us, n_sizes, n_pages
_SIZE = struct.Struct("<II")  # db_id, size in pages
_PAGE = struct.Struct("<III")  # db_id, page_no, len(data)
_FLAG_COMMIT = 1


class WalFormatError(ValueError):
    """An encoded record is malformed (truncated, wrong version, inconsistent counts)."""


@dataclass(frozen=True, slots=True)
class PageImage:
    """The full content of one page after a transaction. page_no is 0-based."""

    db_id: int
    page_no: int
    data: bytes


@dataclass(frozen=True, slots=True)
class WalRecord:
    """One record of a transaction: a chunk of its page images, the last one commits it."""

    xid: int
    commit: bool
    commit_ts_us: int = 0
    db_sizes: tuple[tuple[int, int], ...] = ()
    """(db_id, size in pages) after the transaction; set on the commit record."""
    pages: tuple[PageImage, ...] = field(default=())

    def encode(self) -> bytes:
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

    @classmethod
    def decode(cls, buf: bytes | memoryview) -> WalRecord:
        view = memoryview(buf)
        if len(view) < _HEADER.size:
            raise WalFormatError(f"record of {len(view)} bytes is shorter than its header")
        version, flags, _, xid, ts, n_sizes, n_pages = _HEADER.unpack_from(view, 0)
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
