"""COMMIT / END answered from the socket's data callback and, once its record is durable, from
its durability future's own callback (pgbench's END, drivers' COMMIT of a short block).

On the message loop a COMMIT costs the task's wake-up for the input, ``simple_query`` or the
extended messages' dispatch, ``run_statement`` → ``Session.execute`` → ``_dispatch`` →
``_commit`` → ``_end_txn`` → ``_await_durable``, a loop future resolved from the log's thread
and a second task wake-up for it. When a callback lane (fastquery.py, fastbatch.py) finds an
idle connection whose input is exactly one COMMIT that ``Session.commit_ready`` accepts (an
explicit block, not failed, not heavy, nothing deferred to check, no cursors, no
LISTEN/NOTIFY or transaction-scope advisory lock, no ON COMMIT temporary table),
``answer_commit`` does what the loop does with the same calls: the SQLite commit on the
writer, which is released at once (``Session.commit_now``; the next writer may start before
our fsync: group commit), and then

- the commit is already durable (a group fsync covered it) or wrote nothing: the answer
  goes out now;
- else the connection is *held* (``WireProtocol.hold``: input that arrives meanwhile, and
  the end of the stream, are only buffered, no lane runs and the waiting reader is not
  woken) and the durability future's done callback hands ``_finish`` to the loop
  (``call_soon_threadsafe``). Only then is COMMIT (or 08007) answered, the held input
  released, and the connection idle again. The client never hears of a commit that is not
  durable.

While the commit waits, the connection is busy as on the loop (``waiting_idle`` is False, so
a NOTIFY for it waits for ``before_wait``, pg_terminate_backend interrupts the session and
the FATAL follows the commit); a CancelRequest and statement_timeout reach the session as
they do during the loop's durability wait (which neither stops).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from compute.pgwire.lanes import (
    close_terminated,
    hold_until_durable,
    lane_error,
    statement_timer,
    write_out,
)
from compute.sql.api import SqlError, Translation
from strata.storage import CommitTicket

if TYPE_CHECKING:
    from compute.pgwire.server import Connection
    from compute.session import Session

log = logging.getLogger("strata.compute.server")

def answer_commit(conn: Connection, buf: bytearray, session: Session, tr: Translation, sql: str,
                  head: Iterable[bytes]) -> bool:
    """Answer COMMIT ``tr`` (the whole input in ``buf``, from an idle connection: the lanes
    checked) if ``Session.commit_ready`` accepts it, ``head`` (BindComplete, NoData) first;
    False: nothing was done. The answer may come later, from the durability future."""
    if not session.commit_ready(tr):
        return False
    del buf[:]
    conn.waiting_idle = False
    backend = session.backend
    backend.busy = True
    backend.start_query(sql)
    for message in head:
        conn.send(message)
    timer = statement_timer(session)
    _commit(conn, buf, session, functools.partial(_finish, conn, session, tr, timer))
    # The next holder's statement now, ahead of what our commit left in the loop's queue
    # (the log store proposer's sends): the writer's hand-over is not delayed by them.
    session.db.writer_lock.hand_over_now()
    return True


def _commit(conn: Connection, buf: bytearray, session: Session,
            finish: Callable[..., None]) -> None:
    """Commit and answer (``finish``) now, or once the commit is durable."""
    try:
        ticket = session.commit_now()
    except SqlError as exc:
        finish(None, exc)
        return
    except Exception as exc:  # noqa: BLE001 - a bug: as the message loop reports it
        if not lane_error(conn, buf, session, exc):
            finish(None, None, failed=True)
        return
    durable = ticket.durable if ticket is not None else None
    if durable is None or durable.done():
        finish(ticket, None)
    else:
        hold_until_durable(conn, durable, functools.partial(finish, ticket, None))


def _finish(conn: Connection, session: Session, tr: Translation,
            timer: asyncio.TimerHandle | None, ticket: CommitTicket | None,
            error: SqlError | None, failed: bool = False) -> None:
    """COMMIT's answer (or ``error``'s), ReadyForQuery and what goes before it, sent; the
    connection idle again and its held input handled. A bug ends the connection (as on the
    loop), never leaves it held."""
    try:
        _answer(conn, session, tr, timer, ticket, error, failed)
    except Exception:  # noqa: BLE001 - a bug: as on the loop, the connection ends
        log.exception("answering a commit from its durability callback failed")
        conn.wire.held = False
        conn.wire.close()


def _answer(conn: Connection, session: Session, tr: Translation,
            timer: asyncio.TimerHandle | None, ticket: CommitTicket | None,
            error: SqlError | None, failed: bool) -> None:
    if timer is not None:
        timer.cancel()
    if not failed:
        if error is None:
            try:
                result = session.commit_finished(ticket)
            except SqlError as exc:
                error = exc
        if error is None:
            conn.statement_done(tr, result, [], False, None, 0)
        else:  # the loop's _query_failed / Skip (its end_implicit has no block to end)
            session.fail()
            conn.send_error(error)
    conn._query_done(session)  # (the batch's Sync does the same: no block, every portal goes)
    session.backend.busy = False
    conn.waiting_idle = True
    wire = conn.wire
    if conn.terminating:  # the loop's next wait: the answer is dropped, FATAL, the end
        close_terminated(conn)
        return
    conn.before_wait(session)
    write_out(conn)
    wire.release()
