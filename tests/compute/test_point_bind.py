"""The prepared point select's read lane after session 18 (docs/performance.md, "One-client
prepared select (session 18)"): a connection remembers the layout of its last point Bind
(``fastbatch.same_point``) and takes the next batch of that layout without the general cut,
and a pooled reader keeps one cursor for the read lane's statements.

These tests try to catch the remembered layout answering for a batch the general cut reads
otherwise (another statement, a statement parsed anew under the same name, another value,
format or message length), and the kept cursor carrying anything from one statement to the
next (an error, an interrupted statement, a held snapshot that went stale)."""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from compute.pgwire import extended, fastbatch
from tests.compute.inprocess import InProcessNode, small_standalone
from tests.compute.rawclient import RawClient, message

SYNC = message(b"S", b"")
DESCRIBE = message(b"D", b"P\0")


def _parse(name: str, sql: str) -> bytes:
    return message(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))


def _execute(limit: int = 0) -> bytes:
    return message(b"E", b"\0" + struct.pack("!i", limit))


def _bind(statement: bytes, params: list[bytes | None], formats: bytes = b"\0\0",
          portal: bytes = b"", param_formats: bytes = b"\0\0") -> bytes:
    body = portal + b"\0" + statement + b"\0" + param_formats + struct.pack("!h", len(params))
    body += b"".join(b"\xff\xff\xff\xff" if p is None else struct.pack("!i", len(p)) + p
                     for p in params)
    return message(b"B", body + formats)


class _Prep:
    """What the cut reads of a prepared statement."""

    def __init__(self, digits: tuple[int, ...]) -> None:
        self.int_digits = digits
        self.param_oids = [23] * len(digits)


class _Conn:
    """What the cut reads of a connection (``_decode_params``: the raw values, so that the
    general decoding's answer can be compared too)."""

    point_heads: dict[bytes, fastbatch.PointBind] | None = None
    point_ats: tuple[int, ...] = ()

    def __init__(self, prepared: dict[str, Any]) -> None:
        self.prepared = prepared

    def _decode_params(self, oids: list[int], formats: list[int], values: list[bytes | None]
                       ) -> tuple[Any, ...]:
        return ("decoded", tuple(values))


def _random_batch(rng: random.Random, names: list[bytes]) -> bytearray:
    values = [b"0", b"7", b"-7", b"42", b"123456", b"999999", b"1000000", b"-", b"", b"1e3",
              b"12a", b"\xd9\xa1", b"+5", b"9" * 10, b"9" * 11, b"9" * 19, None]
    params = [rng.choice(values) for _ in range(rng.choice([1, 1, 1, 1, 2, 0]))]
    formats = rng.choice([b"\0\0", b"\0\0", b"\0\1\0\0", b"\0\1\0\1", b"\0\1\0\2", b"\0\2\0\0\0\0"])
    portal = b"" if rng.random() < 0.9 else b"p"
    param_formats = b"\0\0" if rng.random() < 0.9 else b"\0\1\0\0"
    batch = _bind(rng.choice(names), params, formats, portal, param_formats)
    if rng.random() < 0.05:  # a Bind whose length field says one byte more or less
        length = struct.unpack("!i", batch[1:5])[0] + rng.choice([-1, 1])
        batch = batch[:1] + struct.pack("!i", length) + batch[5:]
    tail = rng.choice([[_execute(), SYNC], [_execute(), SYNC], [DESCRIBE, _execute(), SYNC],
                       [_execute(5), SYNC], [_execute(), message(b"H", b""), SYNC]])
    return bytearray(batch + b"".join(tail))


def _same_layout(head: bytes, point: fastbatch.PointBind, value: bytes) -> bytes:
    """A batch of a kept layout (its head and tail) around ``value``."""
    at = len(head)
    formats_size = struct.unpack("!i", head[1:5])[0] - 4 - (at - 5) - point.length
    size = 4 + (at - 5) + len(value) + formats_size
    return (b"B" + struct.pack("!i", size) + head[5 : at - 4] + struct.pack("!i", len(value))
            + value + point.tail)


