"""The writer's catalog kept across a block's lane statements (compute/session_fast.py,
``FastLane._writer_catalog``): a prepared statement bound after DDL in the same block is
translated against the catalog as the DDL left it, however the DDL ran — a named portal bound
before the lane's statements, a simple query, a savepoint rolled back — and PostgreSQL's
0A000 "cached plan must not change result type" comes where it would; while only lane
statements run, the block asks SQLite for its schema cookie once, not per statement.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from compute.engine import Database
from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode
from tests.compute.rawclient import RawClient, message

Reply = list[tuple[bytes, bytes]]
SYNC = message(b"S", b"")
DESCRIBE = message(b"D", b"P\0")


def _parse(name: str, sql: str) -> bytes:
    return message(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))


def _bind(statement: str, params: list[bytes], portal: str = "") -> bytes:
    body = portal.encode() + b"\0" + statement.encode() + b"\0" + struct.pack("!h", 0)
    body += struct.pack("!h", len(params)) + b"".join(struct.pack("!i", len(p)) + p for p in params)
    return message(b"B", body + struct.pack("!h", 0))


def _execute(portal: str = "") -> bytes:
    return message(b"E", portal.encode() + b"\0" + struct.pack("!i", 0))


def _run(c: RawClient, statement: str, *params: bytes) -> Reply:
    """One prepared statement as pgbench -M prepared sends it (the callback lane's batch)."""
    return c.exchange(_bind(statement, list(params)), DESCRIBE, _execute(), SYNC)


def _sqlstate(reply: Reply) -> str | None:
    for kind, body in reply:
        if kind == b"E":
            fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
            return fields[b"C"].decode()
    return None


def _columns(reply: Reply) -> int | None:
    for kind, body in reply:
        if kind == b"T":
            return int(struct.unpack("!h", body[:2])[0])
    return None


@pytest.fixture
def node(tmp_path: Path) -> Iterator[InProcessNode]:
    node = InProcessNode(StandaloneFactory(tmp_path / "data", page_cache_mb=8), max_readers=2)
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def client(node: InProcessNode) -> RawClient:
    c = RawClient(node.server.port)
    c.query("create table t (id int primary key, v int)")
    c.query("insert into t select g, 0 from generate_series(1, 10) g")
    c.exchange(_parse("u", "update t set v = v + $1 where id = $2"),
               _parse("s", "select * from t where id = $1"),
               _parse("alt", "alter table t add column w int"), SYNC)
    c.query("begin")  # each statement's first run is the loop's (it learns the write is quick)
    _run(c, "u", b"1", b"9")
    _run(c, "s", b"9")
    c.query("commit")
    return c


def test_ddl_from_a_portal_bound_before_the_lane_statements(node: InProcessNode,
                                                             client: RawClient) -> None:
    c = client
    session = node.server.sessions[c.backend_pid()][1].session
    assert session is not None
    c.query("begin")
    assert _columns(_run(c, "s", b"1")) == 2
    # the ALTER bound now (its catalog lookup happens here), run after the lane's UPDATE
    assert _sqlstate(c.exchange(_bind("alt", [], portal="pa"), SYNC)) is None
    assert _sqlstate(_run(c, "u", b"1", b"1")) is None
    assert session._catalog_unchanged is session.txn  # the lane ran it: the catalog is as it was
    assert _sqlstate(c.exchange(_execute("pa"), SYNC)) is None
    assert session._catalog_unchanged is None  # the general path ran the ALTER: ask again
    assert _sqlstate(_run(c, "s", b"1")) == "0A000"  # as PostgreSQL: the result type changed
    c.query("rollback")
    assert _columns(_run(c, "s", b"1")) == 2  # the ALTER went with the block


def test_ddl_from_a_simple_query_between_lane_statements(client: RawClient) -> None:
    c = client
    c.query("begin")
    assert _sqlstate(_run(c, "u", b"1", b"2")) is None
    assert _columns(_run(c, "s", b"2")) == 2
    assert _sqlstate(c.query("alter table t add column x int")) is None
    assert _sqlstate(_run(c, "u", b"1", b"2")) is None
    c.exchange(_parse("s2", "select * from t where id = $1"), SYNC)
    assert _columns(_run(c, "s2", b"2")) == 3
    assert _sqlstate(_run(c, "u", b"1", b"2")) is None
    assert _sqlstate(_run(c, "s", b"2")) == "0A000"  # the block fails: the ALTER goes with it
    c.query("commit")
    assert _sqlstate(_run(c, "s2", b"2")) == "0A000"
    assert _columns(_run(c, "s", b"2")) == 2


def test_rollback_to_savepoint_undoes_ddl_for_later_statements(client: RawClient) -> None:
    c = client
    c.query("begin")
    c.query("savepoint a")
    c.query("alter table t add column y int")
    c.exchange(_parse("sy", "select * from t where id = $1"), SYNC)
    assert _columns(_run(c, "sy", b"3")) == 3
    assert _sqlstate(_run(c, "u", b"1", b"3")) is None
    c.query("rollback to savepoint a")
    assert _sqlstate(_run(c, "u", b"1", b"3")) is None
    assert _sqlstate(_run(c, "sy", b"3")) == "0A000"  # y is gone again
    assert _columns(_run(c, "s", b"3")) == 2
    c.query("commit")


def test_lane_statements_ask_for_the_schema_cookie_once_per_block(
        client: RawClient, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    real = Database.catalog_for

    def counting(self: Database, conn: object) -> object:
        if self.writer_pooled is not None and conn is self.writer_pooled.conn:
            asked.append(1)
        return real(self, conn)  # type: ignore[arg-type]

    c = client
    monkeypatch.setattr(Database, "catalog_for", counting)
    for n in range(3):
        c.query("begin")
        for _ in range(4):
            assert _sqlstate(_run(c, "u", b"1", str(n + 4).encode())) is None
            assert _columns(_run(c, "s", str(n + 4).encode())) == 2
        c.query("commit")
    # the block's first statement takes the writer (its lookup was the durable catalog's);
    # the second asks the writer once; the other six reuse it
    assert len(asked) == 3
    rows = [body for kind, body in c.query("select v from t where id between 4 and 6 order by id")
            if kind == b"D"]
    assert len(rows) == 3 and all(r.endswith(b"4") for r in rows)
