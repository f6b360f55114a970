"""The local store's on-disk format: log frames, base page slots, the control file, and the
parsing of WAL records, as plain functions over paths and file descriptors.

``compute/localstore.py`` (the store: index, group commit, checkpoints, recovery) is the
only user; docs/compute-storage.md has the design. Nothing here holds state or locks.

On-disk layout of ``data_dir`` (format 2)::

    control.json            checkpoint LSN C, where the log after C starts, and the durable
                            LSN recovery must reach (CRC-protected, atomic rename)
    wal/<start LSN>.seg      frames: magic u32 | length u32 | start LSN u64 | payload crc32c u32
                             | header crc32c u32 | payload, in a preallocated file
    wal/spare-<n>            preallocated segment files waiting to be used
    base/<db_id>.pages       page slots of database db_id as of C: slot p at p * SLOT_SIZE is
                             crc32c u32 | page_no u32 | page image (all zeros: never written)
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crc32c

from strata.pagecache import open_random, small_folios
from strata.storage import StorageError
from strata.wal import PAGE_SIZE, Lsn, WalFormatError, WalRecord

log = logging.getLogger("compute.localstore")  # the store's logger: its warnings keep their name

FRAME = struct.Struct("<IIQII")  # magic, length, start lsn, payload crc, header crc
_FRAME_HEAD = struct.Struct("<IIQI")  # the part of the frame header its own CRC covers
_CRC = struct.Struct("<I")
_FRAME_MAGIC = 0x4C465453  # b"STFL": lets recovery find frames after a damaged one
_MAGIC_BYTES = struct.pack("<I", _FRAME_MAGIC)
SLOT_HEAD = struct.Struct("<II")  # crc32c(db_id|page_no|data), page_no
SLOT_SIZE = SLOT_HEAD.size + PAGE_SIZE
"""Bytes per page in a base page file: a checksummed header, then the image."""
_SCAN_CHUNK = 1024 * 1024  # bytes read at a time when looking for frames after damage
REC_HEADER = struct.Struct("<BBHQqII")  # mirrors strata.wal's record header
REC_SIZE = struct.Struct("<II")
REC_PAGE = struct.Struct("<III")
_FLAG_COMMIT = 1
CONTROL = "control.json"
_CONTROL_VERSION = 2
_MAX_FRAME_PAYLOAD = 64 * 1024 * 1024
"""Sanity bound on one record when scanning the log (records are <= 256 KiB in practice)."""

assert REC_HEADER.size == len(WalRecord(0, True).encode()), "record header layout drifted"


class DiskFullError(StorageError):
    """The disk is full: the transaction was not written; the store stays usable and later
    commits succeed once space returns. SQLSTATE 53100 (disk_full)."""

    sqlstate = "53100"


class CorruptionError(StorageError):
    """Data on disk fails its checksum or contradicts what was durably recorded (XX001)."""

    sqlstate = "XX001"


def is_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def frame_header(length: int, lsn: Lsn, payload_crc: int) -> bytes:
    head = _FRAME_HEAD.pack(_FRAME_MAGIC, length, lsn, payload_crc)
    return head + _CRC.pack(crc32c.crc32c(head))


def _parse_header(hdr: bytes) -> tuple[int, Lsn, int] | None:
    """(length, lsn, payload crc) of a frame header whose own CRC holds, else None."""
    if len(hdr) < FRAME.size:
        return None
    magic, length, lsn, pcrc, hcrc = FRAME.unpack_from(hdr)
    if magic != _FRAME_MAGIC or crc32c.crc32c(hdr[: _FRAME_HEAD.size]) != hcrc:
        return None
    return length, lsn, pcrc


def slot(db_id: int, page_no: int, data: bytes) -> bytes:
    crc = crc32c.crc32c(data, crc32c.crc32c(SLOT_HEAD.pack(db_id, page_no)))
    return SLOT_HEAD.pack(crc, page_no) + data


@dataclass(slots=True, eq=False)
class Segment:
    """One log segment file; ``start`` is the LSN of its first record."""

    start: Lsn
    path: Path
    fd: int
    size: int  # bytes of frames that count (file offset of the next frame)
    capacity: int  # file length (preallocated)
    end: Lsn  # LSN just past its last record


Version = tuple[Lsn, Segment, int, int]
"""(commit LSN, segment, byte offset of the page image, offset of its frame): one version."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seg_name(start: Lsn) -> str:
    return f"{start:020d}.seg"


