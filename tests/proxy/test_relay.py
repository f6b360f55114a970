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


def test_lsn_reports_read_without_decoding_as_before() -> None:
    """``consumed`` takes the compute's LSN reports from their bytes; anything that is not
    ASCII digits goes the decoding way, with the same outcome as before (a value that is not
    a number is an ordinary parameter, relayed; other digits than ASCII still count)."""
    conn = _conn(b"")
    assert conn.consumed(b"strata.commit_lsn\x00917009216\x00")
    assert conn.backend.commits.lsn == 917009216
    assert conn.consumed(b"strata.replay_lsn\x0042\x00") and conn.backend.replay_lsn == 42
    assert not conn.consumed(b"strata.commit_lsn\x0012a\x00")  # not a number: a parameter
    assert conn.params["strata.commit_lsn"] == "12a" and conn.backend.commits.lsn == 917009216
    assert not conn.consumed(b"strata.replay_lsn\x00\x00")
    assert conn.consumed("strata.commit_lsn\x00٩٩٩٩٩٩٩٩٩٩\x00".encode())  # str.isdigit, int() as before
    assert conn.backend.commits.lsn == 9999999999
    assert not conn.consumed(b"strata.commit_lsnx\x001\x00") and conn.params["strata.commit_lsnx"] == "1"
    assert not conn.consumed(b"TimeZone\x00UTC\x00") and conn.params["TimeZone"] == "UTC"
    import pytest
    with pytest.raises(m.ProtocolViolation):
        conn.consumed(b"strata.commit_lsn")


def _session():  # type: ignore[no-untyped-def]
    from proxy.client import ClientSession
    from proxy.config import ProxyConfig
    from proxy.server import ProxyServer

    async def make():  # type: ignore[no-untyped-def]
        server = ProxyServer(ProxyConfig(primary="127.0.0.1:1", auth="trust"))
        return ClientSession(server, asyncio.StreamReader(), None)  # type: ignore[arg-type]
    return asyncio.run(make())


def test_lane_query_takes_exactly_what_parse_query_takes() -> None:
    """The fast lane's Query check (no Reader) accepts the bodies ``parse_query`` accepts,
    with the same text, and refuses the ones it refuses (the message loop answers those)."""
    from strata.pgwire import frontend as fe
    cs = _session()
    bodies = [b"SELECT 1\x00", b"BEGIN;\x00", "SELECT 'ä'\x00".encode(), b"SELECT 1\x00\x00",
              b"SELECT 1\x00x\x00", b"SELECT 1", b"\x00", b"SELECT '\xff'\x00", b"UPDATE t SET a = 1\x00",
              b"SET x = 1\x00", b"SELECT 1; SELECT 2\x00"]
    for body in bodies:
        buf = bytearray(fe.frame(b"Q", body))
        got = cs._lane_query(buf, 0)
        try:
            sql = m.parse_query(body)
        except (m.ProtocolViolation, m.InvalidEncoding):
            assert got is None, body
            continue
        statements = cs.proxy.classifier.classify(sql)
        lane = len(statements) == 1 and statements[0].kind.value in ("read", "write", "begin", "end")
        assert (got is not None) == lane, body
        if got is not None:
            assert got == ([(b"Q", body)], statements)


def test_lane_extended_batches_and_their_rewrite() -> None:
    """Bind + Describe + Execute + Sync (and Bind + Execute + Sync) of the client's named
    statements are lane batches, read in one comparison after the Bind or message by
    message; anything else is not; the Binds go out under the server's statement names."""
    import struct

    from strata.pgwire import frontend as fe
    cs = _session()
    cs.statements["s1"] = ("strata_aaa", "SELECT $1::int", [])
    cs.statements["s2"] = ("strata_bbbb", "UPDATE t SET a = $1", [])
    cs.statements["s3"] = ("strata_c", "SET x = 1", [])
    bind1 = b"\x00s1\x00" + struct.pack("!hh", 0, 1) + struct.pack("!i", 2) + b"42" + struct.pack("!h", 0)
    bind2 = b"\x00s2\x00" + struct.pack("!hhh", 0, 0, 0)
    d, e, s = fe.describe("P", ""), fe.frame(b"E", b"\x00" + struct.pack("!i", 0)), fe.SYNC
    B1, B2 = fe.frame(b"B", bind1), fe.frame(b"B", bind2)  # noqa: N806
    des = [(b"D", b"P\x00"), (b"E", b"\x00\x00\x00\x00\x00"), (b"S", b"")]
    cases: list[tuple[bytes, list[tuple[bytes, bytes]] | None]] = [
        (B1 + d + e + s, [(b"B", bind1), *des]),
        (B1 + e + s, [(b"B", bind1), *des[1:]]),
        (B1 + d + e + B2 + e + s, [(b"B", bind1), *des[:2], (b"B", bind2), *des[1:]]),
        (B1 + d + e + s + b"x", None),                                  # bytes after the Sync
        (B1 + d + e + s + s, None),
        (B1 + fe.describe("S", "s1") + e + s, None),                     # Describe of a statement
        (B1 + d + fe.frame(b"E", b"\x00" + struct.pack("!i", 5)) + s, None),  # a row limit
        (fe.frame(b"B", b"p\x00s1\x00\x00\x00\x00\x00\x00\x00") + e + s, None),  # a named portal
        (fe.frame(b"B", b"\x00s3\x00\x00\x00\x00\x00\x00\x00") + e + s, None),   # a SET
        (fe.frame(b"B", b"\x00nope\x00\x00\x00\x00\x00\x00\x00") + e + s, None),  # unknown name
        (d + e + s, None),                                               # nothing bound
        (B1 + d + e, None),                                              # no Sync yet
    ]
    for data, want in cases:
        binds: list[tuple[str, bytes, int, int]] = []
        got = cs._lane_extended(bytearray(data), 0, binds)
        assert (got[0] if got is not None else None) == want, data
    binds = []
    got = cs._lane_extended(bytearray(B1 + d + e + B2 + e + s), 0, binds)
    assert got is not None and [st.kind.value for st in got[1]] == ["read", "write"]
    conn = ServerConn(Backend("127.0.0.1:1"), "db", "u", Link(bytearray(), None))
    assert cs._lane_extended_out(conn, got[0], binds) is None  # the connection lacks them
    conn.prepared.update({"strata_aaa", "strata_bbbb"})
    out = cs._lane_extended_out(conn, got[0], binds)
    assert out == (fe.bind_with_statement(bind1, "strata_aaa") + d + e
                   + fe.bind_with_statement(bind2, "strata_bbbb") + e + s)
    assert cs.portals[""] == "UPDATE t SET a = $1"
