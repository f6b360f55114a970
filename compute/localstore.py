"""The standalone store: one process is both the WAL sink and the page store.

``strata compute --standalone`` needs durable storage without a log store quorum or a
page server. ``LocalStore`` keeps an append-only local log of encoded ``WalRecord``s in
segment files (every record framed with CRC32C, fdatasync'd by a group-commit flusher),
an in-memory index of page versions pointing into the log (no page bytes in memory except
a bounded LRU cache), and a per-database base page file written by checkpoints so that
the log can be trimmed. Disk and memory stay bounded; ``docs/compute-storage.md`` has the
design and the recovery argument.

On-disk layout of ``data_dir`` (format 2)::

    control.json            checkpoint LSN C, where the log after C starts, and the durable
                            LSN recovery must reach (CRC-protected, atomic rename)
    wal/<start LSN>.seg      frames: magic u32 | length u32 | start LSN u64 | payload crc32c u32
                             | header crc32c u32 | payload, in a preallocated file
    wal/spare-<n>            preallocated segment files waiting to be used
    base/<db_id>.pages       page slots of database db_id as of C: slot p at p * SLOT_SIZE is
                             crc32c u32 | page_no u32 | page image (all zeros: never written)

Segment files are preallocated because appending to a file costs a block allocation and a
metadata journal commit on every fdatasync; overwriting preallocated blocks does not. The
end of the log is the first frame that is not valid, but recovery accepts that only as a
torn tail: if any valid frame of this log follows it (later in the segment, found by its
magic, or in a later segment), or the log ends below the durable LSN the control file
recorded, the damage is in the middle of the log and the store refuses to open without
changing anything on disk. Recycled files full of old frames are safe: their LSNs are all
older than any LSN that can be expected at their position.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import crc32c

from strata.storage import CommitTicket, StorageError
from strata.wal import PAGE_SIZE, Lsn, WalFormatError, WalRecord

log = logging.getLogger(__name__)

_FRAME = struct.Struct("<IIQII")  # magic, length, start lsn, payload crc, header crc
_FRAME_HEAD = struct.Struct("<IIQI")  # the part of the frame header its own CRC covers
_CRC = struct.Struct("<I")
_FRAME_MAGIC = 0x4C465453  # b"STFL": lets recovery find frames after a damaged one
_MAGIC_BYTES = struct.pack("<I", _FRAME_MAGIC)
_SLOT_HEAD = struct.Struct("<II")  # crc32c(db_id|page_no|data), page_no
SLOT_SIZE = _SLOT_HEAD.size + PAGE_SIZE
"""Bytes per page in a base page file: a checksummed header, then the image."""
_SCAN_CHUNK = 1024 * 1024  # bytes read at a time when looking for frames after damage
_REC_HEADER = struct.Struct("<BBHQqII")  # mirrors strata.wal's record header
_REC_SIZE = struct.Struct("<II")
_REC_PAGE = struct.Struct("<III")
_FLAG_COMMIT = 1
_CONTROL = "control.json"
_CONTROL_VERSION = 2
_MARK_INTERVAL_S = 1.0
"""How often the durable LSN is recorded in the control file (the bound on how much of the
newest log a damaged frame can hide after a crash, see ``_recover``)."""
_MAX_FRAME_PAYLOAD = 64 * 1024 * 1024
"""Sanity bound on one record when scanning the log (records are <= 256 KiB in practice)."""

assert _REC_HEADER.size == len(WalRecord(0, True).encode()), "record header layout drifted"


class DiskFullError(StorageError):
    """The disk is full: the transaction was not written; the store stays usable and later
    commits succeed once space returns. SQLSTATE 53100 (disk_full)."""

    sqlstate = "53100"


class CorruptionError(StorageError):
    """Data on disk fails its checksum or contradicts what was durably recorded (XX001)."""

    sqlstate = "XX001"


def _is_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _frame_header(length: int, lsn: Lsn, payload_crc: int) -> bytes:
    head = _FRAME_HEAD.pack(_FRAME_MAGIC, length, lsn, payload_crc)
    return head + _CRC.pack(crc32c.crc32c(head))


def _parse_header(hdr: bytes) -> tuple[int, Lsn, int] | None:
    """(length, lsn, payload crc) of a frame header whose own CRC holds, else None."""
    if len(hdr) < _FRAME.size:
        return None
    magic, length, lsn, pcrc, hcrc = _FRAME.unpack_from(hdr)
    if magic != _FRAME_MAGIC or crc32c.crc32c(hdr[: _FRAME_HEAD.size]) != hcrc:
        return None
    return length, lsn, pcrc


def _slot(db_id: int, page_no: int, data: bytes) -> bytes:
    crc = crc32c.crc32c(data, crc32c.crc32c(_SLOT_HEAD.pack(db_id, page_no)))
    return _SLOT_HEAD.pack(crc, page_no) + data


@dataclass(slots=True, eq=False)
class _Segment:
    """One log segment file; ``start`` is the LSN of its first record."""

    start: Lsn
    path: Path
    fd: int
    size: int  # bytes of frames that count (file offset of the next frame)
    capacity: int  # file length (preallocated)
    end: Lsn  # LSN just past its last record


_Version = tuple[Lsn, _Segment, int, int]
"""(commit LSN, segment, byte offset of the page image, offset of its frame): one version."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _seg_name(start: Lsn) -> str:
    return f"{start:020d}.seg"


_ZEROS = bytes(1024 * 1024)


def _zero_fill(fd: int, start: int, end: int) -> None:
    """Write zeros over [start, end) of the file."""
    pos = start
    while pos < end:
        n = os.pwrite(fd, memoryview(_ZEROS)[: min(len(_ZEROS), end - pos)], pos)
        assert n > 0
        pos += n


