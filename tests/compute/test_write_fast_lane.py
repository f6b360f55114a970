"""The write fast lane (compute/session_fast.py, bound write shapes in compute/sqlcache.py)
answers exactly as the general statement path does: the same scripts — TPC-B-like blocks,
errors in blocks (25P02 after), READ ONLY (25006), overflow, division by zero, autocommit
writes — give the same tags, rows, notices and SQLSTATEs with the lane switched off and on,
through the simple protocol and prepared statements; a commit through it is not answered
before its fsync; a busy writer and a database with triggers take the general path."""

from __future__ import annotations

import random
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from compute import sqlcache
from compute.session import Session
from compute.sql.api import Translation
from compute.sqlcache import _bindable_write
from compute.standalone import StandaloneFactory
from compute.transaction import Result
from tests.compute.inprocess import InProcessNode
from tests.compute.rawclient import RawClient
from tests.compute.test_commit_durability import GatedFsync, opened_on_exit, wait_until
from tests.compute.test_statement_path import _general_lift

WAIT_S = 10.0
"""Bound on every wait in these tests."""

SETUP = [
    "DROP TABLE IF EXISTS acc",
    "DROP TABLE IF EXISTS hist",
    "DROP TABLE IF EXISTS words",
    "CREATE TABLE acc (id int PRIMARY KEY, v int NOT NULL, big bigint)",
    "CREATE TABLE hist (a int, b int, at timestamp)",
    "CREATE TABLE words (id int, w text)",
    "INSERT INTO acc SELECT g, g * 10, g FROM generate_series(1, 20) g",
]

TPCB = [
    "BEGIN",
    "UPDATE acc SET v = v + {d} WHERE id = {a}",
    "SELECT v FROM acc WHERE id = {a}",
    "UPDATE acc SET v = v + {d} WHERE id = {b}",
    "UPDATE acc SET big = big - {d} WHERE id = {b}",
    "INSERT INTO hist (a, b, at) VALUES ({a}, {d}, CURRENT_TIMESTAMP)",
    "END",
]

SCRIPT = [
    *[s.format(a=1 + i % 5, b=6 + i % 3, d=d) for i, d in enumerate([5, -3, 0, 17, -2000, 9])
      for s in TPCB],
    # an error inside a block: 25P02 until its end, which is a ROLLBACK
    "BEGIN", "UPDATE acc SET v = v + 1 WHERE id = 1", "INSERT INTO acc (id, v) VALUES (1, 0)",
    "UPDATE acc SET v = v + 1 WHERE id = 2", "SELECT v FROM acc WHERE id = 1", "COMMIT",
    # overflow and division by zero in a block, after the statement is known quick
    "BEGIN", "UPDATE acc SET v = v + 2000000000 WHERE id = 3", "UPDATE acc SET v = v + 2000000000 WHERE id = 3",
    "ROLLBACK",
    "BEGIN", "UPDATE acc SET v = v * 2 WHERE id = 4", "UPDATE acc SET v = v / 0 WHERE id = 4", "END",
    # READ ONLY: 25006, also for a statement the lane knows
    "BEGIN READ ONLY", "UPDATE acc SET v = v + 1 WHERE id = 5", "ROLLBACK",
    "BEGIN", "BEGIN", "UPDATE acc SET v = v - -4 WHERE id = 5", "COMMIT",
    # autocommit writes (bound write shapes), a text column, a miss, DELETE
    "UPDATE acc SET v = v + 3 WHERE id = 6", "UPDATE acc SET v = v + 3 WHERE id = 999",
    "INSERT INTO words VALUES (1, 5)", "INSERT INTO words VALUES (2, -7)",
    "BEGIN", "INSERT INTO words VALUES (3, 8)", "INSERT INTO words VALUES (4, 9)",
    "DELETE FROM words WHERE id = 3", "COMMIT",
    "DELETE FROM acc WHERE id = 20", "INSERT INTO acc (id, v) VALUES (20, -7)",
    "BEGIN", "INSERT INTO acc (id, v) VALUES (21, 1)", "INSERT INTO acc (id, v) VALUES (21, 2)", "COMMIT",
    "ROLLBACK",
    "SELECT id, v, big FROM acc ORDER BY id",
    "SELECT a, b, at IS NOT NULL FROM hist ORDER BY a, b",
    "SELECT id, w, pg_typeof(w) FROM words ORDER BY id",
]


