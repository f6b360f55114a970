"""``strata_node_status()`` keeps its JSON text between polls (``compute.node.StatusText``):
the answer on one connection (the proxy's monitor polls on one) must follow every change of
the node — replay LSN moving, held back, promotion to primary, fencing, ``extra`` counters —
and equal the uncached status's JSON each time."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import psycopg

from compute.node import FENCED, NO_QUORUM, READ_ONLY, WRITABLE, NodeStatus, StatusText
from tests.compute.test_roles import Node, PrimaryFactory, ReplicaFactory, pair  # noqa: F401


def polled(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute("SELECT strata_node_status()").fetchone()
    assert row is not None and isinstance(row[0], dict)
    return row[0]


def truth(status: NodeStatus) -> dict[str, Any]:
    """The status as JSON, built anew (no cache)."""
    out: dict[str, Any] = json.loads(json.dumps(status.as_dict(), default=str))
    return out


def test_as_dict_and_key_cover_every_field() -> None:
    """A field added to NodeStatus must reach the JSON and the cache key."""
    status = NodeStatus(role="primary", state=WRITABLE, term=1, written_lsn=2, durable_lsn=3,
                        replay_lsn=4, last_replay_ts_us=5, tenant="t", timeline="main",
                        detail="d", extra={"a": 1})
    assert status.as_dict() == dataclasses.asdict(status)
    assert list(status.as_dict()) == [f.name for f in dataclasses.fields(NodeStatus)]
    assert len(status.key()) == len(dataclasses.fields(NodeStatus))


def test_status_text_rebuilds_on_every_field_change() -> None:
    text = StatusText()
    base = NodeStatus(role="replica", state=READ_ONLY, term=2, written_lsn=10, durable_lsn=10,
                      replay_lsn=10, last_replay_ts_us=5, tenant="t", timeline="main",
                      detail="", extra={"pages_fetched": 1})
    first = text.of(base)
    assert json.loads(first) == truth(base)
    same = NodeStatus(**{**base.as_dict(), "extra": {"pages_fetched": 1}})
    assert text.of(same) is first  # equal fields: the kept text, not a new one
    changes: list[dict[str, Any]] = [
        {"role": "primary"}, {"state": FENCED}, {"term": 3}, {"written_lsn": 11},
        {"durable_lsn": 11}, {"replay_lsn": 11}, {"last_replay_ts_us": 6}, {"tenant": "u"},
        {"timeline": "b"}, {"detail": "term 4 took over"}, {"extra": {"pages_fetched": 2}},
        {"extra": {"pages_fetched": 1, "get_pages_calls": 1}},
    ]
    for change in changes:
        status = NodeStatus(**{**base.as_dict(), **change})
        assert json.loads(text.of(status)) == truth(status), change
        assert json.loads(text.of(base)) == truth(base), change  # and back


def test_polled_status_follows_replay_and_promotion(
        pair: tuple[Node, Node, ReplicaFactory]) -> None:  # noqa: F811
    primary, replica, replica_factory = pair
    with psycopg.connect(primary.dsn(), autocommit=True) as p, \
            psycopg.connect(replica.dsn(), autocommit=True) as r:
        p.execute("CREATE TABLE t (n int)")
        first = polled(r)
        assert first == truth(replica_factory.status())
        assert first["role"] == "replica" and first["state"] == READ_ONLY

        p.execute("INSERT INTO t VALUES (1)")  # the replay LSN moves
        moved = polled(r)
        assert moved["replay_lsn"] == primary.factory.store.durable_lsn > first["replay_lsn"]
        assert moved == truth(replica_factory.status())

        replica_factory.held_at = moved["replay_lsn"]  # replay held back while the log moves
        p.execute("INSERT INTO t VALUES (2)")
        assert polled(r)["replay_lsn"] == moved["replay_lsn"]
        replica_factory.held_at = None
        assert polled(r)["replay_lsn"] == primary.factory.store.durable_lsn

        assert r.execute("SELECT pg_promote()").fetchone() == (True,)
        promoted = polled(r)
        assert promoted["role"] == "primary" and promoted["state"] == WRITABLE
        assert promoted["term"] == first["term"] + 1
        assert promoted == truth(replica_factory.status())


def test_polled_status_follows_fencing(tmp_path: Path) -> None:
    factory = PrimaryFactory(tmp_path / "data")
    node = Node(factory)
    try:
        with psycopg.connect(node.dsn(), autocommit=True) as conn:
            assert polled(conn)["state"] == WRITABLE
            factory.state, factory.detail = FENCED, "term 4 (node b) took over from term 3"
            fenced = polled(conn)
            assert fenced["state"] == FENCED and fenced["detail"] == factory.detail
            factory.state, factory.detail = NO_QUORUM, "acceptors b, c unreachable"
            assert polled(conn) == truth(factory.status())
            factory.state, factory.detail = WRITABLE, ""
            assert polled(conn) == truth(factory.status())
    finally:
        node.close()