def test_the_remembered_layout_answers_what_the_general_cut_answers() -> None:
    """Random pairs of batches (one to remember, one to cut): whenever the remembered layout
    takes a batch, the general cut of that batch on a connection that remembers nothing gives
    the same statement, parameters, formats and Describe."""
    rng = random.Random(1818)
    names = [b"P0_1", b"P0_2", b"P1_1", b"", b"\xc3\xa9t"]
    prepared = {"P0_1": _Prep((10,)), "P0_2": _Prep((5,)), "P1_1": _Prep((10, 10)),
                "": _Prep((19,)), "\xe9t": _Prep((10,))}
    taken = declined = 0
    for _ in range(20_000):
        conn = _Conn(prepared)
        for _ in range(100):  # batches until one is remembered
            try:
                fastbatch._cut(conn, _random_batch(rng, names))  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001, S112 - a batch the general cut refuses: nothing kept
                continue
            if conn.point_heads:
                break
        batch = _random_batch(rng, names)
        if conn.point_heads and rng.random() < 0.7:  # a kept layout, another value
            head, point = rng.choice(list(conn.point_heads.items()))
            length = point.length
            value = rng.choice([b"1", b"22", b"333", b"-4", b"55555", b"1234567890", b"x", b"",
                                b"-", b"9" * 11, b"9" * 19, b"09"])
            if rng.random() < 0.7:  # the remembered length: digits, '-' and digits, or not
                value = bytes(rng.choice(b"0123456789" * 5 + b"-x ") for _ in range(length))
            batch = bytearray(_same_layout(head, point, value))
            if rng.random() < 0.4:  # one byte of it changed
                batch[rng.randrange(len(batch))] = rng.randrange(256)
        got = fastbatch.same_point(conn, batch)  # type: ignore[arg-type]
        fresh = _Conn(prepared)
        try:
            general: Any = fastbatch._cut(fresh, batch)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - the general cut refuses it: so must the memory
            general = exc
        if got is None:
            declined += 1
            continue
        taken += 1
        assert general == got, (bytes(batch), got, general)
        assert isinstance(got[1][0], int)
    assert taken > 4_000 and declined > 4_000


def test_a_statement_closed_or_parsed_anew_is_not_taken_from_the_memory() -> None:
    prep, other = _Prep((10,)), _Prep((10,))
    conn = _Conn({"s": prep})
    batch = bytearray(_bind(b"s", [b"5"]) + _execute() + SYNC)
    assert fastbatch._cut(conn, batch) == (prep, (5,), (), False)  # type: ignore[arg-type]
    assert conn.point_heads and fastbatch.same_point(conn, batch) is not None  # type: ignore[arg-type]
    conn.prepared["s"] = other  # Close and Parse again under the same name
    assert fastbatch.same_point(conn, batch) is None  # type: ignore[arg-type]
    assert fastbatch._cut(conn, batch) == (other, (5,), (), False)  # type: ignore[arg-type]
    del conn.prepared["s"]
    assert fastbatch.same_point(conn, batch) is None  # type: ignore[arg-type]
    assert fastbatch._cut(conn, batch) is None  # type: ignore[arg-type]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[InProcessNode]:
    with small_standalone(tmp_path / "data", max_readers=1) as n:
        yield n


