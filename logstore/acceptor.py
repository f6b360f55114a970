"""The acceptor: one replica of one log, and the rules that make the replicas agree.

An acceptor process hosts many logs (one per (tenant, timeline), see logstore/registry.py);
each is an ``Acceptor`` with its own directory, term state, segments and background tasks.

State that matters for safety lives on disk: the promised term and the term history in the
control file, records in segment files. Rules:

- ``vote(T)`` grants only if T > promised (persisted before answering). Every record written
  so far is fsync'ed first, so the reported flush LSN is exactly the log.
- ``start_term(T, history, cut)`` from the elected proposer of T truncates the divergent tail
  at ``cut`` (never below the commit LSN), then adopts the history. Only then does
  ``append`` accept term T, and only at the end of the log.
- An append is acknowledged after fdatasync, and only if no higher term was promised in the
  meantime. Concurrent appends share one fdatasync (group commit: a single flusher task).

Everything runs on one asyncio loop. The group-commit fdatasync runs on the loop thread
itself by default (``inline_fsync``): a hop to a worker thread and back costs more than it
saves on a small machine (docs/logstore.md, "Performance"); appends arriving meanwhile wait
in gRPC's buffers and share the next fdatasync. Control-file writes and truncation go to a
worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import crc32c

from logstore import control, history
from logstore.errors import (
    CorruptionError,
    FencedError,
    InvalidRequestError,
    LogNotFoundError,
    LogstoreError,
    LsnGapError,
    NotSyncedError,
)
from logstore.ids import log_name
from logstore.metrics import AcceptorMetrics
from logstore.segments import MAX_PAYLOAD, Frame, SegmentStore, SyncJob

log = logging.getLogger("logstore.acceptor")

DurableCallback = Callable[[LogstoreError | None], None]

MAX_RECORDS_PER_APPEND = 4096
MAX_READ_BYTES = 2 << 20
CONTROL_SAVE_INTERVAL_S = 1.0
INLINE_FSYNC_MAX_BYTES = 256 << 10
"""A group commit of more bytes runs its fdatasync on a worker thread even with
``inline_fsync``: the two thread hops cost little beside a big fdatasync, and the loop keeps
reading appends meanwhile (inline, nothing is read until it returns: pipelined writers lost
up to half their throughput to that)."""
MAX_FLUSH_DEFERS = 4
"""Loop iterations a group commit waits at most for appends arriving in bulk."""


@dataclass
class SubscriberState:
    """A live StreamCommitted reader of this log (for Status / pg_stat_replication)."""

    name: str
    peer: str
    sent_lsn: int


@dataclass(frozen=True)
class VoteResult:
    granted: bool
    promised_term: int
    term_history: history.History
    flush_lsn: int
    commit_lsn: int


def _fatal(exc: BaseException) -> None:
    """An fsync or write failed: the page cache state is unknown, so stop (never retry)."""
    log.critical("storage I/O failed, stopping the node: %s", exc)
    logging.shutdown()
    os._exit(3)


class Acceptor:
    def __init__(
        self,
        node_id: int,
        data_dir: Path,
        segment_bytes: int = 16 << 20,
        metrics: AcceptorMetrics | None = None,
        on_fatal: Callable[[BaseException], None] = _fatal,
        inline_fsync: bool = True,
        *,
        tenant: str = "",
        timeline: str = "",
        start_lsn: int = 0,
        io: ThreadPoolExecutor | None = None,
    ) -> None:
        """``data_dir`` is this log's directory; ``start_lsn`` is used only for a log whose
        control file does not exist yet (afterwards the control file says). ``io`` is the
        node's shared worker pool (one of its own if None)."""
        self.node_id = node_id
        self.dir = data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics = metrics or AcceptorMetrics()
        self.on_fatal = on_fatal
        self.ctl = control.load(self.dir, node_id)
        self.fresh = not control.exists(self.dir)
        """No control file: a log being created (its segments must not exist)."""
        if self.fresh:
            self.ctl.tenant, self.ctl.timeline, self.ctl.start_lsn = tenant, timeline, start_lsn
            self.ctl.commit_lsn = start_lsn
        self._writable_term = -1
        self._term_changed()
        self.tenant = self.ctl.tenant
        self.timeline = self.ctl.timeline
        self.start_lsn = self.ctl.start_lsn
        self.store = SegmentStore(self.dir / "segments", segment_bytes, self.start_lsn)
        self.flush_lsn = self.start_lsn
        self.commit_lsn = self.start_lsn
        self.offload: object | None = None  # set by logstore.offload
        self.inline_fsync = inline_fsync
        self._own_io = io is None
        self._io = io or ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fsync-{node_id}")
        # Appends waiting for fdatasync, in LSN order: a future, or a callback told None
        # (durable) or the error (the log was deleted first).
        self._waiters: deque[tuple[int, asyncio.Future[None] | DurableCallback]] = deque()
        self._dirty = asyncio.Event()
        self._io_lock = asyncio.Lock()
        self._term_lock = asyncio.Lock()
        self._ctl_lock = asyncio.Lock()  # one control-file write at a time (shared io pool)
        # Subscribers (StreamCommitted) wait on this event; _notify replaces it once set.
        self._progress = asyncio.Event()
        self._progress_waiting = False
        self._ctl_dirty = False
        self._tasks: list[asyncio.Task[None]] = []
        self._spare_busy = False  # a make_spare job is running (never two: both write SPARE)
        self._unsynced_appends = 0  # appends written since the last group commit took its job
        self.more_input = False
        """Set by the fast append stream when it read a full buffer (more is likely waiting)."""
        self.closed = False
        self.subscribers: dict[int, SubscriberState] = {}
        self.open_notes: list[str] = []  # what open() repaired (a torn tail), for the startup log
        m = self.metrics
        labels = (self.tenant, self.timeline)
        # Read when scraped, not set on every flush (five locked sets and a walk over the
        # segments per group commit were a few % of the append path's CPU).
        m.term.labels(*labels).set_function(lambda: self.ctl.promised_term)
        m.flush_lsn.labels(*labels).set_function(lambda: self.flush_lsn)
        m.commit_lsn.labels(*labels).set_function(lambda: self.commit_lsn)
        m.disk_bytes.labels(*labels).set_function(lambda: self.store.disk_bytes())
        m.segments.labels(*labels).set_function(lambda: len(self.store.segments))

    @property
    def name(self) -> str:
        return log_name(self.tenant, self.timeline)

    def check_open(self) -> None:
        """Requests that resolved this log just before it was deleted end here."""
        if self.closed:
            raise LogNotFoundError(f"log {self.name} was deleted on node {self.node_id}")

    def open(self, remote: list | None = None) -> list[str]:  # type: ignore[type-arg]
        """Validate the segments (raises CorruptionError) and load the state.

        Refuses a log whose control file is missing while segments exist: its promised term
        is unknown, and starting at 0 would grant terms it already promised."""
        seg_dir = self.store.dir
        if self.fresh and seg_dir.is_dir() and any(p.name.endswith(".seg") for p in seg_dir.iterdir()):
            raise CorruptionError(
                f"{self.dir}: the control file is missing but segments exist: the promised term "
                f"is unknown; refusing to open the log (see docs/logstore.md, 'Corruption')"
            )
        floor = max(self.ctl.durable_lsn, self.ctl.commit_lsn, self.start_lsn)
        terms = tuple(t for t, _ in self.ctl.term_history)
        notes = self.store.open(remote, durable_lsn=floor, terms=terms)
        self.flush_lsn = self.store.end_lsn
        self.commit_lsn = max(self.start_lsn, min(self.ctl.commit_lsn, self.flush_lsn))
        self._update_gauges()
        return notes

    @property
    def promised_term(self) -> int:
        return self.ctl.promised_term

    @property
    def active_term(self) -> int:
        """The term whose proposer last started on this acceptor (0: none)."""
        return history.last_term(self.ctl.term_history)

    def _term_changed(self) -> None:
        """Recompute ``_writable_term`` after the promised term or the term history changed:
        the term appends and acks pass in without the fencing checks (promised here and
        started here), -1 if none. Nothing else changes those two."""
        promised = self.ctl.promised_term
        self._writable_term = promised if promised > 0 and self.active_term == promised else -1

    def start_background(self) -> None:
        self._tasks.append(asyncio.create_task(self._flusher(), name="flusher"))
        self._tasks.append(asyncio.create_task(self._control_saver(), name="control-saver"))

    async def close(self, discard: bool = False) -> None:
        """Stop the background tasks and close the files. ``discard`` (the log is being
        deleted): skip the final sync and control save, fail waiting appends."""
        async with self._term_lock, self._io_lock, self._ctl_lock:  # no write is in flight
            self.closed = True
            for t in self._tasks:
                t.cancel()
            for t in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            if not discard:
                await self._sync_locked()
            while self._waiters:
                _, fut = self._waiters.popleft()
                gone = LogNotFoundError(f"log {self.name} was deleted")
                if not isinstance(fut, asyncio.Future):
                    fut(gone)
                elif not fut.done():
                    fut.set_exception(gone)
                    fut.exception()
            self._notify_force()
        if not discard:
            await self._save_control()
        self.store.close()
        if self._own_io:
            self._io.shutdown(wait=True)

    # ---- persistence helpers -----------------------------------------------------------

    async def _run_io(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn`` on the worker pool; an OSError is fatal. Returns only once ``fn`` has
        finished, even when the caller is cancelled (a gRPC call given up by its client):
        callers hold a lock for the job's duration (control-file saves, the sync job, a
        truncation), and a thread cannot be stopped, so releasing the lock early let a second
        job run beside the first (two saves racing on ``control.tmp``: the node stopped with
        ENOENT, or a torn control file; a sync beside a truncation). The cancellation is
        raised afterwards."""
        job = asyncio.get_running_loop().run_in_executor(self._io, fn, *args)
        cancelled: asyncio.CancelledError | None = None
        while not job.done():
            try:
                await asyncio.wait({job})  # (wait never cancels the job itself)
            except asyncio.CancelledError as exc:
                cancelled = exc  # the job runs on: wait for it, then raise
        if not job.cancelled():
            err = job.exception()
            if isinstance(err, OSError):
                self.on_fatal(err)
                raise err
        if cancelled is not None:
            raise cancelled
        job.result()

    def _commit_hint(self) -> int:
        """The commit LSN as saved: committed and durable here."""
        return max(self.start_lsn, min(self.commit_lsn, self.flush_lsn))

    def control_snapshot(self) -> control.ControlState:
        return control.ControlState(
            self.node_id,
            self.ctl.promised_term,
            list(self.ctl.term_history),
            self._commit_hint(),
            self.ctl.remote_consistent_lsn,
            self.tenant,
            self.timeline,
            self.start_lsn,
            durable_lsn=max(self.flush_lsn, self.start_lsn),
        )

    async def _save_control(self) -> None:
        async with self._ctl_lock:  # the snapshot is taken in the lock: the latest one wins
            snapshot = self.control_snapshot()
            self._ctl_dirty = False
            await self._run_io(control.save, self.dir, snapshot)
            self.ctl.commit_lsn, self.ctl.durable_lsn = snapshot.commit_lsn, snapshot.durable_lsn

    async def _control_saver(self) -> None:
        """Persist the commit LSN and the durable LSN now and then: they are the floor the
        log must reach when it is opened again (only ever raised, except by a truncation,
        which lowers it first)."""
        while True:
            await asyncio.sleep(CONTROL_SAVE_INTERVAL_S)
            if (
                self._ctl_dirty
                or self.ctl.commit_lsn != self._commit_hint()
                or self.ctl.durable_lsn != max(self.flush_lsn, self.start_lsn)
            ):
                await self._save_control()

    async def _sync_locked(self) -> None:
        """fdatasync everything written; caller holds the io lock."""
        assert self._io_lock.locked()
        job = self.store.prepare_sync()
        if job.target_lsn == self.flush_lsn and not job.fds:
            return
        appends, self._unsynced_appends = self._unsynced_appends, 0
        if self.inline_fsync and job.target_lsn - self.flush_lsn < INLINE_FSYNC_MAX_BYTES:
            self._sync_inline(job, appends)
            return
        t0 = time.perf_counter()
        await self._run_io(self.store.run_sync, job)
        self.metrics.fsync_seconds.observe(time.perf_counter() - t0)
        self._flushed(job.target_lsn, appends)

    def _sync_inline(self, job: SyncJob, appends: int) -> None:
        """fdatasync ``job`` on the loop thread, then acknowledge what it covers (a failed
        fdatasync is fatal to the process: the page cache may have dropped the data)."""
        t0 = time.perf_counter()
        try:
            self.store.run_sync(job)
        except OSError as exc:
            self.on_fatal(exc)
            raise
        self.metrics.fsync_seconds.observe(time.perf_counter() - t0)
        self._flushed(job.target_lsn, appends)

    def _start_spare(self) -> None:
        """Pre-write the next segment in the worker pool (logstore/segments.py, "Pre-written
        segments"); rotation uses it only once the job has finished."""
        self.store.want_spare = False
        self._spare_busy = True
        loop = asyncio.get_running_loop()
        job = self._io.submit(self.store.make_spare)

        def done(ok: bool) -> None:
            self._spare_busy = False
            if ok and not self.closed:
                self.store.spare_ready = True

        job.add_done_callback(lambda f: loop.call_soon_threadsafe(done, not f.exception() and bool(f.result())))

    def _flushed(self, lsn: int, appends: int) -> None:
        """Everything below ``lsn`` is durable: call or resolve the waiters it covers.
        ``appends``: the appends with records that this group commit covered (the metric)."""
        assert lsn >= self.flush_lsn, (lsn, self.flush_lsn)
        self.flush_lsn = lsn
        if lsn > self.store.synced_lsn:
            self.store.synced_lsn = lsn  # a rotation now seals what is below without a sync
        while self._waiters and self._waiters[0][0] <= lsn:
            _, fut = self._waiters.popleft()
            if not isinstance(fut, asyncio.Future):
                fut(None)  # called right here: no loop iteration between fdatasync and ack
            elif not fut.done():
                fut.set_result(None)
        if appends:
            self.metrics.group_size.observe(appends)
        self._notify()

    async def _flusher(self) -> None:
        """Group commit: one fdatasync covers every append written before it started.

        With the inline fdatasync nothing is read while it runs, and one loop iteration
        reads at most one buffer (256 KiB with uvloop) per connection: when appends arrive
        in bulk (``more_input``), the flusher lets the loop read again first, a few times
        at most, so that one fdatasync covers what is already waiting in the socket."""
        while True:
            await self._dirty.wait()
            for _ in range(MAX_FLUSH_DEFERS):
                if not self.more_input:
                    break
                self.more_input = False
                await asyncio.sleep(0)
            self.more_input = False
            self._dirty.clear()
            async with self._io_lock:
                await self._sync_locked()

    def _notify(self) -> None:
        """Wake subscribers waiting for the servable LSN to move (cheap when there are none)."""
        if self._progress_waiting:
            self._notify_force()

    def _notify_force(self) -> None:
        self._progress_waiting = False
        self._progress.set()
        self._progress = asyncio.Event()

    def _update_gauges(self) -> None:
        """Nothing to do: the per-log gauges read the acceptor when scraped (see __init__)."""

    # ---- protocol ----------------------------------------------------------------------

    def _report(self, granted: bool) -> VoteResult:
        return VoteResult(
            granted,
            self.ctl.promised_term,
            history.up_to(self.ctl.term_history, self.flush_lsn),
            self.flush_lsn,
            self.commit_lsn,
        )

    async def vote(self, term: int, rejoin: bool = False) -> VoteResult:
        """Promise ``term`` (see module docstring). Never grants the same term twice."""
        if term <= 0:
            raise InvalidRequestError("term must be positive")
        async with self._term_lock:
            self.check_open()
            old = self.ctl.promised_term
            granted = term > old or (rejoin and term == old)
            if term > old:
                self.ctl.promised_term = term  # refuse lower terms from now on
                self._term_changed()
                await self._save_control()
                log.info("promised term", extra={"term": term, "previous": old, "rejoin": rejoin})
            async with self._io_lock:
                await self._sync_locked()
            if not granted:
                self.metrics.refused.labels("vote").inc()
            self._update_gauges()
            return self._report(granted)

    async def start_term(self, term: int, hist: history.History, truncate_lsn: int) -> int:
        """Adopt the elected proposer's history, cutting our log at ``truncate_lsn``."""
        history.validate(hist)
        if not hist or hist[-1][0] != term:
            raise InvalidRequestError("the last term history entry must be the request's term")
        async with self._term_lock:
            self.check_open()
            self._check_term(term)
            if self.ctl.promised_term != term:
                raise NotSyncedError(f"term {term} was not promised here (promised {self.promised_term}); vote first")
            if self.ctl.term_history == hist:
                return self.flush_lsn  # already started: a repeat never cuts this term's records
            # Nothing exists below the log's start LSN: "cut below it" means "cut everything".
            truncate_lsn = max(truncate_lsn, self.start_lsn)
            if truncate_lsn > self.flush_lsn:
                raise LsnGapError(f"truncate LSN {truncate_lsn:#x} is past the end of log {self.flush_lsn:#x}")
            if truncate_lsn < self.commit_lsn:
                raise NotSyncedError(
                    f"refusing to truncate at {truncate_lsn:#x}, below the commit LSN {self.commit_lsn:#x}"
                )
            async with self._io_lock:
                await self._sync_locked()
                assert not self._waiters, "waiters survive a full sync"
                if truncate_lsn < self.store.end_lsn:
                    log.warning(
                        "truncating divergent tail",
                        extra={"from_lsn": truncate_lsn, "end_lsn": self.store.end_lsn, "term": term},
                    )
                    # Lower the durable floor on disk first: a crash after the cut must not
                    # look like a log shorter than what the control file says was durable.
                    self.flush_lsn = truncate_lsn
                    await self._save_control()
                    await self._run_io(self.store.truncate, truncate_lsn)
            self.ctl.term_history = list(hist)
            self._term_changed()
            await self._save_control()
            log.info("started term", extra={"term": term, "flush_lsn": self.flush_lsn})
            self._update_gauges()
            return self.flush_lsn

    def _check_term(self, term: int) -> None:
        if term < self.ctl.promised_term:
            self.metrics.refused.labels("fenced").inc()
            raise FencedError(
                f"fenced: node {self.node_id} promised term {self.ctl.promised_term} > {term}",
                self.ctl.promised_term,
            )

    def append_write(
        self, term: int, start_lsn: int, records: list[tuple[bytes, int]], commit_lsn: int,
        flush_soon: bool = True,
    ) -> int:
        """Validate and write (no fsync) an append; return its end LSN. Synchronous, so that
        appends read from one stream are written in order. ``flush_soon=False``: the caller
        calls ``sync_now`` or ``flush_soon`` itself once it has written what it read (the
        flusher is not woken here)."""
        if self.closed:
            self.check_open()
        if len(records) > MAX_RECORDS_PER_APPEND:
            raise InvalidRequestError(f"too many records in one append ({len(records)})")
        crc = crc32c.crc32c
        lsn = start_lsn
        for i, (payload, want) in enumerate(records):  # all checked before anything is written
            n = len(payload)
            if not n or n > MAX_PAYLOAD or crc(payload) != want:
                self._refuse_record(i, payload)
            lsn += n
        if term != self._writable_term:  # else promised and started here: both checks pass
            self._check_term(term)
            if term != self.ctl.promised_term or self.active_term != term:
                self.metrics.refused.labels("not_synced").inc()
                raise NotSyncedError(f"term {term} is not started on node {self.node_id}")
        if start_lsn != self.store.end_lsn:
            self.metrics.refused.labels("gap").inc()
            raise LsnGapError(
                f"append starts at LSN {start_lsn:#x} but node {self.node_id}'s log ends at "
                f"{self.store.end_lsn:#x}"
            )
        if records:
            hist = self.ctl.term_history
            try:
                if hist and hist[-1][1] <= start_lsn:  # the usual case: all in the last term
                    end = self.store.append_in_term(start_lsn, term, records, lsn - start_lsn)
                else:
                    framed: list[tuple[int, bytes]] = []
                    at = start_lsn
                    for payload, _ in records:
                        framed.append((history.term_at(hist, at), payload))
                        at += len(payload)
                    end = self.store.append(start_lsn, framed)
            except OSError as exc:
                self.on_fatal(exc)
                raise
            assert end == lsn
            if flush_soon:
                self._dirty.set()
            if self.store.want_spare and not self._spare_busy and not self.store.spare_ready:
                # Never while a finished spare waits to be used: the job truncates and
                # rewrites SPARE, and a rotation meanwhile would rename the file it is
                # writing zeros into, making it the active segment (zeros over appended
                # records), then leave spare_ready set with no SPARE (the next rotation's
                # rename failed: ENOENT, the node stopped).
                self._start_spare()
            self._unsynced_appends += 1
            totals = self.metrics.totals
            totals.appends += 1
            totals.records += len(records)
            totals.bytes += lsn - start_lsn
        new_commit = commit_lsn if commit_lsn < lsn else lsn
        if new_commit > self.commit_lsn:
            self.commit_lsn = new_commit
            if self.flush_lsn >= new_commit:
                self._notify()
        return lsn

    def _refuse_record(self, i: int, payload: bytes) -> None:
        """Raise why record ``i`` of an append is refused."""
        if not payload:
            raise InvalidRequestError(f"record {i} is empty")
        if len(payload) > MAX_PAYLOAD:
            raise InvalidRequestError(f"record {i} has {len(payload)} bytes, limit {MAX_PAYLOAD}")
        self.metrics.refused.labels("crc").inc()
        raise InvalidRequestError(f"record {i} fails its CRC32C check")

    async def wait_durable(self, term: int, end_lsn: int) -> tuple[int, int]:
        """Wait for fdatasync of everything below ``end_lsn``; (flush LSN, commit LSN).
        Raise FencedError if a higher term was promised meanwhile (its voter saw this data,
        so acknowledging to the old term now would be counting a vote twice)."""
        fut = self.durable_future(end_lsn)
        if fut is not None:
            await fut
        return self.ack_state(term)

    def durable_future(self, end_lsn: int) -> asyncio.Future[None] | None:
        """A future resolved once everything below ``end_lsn`` is fdatasync'ed (failed with
        LogNotFoundError if the log is deleted first), or None if it already is. For
        callers that acknowledge from a callback instead of a task (logstore/fastappend.py);
        the ack must still go through ``ack_state``."""
        if self.flush_lsn >= end_lsn:
            return None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((end_lsn, fut))
        self._dirty.set()
        return fut

    def on_durable(self, end_lsn: int, callback: DurableCallback, flush_soon: bool = True) -> bool:
        """Like ``durable_future`` with a callback, called from the flusher right after the
        fdatasync covering ``end_lsn`` (None), or with LogNotFoundError if the log is
        deleted first. False (and no call) if it already is durable. ``flush_soon``: as in
        ``append_write``."""
        if self.flush_lsn >= end_lsn:
            return False
        self._waiters.append((end_lsn, callback))
        if flush_soon:
            self._dirty.set()
        return True

    def flush_soon(self) -> None:
        """Wake the flusher: a group commit of everything written, one loop pass or more
        from now."""
        self._dirty.set()

    def sync_now(self) -> None:
        """The group commit right now, on the loop, instead of in the flusher task a loop
        pass or more later (the fdatasync is inline anyway): for a caller that has written
        every append it could read (the fast append stream after a read that emptied its
        socket), so that waiting would not make the group bigger. Waiters are called from
        here, as from the flusher. When the flusher would not sync inline (``inline_fsync``
        off, a group of INLINE_FSYNC_MAX_BYTES or more) or a sync or term change holds the
        io lock, the flusher is woken instead. Safe without the lock: nothing else runs on
        the loop until this returns, and nobody holds the lock."""
        if (not self.inline_fsync or self.closed or self._io_lock.locked()
                or self.store.end_lsn - self.flush_lsn >= INLINE_FSYNC_MAX_BYTES):
            self._dirty.set()
            return
        job = self.store.prepare_sync()
        if job.target_lsn == self.flush_lsn and not job.fds:
            return
        appends, self._unsynced_appends = self._unsynced_appends, 0
        self._sync_inline(job, appends)

    def ack_state(self, term: int) -> tuple[int, int]:
        """(flush LSN, commit LSN) to acknowledge a durable append of ``term`` with; raises
        if the log was deleted, a higher term was promised or ``term`` is no longer active."""
        if term == self._writable_term and not self.closed:  # promised and started: as below
            return self.flush_lsn, self.commit_lsn
        if self.closed:
            self.check_open()
        self._check_term(term)
        if self.active_term != term:
            raise NotSyncedError(f"term {term} is no longer active on node {self.node_id}")
        return self.flush_lsn, self.commit_lsn

    async def append(
        self, term: int, start_lsn: int, records: list[tuple[bytes, int]], commit_lsn: int
    ) -> tuple[int, int, int]:
        end = self.append_write(term, start_lsn, records, commit_lsn)
        flush, commit = await self.wait_durable(term, end)
        return end, flush, commit

    # ---- reads -------------------------------------------------------------------------

    def first_lsn(self) -> int:
        return self.store.first_lsn()

    def check_first(self, lsn: int) -> None:
        """LsnGapError if ``lsn`` is below what this log holds."""
        if lsn < self.start_lsn:
            raise LsnGapError(
                f"LSN {lsn:#x} is below the start of log {self.name} ({self.start_lsn:#x}): "
                f"older records belong to its parent's log"
            )
        if lsn < self.first_lsn():
            raise LsnGapError(f"LSN {lsn:#x} was trimmed; the log starts at {self.first_lsn():#x}")

    async def read(self, from_lsn: int, up_to: int, max_bytes: int) -> list[Frame]:
        """Durable records from ``from_lsn`` below ``min(up_to, flush)``."""
        self.check_open()
        max_bytes = max(1, min(max_bytes or MAX_READ_BYTES, MAX_READ_BYTES))
        bound = self.flush_lsn if up_to == 0 else min(up_to, self.flush_lsn)
        if from_lsn >= bound:
            if from_lsn > self.flush_lsn:
                raise LsnGapError(f"LSN {from_lsn:#x} is past the end of log {self.flush_lsn:#x}")
            return []
        self.check_first(from_lsn)
        cached = self.store.read_tail(from_lsn, bound, max_bytes)
        if cached:
            return cached
        seg = self.store.segment_for(from_lsn)
        assert seg is not None
        if not seg.local:
            if self.offload is None:
                raise LsnGapError(f"LSN {from_lsn:#x} is offloaded and no object store is configured")
            from logstore.offload import Offloader

            assert isinstance(self.offload, Offloader)
            return await self.offload.read_remote(self, seg, from_lsn, bound, max_bytes)
        return self.store.read_local(from_lsn, bound, max_bytes)

    async def wait_progress(self, seen_commit: int, timeout: float) -> None:
        """Wait (bounded) until the servable committed LSN moves past ``seen_commit``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.servable_lsn() <= seen_commit and not self.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._progress_waiting = True
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: no task per wait
                async with asyncio.timeout(remaining):
                    await self._progress.wait()

    def servable_lsn(self) -> int:
        """Committed and durable here."""
        return min(self.commit_lsn, self.flush_lsn)

    def set_remote_consistent_lsn(self, lsn: int) -> int:
        """Raise the retention hint; an LSN past this log's durable end is refused (the page
        server only ever reports LSNs it read from the log)."""
        self.check_open()
        if lsn > self.flush_lsn:
            raise InvalidRequestError(
                f"remote consistent LSN {lsn:#x} is past the end of log {self.name} on node "
                f"{self.node_id} ({self.flush_lsn:#x})"
            )
        if lsn > self.ctl.remote_consistent_lsn:
            self.ctl.remote_consistent_lsn = lsn
            self._ctl_dirty = True
        return self.ctl.remote_consistent_lsn