def _preallocate(path: Path, size: int, sync: bool, *, exclusive: bool) -> int:
    """Create ``path`` as ``size`` zero bytes and return its fd; on any failure (a full disk)
    nothing is left behind."""
    flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o644)
    try:
        try:  # reserve first: a full disk fails fast, before writing 16 MiB of zeros
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
        _zero_fill(fd, 0, size)
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return fd


def _read_frame(fd: int, pos: int, lsn: Lsn | None, capacity: int) -> bytes | None:
    """The payload of a valid frame at ``pos`` (for ``lsn``, unless None), else None."""
    if pos + _FRAME.size > capacity:
        return None
    head = _parse_header(os.pread(fd, _FRAME.size, pos))
    if head is None:
        return None
    length, start, pcrc = head
    if (lsn is not None and start != lsn) or length == 0 or length > _MAX_FRAME_PAYLOAD:
        return None
    if pos + _FRAME.size + length > capacity:
        return None
    payload = os.pread(fd, length, pos + _FRAME.size)
    if len(payload) < length or crc32c.crc32c(payload) != pcrc:
        return None
    return payload


def _find_frame(fd: int, start: int, end: int, min_lsn: Lsn) -> tuple[int, Lsn] | None:
    """(offset, LSN) of the first frame header in [start, end) whose own CRC holds and whose
    LSN is >= ``min_lsn``: proof that the log went on past a frame that failed."""
    pos = start
    while pos < end:
        n = min(_SCAN_CHUNK, end - pos)
        buf = os.pread(fd, n + _FRAME.size, pos)  # overlap: a header may cross the chunk end
        i = buf.find(_MAGIC_BYTES)
        while 0 <= i < n:
            head = _parse_header(buf[i : i + _FRAME.size])
            if head is not None and head[1] >= min_lsn:
                return pos + i, head[1]
            i = buf.find(_MAGIC_BYTES, i + 1)
        pos += n
    return None


