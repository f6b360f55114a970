"""A block's first write that finds the single writer busy, queued for it from the socket's
data callback and answered from the lock's hand-off (pgbench's first UPDATE at -c 8).

Under load most transactions' first write finds the writer taken: ``try_fast_statement``
says no, and on the message loop the statement then costs the task's wake-up, ``simple_query``
or the extended messages, ``run_statement`` → ``Session.execute`` → ``_dispatch`` → … →
``_acquire_writer`` → ``WriterWait.acquire`` (a task for ``Lock.acquire``, a future, two or
three loop hops at the hand-off) and the answer through the task again. When a callback lane
(fastbatch.py, fastquery.py) finds that ``try_fast_statement`` refused its statement only
because the writer is busy (``Session.writer_wait_ready``: it would run inline once it has
the writer), ``queue_write``:

- takes the statement's bytes out of the input and *holds* the connection (as fastcommit.py
  does: input that arrives meanwhile, and the end of the stream, are only buffered), busy as
  on the loop (``waiting_idle`` False: a NOTIFY waits, pg_terminate_backend interrupts);
- puts a future in the writer lock's own queue (``WriterLock.enqueue``: behind every waiter
  already there, loop-path waiters included, one FIFO order), which cancel,
  statement_timeout and pg_terminate_backend wake as they wake the loop's wait
  (``WriterWait.watch``); arms lock_timeout and statement_timeout as the loop does;
- when the future is done, its callback (``_Wait.done``) does what ``acquire`` does
  (``WriterLock.granted``: take the lock, or leave the queue and pass a wake-up on) and:

  - granted: the lane runs the statement as before (``try_fast_statement`` uses the writer
    the session now holds) and sends the answer exactly as it would have; if the statement
    does not qualify any more (it became slow, the node not writable at once, …) the writer
    is handed on and the bytes go back to the front of the input for the general path;
  - woken (cancel, statement_timeout, lock_timeout): the lane answers the error the loop's
    wait raises (57014, 55P03) as it answers any statement error; pg_terminate_backend:
    FATAL 57P01 alone and the connection ends (what the loop does at its next wait);

  then the connection is idle again and the held input is handled in order
  (``WireProtocol.release``).

A client that goes away while queued is treated as on the loop: its statement runs when the
writer comes (nothing can be answered), then the end of the stream ends the session, which
rolls its block back and releases the writer. A connection whose task is already over when
the writer comes (a node shutting down) hands it on at once.

``STRATA_LANE_WRITER_WAIT=0`` turns this off (the lanes then leave such a statement to the
loop, as before).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from compute.pgwire.lanes import close_terminated
from compute.sql.api import SqlError, Translation

if TYPE_CHECKING:
    from compute.pgwire.server import Connection
    from compute.session import Session

log = logging.getLogger("strata.compute.server")

ENABLED = os.environ.get("STRATA_LANE_WRITER_WAIT", "1") != "0"
"""Queue a lane's statement for a busy writer from the callback (else: the message loop)."""

Answer = Callable[[bytearray, SqlError | None], bool]
"""A lane's answer for the statement: run it (error None) or answer ``error`` as the lane
answers a statement's SqlError; False: nothing was sent (the statement did not qualify)."""


def queue_write(conn: Connection, buf: bytearray, session: Session, tr: Translation,
                answer: Answer) -> bool:
    """After the lane's ``answer`` returned False for ``tr`` (the whole input in ``buf``):
    queue it for the writer if only the busy writer stopped it; False: nothing was done."""
    if not ENABLED or not session.writer_wait_ready(tr):
        return False
    data = bytes(buf)
    del buf[:]
    conn.waiting_idle = False
    session.backend.busy = True
    conn.wire.hold()
    wait = _Wait(conn, session, data, answer)
    waiter = session.queue_for_writer(wait.done)
    loop = asyncio.get_running_loop()
    lock_timeout = session.setting_ms("lock_timeout")
    if lock_timeout > 0:
        wait.lock_timer = loop.call_later(lock_timeout / 1000.0, _time_out, waiter)
    statement_timeout = session.setting_ms("statement_timeout")
    if statement_timeout > 0:  # statement_scope's timer (it covers the wait and the statement)
        wait.statement_timer = loop.call_later(statement_timeout / 1000.0, session.interrupt,
                                               "timeout")
    return True


def _time_out(waiter: asyncio.Future[bool | None]) -> None:
    """lock_timeout passed: the wait ends unless the writer was handed to it first."""
    if not waiter.done():
        waiter.set_result(None)


class _Wait:
    """One queued statement: its connection, its bytes, the lane's answer, its timers."""

    __slots__ = ("answer", "conn", "data", "lock_timer", "ran", "session", "statement_timer")

    def __init__(self, conn: Connection, session: Session, data: bytes, answer: Answer) -> None:
        self.conn = conn
        self.session = session
        self.data = data
        self.answer = answer
        self.lock_timer: asyncio.TimerHandle | None = None
        self.statement_timer: asyncio.TimerHandle | None = None
        self.ran = False

    def done(self, waiter: asyncio.Future[bool | None]) -> None:
        """The waiter is done (the writer handed to it, or woken): answer, and the held input
        goes on. A bug ends the connection (as on the loop), never leaves it held or the
        writer taken by a statement that did not run. Once only: the lock's ``hand_over_now``
        may run it before the future's own callback comes."""
        if self.ran:
            return
        self.ran = True
        if self.lock_timer is not None:
            self.lock_timer.cancel()
        session = self.session
        conn = self.conn
        try:
            error = session.writer_granted(waiter)
            self._finish(error)
        except Exception:  # noqa: BLE001 - a bug: as on the loop, the connection ends
            log.exception("answering a statement from its writer wait failed")
            session.give_back_writer()
            del conn.wire.buf[:]  # (nothing more is read)
            conn.wire.held = False
            conn.wire.close()
        finally:
            if self.statement_timer is not None:
                self.statement_timer.cancel()

    def _finish(self, error: SqlError | None) -> None:
        conn = self.conn
        session = self.session
        wire = conn.wire
        if conn.server.sessions.get(conn.pid, (0, None))[1] is not conn:  # its task is over
            session.give_back_writer()
            wire.held = False
            wire.wake()
            return
        if conn.terminating:  # the loop's next wait: FATAL alone, nothing more is read
            session.give_back_writer()
            close_terminated(conn)
            return
        answered = self.answer(bytearray(), error)
        session.give_back_writer()  # (not run: nothing done; a statement that ran keeps it)
        session.backend.busy = False
        conn.waiting_idle = True
        transport = wire.transport
        if transport is None or transport.is_closing():  # a FATAL, or the client is gone
            del wire.buf[:]  # (the loop reads no more either)
        elif not answered:  # it no longer qualifies: the general path takes its bytes, in order
            wire.buf[:0] = self.data
        wire.release()