ZEROS = bytes(1024 * 1024)


def disk_usage(data_dir: Path) -> int:
    """Bytes of a store's log segments, spares and base files."""
    total = 0
    for sub in ("wal", "base"):
        for p in (data_dir / sub).iterdir():
            with contextlib.suppress(FileNotFoundError):  # renamed/trimmed meanwhile
                total += p.stat().st_size
    return total


def zero_fill(fd: int, start: int, end: int) -> None:
    """Write zeros over [start, end) of the file."""
    pos = start
    while pos < end:
        n = os.pwrite(fd, memoryview(ZEROS)[: min(len(ZEROS), end - pos)], pos)
        assert n > 0
        pos += n


def preallocate(path: Path, size: int, sync: bool, *, exclusive: bool) -> int:
    """Create ``path`` as ``size`` zero bytes and return its fd; on any failure (a full disk)
    nothing is left behind."""
    flags = os.O_RDWR | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = open_random(path, flags)
    try:
        try:  # reserve first: a full disk fails fast, before writing 16 MiB of zeros
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
        zero_fill(fd, 0, size)
        if sync:
            os.fsync(fd)
            small_folios(fd, size)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return fd


def write_frame(fd: int, header: bytes, payload: bytes, pos: int) -> None:
    """Write one frame at ``pos`` (no fsync); a full disk is ``DiskFullError``."""
    total = len(header) + len(payload)
    try:
        n = os.pwritev(fd, [header, payload], pos)
        if n != total:  # a short write to a regular file: finish it the slow way
            buf = (header + payload)[n:]
            while buf:
                k = os.pwrite(fd, buf, pos + n)
                assert k > 0
                n += k
                buf = buf[k:]
    except OSError as exc:
        if is_full(exc):
            raise DiskFullError(f"could not extend the log: {exc}") from exc
        raise


def read_frame(fd: int, pos: int, lsn: Lsn | None, capacity: int) -> bytes | None:
    """The payload of a valid frame at ``pos`` (for ``lsn``, unless None), else None."""
    if pos + FRAME.size > capacity:
        return None
    head = _parse_header(os.pread(fd, FRAME.size, pos))
    if head is None:
        return None
    length, start, pcrc = head
    if (lsn is not None and start != lsn) or length == 0 or length > _MAX_FRAME_PAYLOAD:
        return None
    if pos + FRAME.size + length > capacity:
        return None
    payload = os.pread(fd, length, pos + FRAME.size)
    if len(payload) < length or crc32c.crc32c(payload) != pcrc:
        return None
    return payload


def find_frame(fd: int, start: int, end: int, min_lsn: Lsn) -> tuple[int, Lsn] | None:
    """(offset, LSN) of the first frame header in [start, end) whose own CRC holds and whose
    LSN is >= ``min_lsn``: proof that the log went on past a frame that failed."""
    pos = start
    while pos < end:
        n = min(_SCAN_CHUNK, end - pos)
        buf = os.pread(fd, n + FRAME.size, pos)  # overlap: a header may cross the chunk end
        i = buf.find(_MAGIC_BYTES)
        while 0 <= i < n:
            head = _parse_header(buf[i : i + FRAME.size])
            if head is not None and head[1] >= min_lsn:
                return pos + i, head[1]
            i = buf.find(_MAGIC_BYTES, i + 1)
        pos += n
    return None


def load_control(path: Path) -> dict[str, Any]:
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


