"""A simple Query of a known shape, answered from the socket's data callback (pgbench's simple
mode, drivers that inline their literals).

On the message loop a simple Query costs a future, a task wake-up, the coroutine chain of the
wait, ``simple_query`` and ``_simple_fast``. When the connection sits waiting for input
(``lanes.idle_session``) and exactly one Query message arrived whose text is a known
shape (``Session.simple_shape``) that a lane runs without an await — an autocommit read
(``fast_shape_read``), or a statement inside a block on the write fast lane
(``try_fast_statement`` with the template and its bound literals) — or is BEGIN,
``answer_query`` does what the loop would do for it with the same calls
(``Connection.shape_now`` / ``statement_now``, which the loop uses too; ``_query_done``,
``before_wait``) and writes the answer; the loop goes on waiting. COMMIT / END of a block
goes to fastcommit.py (answered once durable); a block's first write that finds the writer
busy is queued for it (fastwait.py); an autocommit INSERT / UPDATE / DELETE is run and
answered once durable (fastauto.py). Anything else (an autocommit write fastauto.py leaves,
several statements, another message, a failed block, an encoding to convert, a timed
idle-in-transaction wait, no idle reader, a read past its inline budget, …) returns False
before anything is sent or changed, and the loop takes the bytes as before.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from compute.pgwire.fastauto import answer_auto_query
from compute.pgwire.fastcommit import answer_commit
from compute.pgwire.fastwait import queue_write
from compute.pgwire.lanes import idle_session, lane_error, ready_for, run_in_lane, send_answer
from compute.sql.api import Kind, SqlError, Translation
from compute.transaction import BEGIN, COMMIT
from strata.pgwire import messages as m

if TYPE_CHECKING:
    from compute.pgwire.server import Connection
    from compute.session import Session

MAX_QUERY_BYTES = 16 * 1024
"""Largest Query message (bytes) tried from the callback; bigger ones go to the message loop."""
MAX_CONTROL_CHARS = 64
"""Longest BEGIN / START TRANSACTION / COMMIT / END text translated by the callback (it has
no shape)."""
_QUERY = 81  # b"Q"
_CONTROL_WORDS = frozenset(("begin", "start", "commi", "end"))
_CONTROL_KINDS = (Kind.BEGIN, Kind.COMMIT)


def answer_query(conn: Connection, buf: bytearray) -> bool:
    """Answer the Query in ``buf`` (and empty it) if it qualifies; False: nothing was done."""
    session = idle_session(conn)
    if (session is None or buf[0] != _QUERY or len(buf) > MAX_QUERY_BYTES
            or int.from_bytes(buf[1:5], "big") + 1 != len(buf) or session.implicit_open):
        return False  # (no implicit block: a failed statement needs no end_implicit, an await)
    try:
        sql = m.parse_query(bytes(buf[5:]))
        hit = session.simple_shape(sql)
        if hit is None:
            control = _control(session, sql)
            if control is None:
                return False
            if control.kind is COMMIT:  # answered once durable (fastcommit.py)
                return answer_commit(conn, buf, session, control, sql, ())
            hit = control, "", ()
    except Exception:  # noqa: BLE001 - InvalidEncoding, SqlError, ...: the loop reports it
        return False
    tr, step, params = hit
    if session.txn is None and tr.is_write:  # answered once durable (fastauto.py), else the loop
        return answer_auto_query(conn, buf, session, tr, sql, params)
    session.backend.start_query(sql)
    if run_in_lane(conn, session, _run, conn, session, tr, step, params, buf, None):
        return True
    return queue_write(conn, buf, session, tr,  # a busy writer: queued for it
                       functools.partial(_run, conn, session, tr, step, params))


def _control(session: Session, sql: str) -> Translation | None:
    """BEGIN / START TRANSACTION or COMMIT / END alone (no literal: no shape), translated;
    else None."""
    if len(sql) > MAX_CONTROL_CHARS or sql.lstrip()[:5].lower().rstrip("; \t\n") not in _CONTROL_WORDS:
        return None
    translations = session.translate(sql)
    if len(translations) != 1 or translations[0].kind not in _CONTROL_KINDS or translations[0].param_oids:
        return None
    return translations[0]


def _run(conn: Connection, session: Session, tr: Translation, step: str,
         params: tuple[Any, ...], buf: bytearray, error: SqlError | None) -> bool:
    """Run the statement as ``simple_query`` does and write the answer; False (nothing sent)
    when no lane takes it now. With ``error`` (the end of a writer wait, fastwait.py): that
    error is the statement's answer."""
    try:
        if error is not None:
            raise error
        if tr.kind is BEGIN:
            done = conn.statement_now(session, tr, (), [], True, None, 0)
        else:
            done = conn.shape_now(session, tr, step, params)
        if not done:
            return False  # nothing was queued (the lanes queue only what they ran)
    except SqlError as exc:  # _query_failed; its end_implicit has no block to end
        session.fail()
        conn.send_error(exc)
    except m.ProtocolViolation as exc:  # the loop's handling: 08P01, ReadyForQuery
        conn.send(m.error_response("08P01", str(exc)))
        conn.send(ready_for(session))
        return send_answer(conn, buf, session)
    except Exception as exc:  # noqa: BLE001 - StorageError, FatalSessionError, a bug: as the loop
        if lane_error(conn, buf, session, exc):
            return True
        conn.send(ready_for(session))  # _end_failed_query (no block to end)
        return send_answer(conn, buf, session)
    conn._query_done(session)
    return send_answer(conn, buf, session)
