"""Waiting for a busy single writer without a task of its own: the waiter is a future in the
writer lock's own queue (``WriterLock.enqueue``), which the lock resolves with True when it
hands itself over and ``wake`` (cancel, statement_timeout, pg_terminate_backend) or
lock_timeout resolves with None; ``WriterLock.granted`` then says which happened. Under load
nearly every transaction's first write waits, so the wait costs one future, not a task for
``Lock.acquire`` and a second future.

The message loop's wait (``acquire``) and a callback lane's (compute/pgwire/fastwait.py,
``watch``) are the same waiter in the same queue: one FIFO order for both."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compute.engine import WriterLock


class WriterWait:
    """The session's pending wait for the writer lock, so that ``wake`` (cancel,
    statement_timeout, terminate) can end it. Loop thread only."""

    __slots__ = ("_woken",)

    def __init__(self) -> None:
        self._woken: asyncio.Future[bool | None] | None = None

    def watch(self, waiter: asyncio.Future[bool | None] | None) -> None:
        """``wake`` resolves ``waiter`` (with None, unless it is done) until ``watch(None)``: a
        callback lane's queued lock waiter (compute/pgwire/fastwait.py)."""
        self._woken = waiter

    @property
    def waiting(self) -> bool:
        """The session is queued for the writer (pg_stat_activity's wait_event)."""
        return self._woken is not None

    def wake(self) -> None:
        woken = self._woken
        if woken is not None and not woken.done():
            woken.set_result(None)

    async def acquire(self, lock: WriterLock, timeout_s: float | None, interrupted: bool) -> bool:
        """Take ``lock`` unless ``wake`` is called (or ``interrupted`` already) or ``timeout_s``
        passes first: whether it is held now. A cancelled caller never keeps it (a wake-up
        meant for it is passed on)."""
        waiter = lock.enqueue()
        self._woken = waiter
        timer = (asyncio.get_running_loop().call_later(timeout_s, self.wake)
                 if timeout_s is not None else None)
        if interrupted:
            self.wake()
        try:
            await waiter
        except BaseException:
            if lock.granted(waiter):  # handed over just before the cancel: hand it on
                lock.release()
            raise
        finally:
            self._woken = None
            if timer is not None:
                timer.cancel()
        return lock.granted(waiter)
