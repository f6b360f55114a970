"""An autocommit INSERT / UPDATE / DELETE (no BEGIN: Django's default, psycopg in autocommit
mode, a one-row commit-latency probe) run from the socket's data callback and answered once
its record is durable, as fastcommit.py answers a block's COMMIT.

On the message loop such a statement costs the task's wake-up, ``Session.execute`` →
``_dispatch`` → ``_run_sql`` → the writer → the steps with their commit → ``_await_durable``
(a loop future resolved from the log's thread and a second task wake-up) → the answer. When a
callback lane (fastquery.py, fastbatch.py) finds an idle connection whose input is exactly
such a statement and the session accepts it (``Session.auto_write_ready``: one step, no
RETURNING, no triggers, not DDL, not read-only, a writable node, nothing to finish at the
transaction's end), the lane does what the loop does, with the same calls:

- a simple Query (``answer_auto_query``): ``try_auto_write`` — statement_scope's start, the
  writer taken if it is free (``WriterLock.try_acquire``), the steps with their own commit
  (``steps_work(autocommit=True)``, inline within the read's budget exactly as
  ``_inline_or_threaded`` runs a restartable statement), the writer released at once (the
  next writer may start before our fsync: group commit); statement_timeout's timer is armed
  over the wait as ``statement_scope`` arms it over ``_await_durable``;
- a prepared Bind/[Describe]/Execute/Sync (``answer_auto_batch``): as on the loop, the
  Execute opens an implicit block and runs the write as a block's statement
  (``try_implicit_write``: a write known quick, ``try_fast_statement``), and the Sync ends it
  (``implicit_end``: deferred checks, then the SQLite commit, the writer released);

then the answer goes out at once if the commit is already durable (a group fsync covered it)
or wrote nothing, else the connection is *held* (``WireProtocol.hold``) and the durability
future's done callback hands ``_finish_*`` to the loop. Only then is CommandComplete (or
08007, as ``_await_durable`` / ``commit_finished`` raise it) and ReadyForQuery sent; the held
input is released and the connection is idle again. The client never hears of a write that
is not durable. While it waits the connection is busy as on the loop: a NOTIFY for it waits,
a cancel or statement_timeout only marks the session, pg_terminate_backend gives FATAL 57P01
after the commit and the input held behind it is dropped; a client gone meanwhile still
commits (durable first) and its connection then ends.

A statement error (23505, …) is answered at once as the loop answers it (rolled back,
ReadyForQuery 'I'). A statement that does not qualify, a busy writer (left to the loop, which
queues for it with lock_timeout and cancel), a statement that ran past its inline budget (it
changed nothing; the loop re-runs it on a thread) return False with nothing sent.

On by default; ``STRATA_LANE_AUTOCOMMIT=0`` turns it off (the lanes then leave autocommit
writes to the loop, as before).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from compute.pgwire.lanes import (
    close_terminated,
    hold_until_durable,
    lane_error,
    send_answer,
    statement_timer,
    write_out,
)
from compute.pgwire.results import command_complete
from compute.sql.api import SqlError, Translation
from compute.transaction import Result
from strata.pgwire import messages as m
from strata.storage import CommitTicket

if TYPE_CHECKING:
    from compute.pgwire.server import Connection
    from compute.session import Session

log = logging.getLogger("strata.compute.server")

ENABLED = os.environ.get("STRATA_LANE_AUTOCOMMIT", "1") != "0"
"""Run autocommit writes from the callback lanes (else: the message loop, as before)."""

def answer_auto_query(conn: Connection, buf: bytearray, session: Session, tr: Translation,
                      sql: str, params: tuple[Any, ...]) -> bool:
    """A simple Query's autocommit write ``tr`` (a shape with its literals ``params``, the
    whole input in ``buf``); False: nothing was done (the loop runs it)."""
    if not ENABLED or not params or not session.auto_write_ready(tr):
        return False
    backend = session.backend
    backend.start_query(sql)
    conn.waiting_idle = False
    backend.busy = True
    try:
        ran = session.try_auto_write(tr, params)
    except SqlError as exc:  # _query_failed (there is no implicit block to end)
        session.auto_ended(False)
        session.fail()
        conn.send_error(exc)
        conn._query_done(session)
        return _answer_now(conn, buf, session)
    except Exception as exc:  # noqa: BLE001 - FatalSessionError, a bug: as the loop
        session.auto_ended(False)
        if lane_error(conn, buf, session, exc):
            return _idle(conn, session)
        conn.send(m.READY[session.status.value])  # _end_failed_query (no block to end)
        return _answer_now(conn, buf, session)
    if ran is None:
        return _idle(conn, session, False)
    result, ticket = ran
    del buf[:]
    timer = statement_timer(session)
    finish = functools.partial(_finish_query, conn, session, tr, result, timer)
    _when_durable(conn, ticket, finish)
    return True


def _finish_query(conn: Connection, session: Session, tr: Translation, result: Result,
                  timer: asyncio.TimerHandle | None, ticket: CommitTicket | None) -> None:
    """The rest of ``Session.execute`` once the ticket is durable, ``run_statement``'s answer
    (or ``_query_failed``'s), and ReadyForQuery."""
    if timer is not None:
        timer.cancel()
    ok = False
    try:
        if ticket is not None:
            session.auto_durable(ticket)
        ok = True
    except SqlError as exc:
        session.auto_ended(False)
        session.fail()
        conn.send_error(exc)
    if ok:
        session.auto_ended(True)
        conn.statement_done(tr, result, [], True, None, 0)
    conn._query_done(session)


def answer_auto_batch(conn: Connection, buf: bytearray, session: Session, tr: Translation,
                      sql: str, params: tuple[Any, ...], description: bytes) -> bool:
    """A prepared statement's Bind/[Describe]/Execute/Sync of an autocommit write (the whole
    input in ``buf``; ``description``: NoData if a Describe came); False: nothing was done."""
    if not ENABLED or not session.auto_write_ready(tr):
        return False
    backend = session.backend
    backend.start_query(sql)
    conn.waiting_idle = False
    backend.busy = True
    error: Exception | None = None
    try:
        result = session.try_implicit_write(tr, params)
    except Exception as exc:  # noqa: BLE001 - answered below as the loop answers it
        error, result = exc, None
    if result is None and error is None:
        return _idle(conn, session, False)
    conn.send(m.BIND_COMPLETE)
    if description:
        conn.send(description)
    if isinstance(error, SqlError):  # _extended_failed: the error, then Skip to the Sync
        session.fail()
        conn.send_error(error)
    elif error is not None:  # FatalSessionError, a bug: as the loop
        if lane_error(conn, buf, session, error):
            return _idle(conn, session)
    else:
        assert result is not None
        conn.statement_notices(tr, result)
        conn.send(command_complete(result.tag))
    conn.portals.pop("", None)  # the Sync (``ExtendedQuery.sync``)
    try:
        committed, ticket = session.implicit_end()
    except SqlError as exc:
        conn.send_error(exc)
        committed, ticket = False, None
    except Exception:  # noqa: BLE001 - a bug: as the loop, the connection ends
        log.exception("ending an implicit block from the socket callback failed")
        conn.wire.close()
        return _idle(conn, session)
    del buf[:]
    finish = functools.partial(_finish_batch, conn, session, committed)
    _when_durable(conn, ticket, finish)
    return True


def _finish_batch(conn: Connection, session: Session, committed: bool,
                  ticket: CommitTicket | None) -> None:
    """The rest of the Sync once the implicit block's ticket is durable: ``_commit``'s end
    (``commit_finished``: 08007 if the log did not confirm it) and ReadyForQuery."""
    if committed:
        try:
            session.commit_finished(ticket)
        except SqlError as exc:
            conn.send_error(exc)
    if session.txn is None:
        conn.portals.clear()
    conn.send(m.READY[session.status.value])


def _when_durable(conn: Connection, ticket: CommitTicket | None,
                  finish: Callable[[CommitTicket | None], None]) -> None:
    """``finish(ticket)`` and the answer now if ``ticket`` is None or already durable, else
    the connection held and both from the durability future's done callback (on the loop)."""
    durable = ticket.durable if ticket is not None else None
    if durable is None or durable.done():
        _answer(conn, finish, ticket, held=False)
        return
    hold_until_durable(conn, durable, functools.partial(_answer, conn, finish, ticket, True))


def _answer(conn: Connection, finish: Callable[[CommitTicket | None], None],
            ticket: CommitTicket | None, held: bool) -> None:
    """``finish`` queues the answer; it goes out, the connection idle again and its held input
    handled. A bug ends the connection (as on the loop), never leaves it held."""
    session = conn.session
    assert session is not None
    wire = conn.wire
    try:
        finish(ticket)
        session.backend.busy = False
        conn.waiting_idle = True
        if conn.terminating:  # the loop's next wait: the answer is dropped, FATAL, the end
            close_terminated(conn)
            return
        conn.before_wait(session)
        write_out(conn)
    except Exception:  # noqa: BLE001 - a bug: as on the loop, the connection ends
        log.exception("answering an autocommit write from the socket callback failed")
        wire.held = False
        wire.close()
        return
    if held:
        wire.release()


def _answer_now(conn: Connection, buf: bytearray, session: Session) -> bool:
    """The answer queued up to ReadyForQuery goes out now; the connection idle again."""
    session.backend.busy = False
    conn.waiting_idle = True
    return send_answer(conn, buf, session)


def _idle(conn: Connection, session: Session, answered: bool = True) -> bool:
    """The connection idle again (as ``run_in_lane`` leaves it); ``answered`` returned."""
    session.backend.busy = False
    conn.waiting_idle = True
    return answered
