"""Waiting for a busy single writer: one task (the lock) and one future woken by the lock,
an interrupt or lock_timeout. Two tasks and ``asyncio.wait`` cost twice as much, and under
load nearly every transaction's first write waits.

A callback lane's wait (compute/pgwire/fastwait.py) has no task: its waiter future sits in
the lock's queue itself (``WriterLock.enqueue``) and ``watch`` makes ``wake`` (cancel,
statement_timeout, pg_terminate_backend) resolve that future, with None, so that its done
callback gives up as this wait does."""

from __future__ import annotations

import asyncio
import contextlib


class WriterWait:
    """The session's pending wait for the writer lock, so that ``wake`` (cancel,
    statement_timeout, terminate) can end it. Loop thread only."""

    __slots__ = ("_woken",)

    def __init__(self) -> None:
        self._woken: asyncio.Future[None] | asyncio.Future[bool | None] | None = None

    def watch(self, waiter: asyncio.Future[bool | None] | None) -> None:
        """``wake`` resolves ``waiter`` (with None, unless it is done) until ``watch(None)``: a
        callback lane's queued lock waiter (compute/pgwire/fastwait.py)."""
        self._woken = waiter

    def wake(self) -> None:
        woken = self._woken
        if woken is not None and not woken.done():
            woken.set_result(None)

    async def acquire(self, lock: asyncio.Lock, timeout_s: float | None, interrupted: bool) -> bool:
        """Take ``lock`` unless ``wake`` is called (or ``interrupted`` already) or ``timeout_s``
        passes first: whether it is held now. A cancelled caller never keeps it."""
        loop = asyncio.get_running_loop()
        acquire = loop.create_task(lock.acquire())
        woken: asyncio.Future[None] = loop.create_future()
        self._woken = woken

        def wake(_: object = None) -> None:  # this wait's future, whenever the lock comes
            if not woken.done():
                woken.set_result(None)

        acquire.add_done_callback(wake)
        timer = loop.call_later(timeout_s, wake) if timeout_s is not None else None
        if interrupted:
            wake()
        try:
            await woken
        except BaseException:
            acquire.cancel()  # a cancelled Lock.acquire hands a granted lock on
            if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
                lock.release()
            raise
        finally:
            self._woken = None
            if timer is not None:
                timer.cancel()
        if acquire.done() and not acquire.cancelled():
            return True
        acquire.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acquire
        if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
            lock.release()  # lost the race: we got the lock while giving up, so hand it back
        return False
