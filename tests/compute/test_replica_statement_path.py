"""A replica's per-statement checks (issue 16): the database registry is re-read only when
the replay LSN moved, and a prepared statement follows DDL the replica replays, never
running a translation made against a catalog older than its snapshot's.

The in-process primary/replica pair of tests/compute/test_roles.py (one LocalStore, the
replica reading at a replay LSN the test can hold back); real psycopg clients.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg import errors as pgerr

import compute.engine as engine_module
from tests.compute import test_roles
from tests.compute.test_roles import Node, ReplicaFactory

pair = test_roles.pair  # the same in-process primary/replica fixture


def test_registry_is_reread_only_when_replay_moved(pair: tuple[Node, Node, ReplicaFactory]) -> None:
    primary, replica, factory = pair
    engine = replica.engine
    with psycopg.connect(primary.dsn(), autocommit=True) as p, \
            psycopg.connect(replica.dsn(), autocommit=True) as r:
        p.execute("CREATE TABLE t (id int PRIMARY KEY)")
        p.execute("INSERT INTO t VALUES (1)")
        time.sleep(engine_module.REGISTRY_REFRESH_S)
        r.execute("SELECT count(*) FROM t WHERE id = 1").fetchall()
        read_at = engine._registry_read_at  # noqa: SLF001
        time.sleep(engine_module.REGISTRY_REFRESH_S)
        for _ in range(20):  # nothing replayed since: no re-read, however long ago the last was
            assert r.execute("SELECT count(*) FROM t WHERE id = 1").fetchone() == (1,)
        assert engine._registry_read_at == read_at  # noqa: SLF001
        # the primary creates a database while the replica's replay is held back: not listed
        factory.held_at = primary.factory.store.durable_lsn
        p.execute("CREATE DATABASE app")
        time.sleep(engine_module.REGISTRY_REFRESH_S)
        names = {n for (n,) in r.execute("SELECT datname FROM pg_database").fetchall()}
        assert "app" not in names
        factory.held_at = None  # replayed: the next statement past the interval sees it
        time.sleep(engine_module.REGISTRY_REFRESH_S)
        r.execute("SELECT 1").fetchall()
        names = {n for (n,) in r.execute("SELECT datname FROM pg_database").fetchall()}
        assert "app" in names
        assert engine._registry_read_at > read_at  # noqa: SLF001


def test_prepared_statement_follows_replayed_ddl(pair: tuple[Node, Node, ReplicaFactory]) -> None:
    primary, replica, factory = pair
    query = "SELECT v FROM t WHERE id = %s"
    with psycopg.connect(primary.dsn(), autocommit=True) as p, \
            psycopg.connect(replica.dsn(), autocommit=True) as r:
        p.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        p.execute("INSERT INTO t VALUES (1, 10)")
        for _ in range(3):  # psycopg prepares it server-side from the second run on
            assert r.execute(query, (1,), prepare=True).fetchone() == (10,)
        # DDL on the primary the replica has not replayed yet: the old table, old translation
        factory.held_at = primary.factory.store.durable_lsn
        p.execute("DROP TABLE t")
        p.execute("CREATE TABLE t (v int, id int PRIMARY KEY, extra text)")
        p.execute("INSERT INTO t (id, v) VALUES (1, 20)")
        assert r.execute(query, (1,), prepare=True).fetchone() == (10,)
        # replayed: the same prepared statement is translated anew for the new table
        factory.held_at = None
        assert r.execute(query, (1,), prepare=True).fetchone() == (20,)
        # a replayed DROP: the prepared statement fails as PostgreSQL's does (42P01)
        p.execute("DROP TABLE t")
        with pytest.raises(pgerr.UndefinedTable):
            r.execute(query, (1,), prepare=True)
        # and a replayed change of the result type is PostgreSQL's 0A000
        p.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        p.execute("INSERT INTO t VALUES (1, 30)")
        assert r.execute(query, (1,), prepare=True).fetchone() == (30,)
        p.execute("DROP TABLE t")
        p.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        p.execute("INSERT INTO t VALUES (1, 'forty')")
        with pytest.raises(pgerr.FeatureNotSupported) as info:
            r.execute(query, (1,), prepare=True)
        assert info.value.diag.message_primary == "cached plan must not change result type"


def _versions(node: Node) -> tuple[int | None, int]:
    """(the schema version read from the page store, PRAGMA schema_version on the catalog
    reader), both on the node's event loop where the catalog reader is used."""
    db = node.engine.databases["postgres"]

    async def probe() -> tuple[int | None, int]:
        pragma = int(db.catalog_conn.execute("PRAGMA schema_version").fetchall()[0][0])  # type: ignore[arg-type]
        return db.durable_schema_version(), pragma

    return node.call(probe())


def test_schema_version_from_the_page_store_is_the_pragmas(
        pair: tuple[Node, Node, ReplicaFactory]) -> None:
    """The Bind-time catalog check reads SQLite's schema cookie from page 1 instead of a
    PRAGMA read transaction: the same value after every kind of change, on both roles."""
    primary, replica, factory = pair
    seen: set[int] = set()
    with psycopg.connect(primary.dsn(), autocommit=True) as p, \
            psycopg.connect(primary.dsn(), autocommit=True) as other, \
            psycopg.connect(replica.dsn(), autocommit=True) as r:
        steps = [
            "CREATE TABLE t (id int PRIMARY KEY, v int)",
            "INSERT INTO t VALUES (1, 1)",  # data only: the cookie stays
            "ALTER TABLE t ADD COLUMN w text",
            "BEGIN; CREATE TABLE gone (a int); ROLLBACK",  # rolled back: the cookie is back
            "CREATE TEMP TABLE tt (a int)",
            "CREATE INDEX ON t (v)",
            "DROP TABLE t",
        ]
        for sql in steps:
            p.execute(sql)
            other.execute("SELECT 1")
            r.execute("SELECT 1")
            for node in (primary, replica):
                direct, pragma = _versions(node)
                assert direct == pragma, (sql, node)
                seen.add(pragma)
        assert len(seen) >= 4  # the steps did change the cookie
        # a replica held back reads the cookie at its replay LSN, not the primary's
        factory.held_at = primary.factory.store.durable_lsn
        before = _versions(replica)
        p.execute("CREATE TABLE later (a int)")
        assert _versions(replica) == before
        assert _versions(primary)[0] != before[0]
        factory.held_at = None
        direct, pragma = _versions(replica)
        assert direct == pragma == _versions(primary)[1]
