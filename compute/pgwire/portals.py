"""The wire side of cursors: FETCH / MOVE on protocol portals, portals executed with a row limit
read from a streaming cursor (compute/cursors.py), and client text converted to UTF-8 as read
(compute/pgwire/encoding.py). Kept apart so the connection's message loop stays short."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compute.pgwire.encoding import wrap_encoders
from compute.pgwire.results import (
    cached_row_description,
    cached_row_encoders,
    result_columns,
    row_encoders,
)
from compute.sql.api import SqlError, Translation
from strata.pgwire import messages as m

if TYPE_CHECKING:
    from compute.pgwire.extended import Portal
    from compute.pgwire.server import Connection
    from compute.session import Session


async def convert_in(conn: Connection, kind: bytes, body: bytes, session: Session) -> bytes | None:
    """A message's text in UTF-8, or None after reporting a character without an equivalent."""
    assert conn.transcoder is not None
    try:
        return conn.transcoder.incoming(kind, body)
    except SqlError as exc:
        if session.txn is not None:
            session.fail()
        conn.send_error(exc)
        if kind == b"Q":
            conn.send(m.READY[session.status.value])
        await conn.flush()
        return None


async def fetch_portal(conn: Connection, tr: Translation, portal: Portal, result_formats: list[int],
                       describe: bool) -> None:
    """FETCH / MOVE on a portal of the extended protocol (asyncpg's cursor.forward): any direction
    on a streaming one (as a NO SCROLL cursor), FORWARD on one read whole."""
    spec = tr.fetch
    assert spec is not None and conn.session is not None
    if portal.stream is not None:
        count, rows = await conn.session.cursors.fetch_stream(portal.stream, spec)
    elif portal.rows is None or spec.direction != "forward" or spec.count < 0:
        raise SqlError("0A000", "only FETCH / MOVE FORWARD on a protocol-level portal read whole is supported")
    else:
        end = min(len(portal.rows), portal.pos + spec.count)
        rows, portal.pos = portal.rows[portal.pos : end], end
        count = len(rows)
    if spec.move:
        return conn.send(m.command_complete(f"MOVE {count}"))
    columns = result_columns(portal.translation)
    if describe:
        conn.send(cached_row_description(columns, tuple(result_formats)))
    encoders = cached_row_encoders(columns, tuple(result_formats))
    if conn.styled:  # DateStyle / IntervalStyle other than the defaults
        encoders = conn.styled_encoders(encoders, columns, result_formats)
    conn._send_rows(rows, wrap_encoders(conn.transcoder, encoders, columns, result_formats))
    conn.send(m.command_complete(f"FETCH {len(rows)}"))


async def stream_portal(conn: Connection, portal: Portal, limit: int) -> None:
    """Execute with a row limit in a transaction block: the rows come from a streaming cursor, so a
    big result is never held whole (PortalSuspended until the cursor is done)."""
    session = conn.session
    assert session is not None
    columns, formats = result_columns(portal.translation), portal.result_formats
    if portal.stream is None:
        portal.stream = await session.cursors.open_stream(portal.translation, portal.params)
        encoders = row_encoders(columns, formats)
        if conn.styled:  # DateStyle / IntervalStyle other than the defaults
            encoders = conn.styled_encoders(encoders, columns, formats)
        portal.encoders = wrap_encoders(conn.transcoder, encoders, columns, formats)
    rows, done = await session.cursors.next_rows(portal.stream, limit)
    conn._send_rows(rows, portal.encoders)
    conn.send(m.command_complete(f"SELECT {len(rows)}") if done else m.PORTAL_SUSPENDED)
