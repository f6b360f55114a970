"""A replica's (and a starting primary's) log follower: committed records into the overlay.

A thread with its own asyncio loop reads the timeline's committed stream from the log store
(``stream_committed``, failing over between acceptors), buffers a transaction's chunks until
its commit record, then inserts all of its pages into the overlay at the commit's end LSN
and advances ``replay_lsn``: snapshots at ``replay_lsn`` see whole transactions only.
Page deltas (version 2 records) go into the overlay as they are: replay never fetches a
page; a read composes them (``compute.remote.pages``).

The start point is the page server's ``last_record_lsn``, which may fall inside a chunked
transaction whose first chunks we would never see. So the first commit after the start is
not replayed from the stream: the follower waits until the page server has ingested it and
moves the overlay floor there (a reset: nothing is cached yet at start). Every later
transaction is seen whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence

from compute.remote.pages import RemotePages, Version
from logstore.errors import LsnGapError
from logstore.proposer import new_event_loop
from logstore.stream import stream_committed
from strata.storage import StorageError
from strata.wal import Lsn, WalRecord

log = logging.getLogger("strata.compute.remote.follower")

FIRST_COMMIT_WAIT_S = 30.0
"""How long the follower waits for the page server to ingest the first commit it sees."""
RESTART_FIRST_S = 0.1
"""First pause before re-opening the stream after an error (then doubling)."""
RESTART_MAX_S = 5.0
"""Longest pause between attempts to re-open the stream."""
MAX_LOGGED_ERRORS = 16
"""Distinct stream errors logged until the stream works again (later ones: last_error)."""
MAX_PENDING_BYTES = 1 << 30
"""Bound on buffered chunks of one uncommitted transaction (bytes)."""

StreamFn = Callable[[Lsn], AsyncIterator[tuple[int, int, bytes]]]
FatalFn = Callable[[str], None]
"""Called (from the follower's thread) when following can never resume; the compute
process exits there so that the control plane restarts it from the page server's LSN."""


def logstore_stream(addrs: Sequence[str], tenant: str, timeline: str, name: str) -> StreamFn:
    """The log store's committed stream of one timeline, as this node (a subscriber)."""
    addr_list = list(addrs)

    def open_stream(from_lsn: Lsn) -> AsyncIterator[tuple[int, int, bytes]]:
        return stream_committed(addr_list, from_lsn, tenant=tenant, timeline=timeline,
                                subscriber=name)

    return open_stream


class Follower:
    """See the module docstring. ``start()`` once; ``stop_at(lsn)`` to end after ``lsn``.

    A failing stream (acceptors restarting, a transient gap) is re-opened at ``position``
    after a pause doubling from RESTART_FIRST_S to RESTART_MAX_S (back to the start once
    records flow again). If the LSN it needs is gone from every acceptor (LsnGapError), or
    the follower itself dies, ``on_fatal`` gets a message saying so and ``failed`` is set.
    """

    def __init__(self, open_stream: StreamFn, pages: RemotePages, start_lsn: Lsn,
                 on_fatal: FatalFn | None = None, whole_from_start: bool = False) -> None:
        """``whole_from_start``: ``start_lsn`` is a transaction boundary (the page server
        had no half-ingested transaction there), so even the first commit is seen whole and
        is replayed like any other, keeping the pages cached meanwhile (issue 16: a fresh
        replica lost its warmed cache at the first commit)."""
        self.open_stream = open_stream
        self.on_fatal = on_fatal
        self.failed = ""
        self.pages = pages
        self.position: Lsn = start_lsn  # end of the last record read (a record boundary)
        self.replay_lsn: Lsn = start_lsn  # end of the last commit applied
        self.last_replay_ts_us = 0
        self.last_error = ""
        # an empty log, or a boundary, has no torn transaction
        self._first_commit_done = start_lsn == 0 or whole_from_start
        self._pending: dict[int, list[tuple[int, int, Version]]] = {}
        self._pending_bytes = 0
        self._stop_lsn: Lsn | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._replayed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="log-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        loop = self._loop = new_event_loop()
        try:
            self._task = loop.create_task(self._main())
            self._ready.set()
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            except BaseException as exc:  # noqa: BLE001 - nothing may end it silently
                self._fatal(f"the log follower died at LSN {self.position}: "
                            f"{type(exc).__name__}: {exc}")
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            self._done.set()

    async def _main(self) -> None:
        delay = RESTART_FIRST_S
        logged: set[str] = set()
        while not self._reached_stop():
            before = self.position
            try:
                async with contextlib.aclosing(self.open_stream(self.position)) as stream:  # type: ignore[type-var]
                    async for _start, end, payload in stream:
                        await self._apply(end, payload)
                        if logged and self.last_error:
                            log.info("log stream works again at LSN %d", self.position)
                            logged.clear()
                            self.last_error = ""
                        if self._reached_stop():
                            return
                error = "the log stream ended"
            except asyncio.CancelledError:
                raise
            except LsnGapError as exc:
                self._fatal(f"LSN {self.position} of the log is gone from every log store "
                            f"node (trimmed), so this node can never catch up; restart it "
                            f"to start from the page server's LSN: {exc}")
                return
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            if self.position > before:
                delay = RESTART_FIRST_S
            self.last_error = error
            if error not in logged and len(logged) < MAX_LOGGED_ERRORS:
                logged.add(error)
                log.warning("log stream at LSN %d failed, retrying: %s", self.position, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_S)

    def _fatal(self, message: str) -> None:
        self.failed = self.last_error = message
        log.critical("%s", message)
        if self.on_fatal is not None:
            self.on_fatal(message)

    def _reached_stop(self) -> bool:
        return self._stop_lsn is not None and self.position >= self._stop_lsn

    async def _apply(self, end: Lsn, payload: bytes) -> None:
        rec = WalRecord.decode(payload)
        pages: list[tuple[int, int, Version]] = [(p.db_id, p.page_no, p.data) for p in rec.pages]
        pages.extend((d.db_id, d.page_no, d) for d in rec.deltas)
        if not rec.commit:
            self._pending.setdefault(rec.xid, []).extend(pages)
            self._pending_bytes += len(payload)
            if self._pending_bytes > MAX_PENDING_BYTES:
                raise StorageError(f"transaction {rec.xid} buffers more than "
                                   f"{MAX_PENDING_BYTES} bytes in the follower")
            self.position = end
            return
        earlier = self._pending.pop(rec.xid, [])
        self._pending.clear()  # the writer is serialized: other xids were abandoned
        self._pending_bytes = 0
        if not self._first_commit_done:
            await self._skip_first_commit(end)
        else:
            self.pages.insert(end, earlier + pages, rec.db_sizes)
        self.position = end
        self.last_replay_ts_us = rec.commit_ts_us
        with self._replayed:
            self.replay_lsn = end
            self._replayed.notify_all()

    async def _skip_first_commit(self, end: Lsn) -> None:
        """The first commit may be torn (started before our start point): let the page
        server serve it and move the floor past it."""
        deadline = time.monotonic() + FIRST_COMMIT_WAIT_S
        while True:
            try:
                have = await asyncio.to_thread(self.pages.poll_ingested)
            except StorageError as exc:
                have = 0
                self.last_error = str(exc)
            except Exception as exc:
                have = 0
                self.last_error = f"{type(exc).__name__}: {exc}"
            if have >= end:
                break
            if time.monotonic() >= deadline:
                raise StorageError(f"page server did not ingest LSN {end} within "
                                   f"{FIRST_COMMIT_WAIT_S}s")
            await asyncio.sleep(0.02)
        self.pages.reset(end)
        self._first_commit_done = True

    def wait_replay(self, lsn: Lsn, timeout_s: float) -> bool:
        """Until replay_lsn >= lsn (tests)."""
        with self._replayed:
            return self._replayed.wait_for(lambda: self.replay_lsn >= lsn, timeout_s)

    def stop_at(self, lsn: Lsn, timeout_s: float) -> None:
        """Read up to ``lsn`` (a record boundary) and stop. Raises StorageError on timeout."""
        loop = self._loop
        assert loop is not None

        def arm() -> None:
            self._stop_lsn = lsn
            if self.position >= lsn and self._task is not None:
                self._task.cancel()

        if not self._done.is_set():
            loop.call_soon_threadsafe(arm)
        if not self._done.wait(timeout_s):
            raise StorageError(f"the log follower did not reach LSN {lsn} within {timeout_s}s "
                               f"(at {self.position}; {self.last_error or 'no error'})")
        if self.position < lsn:
            raise StorageError(f"the log follower stopped at {self.position} before {lsn}")

    def close(self) -> None:
        loop = self._loop
        if loop is not None and not self._done.is_set():
            task = self._task
            if task is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(task.cancel)
        self._done.wait(5)
