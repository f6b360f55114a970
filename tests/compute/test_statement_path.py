"""The statement path's fast lanes answer exactly as the general path does (issue 16).

- the literal lifter's plain-text fast path finds what the general scanner finds;
- the wire buffer cuts messages however the bytes arrive, and refuses a bad length at once;
- a whole pipeline of Parse/Bind/Describe/Execute/Sync in one packet, with an error in the
  middle (skip to Sync), binary and text results, row limits and a simple-query shape read
  over a literal that changes.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from compute import sqlcache
from compute.pgwire.extended import _bind_fields, _describe_fields, _execute_fields
from compute.pgwire.wire import BadLength, WireProtocol
from strata.pgwire import messages as m
from tests.compute.inprocess import InProcessNode, small_standalone
from tests.compute.rawclient import RawClient, message
from tests.support import outcome


def _general_lift(sql: str) -> tuple[str, list[str]] | None:
    """sqlcache.lift's general scanner alone (the reference for its plain-text fast path)."""
    if sqlcache._UNSAFE.search(sql):
        return None
    literals: list[str] = []
    out: list[str] = []
    pos = 0
    for found in sqlcache._LITERAL.finditer(sql):
        if found.lastgroup != "num":
            continue
        start = sqlcache._unary_minus_start(sql, found.start(), pos)
        literals.append(sql[start : found.end()].replace(" ", ""))
        out.append(sql[pos:start])
        out.append(f"${len(literals)}")
        pos = found.end()
    if not literals:
        return None
    out.append(sql[pos:])
    return "".join(out), literals


def test_plain_lift_matches_the_general_scanner() -> None:
    tokens = ["SELECT", "a", "FROM", "t", "WHERE", "x", "=", " ", ".", "e", "E", "+", "1", "22",
              "3.5", "7e3", "1.2.3", "_", "$", "/*", "/", "(", ")", ",", "<", "*", "a1", "0x1"]
    rng = random.Random(16)
    checked = 0
    for _ in range(20_000):
        sql = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 14)))
        assert sqlcache._lift_plain(sql) == _general_lift(sql), sql
        checked += 1
    assert checked == 20_000
    assert sqlcache.lift("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;") == (
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1;", ["4711"])


def test_direct_field_cutting_matches_the_reader() -> None:
    """Bind/Describe/Execute cut without a Reader: same fields, same errors, for any bytes."""
    rng = random.Random(61)
    pieces = [b"\0", b"p", b"S", b"P", b"\xff", b"\xc3\xa9", b"\0\0", b"\0\1", b"\xff\xff",
              b"\0\0\0\2", b"\xff\xff\xff\xff", b"\0\0\0\0", b"42", b"\xff\xff\xff\xfe"]
    for _ in range(30_000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert outcome(_bind_fields, body) == outcome(m.parse_bind, body), body
        assert outcome(_describe_fields, body) == outcome(m.parse_describe_or_close, body), body
        assert outcome(_execute_fields, body) == outcome(m.parse_execute, body), body
    for params in ([], [b"1"], [None, b"abc"], [b"", b"x" * 300]):
        for formats in (b"\0\0", b"\0\1\0\1", b"\0\1\0\0", b"\0\1\0\2", b"\0\2\0\0\0\1"):
            body = b"portal\0stmt\0\0\0" + struct.pack("!h", len(params)) + b"".join(
                b"\xff\xff\xff\xff" if v is None else struct.pack("!i", len(v)) + v for v in params) + formats
            assert outcome(_bind_fields, body) == outcome(m.parse_bind, body), body


def test_wire_buffer_cuts_messages_from_any_chunking() -> None:
    messages = [message(b"Q", b"select 1\0"), message(b"S", b""), message(b"B", bytes(300))]
    stream = b"".join(messages)
    rng = random.Random(7)
    for _ in range(200):
        wire = WireProtocol(lambda w: None)
        got: list[tuple[bytes, bytes]] = []
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 40)
            wire.data_received(stream[pos : pos + step])
            pos += step
            while (msg := wire.take_message(1000)) is not None:
                got.append(msg)
        assert got == [(b"Q", b"select 1\0"), (b"S", b""), (b"B", bytes(300))]
        assert not wire.buf


def test_wire_buffer_refuses_a_bad_length_before_the_body() -> None:
    wire = WireProtocol(lambda w: None)
    wire.data_received(b"Q" + struct.pack("!i", 5000))  # header only: body over the limit
    with pytest.raises(BadLength):
        wire.take_message(1000)
    wire = WireProtocol(lambda w: None)
    wire.data_received(b"Q" + struct.pack("!i", 3))
    with pytest.raises(BadLength):
        wire.take_message(1000)


def test_wire_read_message_waits_for_the_rest() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        wire = WireProtocol(lambda w: None)
        wire.data_received(b"Q" + struct.pack("!i", 10) + b"sel")
        reading = asyncio.ensure_future(wire.read_message(1000))
        await asyncio.sleep(0)
        assert not reading.done()
        wire.data_received(b"ec\0")
        return await reading

    assert asyncio.run(scenario()) == (b"Q", b"selec\0")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[InProcessNode]:
    with small_standalone(tmp_path / "data", max_readers=2) as n:
        yield n



def _parse(name: str, sql: str) -> bytes:
    return message(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))


