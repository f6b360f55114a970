"""The proxy's deferred BEGIN (``strata.pgwire.frontend.DEFERRED_BEGIN``).

The proxy answers a client's plain ``BEGIN`` itself and sends this message just ahead of the
client's next message, in the same write (or on its own a few milliseconds later if nothing
follows: docs/proxy.md). Only a connection that proved itself with the proxy's secret may send
it; from anyone else it is an unknown message type, FATAL 08P01 as before.

The block starts when the message is handled, dated back by the time the BEGIN waited in the
proxy, so now(), transaction_timestamp(), pg_stat_activity.xact_start and query_start are the
client's BEGIN's. Nothing is answered. If the BEGIN cannot start a block, the session is put in
a failed block and the client's next statement (or Sync) is answered with the BEGIN's own error
and ReadyForQuery 'E': nothing the client sent behind its BEGIN runs outside a transaction, and
its ROLLBACK ends the block as usual.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

from compute.engine import storage_error
from compute.pgwire.lanes import idle_session
from compute.sql.api import SqlError
from strata.pgwire import messages as m
from strata.pgwire.frontend import parse_deferred_begin
from strata.storage import StorageError

if TYPE_CHECKING:
    from compute.pgwire.server import Connection

log = logging.getLogger("strata.compute.server")

TEST_ERROR_ENV = "STRATA_TEST_DEFERRED_BEGIN_ERROR"
"""Test seam: ``SQLSTATE message`` in the compute's environment makes every deferred BEGIN fail
with that error (tests/proxy/test_deferred_begin.py; a plain BEGIN has no real way to fail)."""
_TEST_ERROR = os.environ.get(TEST_ERROR_ENV, "")


def begin_deferred(conn: Connection, body: bytes) -> None:
    """The message loop's handling (the connection is the proxy's): start the block, or make
    it a failed one and keep the error for the client's next statement."""
    session = conn.session
    assert session is not None
    now = time.time()
    error: SqlError | None
    try:
        waited_us, sql = parse_deferred_begin(body)
    except m.ProtocolViolation as exc:
        waited_us, sql, error = 0, "BEGIN", SqlError("08P01", str(exc))
    else:
        error = None
    start = now - waited_us / 1e6
    backend = session.backend
    backend.start_query(sql)
    backend.query_start = start
    if error is None:
        try:
            if _TEST_ERROR:
                sqlstate, _, text = _TEST_ERROR.partition(" ")
                raise SqlError(sqlstate, text or "deferred BEGIN failed (test)")
            session.begin_deferred(start)
        except SqlError as exc:
            error = exc
        except StorageError as exc:
            error = storage_error(exc)
        except Exception as exc:  # noqa: BLE001 - a bug fails the block, not the session
            log.exception("deferred BEGIN failed")
            error = SqlError("XX000", f"internal error: {type(exc).__name__}: {exc}")
    if error is not None:
        session.fail_deferred_begin(start)
        conn.begin_error = error
    elif len(conn.wire.buf) < 5:  # alone (the proxy's timer): the idle wait began at the BEGIN
        conn.idle_credit_s = waited_us / 1e6


def take_deferred_begin(conn: Connection, buf: bytearray) -> bool:
    """The socket callback's handling of a deferred BEGIN at the head of ``buf`` (the input of
    a connection idle with everything sent): start the block and cut the message out. False:
    nothing done, the loop handles it (not the proxy's connection, not idle, an error, a timed
    idle-in-transaction wait — the loop's wait must start the timer — or the message not all
    here)."""
    if not conn.via_proxy or _TEST_ERROR or len(buf) < 5:
        return False
    end = 1 + int.from_bytes(buf[1:5], "big")
    if end > len(buf) or end < 5:
        return False
    session = idle_session(conn)
    if session is None or session.txn is not None:
        return False
    try:
        waited_us, sql = parse_deferred_begin(bytes(buf[5:end]))
        start = time.time() - waited_us / 1e6
        session.begin_deferred(start)
    except (m.ProtocolViolation, SqlError):
        return False  # nothing changed: the loop reports it
    backend = session.backend
    backend.start_query(sql)
    backend.query_start = start
    del buf[:end]
    return True


def answer_begin_error(conn: Connection, kind: bytes) -> bool:
    """The client's next statement after a deferred BEGIN that failed: the BEGIN's error
    instead of running it. Returns whether the extended protocol now skips to Sync."""
    error = conn.begin_error
    assert error is not None and conn.session is not None
    conn.begin_error = None
    conn.send_error(error)
    if kind in (b"Q", b"S"):
        conn.send(m.READY[conn.session.status.value])
        return False
    return True
