"""The raw relay of server messages (``ServerConn.relay_some``/``read_frame``) without
processes: messages pass as bytes, LSN reports are consumed, partial messages wait."""

from __future__ import annotations

import asyncio

from proxy.backend import Backend, Link, ServerConn
from strata.pgwire import messages as m


def _conn(data: bytes) -> ServerConn:
    conn = ServerConn(Backend("127.0.0.1:1"), "db", "u", Link(bytearray(), None))
    conn._buf += data
    return conn


def test_relay_passes_rows_and_consumes_lsn_reports() -> None:
    rows = b"".join(m.data_row([str(i).encode()]) for i in range(50))
    data = (rows + m.parameter_status("strata.commit_lsn", "1234") + m.command_complete("SELECT 50")
            + m.parameter_status("strata.replay_lsn", "99") + m.parameter_status("TimeZone", "UTC")
            + m.READY[b"T"] + m.data_row([b"next"]))
    conn = _conn(data)
    out: list[bytes] = []
    stop, error = conn.relay_some(out)
    assert (stop, error, conn.last_status) == (b"Z", False, b"T")
    assert b"".join(out) == (rows + m.command_complete("SELECT 50") + m.parameter_status("TimeZone", "UTC")
                             + m.READY[b"T"])
    assert conn.backend.commits.lsn == 1234 and conn.backend.replay_lsn == 99 and conn.params["TimeZone"] == "UTC"
    kind, frame = asyncio.run(conn.read_frame())  # what follows the ReadyForQuery stays buffered
    assert (kind, frame) == (b"D", m.data_row([b"next"]))


def test_relay_stops_at_a_partial_message_and_reports_errors_and_copy() -> None:
    err = m.error_response("42P01", "no such table")
    whole = err + m.READY[b"I"]
    conn = _conn(whole[:len(err) + 3])
    out: list[bytes] = []
    assert conn.relay_some(out) == (b"", True)
    assert b"".join(out) == err
    conn._buf += whole[len(err) + 3:]
    out.clear()
    assert conn.relay_some(out) == (b"Z", False)
    assert b"".join(out) == m.READY[b"I"] and conn.last_status == b"I"
    copy_in = bytes(m.message(b"G", b"\x00\x00\x00"))
    conn = _conn(copy_in + m.READY[b"I"])
    out.clear()
    assert conn.relay_some(out) == (b"G", False)
    assert b"".join(out) == copy_in


def test_bind_rewrite_matches_the_reader_based_one() -> None:
    import pytest

    from proxy.client import _bind_names
    from strata.pgwire import frontend as fe
    for body in (b"\x00st1\x00\x00\x00\x00\x01\x00\x00\x00\x016\x00\x00", b"p\x00\x00\x00\x00\x00\x00\x00\x00",
                 "pörtal\x00ställe\x00".encode() + b"\x00\x01\x00\x01\x00\x01\x00\x00\x00\x02ab\x00\x00"):
        portal, stmt, (a, b) = _bind_names(body)
        assert (portal, stmt) == fe.bind_statement(body)
        rewritten = m.message(b"B", b"".join((body[:a], b"strata_x", body[b:])))
        assert rewritten == fe.bind_with_statement(body, "strata_x")
    with pytest.raises(m.ProtocolViolation):
        _bind_names(b"portal\x00stmt")
    with pytest.raises(m.InvalidEncoding):
        _bind_names(b"\x00\xff\xfe\x00")