def _bind(statement: str, params: list[bytes], result_format: int | None = None, portal: str = "") -> bytes:
    body = portal.encode() + b"\0" + statement.encode() + b"\0" + struct.pack("!h", 0)
    body += struct.pack("!h", len(params)) + b"".join(struct.pack("!i", len(p)) + p for p in params)
    body += struct.pack("!h", 0) if result_format is None else struct.pack("!hh", 1, result_format)
    return message(b"B", body)


def _execute(limit: int = 0, portal: str = "") -> bytes:
    return message(b"E", portal.encode() + b"\0" + struct.pack("!i", limit))


def _describe_portal(portal: str = "") -> bytes:
    return message(b"D", b"P" + portal.encode() + b"\0")


SYNC = message(b"S", b"")


def _data_rows(replies: list[tuple[bytes, bytes]]) -> list[bytes]:
    """The first column of each DataRow."""
    out = []
    for kind, body in replies:
        if kind == b"D":
            (n,) = struct.unpack("!i", body[2:6])
            out.append(body[6 : 6 + n])
    return out


def test_pipeline_in_one_packet_with_an_error_skipped_to_sync(node: InProcessNode) -> None:
    c = RawClient(node.server.port)
    c.exchange(message(b"Q", b"create table t (id int primary key, v text); "
                              b"insert into t select g, 'v' || g from generate_series(1, 50) g\0"))
    c.exchange(_parse("get", "select v from t where id = $1"), SYNC)
    pipeline = []
    for i in (1, 2, 3):
        pipeline += [_bind("get", [str(i).encode()]), _describe_portal(), _execute(), SYNC]
    pipeline += [_bind("get", [b"4"]), _execute(), _bind("nosuch", []), _execute(),
                 _bind("get", [b"5"]), _execute(), SYNC]
    pipeline += [_bind("get", [b"6"], result_format=1), _execute(), SYNC]
    c.sock.sendall(b"".join(pipeline))
    replies = []
    for _ in range(5):
        replies += c.until_ready()
    kinds = [k for k, _ in replies]
    assert kinds.count(b"Z") == 5
    assert kinds.count(b"T") == 3  # one RowDescription per Describe
    # id 5 came after the error: skipped to Sync
    assert _data_rows(replies) == [b"v1", b"v2", b"v3", b"v4", b"v6"]
    errors = [body for k, body in replies if k == b"E"]
    assert len(errors) == 1 and b"C26000" in errors[0]
    c.exchange(_bind("get", [b"7"]), _execute(), SYNC)  # the session goes on


