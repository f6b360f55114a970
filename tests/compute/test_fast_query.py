"""A simple Query answered from the socket callback (compute/pgwire/fastquery.py) sends exactly
the bytes the message loop sends for it.

The same script of simple queries runs against a compute with the callback lane on and one with
it off; every reply (type and body) must match, and the lane must have answered many of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compute.pgwire import fastquery
from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode
from tests.compute.rawclient import RawClient, message
from tests.compute.test_fast_batch import (
    SYNC,
    _bind,
    _execute,
    _parse,
    count_outcomes,
    same_on_and_off,
)

Reply = list[tuple[bytes, bytes]]
COUNT_WAIT_S = 2.0
"""Bound on the server thread counting a query the client already has the answer to."""


def _reads(q: Callable[[str], Reply], out: list[Reply]) -> None:
    """Point and range reads of several types, NULLs, misses, a run-time error, set_config."""
    for i in (1, 2, 3, 7, 40, 41, -5, 3):
        out.append(q(f"select v, n, f, b, d from t where id = {i}"))
        out.append(q(f"SELECT v FROM t WHERE id = {i};"))
    for lo, hi in ((5, 9), (1, 3), (30, 50)):
        out.append(q(f"select id, v, n from t where id between {lo} and {hi} order by id"))
    for i in (4, 2, 0, 5):
        out.append(q(f"select 100 / id from t where id = {i}"))  # 22012 at id 0
    for i in (6, 8):
        out.append(q(f"select count(*) from t where id > {i}"))
    out.append(q("select set_config('application_name', 'fq' || 1, false) from t where id = 1"))
    out.append(q("select set_config('application_name', 'fq' || 2, false) from t where id = 2"))
    out.append(q("show application_name"))


def _blocks(q: Callable[[str], Reply], out: list[Reply]) -> None:
    """pgbench's simple TPC-B transactions, a nested BEGIN (WARNING), a failed block, a
    unique violation, ROLLBACK, a read-only block (25006), START TRANSACTION."""
    out.append(q("create table acc (aid int primary key, bal int, note text)"))
    out.append(q("insert into acc select g, 0, '' from generate_series(1, 20) g"))
    for n in range(8):
        out.append(q("BEGIN;"))
        out.append(q(f"UPDATE acc SET bal = bal + {n - 3} WHERE aid = {n % 5 + 1};"))
        out.append(q(f"SELECT bal FROM acc WHERE aid = {n % 5 + 1};"))
        out.append(q(f"INSERT INTO acc (aid, bal, note) VALUES ({100 + n}, {n}, 'x');"))
        if n == 4:
            out.append(q("begin"))  # WARNING: already in a transaction
        if n == 5:
            out.append(q("update acc set bal = bal / 0 where aid = 1"))  # 22012: the block fails
            out.append(q("select bal from acc where aid = 1"))  # 25P02
        if n == 6:
            out.append(q("insert into acc (aid, bal, note) values (1, 1, 'x')"))  # 23505
        out.append(q("END;" if n % 2 else "commit"))
    out.append(q("start transaction"))
    out.append(q("update acc set bal = 7 where aid = 2"))
    out.append(q("delete from acc where aid = 3"))
    out.append(q("select bal from acc where aid = 2"))
    out.append(q("rollback"))
    out.append(q("begin read only"))
    out.append(q("select bal from acc where aid = 2"))
    out.append(q("update acc set bal = 8 where aid = 2"))  # 25006
    out.append(q("rollback"))
    out.append(q("update acc set bal = 9 where aid = 4"))  # an autocommit write: the loop
    out.append(q("select aid, bal, note from acc order by aid"))


def _settings(q: Callable[[str], Reply], out: list[Reply]) -> None:
    """Settings that change what the loop does: DateStyle, statement_timeout,
    idle_in_transaction_session_timeout, a client encoding other than UTF8."""
    out.append(q("set datestyle = 'German'"))
    out.append(q("select d, v from t where id = 3"))
    out.append(q("set datestyle = 'ISO, MDY'"))
    out.append(q("set statement_timeout = '5s'"))
    out.append(q("select d, v from t where id = 4"))
    out.append(q("begin"))
    out.append(q("update acc set bal = 1 where aid = 5"))
    out.append(q("commit"))
    out.append(q("reset statement_timeout"))
    out.append(q("set idle_in_transaction_session_timeout = '20s'"))
    out.append(q("begin"))
    out.append(q("update acc set bal = 2 where aid = 5"))
    out.append(q("select bal from acc where aid = 5"))
    out.append(q("commit"))
    out.append(q("reset idle_in_transaction_session_timeout"))
    out.append(q("set client_encoding = 'LATIN1'"))
    out.append(q("select v from t where id = 5"))
    out.append(q("select v from t where id = 6"))
    out.append(q("set client_encoding = 'UTF8'"))
    out.append(q("select v from t where id = 7"))


def _script(c: RawClient, listener: RawClient) -> list[Reply]:
    """The queries, each in one packet; every reply up to ReadyForQuery."""
    q = c.query
    out: list[Reply] = [
        q("create table t (id int primary key, v text, n numeric, f real, b boolean, d date)"),
        q("insert into t select g, 'v' || g || 'é', g * 1.5, g / 4.0, g % 2 = 0, "
          "date '2020-01-01' + g from generate_series(1, 40) g"),
        q("update t set v = null, n = null, b = null where id = 7"),
    ]
    _reads(q, out)
    _blocks(q, out)
    _settings(q, out)
    out.append(listener.query("listen ch"))
    out.append(q("notify ch, 'one'"))
    out.append(listener.query("select v from t where id = 9"))  # the notification, then rows
    out.append(listener.query("begin"))
    out.append(q("notify ch, 'two'"))
    out.append(listener.query("select v from t where id = 10"))  # in a block: not yet
    out.append(listener.query("update t set v = 'w' where id = 10"))
    out.append(listener.query("commit"))  # now
    out.append(q("select v from t where id = 10"))
    out.append(c.exchange(message(b"Q", b"select v from t where id = 11\0"),
                          message(b"Q", b"select v from t where id = 12\0")))  # two at once
    out.append(c.until_ready())
    out.append(q("select v from t where id = 13; select v from t where id = 14"))
    return out


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Every answer_query outcome (True: answered from the callback)."""
    yield count_outcomes(monkeypatch, "answer_query", fastquery.answer_query)


