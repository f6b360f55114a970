"""A prepared statement's whole Bind/[Describe]/Execute/Sync batch, answered from the socket's
data callback (pgbench -M prepared, drivers' prepared point lookups and block statements).

On the message loop such a batch costs a future, a task wake-up, the coroutine chain of the
wait, four dispatches, a Portal and an awaited Sync. When the connection sits waiting for
input (nothing buffered, nothing unsent) and exactly one such batch arrived for a statement
the lanes take — an autocommit read (``Session.try_fast_read``), BEGIN or a statement inside
a block (``Session.try_fast_statement``) — ``answer_batch`` does what the loop would do for
it, with the same calls in the same order (``_revalidate``, ``_decode_params``, the lanes,
``statement_notices``, ``send_rows``, ``before_wait``), and writes the answer; the loop
goes on waiting. COMMIT goes to fastcommit.py (answered once durable); a block's first
write that finds the writer busy is queued for it (fastwait.py); an autocommit INSERT /
UPDATE / DELETE runs as the loop runs it (an implicit block until the Sync) and is answered
once durable (fastauto.py). Anything else (another message kind, a named portal, a row
limit, an autocommit write with rows or that fastauto.py leaves, a failed block, an encoding
to convert, a timed idle-in-transaction wait, no idle reader, …) returns False before
anything is sent, and the loop takes the bytes as before.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from compute.pgwire.extended import Prepared, _bind_fields
from compute.pgwire.fastauto import answer_auto_batch
from compute.pgwire.fastcommit import answer_commit
from compute.pgwire.fastwait import queue_write
from compute.pgwire.lanes import idle_session, lane_error, ready_for, run_in_lane, send_answer
from compute.pgwire.results import Encoder, command_complete, send_rows
from compute.sql.api import SqlError, Translation
from compute.transaction import BEGIN, COMMAND, COMMIT, QUERY
from strata.pgwire import messages as m

if TYPE_CHECKING:
    from compute.pgwire.server import Connection
    from compute.session import Session

MAX_BATCH_BYTES = 64 * 1024
"""Largest input (bytes) tried as one batch; bigger input goes to the message loop."""
_SYNC = b"S\x00\x00\x00\x04"
_BIND = 66  # b"B"
_TAIL = b"E\x00\x00\x00\x09\x00\x00\x00\x00\x00" + _SYNC  # Execute (unnamed, no row limit), Sync
_RESULT_FORMATS = {b"\x00\x00": (), b"\x00\x01\x00\x00": (0,), b"\x00\x01\x00\x01": (1,)}
"""A Bind's result-format list at its end: none, all text, all binary."""
_TAIL_DESCRIBED = b"D\x00\x00\x00\x06P\x00" + _TAIL  # Describe of the unnamed portal first


def _bind_body(data: bytes) -> tuple[bytes, bool] | None:
    """(Bind's body, whether a Describe follows) if ``data`` is exactly one Bind, an optional
    Describe of the unnamed portal, an Execute of it without a row limit, and Sync."""
    if data[0] != _BIND or len(data) < 5:
        return None
    end = 1 + int.from_bytes(data[1:5], "big")
    if end < 5:
        return None
    tail = data[end:]
    if tail == _TAIL:
        return data[5:end], False
    if tail == _TAIL_DESCRIBED:
        return data[5:end], True
    return None