class LaneSpy:
    """Counts the statements the lane answered; ``off`` sends everything the general way."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.off = False
        self.hits: list[str] = []
        fast_statement = Session.try_fast_statement
        simple_shape = Session.simple_shape
        spy = self

        def try_fast_statement(self: Session, tr: Translation, params: tuple[Any, ...]
                               ) -> Result | None:
            if spy.off:
                return None
            result = fast_statement(self, tr, params)
            if result is not None:
                spy.hits.append(result.tag)
            return result

        def shape(self: Session, sql: str) -> tuple[Translation, str, tuple[int, ...]] | None:
            return None if spy.off else simple_shape(self, sql)

        monkeypatch.setattr(Session, "try_fast_statement", try_fast_statement)
        monkeypatch.setattr(Session, "simple_shape", shape)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[InProcessNode, StandaloneFactory]]:
    factory = StandaloneFactory(tmp_path / "data", page_cache_mb=8)
    n = InProcessNode(factory)
    try:
        yield n, factory
    finally:
        n.close()


def fields(body: bytes) -> dict[str, str]:
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def data_row(body: bytes) -> tuple[str | None, ...]:
    count = struct.unpack("!h", body[:2])[0]
    pos, values = 2, []
    for _ in range(count):
        size = struct.unpack("!i", body[pos : pos + 4])[0]
        pos += 4
        if size < 0:
            values.append(None)
        else:
            values.append(body[pos : pos + size].decode())
            pos += size
    return tuple(values)


def simple_transcript(port: int, script: list[str]) -> list[Any]:
    """Each statement's replies through the simple protocol, as (type, content)."""
    client = RawClient(port)
    out: list[Any] = []
    for sql in script:
        for kind, body in client.query(sql):
            if kind == b"C":
                out.append(("C", body.rstrip(b"\0").decode()))
            elif kind in (b"E", b"N"):
                f = fields(body)
                out.append((kind.decode(), f["C"], f["M"]))
            elif kind == b"D":
                out.append(("D", data_row(body)))
            elif kind == b"Z":
                out.append(("Z", body.decode()))
    client.sock.close()
    return out


def prepared_transcript(dsn: str, script: list[str]) -> list[Any]:
    """Each statement through named prepared statements (psycopg prepare=True, autocommit off
    only by the script's BEGIN): tag, rows, notices, SQLSTATE."""
    out: list[Any] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        notices: list[Any] = []
        conn.add_notice_handler(lambda d: notices.append((d.sqlstate, d.message_primary)))
        for sql in script:
            try:
                cur = conn.execute(sql, prepare=True)
                out.append((cur.statusmessage, cur.fetchall() if cur.description else None))
            except psycopg.Error as exc:
                out.append(("error", exc.sqlstate, str(exc.diag.message_primary)))
            out.append((str(conn.info.transaction_status), list(notices)))
            notices.clear()
    return out


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in SETUP:
            conn.execute(sql)


