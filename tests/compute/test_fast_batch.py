"""A prepared read's Bind/[Describe]/Execute/Sync answered from the socket callback
(compute/pgwire/fastbatch.py) sends exactly the bytes the message loop sends for it.

The same script of batches runs against a compute with the callback lane on and one with it
off; every reply (type and body) must match, and the lane must have answered most batches.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compute import pgtypes
from compute.pgwire import extended, fastbatch, server
from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode
from tests.compute.rawclient import RawClient, message

Reply = list[tuple[bytes, bytes]]


def _parse(name: str, sql: str, oids: tuple[int, ...] = ()) -> bytes:
    return message(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", len(oids))
                   + b"".join(struct.pack("!i", o) for o in oids))


def _bind(statement: str, params: list[bytes | None], result_format: int | None = None,
          portal: str = "") -> bytes:
    body = portal.encode() + b"\0" + statement.encode() + b"\0" + struct.pack("!h", 0)
    body += struct.pack("!h", len(params)) + b"".join(
        b"\xff\xff\xff\xff" if p is None else struct.pack("!i", len(p)) + p for p in params)
    body += struct.pack("!h", 0) if result_format is None else struct.pack("!hh", 1, result_format)
    return message(b"B", body)


def _execute(limit: int = 0, portal: str = "") -> bytes:
    return message(b"E", portal.encode() + b"\0" + struct.pack("!i", limit))


DESCRIBE = message(b"D", b"P\0")
SYNC = message(b"S", b"")


def _script(c: RawClient) -> list[Reply]:
    """Batches a driver sends, each in one packet; every reply up to ReadyForQuery."""
    out: list[Reply] = []
    q = c.query
    out.append(q("create table t (id int primary key, v text, n numeric, f real)"))
    out.append(q("insert into t select g, 'v' || g || 'é', g * 1.5, g / 4.0 from generate_series(1, 40) g"))
    out.append(c.exchange(_parse("get", "select v, n, f from t where id = $1"),
                          _parse("range", "select id, v from t where id between $1 and $2 order by id"),
                          _parse("div", "select 10 / $1::int"),
                          _parse("upd", "update t set v = $2 where id = $1"),
                          _parse("txt", "select $1::text || v from t where id = 3", (25,)),
                          _parse("setcfg", "select set_config('application_name', $1, false)"),
                          _parse("now", "select count(*) from t where id > $1"), SYNC))
    batches: list[list[bytes]] = []
    for i in (1, 2, 3, 41, -5, 7):
        batches.append([_bind("get", [str(i).encode()]), DESCRIBE, _execute(), SYNC])
        batches.append([_bind("get", [str(i).encode()]), _execute(), SYNC])
    batches += [
        [_bind("get", [b"4"], result_format=1), DESCRIBE, _execute(), SYNC],  # binary results
        [_bind("get", [b"4"], result_format=1), DESCRIBE, _execute(), SYNC],
        [_bind("get", [None]), DESCRIBE, _execute(), SYNC],  # NULL parameter
        [_bind("range", [b"5", b"12"]), DESCRIBE, _execute(), SYNC],
        [_bind("range", [b"5", b"12"]), _execute(2), SYNC],  # a row limit: suspended
        [_bind("div", [b"2"]), DESCRIBE, _execute(), SYNC],
        [_bind("div", [b"0"]), DESCRIBE, _execute(), SYNC],  # 22012 at run time
        [_bind("get", [b"99999999999"]), DESCRIBE, _execute(), SYNC],  # 22003 decoding it
        [_bind("get", [b"x1"]), DESCRIBE, _execute(), SYNC],  # 22P02
        [_bind("get", []), DESCRIBE, _execute(), SYNC],  # wrong parameter count
        [_bind("nosuch", []), DESCRIBE, _execute(), SYNC],
        [_bind("txt", ["ä".encode()]), DESCRIBE, _execute(), SYNC],
        [_bind("txt", [b"\xff"]), DESCRIBE, _execute(), SYNC],  # invalid UTF-8
        [_bind("setcfg", [b"fastbatch"]), DESCRIBE, _execute(), SYNC],
        [_bind("now", [b"10"]), DESCRIBE, _execute(), SYNC],
        [_bind("upd", [b"3", b"new"]), _execute(), SYNC],  # a write: the loop
        [_bind("get", [b"3"]), DESCRIBE, _execute(), SYNC],  # sees it
        [_bind("get", [b"3"]), _execute(), SYNC, _bind("get", [b"4"]), _execute(), SYNC],  # two
        [_bind("get", [b"5"], portal="p"), _execute(0, "p"), SYNC],  # a named portal
        [_bind("get", [b"6"]), message(b"H", b""), _execute(), SYNC],  # Flush in between
    ]
    for batch in batches:
        c.sock.sendall(b"".join(batch))
        out.append(c.until_ready())
        if sum(m[:1] == b"S" for m in batch) == 2:
            out.append(c.until_ready())
    out.append(q("begin"))
    out.append(c.exchange(_bind("get", [b"8"]), DESCRIBE, _execute(), SYNC))  # in a block
    out.append(q("commit"))
    out.append(q("alter table t add column w int"))
    out.append(c.exchange(_bind("get", [b"9"]), DESCRIBE, _execute(), SYNC))  # re-translated
    out.append(c.exchange(_bind("get", [b"9"]), DESCRIBE, _execute(), SYNC))
    out.append(q("alter table t drop column f"))
    out.append(c.exchange(_bind("get", [b"9"]), DESCRIBE, _execute(), SYNC))  # 0A000 / 42703
    out.append(c.exchange(_bind("now", [b"1"]), DESCRIBE, _execute(), SYNC))
    out += _blocks(c)
    out.append(q("set client_encoding = 'LATIN1'"))
    out.append(c.exchange(_bind("txt", ["ä".encode("latin-1")]), DESCRIBE, _execute(), SYNC))
    return out


def _blocks(c: RawClient) -> list[Reply]:
    """pgbench -M prepared's TPC-B transactions (every statement its own B/D/E/S batch), an
    error inside a block, a nested BEGIN, a block's own read of its write."""
    out: list[Reply] = [c.query("create table acc (aid int primary key, bal int, note text)"),
                        c.query("insert into acc select g, 0, '' from generate_series(1, 20) g")]
    out.append(c.exchange(_parse("b", "BEGIN"), _parse("e", "END"),
                          _parse("u", "update acc set bal = bal + $1 where aid = $2"),
                          _parse("s", "select bal from acc where aid = $1"),
                          _parse("i", "insert into acc (aid, bal, note) values ($1, $2, 'x')"),
                          _parse("d", "update acc set bal = bal / $1 where aid = $2"), SYNC))

    def run(name: str, params: list[bytes | None]) -> None:
        out.append(c.exchange(_bind(name, params), DESCRIBE, _execute(), SYNC))

    for n in range(8):
        run("b", [])
        run("u", [str(n - 3).encode(), str(n % 5 + 1).encode()])
        run("s", [str(n % 5 + 1).encode()])
        run("i", [str(100 + n).encode(), str(n).encode()])
        if n == 4:
            run("b", [])  # WARNING: already in a transaction
        if n == 5:
            run("d", [b"0", b"1"])  # 22012: the block fails
            run("s", [b"1"])  # 25P02
        if n == 6:
            run("i", [b"1", b"1"])  # 23505
        run("e", [])
    out.append(c.query("select aid, bal from acc order by aid"))
    return out