def int_params(body: bytes, pos: int, digits: tuple[int, ...]
               ) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(parameters, result formats) of a Bind whose fields from ``pos`` (just past the
    statement name) are: no parameter formats, one text parameter per entry of ``digits``,
    each an integer of plain ASCII digits (or '-' and digits) that ``_decode_params`` reads
    with int() (at most ``digits[i]`` digits), and 0 or 1 result format. None: anything else
    (the general parse and decoding)."""
    if body[pos : pos + 2] != b"\x00\x00" or int.from_bytes(body[pos + 2 : pos + 4], "big") != len(digits):
        return None
    pos += 4
    out: list[int] = []
    for limit in digits:
        length = int.from_bytes(body[pos : pos + 4], "big")  # NULL's -1 reads as 2**32 - 1
        raw = body[pos + 4 : pos + 4 + length]
        if length > limit + 1 or len(raw) != length:
            return None
        if not ((length <= limit and raw.isdigit())
                or (raw[:1] == b"-" and raw[1:].isdigit())):
            return None
        out.append(int(raw))
        pos += 4 + length
    formats = _RESULT_FORMATS.get(body[pos:])
    if formats is None:
        return None
    return tuple(out), formats


class PointBind:
    """The layout of a batch that ``int_params`` read as one integer parameter of a prepared
    statement (a point lookup's, a point update's): the value's length, what follows the
    value (the result-format list, then the Execute and Sync, with a Describe if there was
    one: ``tail``) and what the general cut made of it. A connection keeps these by the
    batch's bytes up to the value (``Connection.point_heads``: the Bind's type and length,
    its portal and statement names, its parameter formats and count, the value's length). A
    batch that is byte for byte such a head, a value of that length, and the tail is that
    statement's Bind with that value; ``same_point`` checks exactly that (and that the name
    still means the statement): the general cut's answer without its slices."""

    __slots__ = ("length", "tail", "name", "prep", "limit", "formats", "describe")

    def __init__(self, length: int, tail: bytes, name: str, prep: Prepared, limit: int,
                 formats: tuple[int, ...], describe: bool) -> None:
        self.length = length
        self.tail = tail
        self.name = name
        self.prep = prep
        self.limit = limit
        self.formats = formats
        self.describe = describe


def same_point(conn: Connection, buf: bytearray
               ) -> tuple[Prepared, tuple[int], tuple[int, ...], bool] | None:
    """(statement, parameters, result formats, Describe?) of the batch in ``buf`` if it has
    a layout the connection keeps (see PointBind) with a value ``int_params`` reads: what
    the general cut and ``int_params`` give for it; None: anything else (the general cut)."""
    heads = conn.point_heads
    if heads is None:
        return None
    for at in conn.point_ats:  # (the head lengths kept, the latest first: usually one)
        point = heads.get(bytes(buf[:at]))
        if point is not None:
            break
    else:
        return None
    length = point.length
    end = at + length  # just past the value
    if buf[end:] != point.tail:
        return None
    raw = bytes(buf[at:end])
    if not ((length <= point.limit and raw.isdigit()) or (raw[:1] == b"-" and raw[1:].isdigit())):
        return None
    prep = point.prep
    if conn.prepared.get(point.name) is not prep:  # closed or parsed anew since
        return None
    return prep, (int(raw),), point.formats, point.describe


MAX_POINT_HEADS = 64
"""Heads a connection keeps (statements × value lengths; an integer has at most 20
characters); past it they are forgotten and kept again as batches come."""
MAX_POINT_ATS = 4
"""Head lengths ``same_point`` tries (statement names of that many lengths)."""


def _note_point(conn: Connection, data: bytes, body: bytes, end: int, name: str, prep: Prepared,
                formats: tuple[int, ...], describe: bool) -> None:
    """Keep the layout of a batch ``int_params`` read (one parameter): ``conn.point_heads``."""
    at = 5 + end + 9  # just past the value's length, in the batch (name, 0, formats, count)
    length = int.from_bytes(data[at - 4 : at], "big")
    heads = conn.point_heads
    if heads is None or len(heads) >= MAX_POINT_HEADS:
        heads = conn.point_heads = {}
        conn.point_ats = ()
    heads[data[:at]] = PointBind(length, data[at + length:], name, prep, prep.int_digits[0],
                                 formats, describe)
    ats = conn.point_ats
    if not ats or ats[0] != at:
        conn.point_ats = (at, *(a for a in ats if a != at))[:MAX_POINT_ATS]