@pytest.mark.parametrize("protocol", ["simple", "prepared"])
def test_lane_answers_as_the_general_path(node: tuple[InProcessNode, StandaloneFactory],
                                          monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    n, _ = node
    spy = LaneSpy(monkeypatch)
    transcripts = []
    for off in (True, False):
        spy.off = off
        setup(n.dsn())
        spy.hits.clear()
        if protocol == "simple":
            transcripts.append(simple_transcript(n.server.port, SCRIPT))
        else:
            transcripts.append(prepared_transcript(n.dsn(), SCRIPT))
        if off:
            assert spy.hits == []
    general, lane = transcripts
    assert lane == general
    # the lane did answer: BEGINs, reads on the writer, writes once known quick
    assert spy.hits.count("BEGIN") >= 10
    assert sum(tag.startswith("UPDATE") for tag in spy.hits) >= 8
    assert any(tag.startswith("SELECT") for tag in spy.hits)
    assert any(tag.startswith("INSERT") for tag in spy.hits)
    # and the errors are there, the same on both
    codes = [entry[1] for entry in lane if entry[0] in ("E", "error")]
    assert codes.count("25P02") == 2 and "23505" in codes and "22003" in codes
    assert "22012" in codes and "25006" in codes


def test_read_only_block_and_failed_block(node: tuple[InProcessNode, StandaloneFactory],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    n, _ = node
    spy = LaneSpy(monkeypatch)
    setup(n.dsn())
    client = RawClient(n.server.port)
    for _ in range(3):  # known quick from here on
        client.query("BEGIN")
        client.query("UPDATE acc SET v = v + 1 WHERE id = 1")
        client.query("COMMIT")
    spy.hits.clear()
    client.query("BEGIN READ ONLY")
    replies = client.query("UPDATE acc SET v = v + 1 WHERE id = 1")
    error = fields(next(body for kind, body in replies if kind == b"E"))
    assert (error["C"], error["M"]) == ("25006", "cannot execute UPDATE in a read-only transaction")
    assert replies[-1] == (b"Z", b"E")
    client.query("ROLLBACK")
    client.query("BEGIN")
    client.query("UPDATE acc SET v = v + 1 WHERE id = 1")
    replies = client.query("INSERT INTO acc (id, v) VALUES (1, 1)")
    assert fields(replies[0][1])["C"] == "23505"
    replies = client.query("UPDATE acc SET v = v + 1 WHERE id = 1")
    assert fields(replies[0][1])["C"] == "25P02" and replies[-1] == (b"Z", b"E")
    assert client.query("COMMIT")[0] == (b"C", b"ROLLBACK\0")
    assert spy.hits.count("UPDATE 1") == 1  # the one before the error; none in the failed block
    with psycopg.connect(n.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT v FROM acc WHERE id = 1").fetchone() == (13,)


def test_commit_through_the_lane_waits_for_fsync(node: tuple[InProcessNode, StandaloneFactory],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    n, factory = node
    spy = LaneSpy(monkeypatch)
    setup(n.dsn())
    block = RawClient(n.server.port)
    auto = RawClient(n.server.port)
    for _ in range(2):
        block.query("BEGIN")
        block.query("UPDATE acc SET v = v + 1 WHERE id = 2")
        block.query("END")
        auto.query("UPDATE acc SET v = v + 1 WHERE id = 3")
    gate = GatedFsync()
    factory.store.log_fsync = gate
    gate.close()
    answered: dict[str, list[Any]] = {}
    with opened_on_exit(gate):
        spy.hits.clear()
        block.query("BEGIN")
        block.query("UPDATE acc SET v = v + 1 WHERE id = 2")
        assert spy.hits == ["BEGIN", "UPDATE 1"]
        threads = [threading.Thread(target=lambda: answered.setdefault("block", block.query("END"))),
                   threading.Thread(target=lambda: answered.setdefault(
                       "auto", auto.query("UPDATE acc SET v = v + 1 WHERE id = 3")))]
        for t in threads:
            t.start()
        wait_until(lambda: gate.entered.is_set(), "a commit's fsync")
        time.sleep(0.2)
        assert answered == {}, "a commit was answered before its fsync"
        gate.open.set()
        for t in threads:
            t.join(WAIT_S)
    assert answered["block"][0] == (b"C", b"COMMIT\0")
    assert answered["auto"][0] == (b"C", b"UPDATE 1\0")
    with psycopg.connect(n.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT v FROM acc WHERE id IN (2, 3) ORDER BY id").fetchall() == [(23,), (33,)]


def test_busy_writer_and_triggers_take_the_general_path(
        node: tuple[InProcessNode, StandaloneFactory], monkeypatch: pytest.MonkeyPatch) -> None:
    n, _ = node
    spy = LaneSpy(monkeypatch)
    setup(n.dsn())
    holder, waiter = RawClient(n.server.port), RawClient(n.server.port)
    for _ in range(2):
        waiter.query("BEGIN")
        waiter.query("UPDATE acc SET v = v + 1 WHERE id = 4")
        waiter.query("END")
    holder.query("BEGIN")
    holder.query("UPDATE acc SET v = v + 1 WHERE id = 5")  # holds the writer
    waiter.query("SET lock_timeout = 100")
    waiter.query("BEGIN")
    spy.hits.clear()
    replies = waiter.query("UPDATE acc SET v = v + 1 WHERE id = 4")
    assert fields(replies[0][1])["C"] == "55P03"
    assert spy.hits == []
    waiter.query("ROLLBACK")
    holder.query("COMMIT")
    # triggers: DML on a database with triggers fires them through the general path
    with psycopg.connect(n.dsn(), autocommit=True) as conn:
        conn.execute("CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN INSERT INTO hist (a, b) VALUES (NEW.id, NEW.v); RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER acc_bump AFTER UPDATE ON acc FOR EACH ROW EXECUTE FUNCTION bump()")
    for _ in range(3):
        holder.query("BEGIN")
        holder.query("UPDATE acc SET v = v + 1 WHERE id = 6")
        holder.query("END")
    assert not any(tag.startswith("UPDATE") for tag in spy.hits)
    with psycopg.connect(n.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT a, b FROM hist ORDER BY b").fetchall() == [(6, 61), (6, 62), (6, 63)]


def test_bindable_write() -> None:
    ok = 'UPDATE "t" SET "v" = PG_CHECK_INT("t"."v" + ?1, 23) WHERE "t"."id" = ?2'
    assert _bindable_write(ok, 2)
    assert _bindable_write('INSERT INTO "h" ("a", "b") VALUES (?1, ?2)', 2)
    assert not _bindable_write(ok, 3)  # a literal not used
    assert not _bindable_write('UPDATE "t" SET "v" = ?1 WHERE "t"."w" = \'x\'', 1)
    assert not _bindable_write('INSERT INTO "h" SELECT ?1 FROM "t" ORDER BY 1', 1)
    assert not _bindable_write('DELETE FROM "t" WHERE "id" = ?1 RETURNING "id"', 1)
    assert not _bindable_write('INSERT INTO "h" SELECT "a" FROM "t" LIMIT ?1', 1)
    assert not _bindable_write('UPDATE "t" SET "v" = CASE WHEN "v" = 1 THEN ?1 END', 1)


def test_plain_lift_with_minus_signs_matches_the_general_scanner() -> None:
    """pgbench's negative deltas (``+ -1234``) take the plain scan too: same answer as the
    general scanner, unary minus and comment markers included."""
    tokens = ["UPDATE", "a", "SET", "x", "=", " ", "  ", "-", "--", "- ", "+", "1", "22", "3.5",
              "(", ")", ",", "<", "*", "a1", "&", "U&", "$", "/*", ".", "e"]
    rng = random.Random(17)
    for _ in range(20_000):
        sql = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 14)))
        assert sqlcache._lift_plain(sql) == _general_lift(sql), sql
    assert sqlcache.lift("UPDATE t SET v = v + -12 WHERE id = 5;") == (
        "UPDATE t SET v = v + $1 WHERE id = $2;", ["-12", "5"])
