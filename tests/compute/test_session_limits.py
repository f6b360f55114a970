"""Per-connection limits (prepared statements, portals, statement size: 54000, in-band, the
connection stays usable), SHOW max_connections telling the configured value, and the
translation cache being an LRU in fact (a hot statement survives a flood of distinct ones)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from compute.pgwire import extended as pgextended
from compute.pgwire import server as pgserver
from compute.sql.api import Kind, Translation
from compute.sqlcache import ShapeCache
from compute.standalone import StandaloneFactory
from tests.compute.inprocess import InProcessNode
from tests.compute.rawclient import RawClient, message
from tests.support import StrataProcess

T = TypeVar("T")


Node = InProcessNode


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(StandaloneFactory(tmp_path / "data", page_cache_mb=8), max_readers=2)
    try:
        yield n
    finally:
        n.close()


def _parse(name: str, sql: str) -> bytes:
    return message(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))


def _bind(portal: str, statement: str) -> bytes:
    return message(b"B", portal.encode() + b"\0" + statement.encode() + b"\0" + struct.pack("!hhh", 0, 0, 0))


def _close(what: bytes, name: str) -> bytes:
    return message(b"C", what + name.encode() + b"\0")


SYNC = message(b"S", b"")


def _errors(replies: list[tuple[bytes, bytes]]) -> list[str]:
    """The SQLSTATEs of the ErrorResponses among ``replies``."""
    codes = []
    for kind, body in replies:
        if kind == b"E":
            fields = {p[:1]: p[1:] for p in body.split(b"\0") if p}
            codes.append(fields[b"C"].decode())
    return codes


def _count(replies: list[tuple[bytes, bytes]], kind: bytes) -> int:
    return sum(1 for k, _ in replies if k == kind)


def test_prepared_statements_per_connection(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgextended, "MAX_PREPARED_STATEMENTS", 5)
    c = RawClient(node.server.port)
    replies = c.exchange(*(_parse(f"s{i}", "select 1") for i in range(6)), SYNC)
    assert _count(replies, b"1") == 5 and _errors(replies) == ["54000"]
    replies = c.exchange(_parse("", "select 2"), SYNC)  # the unnamed one is replaced, not counted
    assert _errors(replies) == []
    c.exchange(_close(b"S", "s0"), SYNC)  # closing one frees a place
    assert _errors(c.exchange(_parse("s5", "select 1"), SYNC)) == []
    assert _errors(c.query("DEALLOCATE s1")) == []  # and so does DEALLOCATE
    assert _errors(c.exchange(_parse("s6", "select 1"), SYNC)) == []
    assert _errors(c.exchange(_parse("s7", "select 1"), SYNC)) == ["54000"]
    assert _count(c.query("select 1"), b"D") == 1  # the connection still works


def test_portals_per_connection(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgextended, "MAX_PORTALS", 4)
    c = RawClient(node.server.port)
    c.query("BEGIN")  # portals outlive Sync only inside a transaction block
    replies = c.exchange(_parse("s", "select 1"), *(_bind(f"p{i}", "s") for i in range(5)), SYNC)
    assert _count(replies, b"2") == 4 and _errors(replies) == ["54000"]
    assert replies[-1] == (b"Z", b"E")  # the error failed the transaction, as any error does
    c.query("ROLLBACK")  # ends the transaction: its portals are gone
    c.query("BEGIN")
    replies = c.exchange(*(_bind(f"p{i}", "s") for i in range(4)), _bind("", "s"),
                         _close(b"P", "p0"), _bind("p4", "s"), SYNC)
    assert _count(replies, b"2") == 6 and _errors(replies) == []
    c.query("COMMIT")


def test_statement_size_limit_is_in_band(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgserver, "MAX_STATEMENT_BYTES", 1000)
    monkeypatch.setattr(pgextended, "MAX_STATEMENT_BYTES", 1000)
    with psycopg.connect(node.dsn(), autocommit=True) as conn:
        long_sql = "select 1" + " " * 1000
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            conn.execute(long_sql.encode())  # simple query
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            conn.execute(long_sql.encode() + b" + %s", (1,))  # Parse
        assert conn.execute("select 1 + %s", (1,)).fetchone() == (2,)
        assert conn.execute("select 3").fetchone() == (3,)


def test_show_max_connections_tells_the_configured_value(tmp_path: Path) -> None:
    proc = StrataProcess(tmp_path / "data", extra_args=["--max-connections", "7"]).start()
    try:
        with psycopg.connect(proc.dsn, autocommit=True) as conn:
            assert conn.execute("SHOW max_connections").fetchone() == ("7",)
            assert conn.execute("select current_setting('max_connections')").fetchone() == ("7",)
            with pytest.raises(psycopg.errors.CantChangeRuntimeParam):
                conn.execute("SET max_connections = 10")
    finally:
        proc.stop()


class _Catalog:
    fingerprint = "v1"


def test_translation_cache_is_lru() -> None:
    cache = ShapeCache(exact_size=8, shape_size=4)
    calls: dict[str, int] = {}

    def full(sql: str, catalog: Any, param_types: tuple[int, ...]) -> list[Translation]:
        calls[sql] = calls.get(sql, 0) + 1
        return [Translation(Kind.QUERY, "SELECT", steps=(sql,))]

    catalog: Any = _Catalog()
    hot = "select hot from t"
    for i in range(100):  # distinct statements without literals: exact-text entries
        cache.translate(hot, catalog, full)
        cache.translate(f"select c{chr(97 + i % 26)}{i // 26} from t", catalog, full)
        assert len(cache) <= 8 + 4
    assert calls[hot] == 1  # never evicted: it was always recently used
    cache.translate("select ca0 from t", catalog, full)  # long evicted: translated again
    assert calls["select ca0 from t"] == 2
    _Catalog.fingerprint = "v2"  # any DDL: a new catalog content, a new key
    cache.translate(hot, catalog, full)
    assert calls[hot] == 2
