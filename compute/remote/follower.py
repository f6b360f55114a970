"""A replica's (and a starting primary's) log follower: committed records into the overlay.

A thread with its own asyncio loop reads the timeline's committed stream from the log store
(``stream_committed``, failing over between acceptors), buffers a transaction's chunks until
its commit record, then inserts all of its pages into the overlay at the commit's end LSN
and advances ``replay_lsn``: snapshots at ``replay_lsn`` see whole transactions only.

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

from compute.remote.pages import RemotePages
from strata.storage import StorageError
from strata.wal import Lsn, WalRecord

log = logging.getLogger("strata.compute.remote.follower")

FIRST_COMMIT_WAIT_S = 30.0
"""How long the follower waits for the page server to ingest the first commit it sees."""
RESTART_DELAY_S = 0.2
"""Pause before re-opening the stream after an error."""
MAX_PENDING_BYTES = 1 << 30
"""Bound on buffered chunks of one uncommitted transaction (bytes)."""

StreamFn = Callable[[Lsn], AsyncIterator[tuple[int, int, bytes]]]


def logstore_stream(addrs: Sequence[str], tenant: str, timeline: str, name: str) -> StreamFn:
    """The log store's committed stream of one timeline, as this node (a subscriber)."""
    addr_list = list(addrs)

    def open_stream(from_lsn: Lsn) -> AsyncIterator[tuple[int, int, bytes]]:
        from logstore.stream import stream_committed

        return stream_committed(addr_list, from_lsn, tenant=tenant, timeline=timeline,
                                subscriber=name)

    return open_stream


class Follower:
    """See the module docstring. ``start()`` once; ``stop_at(lsn)`` to end after ``lsn``."""

    def __init__(self, open_stream: StreamFn, pages: RemotePages, start_lsn: Lsn) -> None:
        self.open_stream = open_stream
        self.pages = pages
        self.position: Lsn = start_lsn  # end of the last record read (a record boundary)
        self.replay_lsn: Lsn = start_lsn  # end of the last commit applied
        self.last_replay_ts_us = 0
        self.last_error = ""
        self._first_commit_done = start_lsn == 0  # an empty log has no torn transaction
        self._pending: dict[int, list[tuple[int, int, bytes]]] = {}
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
        from logstore.proposer import new_event_loop

        loop = self._loop = new_event_loop()
        try:
            self._task = loop.create_task(self._main())
            self._ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            self._done.set()

    async def _main(self) -> None:
        while not self._reached_stop():
            try:
                async with contextlib.aclosing(self.open_stream(self.position)) as stream:  # type: ignore[type-var]
                    async for _start, end, payload in stream:
                        await self._apply(end, payload)
                        if self._reached_stop():
                            return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("log stream at LSN %d: %s", self.position, self.last_error)
                await asyncio.sleep(RESTART_DELAY_S)

    def _reached_stop(self) -> bool:
        return self._stop_lsn is not None and self.position >= self._stop_lsn

    async def _apply(self, end: Lsn, payload: bytes) -> None:
        rec = WalRecord.decode(payload)
        pages = [(p.db_id, p.page_no, p.data) for p in rec.pages]
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