def test_callback_queries_answer_as_the_message_loop(tmp_path: Path, counted: list[bool],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    same_on_and_off(tmp_path, monkeypatch, "answer_query",
                    lambda port: _script(RawClient(port), RawClient(port)))
    answered = sum(counted)  # (the run with the lane off counts nothing)
    assert answered >= 40  # reads, BEGINs and block statements went the callback's way
    assert not all(counted)  # and the rest were left to the loop


def test_lane_takes_reads_begin_block_statements_and_commits(
        tmp_path: Path, counted: list[bool]) -> None:
    """Which statements the callback answers: each outcome, one query at a time."""
    node = InProcessNode(StandaloneFactory(tmp_path / "which", page_cache_mb=8), max_readers=2)
    try:
        c = RawClient(node.server.port)
        c.query("create table a (id int primary key, v int)")
        c.query("insert into a select g, g from generate_series(1, 9) g")
        for i in range(1, 4):  # shapes are learned, and the write seen to be quick, first
            c.query(f"select v from a where id = {i}")
            c.query("begin")
            c.query(f"update a set v = v + 1 where id = {i}")
            c.query("commit")

        def taken(sql: str) -> bool:
            before = len(counted)
            reply = c.query(sql)
            assert reply[-1][0] == b"Z"
            deadline = time.monotonic() + COUNT_WAIT_S  # the lane answers, then it is counted
            while len(counted) == before and time.monotonic() < deadline:
                time.sleep(0.001)
            return any(counted[before:])

        assert taken("select v from a where id = 5")
        assert taken("update a set v = 1 where id = 5")  # autocommit: held until durable (fastauto.py)
        assert taken("BEGIN")
        assert taken("update a set v = v + 2 where id = 5")
        assert taken("select v from a where id = 5")
        assert taken("COMMIT")  # once durable (fastcommit.py, tests/compute/test_fast_commit.py)
        assert not taken("COMMIT")  # no block: the loop's notice
        assert not taken("create table b (x int)")
        assert taken("select v from a where id = 6")
    finally:
        node.close()


def test_no_callback_answer_while_the_loop_skips_to_sync(tmp_path: Path, counted: list[bool]
                                                         ) -> None:
    """After an extended-protocol error the loop skips messages up to Sync: a prepared batch
    that arrives then gets only ReadyForQuery (PostgreSQL's answer), from neither lane; a
    simple Query ends the skipping (the loop answers it)."""
    node = InProcessNode(StandaloneFactory(tmp_path / "skip", page_cache_mb=8), max_readers=2)
    try:
        c = RawClient(node.server.port)
        c.query("create table a (id int primary key, v int)")
        c.query("insert into a select g, g * 10 from generate_series(1, 9) g")
        c.exchange(_parse("g", "select v from a where id = $1"), SYNC)
        for _ in range(3):  # the batch lane knows the statement's formats by now
            reply = c.exchange(_bind("g", [b"3"]), _execute(), SYNC)
            assert [k for k, _ in reply] == [b"2", b"D", b"C", b"Z"]

        def parse_error() -> None:
            c.sock.sendall(_parse("bad", "selec nonsense"))
            head = c._read(5)
            assert head[:1] == b"E"
            c._read(int.from_bytes(head[1:], "big") - 4)

        parse_error()
        assert c.exchange(_bind("g", [b"3"]), _execute(), SYNC) == [(b"Z", b"I")]
        parse_error()
        before = len(counted)
        reply = c.query("select v from a where id = 4")
        assert [k for k, _ in reply] == [b"T", b"D", b"C", b"Z"] and reply[1][1].endswith(b"40")
        assert counted[before:] == [False]  # the loop's: it ends the skipping
        reply = c.exchange(_bind("g", [b"5"]), _execute(), SYNC)
        assert [k for k, _ in reply] == [b"2", b"D", b"C", b"Z"]
    finally:
        node.close()
