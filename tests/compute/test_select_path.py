"""Per-select short cuts of session 16 answer exactly as the code they replace (issue 16).

- ``results.row_output`` (encoders and RowDescription kept by the columns tuple's identity)
  gives what the lru caches give, per format list, and a result shape changed by DDL is
  described anew on both callback lanes;
- ``lanes.ready_for`` is ReadyForQuery of ``Session.status`` in every state, on the lanes;
- ``messages.parse_query`` and ``messages.data_row``'s short cuts give the general code's
  bytes and errors for any input.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from compute.pgwire import lanes, results
from compute.session import Session
from compute.sql.api import ColumnDesc
from strata.pgwire import messages as m
from tests.compute.inprocess import InProcessNode, small_standalone
from tests.compute.rawclient import RawClient, message
from tests.support import outcome


def test_row_output_is_what_the_lru_caches_give() -> None:
    cols = (ColumnDesc("a", 23), ColumnDesc("b", 25))
    same = (ColumnDesc("a", 23), ColumnDesc("b", 25))  # equal, another tuple
    other = (ColumnDesc("a", 20),)
    for columns in (cols, same, other, cols):
        for formats in ([], [0], [1], [], [1]):
            encoders, description = results.row_output(columns, formats)
            assert description == results.cached_row_description(columns, tuple(formats))
            expected = results.cached_row_encoders(columns, tuple(formats))
            assert [e(7) for e in encoders] == [e(7) for e in expected]
    text, _ = results.row_output(other, [])
    binary, _ = results.row_output(other, [1])
    assert text[0](7) == b"7" and binary[0](7) == struct.pack("!q", 7)  # int8 binary
    with pytest.raises(m.ProtocolViolation):  # a bad format list is refused as before
        results.row_output(cols, [0, 1, 0])


def test_row_output_entries_are_bounded() -> None:
    kept = [tuple(ColumnDesc(f"c{i}", 23) for _ in range(1)) for i in range(results.MAX_KEPT_OUTPUTS + 5)]
    for columns in kept:
        results.row_output(columns, [])
    assert len(results._OUTPUTS) <= results.MAX_KEPT_OUTPUTS
    for columns in kept[-3:]:  # kept ones are still right
        _, description = results.row_output(columns, [])
        assert description == m.row_description(columns, [])


class _State:
    def __init__(self, txn: object, failed: bool) -> None:
        self.txn = txn
        self.failed = failed


def test_ready_for_is_the_status_message() -> None:
    for txn, failed in ((None, False), (None, True), (object(), False), (object(), True)):
        state = _State(txn, failed)
        status = Session.status.fget(state)  # type: ignore[attr-defined]
        assert lanes.ready_for(state) == m.READY[status.value]  # type: ignore[arg-type]


def _reference_parse_query(body: bytes) -> str:
    r = m.Reader(body)
    text = r.cstring()
    r.done()
    return text


def _reference_data_row(values: list[bytes | None]) -> bytes:
    parts = [struct.pack("!h", len(values))]
    for v in values:
        parts.append(b"\xff\xff\xff\xff" if v is None else struct.pack("!i", len(v)) + v)
    body = b"".join(parts)
    return b"D" + struct.pack("!i", len(body) + 4) + body


def test_parse_query_and_data_row_match_the_general_code() -> None:
    rng = random.Random(1616)
    pieces = [b"\0", b"select 1", b"\xc3\xa9", b"\xff", b";", b" ", b"x"]
    for _ in range(20_000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        assert outcome(m.parse_query, body) == outcome(_reference_parse_query, body), body
    values: list[bytes | None] = [None, b"", b"1", b"abc", bytes(300), b"\0\xff"]
    for _ in range(5_000):
        row = [rng.choice(values) for _ in range(rng.randint(0, 4))]
        assert m.data_row(row) == _reference_data_row(row), row


@pytest.fixture
def node(tmp_path: Path) -> Iterator[InProcessNode]:
    with small_standalone(tmp_path / "data", max_readers=2) as n:
        yield n


def _q(c: RawClient, sql: str) -> list[tuple[bytes, bytes]]:
    return c.exchange(message(b"Q", sql.encode() + b"\0"))


def _column_type(replies: list[tuple[bytes, bytes]]) -> int:
    """The first column's type OID in the RowDescription among ``replies``."""
    (body,) = [b for k, b in replies if k == b"T"]
    end = body.index(b"\0", 2)
    return int(struct.unpack("!I", body[end + 7 : end + 11])[0])


def _values(replies: list[tuple[bytes, bytes]]) -> list[bytes]:
    out = []
    for kind, body in replies:
        if kind == b"D":
            (n,) = struct.unpack("!i", body[2:6])
            out.append(body[6 : 6 + n])
    return out


def _status(replies: list[tuple[bytes, bytes]]) -> bytes:
    assert replies[-1][0] == b"Z"
    return replies[-1][1]


def _prepared(c: RawClient, value: bytes) -> list[tuple[bytes, bytes]]:
    body = b"\0get\0" + struct.pack("!hhi", 0, 1, len(value)) + value + struct.pack("!h", 0)
    return c.exchange(message(b"B", body), message(b"D", b"P\0"),
                      message(b"E", b"\0" + struct.pack("!i", 0)), message(b"S", b""))


def test_result_shape_after_ddl_and_ready_status_on_the_lanes(node: InProcessNode) -> None:
    c = RawClient(node.server.port)
    _q(c, "create table t (id int primary key, v int); insert into t values (1, 10), (2, 20)")
    for i in (1, 2, 1):  # the shape is learned, then answered from the callback lane
        replies = _q(c, f"select v from t where id = {i}")
        assert _column_type(replies) == 23 and _values(replies) == [b"%d" % (i * 10)]
        assert _status(replies) == b"I"
    c.exchange(message(b"P", b"get\0select v from t where id = $1\0" + struct.pack("!h", 0)),
               message(b"S", b""))
    replies = _prepared(c, b"2")
    assert _column_type(replies) == 23 and _values(replies) == [b"20"] and _status(replies) == b"I"
    assert _status(_q(c, "begin")) == b"T"
    replies = _q(c, "select v from t where id = 1")
    assert _values(replies) == [b"10"] and _status(replies) == b"T"
    assert _status(_prepared(c, b"1")) == b"T"
    assert _status(_q(c, "select 1 / 0 from t where id = 1")) == b"E"
    assert _status(_prepared(c, b"1")) == b"E"
    assert _status(_q(c, "rollback")) == b"I"
    # the result's type changes: described anew (simple: a new shape; prepared: 0A000 as
    # PostgreSQL's plan cache says, then a fresh statement describes the new type)
    _q(c, "drop table t; create table t (id int primary key, v text); "
          "insert into t values (1, 'one'), (2, 'two')")
    for i, word in ((1, b"one"), (2, b"two"), (1, b"one")):
        replies = _q(c, f"select v from t where id = {i}")
        assert _column_type(replies) == 25 and _values(replies) == [word]
    replies = _prepared(c, b"2")
    assert [b for k, b in replies if k == b"E"][0].count(b"C0A000") == 1
    c.exchange(message(b"C", b"Sget\0"), message(b"S", b""))
    c.exchange(message(b"P", b"get\0select v from t where id = $1\0" + struct.pack("!h", 0)),
               message(b"S", b""))
    for _ in range(2):
        replies = _prepared(c, b"2")
        assert _column_type(replies) == 25 and _values(replies) == [b"two"]
