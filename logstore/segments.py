"""Append-only segment files: the acceptor's copy of the log.

A segment is a file named by the LSN of its first record (16 hex digits, ``.seg``). It holds
frames back to back; a frame is a 24-byte header ``<length u32, lsn u64, term u64, crc u32>``
followed by ``length`` payload bytes. The CRC32C covers the first 20 header bytes and the
payload, so a torn or misplaced frame never passes. LSNs are contiguous: a frame at ``lsn``
with ``length`` bytes is followed by the frame at ``lsn + length``, across files too.

Only the last segment is written; the others are sealed: rotation cuts the old segment
to its last frame and fdatasyncs it before the new file is created, so a crash never leaves
a sealed segment with a torn tail.

Pre-written segments: once a log has filled a segment (at most PREWRITE_MAX_BYTES_S), a
worker thread writes the next one ahead as ``next.spare`` (zeros, fdatasync'ed) and rotation renames it into place. Records
then overwrite blocks that already exist, so the group-commit fdatasync does not have to
commit a new file size through the file system journal (measured on ext4 with 3 acceptors
on one disk: fdatasync p50 0.22 vs 0.38-0.68 ms, p90 0.3-0.6 vs 0.5-3.5 ms). The zeros
after the last frame of the active segment read as a bad frame (length 0) above the
durable LSN with nothing valid after it, i.e. exactly like a torn tail: open cuts them.
A clean close cuts them too, so files at rest have the same format as before (and older
code opens a crashed node's files the same way: zeros after the end are a torn tail; it
ignores ``next.spare``, which is not a ``.seg`` file). On open every segment is scanned. A bad frame is a torn write (cut off) only if
it is at or above the durable LSN the control file recorded, in the last segment, and no
well-formed frame follows it anywhere in the file (searched for without trusting the bad
frame's own length or LSN). Anything else is corruption: the log refuses to open, and
nothing is cut or removed before that decision.

Preallocated segments: a segment created by a rotation without a spare (a log filling
segments faster than PREWRITE_MAX_BYTES_S, or whose spare was not ready) is reserved whole
with ``fallocate(FALLOC_FL_KEEP_SIZE)``: its blocks exist (unwritten) but the file's size
is still the end of its last frame, so the files, a crash and a reopen look exactly as for
a growing file. An fdatasync then commits the written range of an existing extent and the
new size instead of allocating blocks as well (docs/logstore.md, "Issue 16, session 14").

Threads: all methods run on the event loop thread except ``run_sync`` (a worker thread,
one at a time) and ``read_file_range``/``parse_frames`` which touch no shared state.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import itertools
import logging
import os
import struct
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crc32c

from logstore.errors import CorruptionError, InvalidRequestError, LsnGapError
from strata.pagecache import open_random, small_folios

log = logging.getLogger("logstore.segments")

FRAME = struct.Struct("<IQQI")
FRAME_SIZE = FRAME.size
assert FRAME_SIZE == 24
MAX_PAYLOAD = 1 << 20
"""Largest record payload (bytes); the compute ships records of at most 256 KiB."""
INDEX_EVERY = 64 * 1024
"""A sparse index entry every this many bytes bounds the scan to find an LSN."""
SUFFIX = ".seg"
SPARE = "next.spare"
"""The pre-written next segment (removed at open: it may be half written)."""
MAX_SPARE_BYTES = 256 << 20
"""Segments larger than this are not pre-written (the spare is written in one job)."""
PREWRITE_MAX_BYTES_S = 16 << 20
"""A segment filled faster than this (bytes/s) gets no pre-written successor: the zeros
would take as much disk bandwidth as the records, and at that rate group commits are big
enough to amortize the journal commit (bench: 16 writers lost 25-45% with pre-writing)."""
ZERO_CHUNK = b"\0" * (1 << 20)
PREALLOCATE_ENV = "STRATA_LOGSTORE_PREALLOCATE"
"""``on`` (default) | ``off``: reserve a new segment's blocks when a rotation creates it
(``preallocate``), or let the file grow as before."""
FALLOC_FL_KEEP_SIZE = 1
_fallocate: Any = None
"""libc's ``fallocate``, looked up on first use (False: not available here)."""