def _load_control(path: Path) -> dict[str, Any]:
    """The control file's fields, checked against their CRC."""
    try:
        ctl = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptionError(f"control file {path} is damaged: {exc}") from exc
    if not isinstance(ctl, dict):
        raise CorruptionError(f"control file {path} is damaged: not an object")
    version = ctl.get("version")
    if version == 1:
        raise StorageError(
            f"data directory {path.parent} is in on-disk format 1 (base page files without "
            "checksums), which this version does not read or convert. Dump it with the previous "
            "version and restore it into a new data directory."
        )
    if version != _CONTROL_VERSION:
        raise CorruptionError(f"control file {path}: unknown version {version!r}")
    crc = ctl.pop("crc32c", None)
    if crc != crc32c.crc32c(json.dumps(ctl, sort_keys=True).encode()):
        raise CorruptionError(f"control file {path} fails its checksum")
    try:
        for key in ("checkpoint_lsn", "segment", "offset", "durable_lsn"):
            int(ctl[key])
        {int(k): int(v) for k, v in ctl["db_sizes"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptionError(f"control file {path} is damaged: {exc!r}") from exc
    return ctl


def _parse_record(
    payload: memoryview,
) -> tuple[int, bool, list[tuple[int, int]], list[tuple[int, int, int]]]:
    """(xid, commit, db_sizes, [(db_id, page_no, data offset in payload)]) without copying pages."""
    if len(payload) < _REC_HEADER.size:
        raise WalFormatError("record shorter than its header")
    version, flags, _, xid, _, n_sizes, n_pages = _REC_HEADER.unpack_from(payload, 0)
    if version != 1:
        raise WalFormatError(f"unknown WAL record version {version}")
    pos = _REC_HEADER.size
    if pos + n_sizes * _REC_SIZE.size > len(payload):
        raise WalFormatError("record truncated in its size table")
    sizes = [_REC_SIZE.unpack_from(payload, pos + i * _REC_SIZE.size) for i in range(n_sizes)]
    pos += n_sizes * _REC_SIZE.size
    pages: list[tuple[int, int, int]] = []
    for _ in range(n_pages):
        if pos + _REC_PAGE.size > len(payload):
            raise WalFormatError("record truncated in a page header")
        db_id, page_no, length = _REC_PAGE.unpack_from(payload, pos)
        pos += _REC_PAGE.size
        if length != PAGE_SIZE or pos + length > len(payload):
            raise WalFormatError("bad page image length")
        pages.append((db_id, page_no, pos))
        pos += length
    if pos != len(payload):
        raise WalFormatError("trailing bytes after the record")
    return xid, bool(flags & _FLAG_COMMIT), sizes, pages


class LocalStore:
    """A durable single-process ``PageStore`` + ``WalSink`` (see the module docstring).

    Thread-safe: one lock guards the index, the log tail and the cache; reads hold it only
    for a dict lookup and (on a cache miss) one ``pread``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        segment_bytes: int = 16 * 1024 * 1024,
        checkpoint_bytes: int = 128 * 1024 * 1024,
        cache_pages: int = 16384,
        sync: bool = True,
        auto_checkpoint: bool = True,
        max_spares: int = 1,
        mark_interval_s: float = _MARK_INTERVAL_S,
    ) -> None:
        """``segment_bytes``: log file size; ``checkpoint_bytes``: log written between
        automatic checkpoints; ``cache_pages``: LRU of page images (4 KiB each); ``sync``:
        fdatasync before acknowledging (False only for benchmarks of everything else);
        ``mark_interval_s``: how often the durable LSN is recorded in the control file."""
        assert segment_bytes >= 64 * 1024 and segment_bytes % 4096 == 0
        assert checkpoint_bytes > 0 and cache_pages >= 0 and max_spares >= 0
        self._dir = Path(data_dir)
        self._segment_bytes = segment_bytes
        self._max_spares = max_spares
        self._spares: list[Path] = []
        self._spare_seq = 0
        self._auto_checkpoint = auto_checkpoint
        self._checkpoint_bytes = checkpoint_bytes
        self._cache_pages = cache_pages
        self._cache_keep = min(cache_pages, 256)  # pages of a new commit put in the cache
        self._sync = sync
        self._lock = threading.Lock()
        self._flush_cond = threading.Condition(self._lock)
        self._durable_cond = threading.Condition(self._lock)

        # Index of page versions committed after the checkpoint, oldest first.
        self._index: dict[tuple[int, int], list[_Version]] = {}
        self._sizes: dict[int, list[tuple[Lsn, int]]] = {}  # db sizes after the checkpoint
        self._base_sizes: dict[int, int] = {}  # db sizes at the checkpoint
        self._base_fds: dict[int, int] = {}
        self._cache: OrderedDict[tuple[int, int, Lsn], bytes] = OrderedDict()
        self._commits: list[tuple[Lsn, _Segment, int]] = []  # (commit end, segment, offset after)
        self._pins: dict[Lsn, int] = {}
        self._segments: list[_Segment] = []
        self._checkpoint_lsn: Lsn = 0
        self._min_pin_lsn: Lsn = 0  # no snapshot below this may be pinned or read
        self._written: Lsn = 0
        self._durable: Lsn = 0
        self._since_checkpoint = 0
        self._pending: list[tuple[Lsn, Future[Lsn]]] = []
        self._unsynced: list[_Segment] = []
        self._dir_dirty = False
        self._failed: BaseException | None = None
        self._closed = False
        self._checkpoint_mutex = threading.Lock()  # one checkpoint or control write at a time
        self._ctl: tuple[Lsn, Lsn, int, dict[int, int]] = (0, 0, 0, {})  # as in control.json
        self._ctl_durable: Lsn = 0  # the durable LSN control.json records
        self._mark_interval_s = mark_interval_s
        self._marked_at = time.monotonic()  # recovery records the recovered end
        self._checkpoint_wanted = threading.Event()
        self._spare_wanted = threading.Event()

        self._dir.mkdir(parents=True, exist_ok=True)
        (self._dir / "wal").mkdir(exist_ok=True)
        (self._dir / "base").mkdir(exist_ok=True)
        self._recover()

        self._flusher = threading.Thread(
            target=self._flush_loop, name="localstore-flush", daemon=True
        )
        self._flusher.start()
        self._maintainer = threading.Thread(
            target=self._maintenance_loop, name="localstore-maintenance", daemon=True
        )
        self._maintainer.start()

    # ------------------------------------------------------------------ PageStore

    def get_page(self, db_id: int, page_no: int, lsn: Lsn) -> bytes | None:
        """The newest image of the page committed at or before ``lsn`` (None if never written)."""
        with self._lock:
            if lsn < self._min_pin_lsn:
                raise StorageError(
                    f"snapshot {lsn} is older than the checkpoint {self._min_pin_lsn}"
                )
            versions = self._index.get((db_id, page_no))
            if versions:
                for i in range(len(versions) - 1, -1, -1):
                    v_lsn, v_seg, v_off, _ = versions[i]
                    if v_lsn <= lsn:
                        key = (db_id, page_no, v_lsn)
                        data = self._cache.get(key)
                        if data is not None:
                            self._cache.move_to_end(key)
                            return data
                        data = os.pread(v_seg.fd, PAGE_SIZE, v_off)
                        assert len(data) == PAGE_SIZE, "log page image truncated"
                        self._cache_put(key, data)
                        return data
            fd = self._base_fds.get(db_id)
            if fd is None or page_no >= self._base_sizes.get(db_id, 0):
                return None
            key = (db_id, page_no, -1)
            data = self._cache.get(key)
            if data is not None:
                self._cache.move_to_end(key)
                return data
            data = self._read_slot(db_id, fd, page_no)
            if data is not None:
                self._cache_put(key, data)
            return data

    def _read_slot(self, db_id: int, fd: int, page_no: int) -> bytes | None:
        """A base page checked against its slot checksum (None: a slot never written)."""
        name = f"base/{db_id}.pages"
        slot = os.pread(fd, SLOT_SIZE, page_no * SLOT_SIZE)
        if len(slot) < SLOT_SIZE:
            raise CorruptionError(
                f"{name} is short: page {page_no} is missing (file truncated?)"
            )
        crc, stored_no = _SLOT_HEAD.unpack_from(slot)
        data = slot[_SLOT_HEAD.size :]
        if crc == 0 and stored_no == 0 and data == _ZEROS[:PAGE_SIZE]:
            return None  # a hole: the page was never written
        want = crc32c.crc32c(data, crc32c.crc32c(_SLOT_HEAD.pack(db_id, page_no)))
        if stored_no != page_no or crc != want:
            raise CorruptionError(f"{name}: page {page_no} fails its checksum")
        return data

    def db_size(self, db_id: int, lsn: Lsn) -> int:
        with self._lock:
            versions = self._sizes.get(db_id)
            if versions:
                for i in range(len(versions) - 1, -1, -1):
                    if versions[i][0] <= lsn:
                        return versions[i][1]
            return self._base_sizes.get(db_id, 0)

    def databases(self, lsn: Lsn | None = None) -> list[int]:
        """Ids of the databases that have pages at ``lsn`` (default: written_lsn)."""
        at = self._written if lsn is None else lsn
        ids = set(self._sizes) | set(self._base_sizes)
        return sorted(db for db in ids if self.db_size(db, at) > 0)

    def _cache_put(self, key: tuple[int, int, Lsn], data: bytes) -> None:
        if self._cache_pages == 0:
            return
        self._cache[key] = data
        if len(self._cache) > self._cache_pages:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------------ WalSink

    @property
    def written_lsn(self) -> Lsn:
        return self._written

    @property
    def durable_lsn(self) -> Lsn:
        return self._durable

    @property
    def checkpoint_lsn(self) -> Lsn:
        return self._checkpoint_lsn

    def submit(self, records: list[WalRecord]) -> CommitTicket:
        """Append one transaction; durable (future resolved) after the next group fsync."""
        assert records and records[-1].commit, "a transaction ends with its commit record"
        assert all(not r.commit for r in records[:-1]), "only the last record commits"
        return self.submit_stream(records)

    def submit_stream(self, records: Iterable[WalRecord]) -> CommitTicket:
        """Like ``submit`` but consumes records lazily, so a huge transaction is never whole in
        memory. The last record must be the (only) commit record. The iterable runs under the
        store's lock: it must not call back into the store."""
        with self._lock:
            self._check_usable()
            seg = self._current_segment()
            first_seg, first_off, first_lsn = seg, seg.size, self._written
            lsn = self._written
            txn_pages: dict[tuple[int, int], tuple[_Segment, int, int, bytes | None]] = {}
            nbytes = 0
            prev: WalRecord | None = None
            try:
                # One record of lookahead: a commit frame is written only once it is known to
                # be the last record, so an aborted transaction never leaves a commit behind.
                for rec in records:
                    if prev is not None:
                        if prev.commit or prev.xid != rec.xid:
                            raise StorageError("a transaction is one xid ending in one commit")
                        seg, lsn, n = self._append(seg, lsn, prev, txn_pages)
                        nbytes += n
                    prev = rec
                if prev is None or not prev.commit:
                    raise StorageError("transaction has no commit record")
                seg, lsn, n = self._append(seg, lsn, prev, txn_pages)
                nbytes += n
            except BaseException as exc:
                # Nothing of this transaction is indexed; wipe what was written so the log
                # stays a sequence of whole transactions.
                self._abort_append(first_seg, first_off, first_lsn, exc)
                raise
            commit_lsn = lsn
            index = self._index
            for key, (pseg, poff, fpos, data) in txn_pages.items():
                versions = index.get(key)
                if versions is None:
                    index[key] = [(commit_lsn, pseg, poff, fpos)]
                else:
                    versions.append((commit_lsn, pseg, poff, fpos))
                if data is not None:
                    self._cache_put((key[0], key[1], commit_lsn), data)
            for db_id, n in prev.db_sizes:
                self._sizes.setdefault(db_id, []).append((commit_lsn, n))
            self._commits.append((commit_lsn, seg, seg.size))
            self._written = commit_lsn
            self._since_checkpoint += nbytes
            fut: Future[Lsn] = Future()
            self._pending.append((commit_lsn, fut))
            self._flush_cond.notify()
            if self._since_checkpoint >= self._checkpoint_bytes and self._auto_checkpoint:
                self._checkpoint_wanted.set()
                self._spare_wanted.set()
        return CommitTicket(commit_lsn, fut)

    def _append(
        self,
        seg: _Segment,
        lsn: Lsn,
        rec: WalRecord,
        txn_pages: dict[tuple[int, int], tuple[_Segment, int, int, bytes | None]],
    ) -> tuple[_Segment, Lsn, int]:
        """Frame and write one record at ``lsn``; note where its page images landed."""
        payload = rec.encode()
        header = _frame_header(len(payload), lsn, crc32c.crc32c(payload))
        total = _FRAME.size + len(payload)
        if seg.size > 0 and seg.size + total > seg.capacity:
            seg = self._roll_segment(lsn)
        pos = seg.size
        try:
            n = os.pwritev(seg.fd, [header, payload], pos)
            if n != total:  # a short write to a regular file: finish it the slow way
                buf = (header + payload)[n:]
                while buf:
                    k = os.pwrite(seg.fd, buf, pos + n)
                    assert k > 0
                    n += k
                    buf = buf[k:]
        except OSError as exc:
            if _is_full(exc):
                raise DiskFullError(f"could not extend the log: {exc}") from exc
            raise
        seg.size = pos + total
        if seg.size > seg.capacity:
            seg.capacity = seg.size  # an oversized record grew the file
        if not self._unsynced or self._unsynced[-1] is not seg:
            self._unsynced.append(seg)
        off = pos + _FRAME.size + _REC_HEADER.size + len(rec.db_sizes) * _REC_SIZE.size
        for page in rec.pages:
            assert len(page.data) == PAGE_SIZE, "page images are PAGE_SIZE bytes"
            off += _REC_PAGE.size
            # Keep the bytes (for the cache) only while the transaction is small: a huge one
            # must not be held in memory.
            keep = page.data if len(txn_pages) < self._cache_keep else None
            txn_pages[(page.db_id, page.page_no)] = (seg, off, pos, keep)
            off += PAGE_SIZE
        assert off == seg.size, "page offsets disagree with the encoding"
        lsn += len(payload)
        seg.end = lsn
        return seg, lsn, total

    def wait_durable(self, lsn: Lsn, timeout: float | None = None) -> bool:
        """Block until ``durable_lsn >= lsn``; False on timeout."""
        with self._lock:
            return (
                self._durable_cond.wait_for(
                    lambda: self._durable >= lsn or self._failed is not None, timeout
                )
                and self._durable >= lsn
            )

    def _check_usable(self) -> None:
        if self._closed:
            raise StorageError("local store is closed")
        if self._failed is not None:
            raise StorageError(f"local store failed: {self._failed}") from self._failed

    def _abort_append(self, seg: _Segment, offset: int, lsn: Lsn, exc: BaseException) -> None:
        """Drop a partly written transaction: zero the log back to (seg, offset) = ``lsn``."""
        try:
            while self._segments and self._segments[-1] is not seg:
                dead = self._segments.pop()
                os.close(dead.fd)
                dead.path.unlink(missing_ok=True)
                if dead in self._unsynced:
                    self._unsynced.remove(dead)
                self._dir_dirty = True
            assert self._segments, "the transaction's first segment is gone"
            _zero_fill(seg.fd, offset, seg.size)
            seg.size = offset
            seg.end = lsn
        except OSError as err:  # cannot restore a clean tail: refuse further writes
            self._failed = err
        if isinstance(exc, OSError):
            self._failed = exc

    def _current_segment(self) -> _Segment:
        if not self._segments:
            return self._roll_segment(self._written)
        return self._segments[-1]

    def _roll_segment(self, start: Lsn) -> _Segment:
        """Start the segment beginning at ``start``: a ready spare renamed, else a new file."""
        path = self._dir / "wal" / _seg_name(start)
        assert not path.exists(), f"segment {path.name} exists"
        if self._spares:
            spare = self._spares.pop()
            os.rename(spare, path)
            fd = os.open(path, os.O_RDWR)
            capacity = os.fstat(fd).st_size
        else:
            try:
                fd = _preallocate(path, self._segment_bytes, self._sync, exclusive=True)
            except OSError as exc:
                if _is_full(exc):
                    raise DiskFullError(f"no space for a new log segment: {exc}") from exc
                raise
            capacity = self._segment_bytes
        seg = _Segment(start, path, fd, 0, capacity, start)
        self._segments.append(seg)
        self._dir_dirty = True
        self._spare_wanted.set()
        return seg

    def _make_spare(self) -> None:
        """Preallocate one segment file off the commit path (temp name, fsync, rename)."""
        with self._lock:
            if len(self._spares) >= self._max_spares or self._closed:
                return
            self._spare_seq += 1
            n = self._spare_seq
        tmp = self._dir / "wal" / f"spare-{n}.tmp"
        os.close(_preallocate(tmp, self._segment_bytes, self._sync, exclusive=False))
        final = self._dir / "wal" / f"spare-{n}"
        os.rename(tmp, final)
        with self._lock:
            self._spares.append(final)

    # ------------------------------------------------------------------ group commit

    def _flush_loop(self) -> None:
        """fdatasync everything written so far, then resolve every waiting ticket at once."""
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._flush_cond.wait()
                if not self._pending and self._closed:
                    return
                batch, self._pending = self._pending, []
                target = self._written
                segs, self._unsynced = self._unsynced, []
                dir_dirty, self._dir_dirty = self._dir_dirty, False
            err: BaseException | None = None
            try:
                if self._sync:
                    for seg in segs:
                        os.fdatasync(seg.fd)
                    if dir_dirty:
                        _fsync_dir(self._dir / "wal")
            except OSError as exc:  # never retry a failed fsync: the page cache may lie
                err = exc
            with self._lock:
                if err is None:
                    assert target >= self._durable
                    self._durable = target
                else:
                    self._failed = err
                self._durable_cond.notify_all()
            for commit_lsn, fut in batch:
                assert err is not None or commit_lsn <= target
                with contextlib.suppress(InvalidStateError):
                    if err is None:
                        fut.set_result(commit_lsn)
                    else:
                        fut.set_exception(StorageError(f"log fsync failed: {err}"))

    # ------------------------------------------------------------------ snapshots

    def pin(self, lsn: Lsn, exact: bool = True) -> Lsn:
        """Protect a snapshot from checkpoints until ``unpin`` of the returned LSN.

        ``exact=False`` means "at least ``lsn``": if a checkpoint already moved past it (the
        caller read ``durable_lsn`` a moment ago), the oldest still readable LSN is pinned
        instead, which is never newer than ``durable_lsn``. ``exact=True`` raises
        ``StorageError`` for a snapshot that is no longer readable.
        """
        with self._lock:
            if lsn < self._min_pin_lsn:
                if exact:
                    raise StorageError(
                        f"snapshot {lsn} is older than the checkpoint {self._min_pin_lsn}"
                    )
                lsn = self._min_pin_lsn
                assert lsn <= self._durable
            self._pins[lsn] = self._pins.get(lsn, 0) + 1
            return lsn

    def unpin(self, lsn: Lsn) -> None:
        with self._lock:
            n = self._pins[lsn]
            assert n > 0
            if n == 1:
                del self._pins[lsn]
            else:
                self._pins[lsn] = n - 1

    @contextlib.contextmanager
    def snapshot(self, lsn: Lsn | None = None) -> Iterator[Lsn]:
        """Pin a snapshot (default: durable_lsn) for the duration of the block."""
        at = self.pin(self._durable, exact=False) if lsn is None else self.pin(lsn)
        try:
            yield at
        finally:
            self.unpin(at)

    # ------------------------------------------------------------------ checkpoint

    def _maintenance_loop(self) -> None:
        """Background work off the commit path: preallocate spare segments, checkpoint."""
        while not self._closed:
            self._spare_wanted.wait(timeout=1.0)
            self._spare_wanted.clear()
            if self._closed:
                return
            try:
                if self._checkpoint_wanted.is_set():
                    self._checkpoint_wanted.clear()
                    self.checkpoint()
                self._mark_durable()
                while len(self._spares) < self._max_spares and not self._closed:
                    self._make_spare()
            except DiskFullError as exc:
                log.warning("local store maintenance: %s", exc)
            except OSError as exc:
                if _is_full(exc):  # retried on the next round, once space returns
                    log.warning("local store maintenance: disk full: %s", exc)
                else:
                    log.exception("local store maintenance failed")
            except Exception:  # keep serving; the next trigger retries
                log.exception("local store maintenance failed")

    def _mark_durable(self, force: bool = False) -> None:
        """Record the durable LSN in the control file (at most every ``_MARK_INTERVAL_S``):
        recovery refuses a log that ends below it, so a damaged frame in the middle of the
        log can never pass for a torn tail and silently drop what follows it."""
        now = time.monotonic()
        if not self._sync:
            return  # nothing is really durable: a mark would make recovery refuse after a crash
        if not force and now - self._marked_at < self._mark_interval_s:
            return
        with self._checkpoint_mutex:
            durable = self._durable
            if durable <= self._ctl_durable or self._failed is not None:
                return
            c_lsn, seg_start, offset, sizes = self._ctl
            self._write_control(c_lsn, seg_start, offset, sizes, durable)
            self._marked_at = now

    def checkpoint(self) -> Lsn:
        """Fold page versions up to C = min(durable, oldest pin) into the base files, trim log.

        Returns the checkpoint LSN (unchanged if nothing could be folded).
        """
        with self._checkpoint_mutex:
            return self._checkpoint()

    def _checkpoint(self) -> Lsn:
        with self._lock:
            self._check_usable()
            target = self._durable
            if self._pins:
                target = min(target, min(self._pins))
            # C: the newest commit boundary at or below target.
            c_idx = -1
            for i in range(len(self._commits) - 1, -1, -1):
                if self._commits[i][0] <= target:
                    c_idx = i
                    break
            if c_idx < 0:
                return self._checkpoint_lsn
            c_lsn, c_seg, c_off = self._commits[c_idx]
            assert c_lsn > self._checkpoint_lsn
            nxt = self._segments.index(c_seg) + 1
            if c_off == c_seg.size and nxt < len(self._segments):
                assert self._segments[nxt].start == c_lsn
                c_seg, c_off = self._segments[nxt], 0  # C is where the next segment starts
            self._min_pin_lsn = max(self._min_pin_lsn, c_lsn)  # no new pin below C from now on
            work: list[tuple[int, int, _Version]] = []
            for (db_id, page_no), versions in self._index.items():
                newest = None
                for v in versions:
                    if v[0] <= c_lsn:
                        newest = v
                    else:
                        break
                if newest is not None:
                    work.append((db_id, page_no, newest))
            sizes: dict[int, int] = dict(self._base_sizes)
            for db_id, svers in self._sizes.items():
                for lsn, n in svers:
                    if lsn <= c_lsn:
                        sizes[db_id] = n
            new_fds: dict[int, int] = {}
            for db_id in sizes:
                if db_id not in self._base_fds:
                    path = self._dir / "base" / f"{db_id}.pages"
                    new_fds[db_id] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fds = {**self._base_fds, **new_fds}

        # Outside the lock: readers of these pages use the log versions until the index
        # entries are dropped below, and no reader touches the base image of a page that
        # has a version in (old C, C] (every pin is >= C).
        # Every image is copied out of its frame only after the frame's checksum holds, one
        # frame (<= 256 KiB in practice) in memory at a time.
        work.sort(key=lambda w: (w[2][1].start, w[2][3], w[0], w[1]))
        frame_key: tuple[Lsn, int] | None = None
        payload = b""
        for db_id, page_no, (_, v_seg, v_off, v_frame) in work:
            assert db_id in sizes, "every commit carries the size of the databases it wrote"
            if page_no >= sizes[db_id]:
                continue  # truncated away by C
            if frame_key != (v_seg.start, v_frame):
                frame_key = (v_seg.start, v_frame)
                got = _read_frame(v_seg.fd, v_frame, None, v_seg.capacity)
                if not isinstance(got, bytes):
                    err = CorruptionError(
                        f"log frame at {v_seg.path.name} offset {v_frame} fails its checksum "
                        "while checkpointing: the log is damaged"
                    )
                    with self._lock:
                        self._failed = err
                    raise err
                payload = got
            at = v_off - v_frame - _FRAME.size
            data = payload[at : at + PAGE_SIZE]
            assert len(data) == PAGE_SIZE
            os.pwrite(fds[db_id], _slot(db_id, page_no, data), page_no * SLOT_SIZE)
        for db_id, n in sizes.items():
            fd = fds[db_id]
            if os.fstat(fd).st_size < n * SLOT_SIZE:
                os.ftruncate(fd, n * SLOT_SIZE)  # holes read as zero slots: never written
            if self._sync:
                os.fsync(fd)
        if new_fds and self._sync:
            _fsync_dir(self._dir / "base")
        self._write_control(c_lsn, c_seg.start, c_off, sizes, max(self._ctl_durable, c_lsn))
        # Shrink only now: a crash before the control file names the new sizes must find
        # every base file at least as long as the old control file says.
        for db_id, n in sizes.items():
            if os.fstat(fds[db_id]).st_size > n * SLOT_SIZE:
                os.ftruncate(fds[db_id], n * SLOT_SIZE)

        with self._lock:
            for db_id, page_no, _ in work:
                versions = self._index[(db_id, page_no)]
                keep = [x for x in versions if x[0] > c_lsn]
                if keep:
                    self._index[(db_id, page_no)] = keep
                else:
                    del self._index[(db_id, page_no)]
                self._cache.pop((db_id, page_no, -1), None)
            for db_id in list(self._sizes):
                keep_sizes = [s for s in self._sizes[db_id] if s[0] > c_lsn]
                if keep_sizes:
                    self._sizes[db_id] = keep_sizes
                else:
                    del self._sizes[db_id]
            self._base_sizes = sizes
            self._base_fds = fds
            self._commits = self._commits[c_idx + 1 :]
            self._checkpoint_lsn = c_lsn
            self._since_checkpoint = sum(
                max(0, s.size - (c_off if s is c_seg else 0))
                for s in self._segments
                if s.start >= c_seg.start
            )
            # Segments wholly below C: every record ends at or before the next one's start.
            doomed = [
                s
                for i, s in enumerate(self._segments[:-1])
                if self._segments[i + 1].start <= c_lsn and s is not c_seg
            ]
            for s in doomed:
                assert s not in self._unsynced or not self._sync or s.end <= self._durable
                self._segments.remove(s)
                if s in self._unsynced:
                    self._unsynced.remove(s)
        for s in doomed:
            os.close(s.fd)
            # Recycle as a spare: its frames all have LSNs below C, never valid again.
            with self._lock:
                recycle = len(self._spares) < self._max_spares and not self._closed
                if recycle:
                    self._spare_seq += 1
                    spare = self._dir / "wal" / f"spare-{self._spare_seq}"
            if recycle and s.capacity == self._segment_bytes:
                os.rename(s.path, spare)
                with self._lock:
                    self._spares.append(spare)
            else:
                s.path.unlink()
        return c_lsn

    def _write_control(
        self, c_lsn: Lsn, seg_start: Lsn, offset: int, sizes: dict[int, int], durable: Lsn
    ) -> None:
        """Atomically replace the control file: temp file, fsync, rename, fsync dir.

        ``durable``: an LSN every byte of the log up to which is fsynced; recovery refuses
        to open a log that ends before it. No temp file is left behind on failure."""
        fields = {
            "version": _CONTROL_VERSION,
            "checkpoint_lsn": c_lsn,
            "segment": seg_start,
            "offset": offset,
            "durable_lsn": durable,
            "db_sizes": {str(k): v for k, v in sorted(sizes.items())},
        }
        crc = crc32c.crc32c(json.dumps(fields, sort_keys=True).encode())
        body = json.dumps({**fields, "crc32c": crc}).encode()
        tmp = self._dir / (_CONTROL + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                n = os.write(fd, body)
                if n != len(body):
                    raise OSError(errno.ENOSPC, "short write of the control file")
                if self._sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self._dir / _CONTROL)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self._sync:
            _fsync_dir(self._dir)
        self._ctl = (c_lsn, seg_start, offset, dict(sizes))
        self._ctl_durable = durable

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        """Load the checkpoint, replay the log after it, cut a genuine torn tail.

        Everything is decided before anything on disk changes: damage that is not a torn
        tail at the very end raises ``CorruptionError`` and leaves the directory as it was.
        """
        wal = self._dir / "wal"
        ctl_path = self._dir / _CONTROL
        names = sorted(wal.glob("*.seg"))  # zero-padded start LSNs sort in log order
        seg_start, offset, durable_mark = 0, 0, 0
        if ctl_path.exists():
            ctl = _load_control(ctl_path)
            self._checkpoint_lsn = int(ctl["checkpoint_lsn"])
            seg_start, offset = int(ctl["segment"]), int(ctl["offset"])
            durable_mark = int(ctl["durable_lsn"])
            self._base_sizes = {int(k): int(v) for k, v in ctl["db_sizes"].items()}
            for db_id, n in self._base_sizes.items():
                path = self._dir / "base" / f"{db_id}.pages"
                if n == 0 and not path.exists():
                    path.touch()
                try:
                    fd = os.open(path, os.O_RDWR)
                except FileNotFoundError:
                    self._refuse(f"base page file {path.name} of {n} pages is missing")
                self._base_fds[db_id] = fd
                have = os.fstat(fd).st_size
                if have < n * SLOT_SIZE:
                    self._refuse(
                        f"base page file {path.name} is short: {have} bytes, the checkpoint "
                        f"needs {n} pages ({n * SLOT_SIZE} bytes)"
                    )
        elif names:
            raise StorageError(
                f"data directory {self._dir} has log segments but no control file: it was "
                "written in on-disk format 1 (no page checksums), which this version does not "
                "read or convert. Dump it with the previous version and restore it into a new "
                "data directory."
            )
        else:  # a new store: base files without a control file belong to no checkpoint
            for p in (self._dir / "base").glob("*.pages"):
                p.unlink()

        lsn = last_commit = self._checkpoint_lsn
        good: tuple[_Segment, int] | None = None  # (segment, offset after the last commit)
        pending: list[tuple[int, int, _Segment, int, int]] = []  # may span segments
        pending_xid: int | None = None
        live = [p for p in names if int(p.stem) >= seg_start]
        if offset > 0 and (not live or int(live[0].stem) != seg_start):
            self._refuse(f"log segment {_seg_name(seg_start)} named by the checkpoint is missing")
        stop = offset
        for i, path in enumerate(live):
            start = int(path.stem)
            if start != (seg_start if i == 0 else lsn):
                break  # does not continue the log: checked below, never trusted
            fd = os.open(path, os.O_RDWR)
            capacity = os.fstat(fd).st_size
            seg = _Segment(start, path, fd, 0, capacity, start)
            self._segments.append(seg)
            pos = offset if i == 0 else 0
            while True:
                frame = _read_frame(fd, pos, lsn, capacity)
                if frame is None:
                    break  # end of this segment's frames: rolled over, torn, or damaged
                where = f"LSN {lsn} ({path.name} offset {pos})"
                try:
                    xid, commit, sizes, pages = _parse_record(memoryview(frame))
                except WalFormatError as exc:
                    self._refuse(f"the record at {where} passes its checksum but is bad: {exc}")
                if pending_xid is not None and xid != pending_xid:
                    self._refuse(
                        f"the record at {where} belongs to transaction {xid} but transaction "
                        f"{pending_xid} has not committed"
                    )
                base = pos + _FRAME.size
                pending.extend((db, pg, seg, base + off, pos) for db, pg, off in pages)
                pending_xid = xid
                pos += _FRAME.size + len(frame)
                lsn += len(frame)
                if commit:
                    index = self._index
                    for db, pg, pseg, off, fpos in pending:
                        vs = index.get((db, pg))
                        version = (lsn, pseg, off, fpos)
                        if vs is None:
                            index[(db, pg)] = [version]
                        elif vs[-1][0] == lsn:
                            vs[-1] = version  # the same page twice in one transaction
                        else:
                            vs.append(version)
                    for db, n in sizes:
                        self._sizes.setdefault(db, []).append((lsn, n))
                    self._commits.append((lsn, seg, pos))
                    pending, pending_xid = [], None
                    good = (seg, pos)
                    last_commit = lsn
            seg.size = stop = pos
            seg.end = lsn

        # The scan stopped at LSN ``lsn``. That is the end of the log only if no frame of
        # this log lies beyond it: not later in the same segment, not in a later file.
        if self._segments:
            last = self._segments[-1]
            found = _find_frame(last.fd, stop + 1, last.capacity, lsn)
            if found is not None:
                self._refuse(
                    f"the log is damaged at LSN {lsn} ({last.path.name} offset {stop}): a valid "
                    f"record at LSN {found[1]} (offset {found[0]}) follows it"
                )
        garbage = live[len(self._segments) :]
        for path in garbage:
            fd = os.open(path, os.O_RDONLY)
            try:
                found = _find_frame(fd, 0, os.fstat(fd).st_size, lsn)
            finally:
                os.close(fd)
            if found is not None:
                self._refuse(
                    f"the log ends at LSN {lsn} but segment {path.name} holds a record at LSN "
                    f"{found[1]}: a segment or a record before it is missing or damaged"
                )
        if last_commit < durable_mark:
            self._refuse(
                f"the log ends at LSN {last_commit} but the control file records that it was "
                f"durable up to LSN {durable_mark}: the end of the log is damaged or missing"
            )

        # Proven garbage from here on: nothing valid follows ``lsn``, and what lies between
        # the last commit and ``lsn`` is a transaction that never committed.
        (self._dir / (_CONTROL + ".tmp")).unlink(missing_ok=True)
        for p in wal.glob("spare-*"):
            if p.suffix == ".tmp" or p.stat().st_size != self._segment_bytes:
                p.unlink()
            else:
                self._spares.append(p)
                self._spare_seq = max(self._spare_seq, int(p.name.split("-", 1)[1]))
        for p in names:
            if int(p.stem) < seg_start:  # trimmed by a checkpoint whose deletes did not finish
                p.unlink()
        for p in garbage:
            log.warning("dropping log segment %s: no record of the log in it", p.name)
            p.unlink()
        keep = good[0] if good is not None else (self._segments[0] if self._segments else None)
        while self._segments and self._segments[-1] is not keep:
            dead = self._segments.pop()
            os.close(dead.fd)
            log.warning("dropping log segment %s: only an uncommitted tail", dead.path.name)
            dead.path.unlink()
        if keep is not None:
            keep.size = good[1] if good is not None else offset
            keep.end = last_commit
            if self._zero_tail(keep) and self._sync:
                os.fsync(keep.fd)
        self._written = self._durable = last_commit
        self._min_pin_lsn = last_commit  # snapshots start from the recovered state
        self._since_checkpoint = sum(s.size for s in self._segments)
        if self._sync:
            _fsync_dir(wal)
        self._ctl = (self._checkpoint_lsn, seg_start, offset, dict(self._base_sizes))
        self._ctl_durable = durable_mark
        if not ctl_path.exists() or (self._sync and last_commit > durable_mark):
            self._write_control(
                self._checkpoint_lsn, seg_start, offset, self._base_sizes,
                last_commit if self._sync else 0,
            )

    def _refuse(self, what: str) -> NoReturn:
        """Stop opening the store: close what recovery opened, change nothing on disk."""
        for seg in self._segments:
            os.close(seg.fd)
        for fd in self._base_fds.values():
            os.close(fd)
        self._segments, self._base_fds = [], {}
        raise CorruptionError(
            f"local store {self._dir} refuses to open: {what}. Nothing on disk was changed; "
            "restore the data directory from a backup (docs/compute-storage.md, Recovery)"
        )

    def _zero_tail(self, seg: _Segment) -> bool:
        """Zero [size, capacity) where it is not zero already; True if anything was written."""
        wrote = False
        pos = seg.size
        while pos < seg.capacity:
            n = min(len(_ZEROS), seg.capacity - pos)
            chunk = os.pread(seg.fd, n, pos)
            if chunk != _ZEROS[: len(chunk)]:
                if not wrote:
                    log.warning("zeroing log tail after LSN %d in %s", seg.end, seg.path.name)
                _zero_fill(seg.fd, pos, pos + n)
                wrote = True
            pos += n
        return wrote

    # ------------------------------------------------------------------ lifecycle

    def disk_bytes(self) -> int:
        """Bytes used by log segments, spares and base files (for tests and metrics)."""
        total = 0
        for sub in ("wal", "base"):
            for p in (self._dir / sub).iterdir():
                with contextlib.suppress(FileNotFoundError):  # renamed/trimmed meanwhile
                    total += p.stat().st_size
        return total

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "written_lsn": self._written,
                "durable_lsn": self._durable,
                "checkpoint_lsn": self._checkpoint_lsn,
                "segments": len(self._segments),
                "spares": len(self._spares),
                "tail_offset": self._segments[-1].size if self._segments else 0,
                "index_pages": len(self._index),
                "index_versions": sum(len(v) for v in self._index.values()),
                "cache_pages": len(self._cache),
                "pins": sum(self._pins.values()),
            }

    def close(self) -> None:
        """Flush pending commits, stop the background threads, close files."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._flush_cond.notify_all()
        self._spare_wanted.set()
        self._flusher.join()
        self._maintainer.join()
        try:
            self._mark_durable(force=True)
        except OSError as exc:  # the log is intact; only the mark is older
            log.warning("could not record the durable LSN at close: %s", exc)
        with self._checkpoint_mutex, self._lock:
            for seg in self._segments:
                os.close(seg.fd)
            for fd in self._base_fds.values():
                os.close(fd)
            self._segments = []
            self._base_fds = {}
            self._index.clear()
            self._cache.clear()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