def parse_record(
    payload: memoryview,
) -> tuple[int, bool, list[tuple[int, int]], list[tuple[int, int, int]]]:
    """(xid, commit, db_sizes, [(db_id, page_no, data offset in payload)]) without copying pages."""
    if len(payload) < REC_HEADER.size:
        raise WalFormatError("record shorter than its header")
    version, flags, _, xid, _, n_sizes, n_pages = REC_HEADER.unpack_from(payload, 0)
    if version != 1:
        raise WalFormatError(f"unknown WAL record version {version}")
    pos = REC_HEADER.size
    if pos + n_sizes * REC_SIZE.size > len(payload):
        raise WalFormatError("record truncated in its size table")
    sizes = [REC_SIZE.unpack_from(payload, pos + i * REC_SIZE.size) for i in range(n_sizes)]
    pos += n_sizes * REC_SIZE.size
    pages: list[tuple[int, int, int]] = []
    for _ in range(n_pages):
        if pos + REC_PAGE.size > len(payload):
            raise WalFormatError("record truncated in a page header")
        db_id, page_no, length = REC_PAGE.unpack_from(payload, pos)
        pos += REC_PAGE.size
        if length != PAGE_SIZE or pos + length > len(payload):
            raise WalFormatError("bad page image length")
        pages.append((db_id, page_no, pos))
        pos += length
    if pos != len(payload):
        raise WalFormatError("trailing bytes after the record")
    return xid, bool(flags & _FLAG_COMMIT), sizes, pages


def write_control(
    data_dir: Path, c_lsn: Lsn, seg_start: Lsn, offset: int, sizes: dict[int, int],
    durable: Lsn, sync: bool,
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
    tmp = data_dir / (CONTROL + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            n = os.write(fd, body)
            if n != len(body):
                raise OSError(errno.ENOSPC, "short write of the control file")
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, data_dir / CONTROL)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        fsync_dir(data_dir)


def read_slot(db_id: int, fd: int, page_no: int) -> bytes | None:
    """A base page checked against its slot checksum (None: a slot never written)."""
    name = f"base/{db_id}.pages"
    raw = os.pread(fd, SLOT_SIZE, page_no * SLOT_SIZE)
    if len(raw) < SLOT_SIZE:
        raise CorruptionError(
            f"{name} is short: page {page_no} is missing (file truncated?)"
        )
    crc, stored_no = SLOT_HEAD.unpack_from(raw)
    data = raw[SLOT_HEAD.size :]
    if crc == 0 and stored_no == 0 and data == ZEROS[:PAGE_SIZE]:
        return None  # a hole: the page was never written
    want = crc32c.crc32c(data, crc32c.crc32c(SLOT_HEAD.pack(db_id, page_no)))
    if stored_no != page_no or crc != want:
        raise CorruptionError(f"{name}: page {page_no} fails its checksum")
    return data


def zero_tail(seg: Segment) -> bool:
    """Zero [size, capacity) where it is not zero already; True if anything was written."""
    wrote = False
    pos = seg.size
    while pos < seg.capacity:
        n = min(len(ZEROS), seg.capacity - pos)
        chunk = os.pread(seg.fd, n, pos)
        if chunk != ZEROS[: len(chunk)]:
            if not wrote:
                log.warning("zeroing log tail after LSN %d in %s", seg.end, seg.path.name)
            zero_fill(seg.fd, pos, pos + n)
            wrote = True
        pos += n
    return wrote


@dataclass(slots=True)
class CheckpointPlan:
    """What one checkpoint folds, decided under the store lock and carried out outside it."""

    c_idx: int  # position of C's commit in LocalStore._commits
    c_lsn: Lsn  # C: the checkpoint LSN
    c_seg: Segment  # where the log after C starts
    c_off: int
    work: list[tuple[int, int, Version]]  # (db_id, page_no, newest version <= C)
    sizes: dict[int, int]  # database sizes at C
    fds: dict[int, int]  # base file of every database in ``sizes``
    new_base_files: bool  # some base file was created (fsync base/)


@dataclass(slots=True)
class Replay:
    """Where recovery's scan of the log is: it goes on across segment files."""

    lsn: Lsn  # the LSN of the next frame expected
    last_commit: Lsn  # the end of the last committed transaction
    stop: int  # offset in the last segment scanned where the scan stopped
    good: tuple[Segment, int] | None = None  # (segment, offset after the last commit)
    # pages of the transaction not yet committed (db, page, segment, image offset, frame offset)
    pending: list[tuple[int, int, Segment, int, int]] = field(default_factory=list)
    pending_xid: int | None = None