def _cut(conn: Connection, buf: bytearray
         ) -> tuple[Prepared, tuple[Any, ...], tuple[int, ...], bool] | None:
    """(statement, decoded parameters, result-format list, Describe?) of the batch in ``buf``
    if it is one the lanes may take (one Bind of the unnamed portal to a known statement, an
    optional Describe, Execute, Sync); None: not such a batch. Errors (a bad message or
    parameter) are raised for the caller (the loop then reports them)."""
    point = same_point(conn, buf)
    if point is not None:  # a kept layout: the general cut's answer
        return point
    data = bytes(buf)
    cut = _bind_body(data)
    if cut is None:
        return None
    body, describe = cut
    end = body.find(0, 1)
    name = body[1:end]
    prep = conn.prepared.get(name.decode()) if body[0] == 0 and end > 0 and name.isascii() else None
    if prep is not None:
        plain = int_params(body, end + 1, prep.int_digits)
        if plain is not None:
            if len(prep.int_digits) == 1:
                _note_point(conn, data, body, end, name.decode(), prep, plain[1], describe)
            return prep, plain[0], plain[1], describe
    # the general cut and decoding
    portal_name, stmt_name, param_formats, values, result_formats = _bind_fields(body)
    prep = conn.prepared.get(stmt_name)
    if portal_name or prep is None or len(values) != len(prep.param_oids):
        return None
    params: tuple[Any, ...] = ()
    if values:
        params = conn._decode_params(prep.param_oids, m.formats_for(param_formats, len(values)),
                                     values)
    return prep, params, tuple(result_formats), describe


def answer_batch(conn: Connection, buf: bytearray) -> bool:
    """Answer the batch in ``buf`` (and empty it) if it qualifies; False: nothing was done."""
    session = idle_session(conn)
    if session is None or len(buf) > MAX_BATCH_BYTES or buf[-5:] != _SYNC:
        return False
    try:
        cut = _cut(conn, buf)
        if cut is None:
            return False
        prep, params, key, describe = cut
        tr = conn._revalidate(prep)
        kind = tr.kind
        if kind is QUERY:
            encoders = prep.encoders.get(key)
            description = prep.descriptions.get(key) if describe else b""
            if encoders is None or description is None:
                return False  # the first run of a format list goes through the loop (it caches them)
        elif kind is COMMAND or kind is BEGIN or kind is COMMIT:
            encoders, description = [], m.NO_DATA if describe else b""
        else:
            return False
        auto = session.txn is None and (tr.is_write or kind is COMMAND)
        if auto and kind is not COMMAND:
            return False  # an autocommit write with rows: the loop
    except Exception:  # noqa: BLE001 - SqlError, ProtocolViolation, ...: the loop reports it
        return False
    if auto:  # an autocommit write: answered once durable (fastauto.py), else the loop
        return answer_auto_batch(conn, buf, session, tr, prep.sql, params, description)
    if kind is COMMIT:  # answered once durable
        return answer_commit(conn, buf, session, tr, prep.sql, (m.BIND_COMPLETE, description))
    session.backend.start_query(prep.sql)
    if run_in_lane(conn, session, _run, conn, session, tr, params, encoders, description, buf, None):
        return True
    return queue_write(conn, buf, session, tr,  # a busy writer: queued for it
                       functools.partial(_run, conn, session, tr, params, encoders, description))


def _run(conn: Connection, session: Session, tr: Translation, params: tuple[Any, ...],
         encoders: list[Encoder], description: bytes, buf: bytearray, error: SqlError | None
         ) -> bool:
    """Run the statement as ``_execute_now`` does (the read lane, else the write lane) and
    write the answer; False (nothing sent) when neither lane takes it now. With ``error``
    (the end of a writer wait, fastwait.py): that error is the statement's answer."""
    send = conn.out.append  # (conn.send, without the call)
    send(m.BIND_COMPLETE)
    if description:
        send(description)
    try:
        if error is not None:
            raise error
        if tr.kind is QUERY and session.txn is None:
            result = session.try_fast_read(tr, params)
            if result is None:
                conn.out.clear()
                return False
        else:
            result = session.try_fast_statement(tr, params)  # BEGIN, statements in a block
            if result is None:
                conn.out.clear()
                return False
            conn.statement_notices(tr, result)
        rows = result.rows
        if rows is not None:
            send_rows(conn.out, rows, encoders)
        send(command_complete(result.tag))
    except SqlError as exc:  # as the loop's Skip to Sync: the error, then ReadyForQuery
        session.fail()
        conn.send_error(exc)
    except Exception as exc:  # noqa: BLE001 - StorageError, FatalSessionError, a bug: as the loop
        if lane_error(conn, buf, session, exc):
            return True
    conn.portals.pop("", None)  # Sync: the unnamed portal goes, and outside a block all others
    if session.txn is None:
        conn.portals.clear()
    conn.send(ready_for(session))
    return send_answer(conn, buf, session)
