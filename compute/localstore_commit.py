"""Group commit of the local store: the group, and fdatasync through Linux AIO on the loop.

Why AIO: with the flusher thread (``LocalStore._flush_loop``) every group commit costs a
thread wake-up (a futex on the other vCPU, ~20 µs inside the writer's COMMIT) and two GIL
hand-offs, and the flusher thread grabbing the GIL in the middle of SQLite's COMMIT made that
step 13 → 61 µs under load (docs/performance.md, "Standalone TPC-B prepared, writer hold").
``io_submit`` of an ``IOCB_CMD_FDSYNC`` does not wait for the sync (the kernel runs the
fdatasync on its own worker, no Python thread involved; that worker is bound to our CPU, so
a group starts from the loop's next pass, outside the writer's hold: ``AioFlusher.kick``) and
signals an eventfd when it is done; the serving
loop watches the eventfd and resolves the group's commits itself. The rules are the flusher
thread's: one group in flight, a commit is acknowledged only after an fdatasync that started
after it was written, a failed fdatasync fails every later commit too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import threading
from asyncio import events as asyncio_events
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path

from compute.localstore_format import Segment, fsync_dir
from strata.storage import StorageError
from strata.wal import Lsn

log = logging.getLogger(__name__)

AIO_ENV = "STRATA_LOCALSTORE_AIO"
"""``on`` (default) | ``off``: group commit through Linux AIO on the compute's loop
(``LocalStore.attach_loop``) instead of the flusher thread."""
MAX_IOCBS = 64
"""AIO requests one store has in flight at most (a group is one per segment written since
the last group, plus the directory): more than that goes the blocking way."""

_SYS_IO_SETUP, _SYS_IO_DESTROY, _SYS_IO_GETEVENTS, _SYS_IO_SUBMIT = 206, 207, 208, 209  # x86-64
_IOCB_CMD_FSYNC, _IOCB_CMD_FDSYNC = 2, 3
_IOCB_FLAG_RESFD = 1


class _Iocb(ctypes.Structure):
    _fields_ = [("aio_data", ctypes.c_uint64), ("aio_key", ctypes.c_uint32),
                ("aio_rw_flags", ctypes.c_int32), ("aio_lio_opcode", ctypes.c_uint16),
                ("aio_reqprio", ctypes.c_int16), ("aio_fildes", ctypes.c_uint32),
                ("aio_buf", ctypes.c_uint64), ("aio_nbytes", ctypes.c_uint64),
                ("aio_offset", ctypes.c_int64), ("aio_reserved2", ctypes.c_uint64),
                ("aio_flags", ctypes.c_uint32), ("aio_resfd", ctypes.c_uint32)]


class _IoEvent(ctypes.Structure):
    _fields_ = [("data", ctypes.c_uint64), ("obj", ctypes.c_uint64),
                ("res", ctypes.c_int64), ("res2", ctypes.c_int64)]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


@dataclass
class FlushGroup:
    """One group commit: the commits it acknowledges and what must be synced for them."""

    batch: list[tuple[Lsn, Future[Lsn]]]
    target: Lsn
    """Everything written up to here (at least every commit in ``batch``)."""
    segs: list[Segment] = field(default_factory=list)
    dir_dirty: bool = False


def sync_group(group: FlushGroup, log_fsync: Callable[[int], None], wal_dir: Path) -> None:
    """The group's fdatasyncs, blocking (the flusher thread's way)."""
    for seg in group.segs:
        log_fsync(seg.fd)
    if group.dir_dirty:
        fsync_dir(wal_dir)


def resolve(group: FlushGroup, err: BaseException | None) -> None:
    """Tell the group's commits: durable at their LSN, or failed."""
    for commit_lsn, fut in group.batch:
        assert err is not None or commit_lsn <= group.target
        with contextlib.suppress(InvalidStateError):
            if err is None:
                fut.set_result(commit_lsn)
            else:
                fut.set_exception(StorageError(f"log fsync failed: {err}"))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class AioFlusher:
    """Group commit through AIO fdatasync on ``loop`` (see the module docstring).

    Groups are started, reaped and finished on the loop thread only: ``kick`` (called with
    the store's lock held, from any thread) schedules ``_start`` unless a group is in flight
    or already scheduled; ``_start`` takes the next group (``take``: every waiting commit)
    and submits its syncs; the eventfd's reader reaps them, hands the group to ``finish``
    (which resolves its commits) and kicks again. So a commit made during a group joins the
    next one, as with the flusher thread. Raises OSError if this kernel offers no AIO (the
    store then keeps its thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, lock: threading.Lock,
                 take: Callable[[], FlushGroup | None],
                 finish: Callable[[FlushGroup, BaseException | None], None],
                 failed: Callable[[], BaseException | None], wal_dir: Path,
                 seam: Callable[[], Callable[[int], None] | None] = lambda: None) -> None:
        """``seam``: the store's replaced ``log_fsync`` if a fault test replaced it (the
        group's syncs then run through it on a thread, still completed on the loop)."""
        self._libc = _libc()
        self._ctx = ctypes.c_ulong(0)
        if self._libc.syscall(_SYS_IO_SETUP, MAX_IOCBS, ctypes.byref(self._ctx)) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"io_setup: {os.strerror(code)}")
        self._efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._loop = loop
        self._lock = lock
        self._take = take
        self._finish = finish
        self._failed = failed
        self._wal_dir = wal_dir
        self._seam = seam
        self._seam_thread: threading.Thread | None = None
        self._seam_err: BaseException | None = None
        self._reaping = threading.Lock()  # the loop's reader and close() both reap
        self._group: FlushGroup | None = None  # set under the store's lock
        self._scheduled = False  # a _start is on the loop's queue
        self._left = 0  # requests of the group in flight not yet reaped
        self._err: BaseException | None = None
        self._dir_fd = -1
        self._closed = False
        self._iocbs = (_Iocb * MAX_IOCBS)()
        self._ptrs = (ctypes.POINTER(_Iocb) * MAX_IOCBS)(
            *(ctypes.pointer(self._iocbs[i]) for i in range(MAX_IOCBS)))
        self._events = (_IoEvent * MAX_IOCBS)()
        self._zero = _Timespec(0, 0)
        loop.add_reader(self._efd, self._on_ready)

    def kick(self) -> None:
        """Start the next group if none is in flight (caller holds the store's lock), from
        the loop's next pass: after the callback that committed has returned.

        Not at once, although we are on the loop's thread when a COMMIT kicks: ``io_submit``
        of an fdatasync wakes a kernel worker bound to this CPU, which runs at once and took
        ~70 µs (p50) of the loop here, inside SQLite's COMMIT, i.e. inside the single
        writer's hold. From the next pass it runs after the writer's release and the hand-over
        (``WriterLock.hand_over_now``: the next holder's queued statement is answered first),
        while that holder's client thinks. Commits made meanwhile join the group."""
        if self._group is not None or self._scheduled or self._closed:
            return
        self._scheduled = True
        if asyncio_events._get_running_loop() is self._loop:
            self._loop.call_soon(self._start)
        else:
            self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        with self._lock:
            self._scheduled = False
            self._begin()

    def _begin(self) -> None:
        """Take every waiting commit as a group and submit its fdatasyncs (loop thread,
        store's lock held; a group done at once is finished from the loop's next pass)."""
        if self._group is not None or self._closed:
            return
        group = self._take()
        if group is None:
            return
        self._group = group
        failed = self._failed()
        ops = [(_IOCB_CMD_FDSYNC, seg.fd) for seg in group.segs]
        if failed is None and group.dir_dirty:
            self._dir_fd = os.open(self._wal_dir, os.O_RDONLY | os.O_DIRECTORY)
            ops.append((_IOCB_CMD_FSYNC, self._dir_fd))
        seam = self._seam() if failed is None and ops else None
        with self._reaping:
            self._left, self._err = 0, failed
            if seam is not None:
                self._left = 1  # the seam thread's syncs, reported by _seam_done
                self._seam_thread = threading.Thread(target=self._run_seam, args=(seam, ops),
                                                     name="localstore-fsync-seam", daemon=True)
                self._seam_thread.start()
                return
            if failed is None and ops:
                self._submit(ops)
            if not self._left:
                self._loop.call_soon(self._on_ready)

    def _run_seam(self, seam: Callable[[int], None], ops: list[tuple[int, int]]) -> None:
        err: BaseException | None = None
        try:
            for op, fd in ops:
                (seam if op == _IOCB_CMD_FDSYNC else os.fsync)(fd)
        except OSError as exc:
            err = exc
        self._seam_err = err
        with contextlib.suppress(RuntimeError):  # the loop closed: close() takes it
            self._loop.call_soon_threadsafe(self._seam_done)

    def _seam_done(self) -> None:
        with self._reaping:
            if self._seam_thread is None:  # close() took it
                return
            self._seam_thread = None
            self._err = self._err or self._seam_err
            self._left = 0
            group = self._done_group()
        if group is not None:
            self._finish_and_kick(group)

    def _submit(self, ops: list[tuple[int, int]]) -> None:
        """Submit the syncs (caller holds ``_reaping``); what io_submit does not take is
        synced here, the blocking way (never expected: one group's few requests fit)."""
        n = -1
        if len(ops) <= MAX_IOCBS:
            for i, (op, fd) in enumerate(ops):
                cb = self._iocbs[i]
                ctypes.memset(ctypes.byref(cb), 0, ctypes.sizeof(cb))
                cb.aio_data = i
                cb.aio_lio_opcode = op
                cb.aio_fildes = fd
                cb.aio_flags = _IOCB_FLAG_RESFD
                cb.aio_resfd = self._efd
            n = self._libc.syscall(_SYS_IO_SUBMIT, self._ctx, len(ops), self._ptrs)
            if n < 0:
                log.warning("io_submit: %s: this group's fdatasync the blocking way",
                            os.strerror(ctypes.get_errno()))
        self._left = max(0, n)
        try:
            for _, fd in ops[max(0, n):]:
                os.fdatasync(fd)
        except OSError as exc:
            self._err = self._err or exc

    def _reap(self, block: bool) -> None:
        """Collect finished requests of the group in flight (caller holds ``_reaping``)."""
        while self._left > 0:
            n = self._libc.syscall(_SYS_IO_GETEVENTS, self._ctx, self._left if block else 0,
                                   self._left, self._events,
                                   None if block else ctypes.byref(self._zero))
            if n < 0:
                code = ctypes.get_errno()
                if code == errno.EINTR:
                    continue
                raise OSError(code, f"io_getevents: {os.strerror(code)}")
            if n == 0:
                return
            for i in range(n):
                res = self._events[i].res
                if res < 0 and self._err is None:
                    self._err = OSError(-res, f"fdatasync: {os.strerror(-res)}")
            self._left -= n

    def _done_group(self) -> FlushGroup | None:
        """The group in flight if all its syncs are reaped (caller holds ``_reaping``)."""
        if self._group is None or self._left > 0:
            return None
        group = self._group
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1
        return group

    def _finish_and_kick(self, group: FlushGroup) -> None:
        err, self._err = self._err, None
        self._finish(group, err)
        with self._lock:
            self._group = None
            self.kick()

    def _on_ready(self) -> None:
        """The eventfd's reader: finish the group in flight once all its syncs are done."""
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._efd)
        with self._reaping:
            if self._closed:
                return
            self._reap(block=False)
            group = self._done_group()
        if group is not None:
            self._finish_and_kick(group)

    def close(self) -> None:
        """Stop kicking; finish the group in flight (blocking: whatever thread this is);
        release the AIO context and the eventfd (on the loop, if it still runs)."""
        with self._lock:
            self._closed = True
        seam_thread = self._seam_thread
        if seam_thread is not None:
            seam_thread.join()
        with self._reaping:
            if self._seam_thread is not None:
                self._seam_thread = None
                self._err = self._err or self._seam_err
                self._left = 0
            self._reap(block=True)
            group = self._done_group()
        if group is not None:
            err, self._err = self._err, None
            self._finish(group, err)
            with self._lock:
                self._group = None
        if (self._loop.is_closed() or not self._loop.is_running()
                or asyncio_events._get_running_loop() is self._loop):
            self._release()
            return
        try:
            self._loop.call_soon_threadsafe(self._release)
        except RuntimeError:  # the loop closed meanwhile
            self._release()

    def _release(self) -> None:
        if self._efd < 0:
            return
        if not self._loop.is_closed():
            self._loop.remove_reader(self._efd)
        self._libc.syscall(_SYS_IO_DESTROY, self._ctx)
        os.close(self._efd)
        self._efd = -1