def _rows(reply: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [body[6:] for kind, body in reply if kind == b"D"]


def _error(reply: list[tuple[bytes, bytes]]) -> str | None:
    for kind, body in reply:
        if kind == b"E":
            fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
            return fields[b"C"].decode()
    return None


def test_a_statement_parsed_anew_under_the_same_name_answers_as_itself(
        node: InProcessNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a server: the named and the unnamed statement parsed again with other SQL (same
    parameter layout) answer as the new statement, through the callback lane."""
    answered: list[bool] = []
    real = fastbatch.answer_batch

    def counting(conn: Any, buf: bytearray) -> bool:
        done = real(conn, buf)
        answered.append(done)
        return done

    from compute.pgwire import server
    monkeypatch.setattr(server, "answer_batch", counting)
    c = RawClient(node.server.port)
    c.query("create table t (k int primary key, v int)")
    c.query("insert into t select g, g * 10 from generate_series(1, 9) g")
    for name in (b"s", b""):
        c.exchange(_parse(name.decode(), "select v from t where k = $1"), SYNC)
        for k in (1, 2, 3):  # the first one through the loop, the rest from the callback
            assert _rows(c.exchange(_bind(name, [str(k).encode()]), _execute(), SYNC)) == [
                str(k * 10).encode()]
        if name:
            c.exchange(message(b"C", b"S" + name + b"\0"), SYNC)
        c.exchange(_parse(name.decode(), "select v + 1000 from t where k = $1"), SYNC)
        for k in (4, 5, 6):
            assert _rows(c.exchange(_bind(name, [str(k).encode()]), _execute(), SYNC)) == [
                str(k * 10 + 1000).encode()]
    assert sum(answered) >= 6  # the callback answered most of them: the test exercises it


def test_the_readers_kept_cursor_carries_nothing_to_the_next_statement(node: InProcessNode) -> None:
    """One pooled reader: a read that fails at run time, one cancelled by statement_timeout
    and one past its end of rows leave the reader's kept cursor usable, and the next reads
    see the newest commits (held or not)."""
    with psycopg.connect(node.dsn(), autocommit=True, prepare_threshold=0) as a, \
            psycopg.connect(node.dsn(), autocommit=True) as w:
        w.execute("create table t (k int primary key, v int)")
        w.execute("insert into t select g, g from generate_series(1, 50) g")
        get = "select v from t where k = %s"
        for k in (1, 2, 3):
            assert a.execute(get, (k,)).fetchone() == (k,)
        with pytest.raises(psycopg.errors.DivisionByZero):
            a.execute("select 10 / (v - v) from t where k = %s", (4,))
        assert a.execute(get, (4,)).fetchone() == (4,)
        w.execute("update t set v = 400 where k = 4")
        assert a.execute(get, (4,)).fetchone() == (400,)
        a.execute("set statement_timeout = 50")
        with pytest.raises(psycopg.errors.QueryCanceled):
            a.execute("select count(*) from t a, t b, t c, t d where a.v + b.v + c.v + d.v = %s",
                      (-1,))
        a.execute("set statement_timeout = 0")
        assert a.execute(get, (5,)).fetchone() == (5,)
        assert a.execute("select k from t where k > %s order by k", (47,)).fetchall() == [
            (48,), (49,), (50,)]
        w.execute("delete from t where k = 5")
        assert a.execute(get, (5,)).fetchone() is None
        for _ in range(3):
            assert a.execute(get, (6,)).fetchone() == (6,)
        w.execute("update t set v = 600 where k = 6")
        assert a.execute(get, (6,)).fetchone() == (600,)


def test_the_int_digits_of_every_integer_type_fit_the_remembered_limit() -> None:
    """The remembered layout reads at most the digits ``int_params`` reads for the type, for
    every value length it has seen (a head is kept per length)."""
    assert extended._PLAIN_INT_DIGITS  # (int2/int4/int8 and their limits)
    for digits in set(extended._PLAIN_INT_DIGITS.values()):
        conn = _Conn({"s": _Prep((digits,))})
        values = [b"9" * digits, b"9" * (digits + 1), b"-" + b"9" * digits,
                  b"-" + b"9" * (digits + 1), b"1", b"-1", b"1" * (digits - 1)]
        batches = [bytearray(_bind(b"s", [v]) + _execute() + SYNC) for v in values]
        for batch in batches:  # each length seen once through the cut
            fastbatch._cut(conn, batch)  # type: ignore[arg-type]
        for value, batch in zip(values, batches, strict=True):
            got = fastbatch.same_point(conn, batch)  # type: ignore[arg-type]
            body = bytes(batch[5 : 1 + struct.unpack("!i", batch[1:5])[0]])
            plain = fastbatch.int_params(body, 3, (digits,))
            assert (got is None) == (plain is None), (digits, value)
            if got is not None and plain is not None:
                assert got[1] == plain[0]


def test_statements_taking_turns_are_each_taken_from_the_memory() -> None:
    """An autocommit UPDATE and a SELECT of one integer each (``update-select``), and a
    statement with a longer name: after each one's first batch, every batch is taken from the
    memory, as its own statement."""
    preps = {"P0_1": _Prep((10,)), "P0_2": _Prep((10,)), "longer_name": _Prep((5,))}
    conn = _Conn(preps)
    taken = 0
    for i in range(60):
        name = ["P0_1", "P0_2", "longer_name"][i % 3]
        value = str(i * 7919 % 100_000).encode()
        batch = bytearray(_bind(name.encode(), [value]) + _execute() + SYNC)
        got = fastbatch.same_point(conn, batch)  # type: ignore[arg-type]
        if got is not None:
            taken += 1
            assert got == (preps[name], (int(value),), (), False)
        assert fastbatch._cut(conn, batch) == (preps[name], (int(value),), (), False)  # type: ignore[arg-type]
    assert taken >= 45  # (a new value length is cut the general way once)
