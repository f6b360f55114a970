"""What the socket-callback lanes share (fastquery.py, fastbatch.py, fastcommit.py): the gate
that says a connection's input may be answered from the data callback, the connection busy
while a lane runs, the loop's handling of unexpected errors, and sending the answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from compute.engine import storage_error
from compute.transaction import FatalSessionError
from strata.pgwire import messages as m
from strata.storage import StorageError, when_durable_on

if TYPE_CHECKING:
    from compute.pgwire.server import Connection
    from compute.session import Session

log = logging.getLogger("strata.compute.server")

TERMINATED = "terminating connection due to administrator command"
"""pg_terminate_backend's FATAL message (57P01), as PostgreSQL words it."""
_IDLE_TIMEOUT = "idle_in_transaction_session_timeout"
_READY_IDLE, _READY_IN_TXN, _READY_FAILED = m.READY[b"I"], m.READY[b"T"], m.READY[b"E"]


def ready_for(session: Session) -> bytes:
    """ReadyForQuery for ``session.status`` (IDLE outside a block, else FAILED or IN_TXN),
    without the enum: a dict keyed by TxnStatus hashes it through ``Enum.__hash__`` (a Python
    call) and ``status.value`` is a Python property."""
    if session.txn is None:
        return _READY_IDLE
    return _READY_FAILED if session.failed else _READY_IN_TXN


def idle_session(conn: Connection) -> Session | None:
    """The connection's session when a callback lane may answer the input that arrived: the
    connection waits for input with everything sent (nothing queued, nothing unsent in the
    transport), does not skip extended messages to a Sync after an error, is not being
    terminated, its block is not failed, its answers need no conversion (client encoding,
    DateStyle) and its wait is not timed (with idle_in_transaction_session_timeout the
    loop's wait must see every message). Else None.
    pg_terminate_backend and cancel reach a session through ``call_soon``: never while a lane
    runs, so checking here is enough."""
    session = conn.session
    if (session is None or not conn.waiting_idle or conn.terminating or session.failed
            or conn.skipping
            or conn.transcoder is not None or conn.styled or conn.out):
        return None
    transport = conn.wire.transport  # (WireProtocol.write_buffer_size without its call)
    if transport is not None and transport.get_write_buffer_size() > 0:
        return None
    if (session.settings.get(_IDLE_TIMEOUT, "0") != "0"  # (the default: no parse to ask for)
            and session.setting_ms(_IDLE_TIMEOUT) > 0):
        return None
    return session


def run_in_lane(conn: Connection, session: Session, run: Callable[..., bool], *args: Any) -> bool:
    """``run(*args)`` (a lane's answer) with the connection busy, as on the loop between its
    waits."""
    backend = session.backend
    conn.waiting_idle = False
    backend.busy = True
    try:
        return run(*args)
    finally:
        backend.busy = False
        conn.waiting_idle = True


def lane_error(conn: Connection, buf: bytearray, session: Session, exc: Exception) -> bool:
    """The loop's handling of an exception a statement does not handle itself: a
    FatalSessionError ends the connection (True); a StorageError or a bug fails the statement
    and is reported (False: the caller sends ReadyForQuery)."""
    if isinstance(exc, FatalSessionError):
        close_with(conn, buf, m.error_response(exc.sqlstate, exc.message, severity="FATAL"))
        return True
    session.fail()
    if isinstance(exc, StorageError):
        log.warning("storage failure: %s", exc)
        conn.send_error(storage_error(exc))
    else:
        log.exception("internal error answering from the socket callback")
        conn.send(m.error_response("XX000", f"internal error: {type(exc).__name__}: {exc}"))
    return False


def send_answer(conn: Connection, buf: bytearray, session: Session) -> bool:
    """The answer up to ReadyForQuery is queued: empty ``buf``, do what the loop does before
    it waits again (``before_wait``) and send it all. True (the input was answered)."""
    del buf[:]
    try:
        conn.before_wait(session)
    except Exception:  # noqa: BLE001 - a bug: as on the loop, the connection ends
        log.exception("answering from the socket callback failed")
        conn.wire.close()
        return True
    write_out(conn)
    return True


def close_with(conn: Connection, buf: bytearray, fatal: bytes) -> None:
    """The loop's ``fatal()``: the FATAL error after what is queued, and the connection ends."""
    del buf[:]
    conn.send(fatal)
    write_out(conn)
    conn.wire.close()


def close_terminated(conn: Connection) -> None:
    """A held connection whose session pg_terminate_backend interrupted while it waited: what
    the loop does at its next wait — the queued answer dropped, the input held behind it too
    (the loop reads nothing past a FATAL), FATAL 57P01, the end."""
    conn.out.clear()
    wire = conn.wire
    del wire.buf[:]
    wire.held = False
    close_with(conn, bytearray(), m.error_response("57P01", TERMINATED, severity="FATAL"))


def write_out(conn: Connection) -> None:
    """Send what is queued (the loop's flush without its drain: the buffer was empty)."""
    data = b"".join(conn.out)
    conn.out.clear()
    try:
        conn.wire.write(data)
    except ConnectionError:
        conn.wire.wake()  # the loop sees the closed connection


def statement_timer(session: Session) -> asyncio.TimerHandle | None:
    """``Session.statement_scope``'s statement_timeout timer, which on the loop also covers a
    statement's durability wait (its firing there only marks the session, as on the loop)."""
    timeout_ms = session.setting_ms("statement_timeout")
    if timeout_ms <= 0:
        return None
    return asyncio.get_running_loop().call_later(timeout_ms / 1000.0, session.interrupt, "timeout")


def hold_until_durable(conn: Connection, durable: Future[Any], then: Callable[[], None]) -> None:
    """Hold the connection (``WireProtocol.hold``: input and the end of the stream are only
    buffered) and run ``then`` on the loop once ``durable`` is done (it resolves on the log's
    thread: ``strata.storage.when_durable_on``)."""
    conn.wire.hold()
    loop = asyncio.get_running_loop()

    def resolved(_: object) -> None:  # on the log's thread (or the loop, or here if just resolved)
        when_durable_on(loop, then)

    durable.add_done_callback(resolved)