class GroupCommit:
    """The local store's group commit (a mixin of ``LocalStore``, whose state it uses):
    the flusher thread, or AIO on a loop once ``attach_loop`` succeeded."""

    _lock: threading.Lock
    _flush_cond: threading.Condition
    _durable_cond: threading.Condition
    _pending: list[tuple[Lsn, Future[Lsn]]]
    _unsynced: list[Segment]
    _dir_dirty: bool
    _written: Lsn
    _durable: Lsn
    _sync: bool
    _closed: bool
    _flusher_idle: bool
    _aio: AioFlusher | None
    _fsync_failed: BaseException | None
    _failed: BaseException | None
    _dir: Path
    log_fsync: Callable[[int], None]

    def _flush_loop(self) -> None:
        """fdatasync everything written so far, then resolve every waiting ticket at once
        (until the group commit moves to the loop: ``attach_loop``)."""
        while True:
            with self._lock:
                while not self._pending and not self._closed and self._aio is None:
                    self._flusher_idle = True
                    self._flush_cond.wait()
                    self._flusher_idle = False
                group = self._take_group() if self._aio is None else None
                if group is None:
                    return
            self._sync_and_finish(group)

    def _sync_and_finish(self, group: FlushGroup) -> None:
        """The group's fdatasyncs, blocking, then ``_finish_group`` (none after a failed one)."""
        err: BaseException | None = self._fsync_failed
        if self._sync and err is None:
            try:
                sync_group(group, self.log_fsync, self._dir / "wal")
            except OSError as exc:  # never retry a failed fsync: the page cache may lie
                err = exc
        self._finish_group(group, err)

    def _take_group(self) -> FlushGroup | None:
        """Every waiting commit, and what an fdatasync must cover for them (caller holds the
        lock); None when none waits."""
        if not self._pending:
            return None
        batch, self._pending = self._pending, []
        segs, self._unsynced = self._unsynced, []
        dir_dirty, self._dir_dirty = self._dir_dirty, False
        return FlushGroup(batch, self._written, segs, dir_dirty)

    def _finish_group(self, group: FlushGroup, err: BaseException | None) -> None:
        """After the group's fdatasync: durable up to its target, or failed for good (a
        later fsync may succeed, but the failed commit's pages may be gone, and every later
        record can depend on it: nothing later is ever acknowledged)."""
        with self._lock:
            if err is None:
                self._durable = max(self._durable, group.target)  # groups finish in order
            else:
                self._fsync_failed = self._fsync_failed or err
                self._failed = err
            self._durable_cond.notify_all()
        resolve(group, err)

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Group commit through Linux AIO on ``loop`` from now on (``AioFlusher``;
        never block ``loop`` in ``wait_durable`` then); False if the store does not sync,
        ``STRATA_LOCALSTORE_AIO=off``, or the kernel has no AIO: the thread stays."""
        if not self._sync or os.environ.get(AIO_ENV, "on").strip().lower() == "off":
            return False
        try:
            aio = AioFlusher(loop, self._lock, self._take_group, self._finish_group,
                             lambda: self._fsync_failed, self._dir / "wal",
                             lambda: None if self.log_fsync is os.fdatasync else self.log_fsync)
        except OSError as exc:
            log.info("group commit stays on its thread: %s", exc)
            return False
        with self._lock:
            self._aio = aio
            self._flush_cond.notify_all()  # the thread finishes the group it has, then exits
            aio.kick()  # commits waiting for the thread now
        return True