def preallocate(fd: int, length: int) -> bool:
    """Reserve the first ``length`` bytes of ``fd``'s file without changing its size
    (Linux ``fallocate`` with ``FALLOC_FL_KEEP_SIZE``: unwritten extents past the end of
    the file, never read as data). Only a cost cut: False, and nothing changed, if the
    platform or the file system cannot, or the disk is full (the file grows as before)."""
    global _fallocate
    if _fallocate is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).fallocate
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
            fn.restype = ctypes.c_int
            _fallocate = fn
        except (AttributeError, OSError):  # not Linux / no such symbol
            _fallocate = False
    if not _fallocate:
        return False
    return bool(_fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, length) == 0)


IOV_MAX = 1024
TAIL_CACHE_BYTES = 4 << 20
"""Payload bytes of the most recently appended frames kept in memory, so that subscribers
(the page server, replicas), which read right behind the commit LSN, are served without
opening, reading and parsing the segment file for every message (issue 16)."""
"""Most buffers per pwritev (Linux IOV_MAX)."""


def payload_crc(payload: bytes) -> int:
    """CRC32C of a payload alone, as carried end to end in gRPC messages."""
    return int(crc32c.crc32c(payload))


def _frame_crc(head20: bytes | memoryview, payload: bytes | memoryview) -> int:
    return int(crc32c.crc32c(payload, crc32c.crc32c(head20)))


_HEAD20 = struct.Struct("<IQQ")
_CRC = struct.Struct("<I")


def frame_header(lsn: int, term: int, payload: bytes) -> bytes:
    """The 24-byte header of the frame carrying ``payload`` (written before it, no copy)."""
    head = _HEAD20.pack(len(payload), lsn, term)
    return head + _CRC.pack(_frame_crc(head, payload))


def encode_frame(lsn: int, term: int, payload: bytes) -> bytes:
    """One frame: header plus payload."""
    assert 0 < len(payload) <= MAX_PAYLOAD, len(payload)
    return frame_header(lsn, term, payload) + payload


@dataclass(frozen=True, slots=True)
class Frame:
    lsn: int
    term: int
    payload: bytes

    @property
    def end_lsn(self) -> int:
        return self.lsn + len(self.payload)