def count_outcomes(monkeypatch: pytest.MonkeyPatch, name: str,
                   real: Callable[[server.Connection, bytearray], bool]) -> list[bool]:
    """Every outcome of the server's callback lane ``name`` (True: answered from the callback)."""
    seen: list[bool] = []

    def counting(conn: server.Connection, buf: bytearray) -> bool:
        done = real(conn, buf)
        seen.append(done)
        return done

    monkeypatch.setattr(server, name, counting)
    return seen


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Every answer_batch outcome."""
    yield count_outcomes(monkeypatch, "answer_batch", fastbatch.answer_batch)


def same_on_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                    script: Callable[[int], list[Reply]]) -> None:
    """``script`` (given a new compute's port) against a compute with the server's callback
    lane ``name`` on, then one with it off: every reply the same, byte for byte."""
    def run(label: str) -> list[Reply]:
        node = InProcessNode(StandaloneFactory(tmp_path / label, page_cache_mb=8), max_readers=2)
        try:
            return script(node.server.port)
        finally:
            node.close()

    fast = run("on")
    monkeypatch.setattr(server, name, lambda conn, buf: False)
    general = run("off")
    assert len(fast) == len(general)
    for i, (a, b) in enumerate(zip(fast, general, strict=True)):
        assert a == b, (i, a, b)


def test_callback_batches_answer_as_the_message_loop(tmp_path: Path, counted: list[bool],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    same_on_and_off(tmp_path, monkeypatch, "answer_batch", lambda port: _script(RawClient(port)))
    answered = sum(counted)  # (the run with the lane off counts nothing)
    assert answered >= 15  # most of the point reads went the callback's way
    assert not all(counted)  # and the rest were left to the loop


def test_integer_bind_cut_matches_the_general_cut_and_decoder() -> None:
    """``int_params`` (the callback's cut of a Bind of integer parameters) gives what
    ``_bind_fields`` and PostgreSQL's text decoder give, and declines everything else."""
    rng = random.Random(1616)
    values = [b"0", b"7", b"-7", b"123456789", b"1234567890", b"-2147483648", b"99999", b"-",
              b"", b"1e3", b" 1", b"12a", b"\xd9\xa1", b"+5", b"9" * 18, b"9" * 19, None]
    tails = [b"\0\0", b"\0\1\0\0", b"\0\1\0\1", b"\0\1\0\2", b"\0\2\0\0\0\0", b"\0\0x", b""]
    oids = [21, 23, 20, 25]
    taken = 0
    for _ in range(20_000):
        types = [rng.choice(oids) for _ in range(rng.randint(0, 3))]
        params = [rng.choice(values) for _ in types]
        head = b"\0" + b"stmt\0" + (b"\0\0" if rng.random() < 0.9 else b"\0\1\0\0")
        body = head + struct.pack("!h", len(params)) + b"".join(
            b"\xff\xff\xff\xff" if p is None else struct.pack("!i", len(p)) + p for p in params)
        body += rng.choice(tails)
        digits = tuple(extended._PLAIN_INT_DIGITS.get(o, 0) for o in types)
        got = fastbatch.int_params(body, len(b"\0stmt\0"), digits)
        if got is None:
            continue
        taken += 1
        portal, stmt, formats, raw, result_formats = extended._bind_fields(body)
        assert (portal, stmt, formats) == ("", "stmt", []), body
        assert got[1] == tuple(result_formats), body
        assert None not in raw, body  # NULL is never taken as an integer
        assert got[0] == tuple(pgtypes.decode_text(o, v, tz="UTC", order="MDY")
                               for o, v in zip(types, raw, strict=True) if v is not None), body
    assert taken > 2_000
    assert fastbatch.int_params(b"\0s\0\0\0\0\1\0\0\0\0\0\0", 3, (9,)) is None  # '' is no integer
