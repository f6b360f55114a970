"""The standalone store: one process is both the WAL sink and the page store.

``strata compute --standalone`` needs durable storage without a log store quorum or a
page server. ``LocalStore`` keeps an append-only local log of encoded ``WalRecord``s in
segment files (every record framed with CRC32C, fdatasync'd by a group-commit flusher),
an in-memory index of page versions pointing into the log (no page bytes in memory except
a bounded LRU cache), and a per-database base page file written by checkpoints so that
the log can be trimmed. Disk and memory stay bounded; ``docs/compute-storage.md`` has the
design and the recovery argument.

The on-disk layout (format 2) is in ``compute/localstore_format.py``.

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
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import NoReturn

import crc32c

from compute.localstore_commit import AioFlusher, GroupCommit
from compute.localstore_format import (
    CONTROL,
    FRAME,
    REC_HEADER,
    REC_PAGE,
    REC_SIZE,
    SLOT_SIZE,
    CheckpointPlan,
    CorruptionError,
    DiskFullError,
    Replay,
    Segment,
    Version,
    disk_usage,
    find_frame,
    frame_header,
    fsync_dir,
    is_full,
    load_control,
    parse_record,
    preallocate,
    read_frame,
    read_slot,
    seg_name,
    slot,
    write_control,
    write_frame,
    zero_fill,
    zero_tail,
)
from strata.pagecache import open_random
from strata.storage import CommitTicket, StorageError
from strata.wal import PAGE_SIZE, Lsn, WalFormatError, WalRecord

log = logging.getLogger(__name__)

_MARK_INTERVAL_S = 1.0
"""How often the durable LSN is recorded in the control file (the bound on how much of the
newest log a damaged frame can hide after a crash, see ``_recover``)."""


class LocalStore(GroupCommit):
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
        self._max_recycled = max(max_spares, -(-checkpoint_bytes // segment_bytes) + 1) if max_spares else 0
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
        self._index: dict[tuple[int, int], list[Version]] = {}
        self._sizes: dict[int, list[tuple[Lsn, int]]] = {}  # db sizes after the checkpoint
        self._base_sizes: dict[int, int] = {}  # db sizes at the checkpoint
        self._base_fds: dict[int, int] = {}
        self._cache: OrderedDict[tuple[int, int, Lsn], bytes] = OrderedDict()
        self._commits: list[tuple[Lsn, Segment, int]] = []  # (commit end, segment, offset after)
        self._pins: dict[Lsn, int] = {}
        self._segments: list[Segment] = []
        self._checkpoint_lsn: Lsn = 0
        self._min_pin_lsn: Lsn = 0  # no snapshot below this may be pinned or read
        self._written: Lsn = 0
        self._durable: Lsn = 0
        self._since_checkpoint = 0
        self._pending: list[tuple[Lsn, Future[Lsn]]] = []
        # The flusher waits on _flush_cond only when idle; a commit made while it is busy in
        # fdatasync joins the next group without a wake-up (Condition.notify and the GIL
        # hand-off it causes were a tenth of the commit's CPU under load).
        self._flusher_idle = False
        self._aio: AioFlusher | None = None  # group commit on a loop instead (attach_loop)
        # The fdatasync of log segments (a seam for fault tests: a gated or failing fsync).
        self.log_fsync: Callable[[int], None] = os.fdatasync
        self._fsync_failed: BaseException | None = None  # set once, never cleared
        self._unsynced: list[Segment] = []
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
            data = read_slot(db_id, fd, page_no)
            if data is not None:
                self._cache_put(key, data)
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
            txn_pages: dict[tuple[int, int], tuple[Segment, int, int, bytes | None]] = {}
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
            if self._aio is not None:
                self._aio.kick()
            elif self._flusher_idle:
                self._flush_cond.notify()
            if self._since_checkpoint >= self._checkpoint_bytes and self._auto_checkpoint:
                self._checkpoint_wanted.set()
                self._spare_wanted.set()
        return CommitTicket(commit_lsn, fut)

    def _append(
        self,
        seg: Segment,
        lsn: Lsn,
        rec: WalRecord,
        txn_pages: dict[tuple[int, int], tuple[Segment, int, int, bytes | None]],
    ) -> tuple[Segment, Lsn, int]:
        """Frame and write one record at ``lsn``; note where its page images landed."""
        payload = rec.encode()
        header = frame_header(len(payload), lsn, crc32c.crc32c(payload))
        total = FRAME.size + len(payload)
        if seg.size > 0 and seg.size + total > seg.capacity:
            seg = self._roll_segment(lsn)
        pos = seg.size
        write_frame(seg.fd, header, payload, pos)
        seg.size = pos + total
        if seg.size > seg.capacity:
            seg.capacity = seg.size  # an oversized record grew the file
        if not self._unsynced or self._unsynced[-1] is not seg:
            self._unsynced.append(seg)
        off = pos + FRAME.size + REC_HEADER.size + len(rec.db_sizes) * REC_SIZE.size
        for page in rec.pages:
            assert len(page.data) == PAGE_SIZE, "page images are PAGE_SIZE bytes"
            off += REC_PAGE.size
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

    def _abort_append(self, seg: Segment, offset: int, lsn: Lsn, exc: BaseException) -> None:
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
            zero_fill(seg.fd, offset, seg.size)
            seg.size = offset
            seg.end = lsn
        except OSError as err:  # cannot restore a clean tail: refuse further writes
            self._failed = err
        if isinstance(exc, OSError):
            self._failed = exc

    def _current_segment(self) -> Segment:
        if not self._segments:
            return self._roll_segment(self._written)
        return self._segments[-1]

    def _roll_segment(self, start: Lsn) -> Segment:
        """Start the segment beginning at ``start``: a ready spare renamed, else a new file."""
        path = self._dir / "wal" / seg_name(start)
        assert not path.exists(), f"segment {path.name} exists"
        if self._spares:
            spare = self._spares.pop()
            os.rename(spare, path)
            fd = open_random(path, os.O_RDWR)
            capacity = os.fstat(fd).st_size
        else:
            try:
                fd = preallocate(path, self._segment_bytes, self._sync, exclusive=True)
            except OSError as exc:
                if is_full(exc):
                    raise DiskFullError(f"no space for a new log segment: {exc}") from exc
                raise
            capacity = self._segment_bytes
        seg = Segment(start, path, fd, 0, capacity, start)
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
        os.close(preallocate(tmp, self._segment_bytes, self._sync, exclusive=False))
        final = self._dir / "wal" / f"spare-{n}"
        os.rename(tmp, final)
        with self._lock:
            self._spares.append(final)

    # ------------------------------------------------------------------ group commit

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
                if is_full(exc):  # retried on the next round, once space returns
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
            plan = self._plan_checkpoint()
            if plan is None:
                return self._checkpoint_lsn
        # Outside the lock: readers of these pages use the log versions until the index
        # entries are dropped below, and no reader touches the base image of a page that
        # has a version in (old C, C] (every pin is >= C).
        self._fold_into_base(plan)
        c_lsn, sizes, fds = plan.c_lsn, plan.sizes, plan.fds
        self._write_control(c_lsn, plan.c_seg.start, plan.c_off, sizes, max(self._ctl_durable, c_lsn))
        # Shrink only now: a crash before the control file names the new sizes must find
        # every base file at least as long as the old control file says.
        for db_id, n in sizes.items():
            if os.fstat(fds[db_id]).st_size > n * SLOT_SIZE:
                os.ftruncate(fds[db_id], n * SLOT_SIZE)
        with self._lock:
            doomed = self._forget_folded(plan)
        self._recycle_segments(doomed)
        return c_lsn

    def _plan_checkpoint(self) -> CheckpointPlan | None:
        """Choose C and the page versions to fold (None: nothing to do). Holds the lock; from
        here on no snapshot below C can be pinned. Opens base files of new databases."""
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
            return None
        c_lsn, c_seg, c_off = self._commits[c_idx]
        assert c_lsn > self._checkpoint_lsn
        nxt = self._segments.index(c_seg) + 1
        if c_off == c_seg.size and nxt < len(self._segments):
            assert self._segments[nxt].start == c_lsn
            c_seg, c_off = self._segments[nxt], 0  # C is where the next segment starts
        self._min_pin_lsn = max(self._min_pin_lsn, c_lsn)  # no new pin below C from now on
        work: list[tuple[int, int, Version]] = []
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
                new_fds[db_id] = open_random(path, os.O_RDWR | os.O_CREAT)
        fds = {**self._base_fds, **new_fds}
        return CheckpointPlan(c_idx, c_lsn, c_seg, c_off, work, sizes, fds, bool(new_fds))

    def _fold_into_base(self, plan: CheckpointPlan) -> None:
        """Write the newest image of every page up to C into its base slot, size and fsync
        the base files. Runs outside the lock. Every image is copied out of its frame only
        after the frame's checksum holds, one frame (<= 256 KiB in practice) in memory at a
        time."""
        sizes, fds = plan.sizes, plan.fds
        plan.work.sort(key=lambda w: (w[2][1].start, w[2][3], w[0], w[1]))
        frame_key: tuple[Lsn, int] | None = None
        payload = b""
        for db_id, page_no, (_, v_seg, v_off, v_frame) in plan.work:
            assert db_id in sizes, "every commit carries the size of the databases it wrote"
            if page_no >= sizes[db_id]:
                continue  # truncated away by C
            if frame_key != (v_seg.start, v_frame):
                frame_key = (v_seg.start, v_frame)
                got = read_frame(v_seg.fd, v_frame, None, v_seg.capacity)
                if not isinstance(got, bytes):
                    err = CorruptionError(
                        f"log frame at {v_seg.path.name} offset {v_frame} fails its checksum "
                        "while checkpointing: the log is damaged"
                    )
                    with self._lock:
                        self._failed = err
                    raise err
                payload = got
            at = v_off - v_frame - FRAME.size
            data = payload[at : at + PAGE_SIZE]
            assert len(data) == PAGE_SIZE
            os.pwrite(fds[db_id], slot(db_id, page_no, data), page_no * SLOT_SIZE)
        for db_id, n in sizes.items():
            fd = fds[db_id]
            if os.fstat(fd).st_size < n * SLOT_SIZE:
                os.ftruncate(fd, n * SLOT_SIZE)  # holes read as zero slots: never written
            if self._sync:
                os.fsync(fd)
        if plan.new_base_files and self._sync:
            fsync_dir(self._dir / "base")

    def _forget_folded(self, plan: CheckpointPlan) -> list[Segment]:
        """Once the control file names C: drop the folded versions from the index and the
        segments wholly below C from the log; returns those segments. Holds the lock."""
        c_lsn, c_seg, c_off = plan.c_lsn, plan.c_seg, plan.c_off
        for db_id, page_no, _ in plan.work:
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
        self._base_sizes = plan.sizes
        self._base_fds = plan.fds
        self._commits = self._commits[plan.c_idx + 1 :]
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
        return doomed

    def _recycle_segments(self, doomed: list[Segment]) -> None:
        """Close trimmed segments; keep up to ``_max_recycled`` of them as spares (a
        checkpoint's worth of segments, plus one), delete the rest.

        Why that many: ``_make_spare`` keeps ``max_spares`` ready, so with room for only those
        every trimmed segment was deleted and every new one zero-filled, fsynced and read back
        (~13 ms of CPU and 16 MiB of writes per segment, about one a second under TPC-B, each
        flush beside the commits' fdatasyncs). Recycled, the log's segments are reused round
        and round. The disk holds no more at its peak than before: a recycled spare stands for
        a segment the log would grow into before the next checkpoint."""
        for s in doomed:
            os.close(s.fd)
            # Recycle as a spare: its frames all have LSNs below C, never valid again.
            with self._lock:
                recycle = len(self._spares) < self._max_recycled and not self._closed
                if recycle:
                    self._spare_seq += 1
                    spare = self._dir / "wal" / f"spare-{self._spare_seq}"
            if recycle and s.capacity == self._segment_bytes:
                os.rename(s.path, spare)
                with self._lock:
                    self._spares.append(spare)
            else:
                s.path.unlink()

    def _write_control(
        self, c_lsn: Lsn, seg_start: Lsn, offset: int, sizes: dict[int, int], durable: Lsn
    ) -> None:
        """Replace the control file (``write_control``) and remember what it now says."""
        write_control(self._dir, c_lsn, seg_start, offset, sizes, durable, self._sync)
        self._ctl = (c_lsn, seg_start, offset, dict(sizes))
        self._ctl_durable = durable

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        """Load the checkpoint, replay the log after it, cut a genuine torn tail.

        Everything is decided before anything on disk changes: damage that is not a torn
        tail at the very end raises ``CorruptionError`` and leaves the directory as it was.
        """
        wal = self._dir / "wal"
        ctl_path = self._dir / CONTROL
        names = sorted(wal.glob("*.seg"))  # zero-padded start LSNs sort in log order
        seg_start, offset, durable_mark = self._load_checkpoint(ctl_path, names)
        live = [p for p in names if int(p.stem) >= seg_start]
        if offset > 0 and (not live or int(live[0].stem) != seg_start):
            self._refuse(f"log segment {seg_name(seg_start)} named by the checkpoint is missing")
        replay = Replay(lsn=self._checkpoint_lsn, last_commit=self._checkpoint_lsn, stop=offset)
        for i, path in enumerate(live):
            start = int(path.stem)
            if start != (seg_start if i == 0 else replay.lsn):
                break  # does not continue the log: checked below, never trusted
            fd = open_random(path, os.O_RDWR)
            capacity = os.fstat(fd).st_size
            seg = Segment(start, path, fd, 0, capacity, start)
            self._segments.append(seg)
            self._replay_segment(seg, offset if i == 0 else 0, replay)
        garbage = live[len(self._segments) :]
        self._check_log_end(replay, garbage, durable_mark)

        # Proven garbage from here on: nothing valid follows ``lsn``, and what lies between
        # the last commit and ``lsn`` is a transaction that never committed.
        self._discard_garbage(names, seg_start, garbage)
        self._cut_uncommitted_tail(replay, offset)
        last_commit = replay.last_commit
        self._written = self._durable = last_commit
        self._min_pin_lsn = last_commit  # snapshots start from the recovered state
        self._since_checkpoint = sum(s.size for s in self._segments)
        if self._sync:
            fsync_dir(wal)
        self._ctl = (self._checkpoint_lsn, seg_start, offset, dict(self._base_sizes))
        self._ctl_durable = durable_mark
        if not ctl_path.exists() or (self._sync and last_commit > durable_mark):
            self._write_control(
                self._checkpoint_lsn, seg_start, offset, self._base_sizes,
                last_commit if self._sync else 0,
            )

    def _load_checkpoint(self, ctl_path: Path, names: list[Path]) -> tuple[Lsn, int, Lsn]:
        """Read the control file and open the base files it names; returns (the segment where
        the log after C starts, the offset in it, the durable LSN the log must reach)."""
        seg_start, offset, durable_mark = 0, 0, 0
        if ctl_path.exists():
            ctl = load_control(ctl_path)
            self._checkpoint_lsn = int(ctl["checkpoint_lsn"])
            seg_start, offset = int(ctl["segment"]), int(ctl["offset"])
            durable_mark = int(ctl["durable_lsn"])
            self._base_sizes = {int(k): int(v) for k, v in ctl["db_sizes"].items()}
            for db_id, n in self._base_sizes.items():
                path = self._dir / "base" / f"{db_id}.pages"
                if n == 0 and not path.exists():
                    path.touch()
                try:
                    fd = open_random(path, os.O_RDWR)
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
        return seg_start, offset, durable_mark

    def _replay_segment(self, seg: Segment, pos: int, replay: Replay) -> None:
        """Index every committed transaction in ``seg`` from ``pos`` on, up to the first frame
        that is not valid; a transaction may continue from the previous segment."""
        fd, path, capacity = seg.fd, seg.path, seg.capacity
        lsn = replay.lsn
        while True:
            frame = read_frame(fd, pos, lsn, capacity)
            if frame is None:
                break  # end of this segment's frames: rolled over, torn, or damaged
            where = f"LSN {lsn} ({path.name} offset {pos})"
            try:
                xid, commit, sizes, pages = parse_record(memoryview(frame))
            except WalFormatError as exc:
                self._refuse(f"the record at {where} passes its checksum but is bad: {exc}")
            if replay.pending_xid is not None and xid != replay.pending_xid:
                self._refuse(
                    f"the record at {where} belongs to transaction {xid} but transaction "
                    f"{replay.pending_xid} has not committed"
                )
            base = pos + FRAME.size
            replay.pending.extend((db, pg, seg, base + off, pos) for db, pg, off in pages)
            replay.pending_xid = xid
            pos += FRAME.size + len(frame)
            lsn += len(frame)
            if commit:
                self._index_replayed(lsn, replay.pending, sizes)
                self._commits.append((lsn, seg, pos))
                replay.pending, replay.pending_xid = [], None
                replay.good = (seg, pos)
                replay.last_commit = lsn
        replay.lsn = lsn
        seg.size = replay.stop = pos
        seg.end = lsn

    def _index_replayed(
        self,
        lsn: Lsn,
        pending: list[tuple[int, int, Segment, int, int]],
        sizes: list[tuple[int, int]],
    ) -> None:
        """Index the pages and database sizes of a transaction that committed at ``lsn``."""
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

    def _check_log_end(self, replay: Replay, garbage: list[Path], durable_mark: Lsn) -> None:
        """Refuse unless the scan stopped at the real end of the log: no frame of this log
        lies beyond it (later in the same segment, or in a later file) and the log reaches
        the durable LSN the control file recorded."""
        lsn, stop = replay.lsn, replay.stop
        if self._segments:
            last = self._segments[-1]
            found = find_frame(last.fd, stop + 1, last.capacity, lsn)
            if found is not None:
                self._refuse(
                    f"the log is damaged at LSN {lsn} ({last.path.name} offset {stop}): a valid "
                    f"record at LSN {found[1]} (offset {found[0]}) follows it"
                )
        for path in garbage:
            fd = open_random(path, os.O_RDONLY)
            try:
                found = find_frame(fd, 0, os.fstat(fd).st_size, lsn)
            finally:
                os.close(fd)
            if found is not None:
                self._refuse(
                    f"the log ends at LSN {lsn} but segment {path.name} holds a record at LSN "
                    f"{found[1]}: a segment or a record before it is missing or damaged"
                )
        if replay.last_commit < durable_mark:
            self._refuse(
                f"the log ends at LSN {replay.last_commit} but the control file records that it "
                f"was durable up to LSN {durable_mark}: the end of the log is damaged or missing"
            )

    def _discard_garbage(self, names: list[Path], seg_start: Lsn, garbage: list[Path]) -> None:
        """Delete leftovers (a temp control file, unfinished spares, segments a checkpoint
        trimmed, files after the end of the log); adopt the finished spares."""
        wal = self._dir / "wal"
        (self._dir / (CONTROL + ".tmp")).unlink(missing_ok=True)
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

    def _cut_uncommitted_tail(self, replay: Replay, offset: int) -> None:
        """End the log at the last commit: drop segments holding only an uncommitted tail and
        zero the rest of the segment the last commit is in."""
        good = replay.good
        keep = good[0] if good is not None else (self._segments[0] if self._segments else None)
        while self._segments and self._segments[-1] is not keep:
            dead = self._segments.pop()
            os.close(dead.fd)
            log.warning("dropping log segment %s: only an uncommitted tail", dead.path.name)
            dead.path.unlink()
        if keep is not None:
            keep.size = good[1] if good is not None else offset
            keep.end = replay.last_commit
            if zero_tail(keep) and self._sync:
                os.fsync(keep.fd)

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

    # ------------------------------------------------------------------ lifecycle

    def disk_bytes(self) -> int:
        """Bytes used by log segments, spares and base files (for tests and metrics)."""
        return disk_usage(self._dir)

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
        if self._aio is not None:  # the group in flight, then what waits, the blocking way
            self._aio.close()
            with self._lock:
                group = self._take_group()
            if group is not None:
                self._sync_and_finish(group)
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