class FrameError(Exception):
    """A frame failed to parse; ``offset`` is where it starts."""

    def __init__(self, reason: str, offset: int, lsn: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset
        self.lsn = lsn


def parse_frames(buf: bytes | memoryview, lsn: int, offset: int = 0) -> Iterator[tuple[int, Frame]]:
    """Yield (offset, frame) for consecutive frames from ``offset``; raise FrameError on the
    first frame that is partial, misplaced or fails its CRC."""
    view = memoryview(buf)
    pos = offset
    while pos < len(view):
        if len(view) - pos < FRAME_SIZE:
            raise FrameError("partial frame header", pos, lsn)
        length, rlsn, term, crc = FRAME.unpack_from(view, pos)
        if length == 0 or length > MAX_PAYLOAD:
            raise FrameError(f"impossible record length {length}", pos, lsn)
        if rlsn != lsn:
            raise FrameError(f"frame says LSN {rlsn}, expected {lsn}", pos, lsn)
        end = pos + FRAME_SIZE + length
        if end > len(view):
            raise FrameError("partial record payload", pos, lsn)
        payload = view[pos + FRAME_SIZE : end]
        if _frame_crc(view[pos : pos + 20], payload) != crc:
            raise FrameError("CRC32C mismatch", pos, lsn)
        yield pos, Frame(lsn, term, bytes(payload))
        lsn += length
        pos = end


@dataclass
class Segment:
    """One segment file (or, once offloaded and deleted locally, its object-store copy)."""

    start_lsn: int
    end_lsn: int
    size: int = 0
    last_term: int = 0
    local: bool = True
    uploaded: bool = False
    index_lsn: list[int] = field(default_factory=list)
    index_off: list[int] = field(default_factory=list)

    def note(self, lsn: int, offset: int) -> None:
        """Record a frame position in the sparse index."""
        if not self.index_off or offset - self.index_off[-1] >= INDEX_EVERY:
            self.index_lsn.append(lsn)
            self.index_off.append(offset)

    def seek_hint(self, lsn: int) -> tuple[int, int]:
        """(lsn, offset) of an indexed frame at or before ``lsn``."""
        i = bisect.bisect_right(self.index_lsn, lsn) - 1
        if i < 0:
            return self.start_lsn, 0
        return self.index_lsn[i], self.index_off[i]


@dataclass(slots=True)
class SyncJob:
    """What one group-commit fsync covers: taken on the loop, run on the worker thread."""

    target_lsn: int
    fds: list[int]
    close_after: list[int]
    sync_dir: bool


def seg_name(start_lsn: int) -> str:
    return f"{start_lsn:016X}{SUFFIX}"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentStore:
    """The local segment files of one log on one acceptor."""

    def __init__(self, directory: Path, segment_bytes: int, start_lsn: int = 0) -> None:
        assert segment_bytes >= 4096, segment_bytes
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.start_lsn = start_lsn
        """The log's first LSN: an empty log ends here (a branch continues its parent's LSNs)."""
        self.segments: list[Segment] = []
        self.end_lsn = start_lsn
        self.last_term = 0
        self._fd: int | None = None  # the active (last) segment, written at its size
        self._to_close: list[int] = []  # rotated fds (durable already), closed after the next sync
        self._prewritten = False  # the active file is a renamed spare: zeros after its last frame
        self.synced_lsn = start_lsn
        """Everything below this LSN is durable (the owner sets it once a ``run_sync`` job
        has returned): ``_rotate`` seals a segment that is durable already without another
        fdatasync."""
        self._dir_dirty = False
        self.spare_ready = False
        """``SPARE`` exists, fully written and durable (set on the loop when the job ended)."""
        self.want_spare = False
        """A rotation used up (or lacked) the spare; the owner should run ``make_spare``."""
        self.prewrite = segment_bytes <= MAX_SPARE_BYTES and os.environ.get("STRATA_LOGSTORE_PREWRITE", "on") != "off"
        """Pre-write segments (``STRATA_LOGSTORE_PREWRITE=off``: growing files, as before)."""
        self.preallocate = os.environ.get(PREALLOCATE_ENV, "on").strip().lower() != "off"
        """Reserve a segment's blocks when a rotation creates its file (``preallocate``)."""
        self.preallocated = 0
        """Segment files reserved with ``preallocate`` so far (tests, stats)."""
        self._active_since = time.monotonic()  # when the active segment was started (or opened)
        self._tail: deque[tuple[int, int, bytes]] = deque()
        """(LSN, term, payload) of the last frames appended, consecutive, oldest first."""
        self._tail_bytes = 0

    # ---- open and validate -------------------------------------------------------------

    def open(
        self, remote: list[Segment] | None = None, durable_lsn: int = 0, terms: tuple[int, ...] = ()
    ) -> list[str]:
        """Scan and validate every local segment; cut a torn tail. Returns notes for the log.

        ``remote`` lists offloaded segments that end at or below the first local one.
        ``durable_lsn``: every record below it was fdatasync'ed before (control file), so
        the log must reach it and no damage below it can be a torn write. ``terms``: the
        terms records may carry (the term history), to find frames after a damaged one.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        notes: list[str] = []
        for stray in [*self.dir.glob("*.tmp"), *self.dir.glob("*.spare")]:
            stray.unlink()
        names = sorted(p.name for p in self.dir.iterdir() if p.name.endswith(SUFFIX))
        starts: list[int] = []
        for name in names:
            try:
                starts.append(int(name[: -len(SUFFIX)], 16))
            except ValueError:
                raise CorruptionError(
                    f"unexpected file {self.dir / name} in segment directory; refusing to open the log"
                ) from None
        self.segments = []
        self._drop_tail()
        expected: int | None = None
        torn: tuple[Path, int, int, int, bool] | None = None
        remove_empty: Path | None = None
        if remote:
            self.segments.extend(remote)
            expected = remote[-1].end_lsn
        for i, start in enumerate(starts):
            path = self.dir / seg_name(start)
            last = i == len(starts) - 1
            if expected is not None and start != expected:
                raise CorruptionError(
                    f"segment {path} starts at LSN {start:#x} but the previous one ends at "
                    f"{expected:#x}: a segment is missing; refusing to open the log"
                )
            data = path.read_bytes()
            seg = Segment(start, start)
            cut_at: int | None = None
            zeros = False
            try:
                for off, frame in parse_frames(data, start):
                    if frame.term < seg.last_term or frame.term < self.last_term:
                        raise CorruptionError(
                            f"{path}: record at LSN {frame.lsn:#x} has term {frame.term} below "
                            f"the previous record's term; refusing to open the log"
                        )
                    seg.note(frame.lsn, off)
                    seg.end_lsn = frame.end_lsn
                    seg.last_term = frame.term
                    seg.size = off + FRAME_SIZE + len(frame.payload)
            except FrameError as exc:
                where = f"{path}: {exc.reason} at offset {exc.offset} (LSN {exc.lsn:#x})"
                if not last:
                    raise CorruptionError(f"{where} in a sealed segment; refusing to open the log") from None
                if exc.lsn < durable_lsn:
                    raise CorruptionError(
                        f"{where}, below LSN {durable_lsn:#x} that was durable before (control "
                        f"file): damage, not a torn write; refusing to open the log"
                    ) from None
                found = _frame_after(data, exc.offset, exc.lsn, terms or (self.last_term, seg.last_term))
                if found is not None:
                    raise CorruptionError(
                        f"{where} with a valid record at offset {found} after it: corruption in "
                        f"the middle of the log, not a torn tail; refusing to open the log"
                    ) from None
                cut_at = exc.offset
                zeros = not data[exc.offset :].strip(b"\0")
            if seg.size == 0 and not last:
                raise CorruptionError(f"{path}: empty sealed segment; refusing to open the log")
            if seg.size == 0 and last:  # a rotation that crashed before its first write
                remove_empty = path
                break
            if cut_at is not None:
                torn = (path, cut_at, len(data) - cut_at, seg.end_lsn, zeros)
            self.segments.append(seg)
            self.last_term = seg.last_term
            expected = seg.end_lsn
        if self.segments:
            if self.segments[0].start_lsn < self.start_lsn:
                raise CorruptionError(
                    f"{self.dir}: a segment starts at LSN {self.segments[0].start_lsn:#x}, below the "
                    f"log's start LSN {self.start_lsn:#x}; refusing to open the log"
                )
            self.end_lsn = self.segments[-1].end_lsn
        if self.end_lsn < durable_lsn:
            raise CorruptionError(
                f"{self.dir}: the log ends at LSN {self.end_lsn:#x} but records up to "
                f"{durable_lsn:#x} were durable (control file): a segment was truncated or "
                f"removed; refusing to open the log"
            )
        # Decided: only now cut or remove anything.
        if torn is not None:
            tpath, cut, nbytes, tend, zeros = torn
            with open(tpath, "r+b") as f:
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
            if zeros:  # the unused part of a pre-written segment (a crash, or an old node)
                notes.append(f"cut the unused pre-written tail of {tpath.name} ({nbytes} zero bytes at offset "
                             f"{cut}); log ends at LSN {tend:#x}")
            else:
                notes.append(
                    f"torn tail in {tpath.name}: cut {nbytes} bytes at offset {cut}; log ends at LSN {tend:#x}")
        if remove_empty is not None:
            remove_empty.unlink()
            fsync_dir(self.dir)
            notes.append(f"removed empty segment {remove_empty.name}")
        if self.segments and self.segments[-1].local:
            self._fd = os.open(self.dir / seg_name(self.segments[-1].start_lsn), os.O_WRONLY)
        self._prewritten = False  # open cut any zeros after the last frame
        # Sealed segments were durable before the next one existed; the active one's frames
        # may be in the page cache only (a killed process): not known durable until a sync.
        self.synced_lsn = self.segments[-1].start_lsn if self.segments else self.end_lsn
        return notes

    def first_lsn(self) -> int:
        return self.segments[0].start_lsn if self.segments else self.end_lsn

    def close(self) -> None:
        """Close the files; the active segment is cut to its last frame first (a pre-written
        tail would otherwise stay on disk as zeros)."""
        if self._fd is not None and self.segments and self.segments[-1].local:
            size = self.segments[-1].size
            if os.fstat(self._fd).st_size > size:
                os.ftruncate(self._fd, size)
                os.fdatasync(self._fd)
        for fd in [*self._to_close, *([self._fd] if self._fd is not None else [])]:
            os.close(fd)
        self._to_close = []
        self._fd = None

    # ---- append ------------------------------------------------------------------------

    def append(self, start_lsn: int, records: list[tuple[int, bytes]]) -> int:
        """Write (term, payload) records at ``start_lsn`` (no fsync). Returns the new end."""
        end = start_lsn
        i = 0
        while i < len(records):  # a run of records of one term at a time
            term = records[i][0]
            j = i + 1
            while j < len(records) and records[j][0] == term:
                j += 1
            end = self.append_in_term(end, term, [(payload, 0) for _, payload in records[i:j]])
            i = j
        return end

    def append_in_term(self, start_lsn: int, term: int, records: Sequence[tuple[bytes, int]],
                       nbytes: int = -1) -> int:
        """Write the payloads of (payload, anything) ``records``, all of ``term``, at
        ``start_lsn`` (no fsync); return the new end. One pass over the records (frame
        headers, the sparse index, the tail cache), then one gathered write per segment:
        the acceptor's hot path (an append's records are all in the last term).
        ``nbytes``: the payloads' total size if the caller knows it (-1: summed here)."""
        assert start_lsn == self.end_lsn, (start_lsn, self.end_lsn)
        assert term >= self.last_term, (term, self.last_term)
        if not records:
            return start_lsn
        tail = self._tail
        if tail and tail[-1][0] + len(tail[-1][2]) != start_lsn:  # not contiguous (cannot happen)
            self._drop_tail()
        lsn = start_lsn
        buf: list[bytes] = []  # header, payload, header, payload, ...: one gathered write
        active = self.segments[-1] if self.segments and self.segments[-1].local else None
        offset = size = active.size if active is not None else 0
        limit = self.segment_bytes
        rotate = active is None or self._fd is None  # no segment to write: a new one first
        if nbytes < 0:
            nbytes = sum(len(p) for p, _ in records)
        if not rotate and size and size + FRAME_SIZE * len(records) + nbytes > limit:
            # This append would cross the segment's end: start the next segment with it, so
            # the old one ends where an earlier append ended. That one is durable already
            # when the appends come one group commit after another (sync writers), and
            # sealing it then costs no fdatasync; cutting it mid-append cost one inline
            # (~0.5-0.9 ms, docs/performance.md "Log store: 16 sync writers (session 13)").
            rotate = True
        pack, crc, cached = _HEAD20.pack, crc32c.crc32c, 0
        for payload, _ in records:
            n = len(payload)
            assert 0 < n <= MAX_PAYLOAD, n
            if rotate or size >= limit:
                if buf:  # this call's records so far went to the old segment
                    assert active is not None
                    active.size, active.end_lsn, active.last_term = size, lsn, term
                self._write(buf, offset)
                buf = []
                active = self._rotate(lsn)
                offset = size = 0
                rotate = False
            assert active is not None
            head = pack(n, lsn, term)
            buf.append(head + _CRC.pack(int(crc(payload, crc(head)))))
            buf.append(payload)
            index = active.index_off
            if not index or size - index[-1] >= INDEX_EVERY:
                active.index_lsn.append(lsn)
                index.append(size)
            tail.append((lsn, term, payload))
            cached += n
            size += FRAME_SIZE + n
            lsn += n
        assert active is not None
        active.size, active.end_lsn, active.last_term = size, lsn, term
        self.last_term = term
        self._write(buf, offset)
        self.end_lsn = lsn
        self._tail_bytes += cached
        while self._tail_bytes > TAIL_CACHE_BYTES and len(tail) > 1:
            self._tail_bytes -= len(tail.popleft()[2])
        return lsn

    def _drop_tail(self) -> None:
        self._tail.clear()
        self._tail_bytes = 0

    def read_tail(self, lsn: int, up_to: int, max_bytes: int) -> list[Frame] | None:
        """``read_local`` from the tail cache: the frames from ``lsn`` below ``up_to``, or
        None when ``lsn`` is not the start of a cached frame (the caller reads the file)."""
        tail = self._tail
        if not tail or not tail[0][0] <= lsn < tail[-1][0] + len(tail[-1][2]):
            return None
        i = len(tail) - 1
        while tail[i][0] > lsn:  # subscribers read near the end: walk back from there
            i -= 1
        if tail[i][0] != lsn:
            return None
        out: list[Frame] = []
        take_frames((Frame(*e) for e in itertools.islice(tail, i, None)), up_to, max_bytes, out)
        return out

    def _write(self, bufs: list[bytes], offset: int) -> None:
        """Write ``bufs`` back to back at ``offset`` of the active segment."""
        assert self._fd is not None or not bufs
        if 0 < len(bufs) <= IOV_MAX:  # the usual case: one call
            total = sum(map(len, bufs))
            if os.pwritev(self._fd, bufs, offset) == total:  # type: ignore[arg-type]
                return
            # a short write: the loop below writes it all again (the same bytes at the same offsets)
        for i in range(0, len(bufs), IOV_MAX):
            part = bufs[i : i + IOV_MAX]
            total = sum(map(len, part))
            n = os.pwritev(self._fd, part, offset)  # type: ignore[arg-type]
            if n < total:  # a short write: the rest, one copy
                rest = memoryview(b"".join(part))[n:]
                while rest:
                    k = os.pwrite(self._fd, rest, offset + n)  # type: ignore[arg-type]
                    rest = rest[k:]
                    n += k
            offset += total

    def _rotate(self, lsn: int) -> Segment:
        """Start a new segment at ``lsn``. The old segment is fdatasync'ed and closed first:
        once the new file exists the old one is sealed, and a sealed segment with a torn
        tail would be corruption (a blocking fdatasync, once per segment)."""
        if self._fd is not None:
            old = self.segments[-1]
            if self._prewritten:  # sealed ends at its last frame: the cut is durable before the next file exists
                os.ftruncate(self._fd, old.size)
                os.fdatasync(self._fd)
            elif self.synced_lsn < old.end_lsn:  # else a completed group commit covered all of it
                os.fdatasync(self._fd)
            # Closed by the next group commit, not here: a sync job running on a worker
            # thread may hold this fd (closing it could hand the number to another file).
            self._to_close.append(self._fd)
            self._fd = None
            # This log fills segments; pre-write the next one unless it fills them fast.
            elapsed = max(1e-6, time.monotonic() - self._active_since)
            self.want_spare = self.prewrite and self.segments[-1].size / elapsed <= PREWRITE_MAX_BYTES_S
        filled = bool(self.segments) and self.segments[-1].local  # this log fills segments
        path = self.dir / seg_name(lsn)
        if self.spare_ready:
            self.spare_ready = False
            assert not path.exists(), path
            os.rename(self.dir / SPARE, path)  # durable with the directory fsync of the next group commit
            self._fd = os.open(path, os.O_WRONLY)
            self._prewritten = True
        else:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            self._prewritten = False
            # A log that filled a segment fills this one too: reserve its blocks now (one
            # ~30 us call), so that each group commit's fdatasync writes into an existing
            # extent instead of allocating blocks (ext4 without a journal, 3 acceptors, 128
            # KiB appends: fewer device writes per fdatasync, ~12% less acceptor CPU per
            # record). The size stays at the last frame: nothing else changes.
            if filled and self.preallocate and preallocate(self._fd, self.segment_bytes):
                self.preallocated += 1
        self._dir_dirty = True
        self._active_since = time.monotonic()
        seg = Segment(lsn, lsn)
        self.segments.append(seg)
        return seg

    def make_spare(self) -> bool:
        """Write ``SPARE``: ``segment_bytes`` of zeros, fdatasync'ed (a worker thread; touches
        no shared state). False if it failed (e.g. the disk is full): no spare, the next
        segment is a new file as before."""
        path = self.dir / SPARE
        try:
            fd = open_random(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            try:
                left = self.segment_bytes
                while left > 0:
                    left -= os.write(fd, ZERO_CHUNK[: min(left, len(ZERO_CHUNK))])
                os.fdatasync(fd)
                small_folios(fd, self.segment_bytes)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("could not pre-write the next segment of %s: %s", self.dir, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return False
        return True

    # ---- durability --------------------------------------------------------------------

    def prepare_sync(self) -> SyncJob:
        """Everything written so far, to be made durable by ``run_sync``."""
        # Rotated files were made durable by ``_rotate`` (sealing needs that before the next
        # file exists); they are only closed after this job.
        fds = [self._fd] if self._fd is not None else []
        to_close = self._to_close
        if to_close:
            self._to_close = []
        else:
            to_close = []  # not the store's list: the job owns it
        job = SyncJob(self.end_lsn, fds, to_close, self._dir_dirty)
        self._dir_dirty = False
        return job

    def run_sync(self, job: SyncJob) -> None:
        """fdatasync the files (worker thread). Rotated files are closed afterwards."""
        for fd in job.fds:
            os.fdatasync(fd)
        if job.sync_dir:
            fsync_dir(self.dir)
        for fd in job.close_after:
            os.close(fd)

    def truncate(self, lsn: int) -> None:
        """Cut the log at record boundary ``lsn`` and make it durable. No sync may run."""
        assert not self._to_close, "truncate after a sync"
        self._drop_tail()
        if lsn >= self.end_lsn:
            assert lsn == self.end_lsn
            return
        keep: list[Segment] = []
        for seg in self.segments:
            if seg.start_lsn >= lsn:
                if not seg.local:
                    raise InvalidRequestError(f"cannot truncate offloaded segment at {seg.start_lsn:#x}")
                if seg is self.segments[-1] and self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                (self.dir / seg_name(seg.start_lsn)).unlink()
                continue
            keep.append(seg)
        if keep and keep[-1].end_lsn > lsn:
            seg = keep[-1]
            off = self._offset_of(seg, lsn)
            path = self.dir / seg_name(seg.start_lsn)
            with open(path, "r+b") as f:
                f.truncate(off)
                f.flush()
                os.fsync(f.fileno())
            seg.size = off
            seg.end_lsn = lsn
            i = bisect.bisect_left(seg.index_lsn, lsn)
            del seg.index_lsn[i:]
            del seg.index_off[i:]
            seg.last_term = self._last_term_of(seg)
        if self._fd is None and keep and keep[-1].local:
            self._fd = os.open(self.dir / seg_name(keep[-1].start_lsn), os.O_WRONLY)
        fsync_dir(self.dir)
        self.segments = keep
        self.end_lsn = lsn
        self.synced_lsn = min(self.synced_lsn, lsn)
        self._prewritten = False  # the segment holding ``lsn`` was cut there (or is sealed)
        self.last_term = keep[-1].last_term if keep else 0

    def _last_term_of(self, seg: Segment) -> int:
        if seg.size == 0:
            return 0
        lsn, off = seg.seek_hint(seg.end_lsn - 1)
        term = 0
        for _, frame in self._scan(seg, lsn, off, seg.size):
            term = frame.term
        return term

    # ---- read --------------------------------------------------------------------------

    def segment_for(self, lsn: int) -> Segment | None:
        i = bisect.bisect_right([s.start_lsn for s in self.segments], lsn) - 1
        if i < 0:
            return None
        seg = self.segments[i]
        return seg if lsn < seg.end_lsn else None

    def _scan(self, seg: Segment, lsn: int, off: int, stop: int) -> Iterator[tuple[int, Frame]]:
        data = read_file_range(self.dir / seg_name(seg.start_lsn), off, stop - off)
        for pos, frame in _parse_or_corrupt(data, lsn, seg):
            yield off + pos, frame

    def _offset_of(self, seg: Segment, lsn: int) -> int:
        """File offset of the frame starting at ``lsn`` (InvalidRequestError if none)."""
        hint_lsn, off = seg.seek_hint(lsn)
        path = self.dir / seg_name(seg.start_lsn)
        with open(path, "rb") as f:
            cur = hint_lsn
            while cur < lsn:
                f.seek(off)
                head = f.read(FRAME_SIZE)
                if len(head) < FRAME_SIZE:
                    break
                length, rlsn, _, _ = FRAME.unpack(head)
                if rlsn != cur:
                    raise CorruptionError(f"{path}: frame at offset {off} has LSN {rlsn:#x}, expected {cur:#x}")
                off += FRAME_SIZE + length
                cur += length
        if cur != lsn:
            raise InvalidRequestError(f"LSN {lsn:#x} is not a record boundary")
        return off

    def read_local(self, lsn: int, up_to: int, max_bytes: int) -> list[Frame]:
        """Frames from ``lsn`` (a record boundary) below ``up_to``, at least one, about
        ``max_bytes`` in total. The segment holding ``lsn`` must be local."""
        seg = self.segment_for(lsn)
        if seg is None:
            raise LsnGapError(f"LSN {lsn:#x} is not in the log (end {self.end_lsn:#x})")
        assert seg.local
        off = self._offset_of(seg, lsn)
        out: list[Frame] = []
        budget = max(max_bytes, FRAME_SIZE + MAX_PAYLOAD)
        data = read_file_range(self.dir / seg_name(seg.start_lsn), off, min(seg.size - off, budget))
        try:
            take_frames((frame for _, frame in parse_frames(data, lsn)), up_to, max_bytes, out)
        except FrameError as exc:
            if exc.reason not in ("partial frame header", "partial record payload"):
                raise CorruptionError(f"segment {seg.start_lsn:#x}: {exc.reason} at LSN {exc.lsn:#x}") from None
        return out

    def disk_bytes(self) -> int:
        return sum(s.size for s in self.segments if s.local)


def take_frames(frames: Iterable[Frame], up_to: int, max_bytes: int, out: list[Frame]) -> None:
    """Append to ``out`` the frames that end at or below ``up_to``, in order, stopping once
    their payloads reach ``max_bytes`` (at least one frame goes, however big). Appends as
    it goes, so a parse error raised by ``frames`` leaves the frames before it in ``out``."""
    total = 0
    for frame in frames:
        if frame.end_lsn > up_to:
            return
        out.append(frame)
        total += len(frame.payload)
        if total >= max_bytes:
            return


def _parse_or_corrupt(data: bytes, lsn: int, seg: Segment) -> Iterator[tuple[int, Frame]]:
    try:
        yield from parse_frames(data, lsn)
    except FrameError as exc:
        raise CorruptionError(f"segment {seg.start_lsn:#x}: {exc.reason} at LSN {exc.lsn:#x}") from None


def read_file_range(path: Path, offset: int, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)


def _frame_after(data: bytes, offset: int, lsn: int, terms: tuple[int, ...]) -> int | None:
    """Offset of a well-formed frame anywhere after the damaged one at ``offset`` (which
    should have started at ``lsn``), or None.

    The damaged header's length and LSN are not trusted: a flipped bit there must not hide
    the records after it. Candidates are found by their term field (one of ``terms``); a
    frame at offset ``p`` must carry an LSN in ``(lsn, lsn + p - offset - FRAME_SIZE]``
    (LSNs advance by payload bytes, headers add file bytes) and pass its CRC. A torn write
    leaves nothing like that behind it; a flipped bit in the middle does.
    """
    for term in sorted({t for t in terms if t > 0}):
        needle = struct.pack("<Q", term)
        pos = data.find(needle, offset + 1 + 12)
        while pos != -1:
            p = pos - 12
            if len(data) - p < FRAME_SIZE:
                break
            length, rlsn, _, crc = FRAME.unpack_from(data, p)
            end = p + FRAME_SIZE + length
            if (
                0 < length <= MAX_PAYLOAD
                and lsn < rlsn <= lsn + (p - offset) - FRAME_SIZE
                and end <= len(data)
                and _frame_crc(data[p : p + 20], data[p + FRAME_SIZE : end]) == crc
            ):
                return p
            pos = data.find(needle, pos + 1)
    return None


def parse_segment_object(data: bytes, seg: Segment) -> list[Frame]:
    """All frames of an offloaded segment object, verified."""
    frames = [f for _, f in _parse_or_corrupt(data, seg.start_lsn, seg)]
    end = frames[-1].end_lsn if frames else seg.start_lsn
    if end != seg.end_lsn:
        raise CorruptionError(f"offloaded segment {seg.start_lsn:#x} ends at {end:#x}, expected {seg.end_lsn:#x}")
    return frames