def test_row_limits_on_a_portal_suspend(node: InProcessNode) -> None:
    c = RawClient(node.server.port)
    c.exchange(_parse("all", "select g from generate_series(1, 5) g"), SYNC)
    replies = c.exchange(_bind("all", [], portal="p"), _execute(2, "p"), _execute(2, "p"),
                         _execute(2, "p"), SYNC)
    kinds = [k for k, _ in replies]
    assert kinds.count(b"s") == 2  # PortalSuspended twice, then CommandComplete
    assert _data_rows(replies) == [b"1", b"2", b"3", b"4", b"5"]
    assert [k for k, _ in replies][-2:] == [b"C", b"Z"]


def test_simple_query_shape_reads_follow_the_literal_and_the_data(node: InProcessNode) -> None:
    c = RawClient(node.server.port)
    c.exchange(message(b"Q", b"create table a (aid int primary key, abalance int); "
                              b"insert into a select g, g * 10 from generate_series(1, 100) g\0"))
    for aid in (7, 8, 99, 7, 12345):
        replies = c.exchange(message(b"Q", f"SELECT abalance FROM a WHERE aid = {aid};\0".encode()))
        assert _data_rows(replies) == ([str(aid * 10).encode()] if aid <= 100 else [])
        assert [k for k, _ in replies] == [b"T"] + [b"D"] * (aid <= 100) + [b"C", b"Z"]
    c.exchange(message(b"Q", b"update a set abalance = -1 where aid = 8\0"))
    assert _data_rows(c.exchange(message(b"Q", b"SELECT abalance FROM a WHERE aid = 8;\0"))) == [b"-1"]
    replies = c.exchange(message(b"Q", b"SELECT abalance / 0 FROM a WHERE aid = 9;\0"))
    assert any(k == b"E" and b"C22012" in body for k, body in replies)
    assert replies[-1] == (b"Z", b"I")


def _shapes(node: InProcessNode) -> list[sqlcache._Shape]:
    cache = node.engine.databases["postgres"].shapes
    return [s for s in cache._shapes.values() if s is not None]


def test_bound_shape_reads_answer_as_the_text_does(node: InProcessNode) -> None:
    """A comparison with an int literal runs as the template with the literal bound; its
    answers are the ones the written-out text gives (the same statements inside a transaction
    block, where the general path runs the text)."""
    c = RawClient(node.server.port)
    c.exchange(message(b"Q", b"create table k (id int primary key, t text, r real, n numeric); "
                              b"insert into k values (1, '5', 5.0, 5), (2, '05', 0.5, 0.5), "
                              b"(3, 'x', 7, 7)\0"))
    queries = ["SELECT id FROM k WHERE t = '{}'", "SELECT id FROM k WHERE r >= {}",
               "SELECT id FROM k WHERE n < {} ORDER BY id", "SELECT id FROM k WHERE id <> {} ORDER BY id",
               "SELECT {} AS c, id FROM k WHERE id = 3", "SELECT id FROM k ORDER BY {}",
               "SELECT id FROM k WHERE id = {} AND r > {}", "SELECT id FROM k WHERE r::int = {}"]
    for text in queries:
        for v in (1, 5, 6, 7, 2, 3):
            sql = text.replace("{}", str(v))
            fast = c.exchange(message(b"Q", (sql + "\0").encode()))
            c.exchange(message(b"Q", b"BEGIN\0"))
            general = c.exchange(message(b"Q", (sql + "\0").encode()))
            c.exchange(message(b"Q", b"ROLLBACK\0"))
            assert _data_rows(fast) == _data_rows(general), sql
            assert [k for k, _ in fast][:-1] == [k for k, _ in general][:-1], sql
    bound = {s.templates[0].steps[0] for s in _shapes(node) if s.bind}
    unbound = {s.templates[0].steps[0] for s in _shapes(node) if s.fast and not s.bind}
    assert any("?2" in step for step in bound)  # id = ?1 AND r > ?2
    assert any("ORDER BY ?1" in step.upper() for step in unbound)  # a position, not a value
