"""Roles in the SQL layer: a read-only replica beside a primary, promotion, node functions,
and storage states (fenced, no quorum, unconfirmed commits) as PostgreSQL SQLSTATEs.

Two engines and pgwire servers run in this process over one ``LocalStore``: the primary is
a standalone node; the replica is a ``StrataVFS`` without a WAL sink reading at its own
replay LSN (which the test can hold back, to show it catching up). Clients are real
psycopg and asyncpg connections; PostgreSQL 15 is the oracle where a primary's answer can
be compared, and the standby texts below were taken from a PostgreSQL 15 hot standby.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import apsw
import asyncpg
import psycopg
import pytest
from psycopg import errors as pgerr

import compute.engine as engine_module
from compute.localstore import LocalStore
from compute.node import FENCED, NO_QUORUM, READ_ONLY, WRITABLE, NodeStatus, ReplicationPeer, Role
from compute.standalone import StandaloneFactory
from compute.vfs import StrataVFS
from strata.storage import CommitTicket, PageUnavailableError, QuorumUnavailableError
from tests.compute.inprocess import InProcessNode
from tests.support import PostgresOracle

T = TypeVar("T")


REPLAY_TS_US = 1_700_000_000_123_456  # the replica's last replayed commit time (µs since 1970)


class ReplicaFactory:
    """A replica over the primary's LocalStore: reads at ``replay_lsn``, never writes until
    promoted (then a writer VFS over the same store, as a promoted node would have)."""

    def __init__(self, store: LocalStore, temp_dir: Path) -> None:
        self.store = store
        self.temp_dir = temp_dir
        self.held_at: int | None = None  # replay held back (lag) at this LSN
        self.vfs = StrataVFS(store, None, reader_lsn=self.replay_lsn, temp_dir=str(temp_dir))
        self.writer_vfs: StrataVFS | None = None
        self._role: Role = "replica"
        self.promotions = 0

    def replay_lsn(self) -> int:
        return self.held_at if self.held_at is not None else self.store.durable_lsn

    def connect(self, db_id: int, role: str) -> apsw.Connection:
        if role == "writer":
            if self.writer_vfs is None:
                raise apsw.ReadOnlyError("a replica has no writer")
            return self.writer_vfs.connect(db_id, role)
        return self.vfs.connect(db_id, role)

    def take_commit_ticket(self, conn: apsw.Connection) -> CommitTicket | None:
        return self.writer_vfs.take_commit_ticket(conn) if self.writer_vfs is not None else None

    def snapshot_lsn(self, conn: apsw.Connection) -> int | None:
        for vfs in (self.vfs, self.writer_vfs):
            if vfs is not None:
                try:
                    return vfs.snapshot_lsn(conn)
                except KeyError:
                    continue
        return None

    def latest_lsn(self) -> int:
        return self.store.written_lsn if self.writer_vfs is not None else self.replay_lsn()

    def durable_lsn(self) -> int:
        return self.store.durable_lsn if self.writer_vfs is not None else self.replay_lsn()

    def role(self) -> Role:
        return self._role

    def status(self) -> NodeStatus:
        lsn = self.durable_lsn()
        state = READ_ONLY if self._role == "replica" else WRITABLE
        return NodeStatus(role=self._role, state=state, term=1 + self.promotions,
                          written_lsn=self.latest_lsn(), durable_lsn=lsn, replay_lsn=lsn,
                          last_replay_ts_us=REPLAY_TS_US if self._role == "replica" else 0)

    def write_state(self) -> str:
        return self.status().state

    def prewarm(self, db_ids: Sequence[int]) -> None:
        pass

    def promote(self, timeout_s: float) -> None:
        if self._role == "replica":
            self.held_at = None  # replay the log to its end, then take writes
            self.writer_vfs = StrataVFS(self.store, self.store, temp_dir=str(self.temp_dir))
            self.promotions += 1
            self._role = "primary"

    def replication(self) -> list[ReplicationPeer]:
        return []

    def close(self) -> None:
        """The store belongs to the primary's factory."""


class FlakyPages:
    """The store's pages, unreadable while ``down`` (a page server that stopped answering)."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self.down = False

    def get_page(self, db_id: int, page_no: int, lsn: int) -> bytes | None:
        if self.down:
            raise PageUnavailableError(f"page {page_no} of database {db_id} at LSN {lsn}: "
                                       "page server unreachable")
        return self.store.get_page(db_id, page_no, lsn)

    def pin(self, lsn: int, exact: bool = True) -> int:
        return self.store.pin(lsn, exact)

    def unpin(self, lsn: int) -> None:
        self.store.unpin(lsn)

    def db_size(self, db_id: int, lsn: int) -> int:
        return self.store.db_size(db_id, lsn)


class PrimaryFactory(StandaloneFactory):
    """A standalone store that reports itself a primary in a chosen state, with replicas, and
    can fail the durability of its next commits (as a lost log store quorum would)."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, page_cache_mb=8)
        self.state = WRITABLE
        self.detail = ""
        self.fail_commits = False
        self.peers: list[ReplicationPeer] = []
        self.replication_threads: list[str] = []
        self.pages = FlakyPages(self.store)
        self.vfs = StrataVFS(self.pages, self.store, cache_kib=64, temp_dir=str(data_dir))

    def role(self) -> Role:
        return "primary"

    def status(self) -> NodeStatus:
        durable = self.store.durable_lsn
        return NodeStatus(role="primary", state=self.state, term=3, written_lsn=self.latest_lsn(),
                          durable_lsn=durable, replay_lsn=durable, detail=self.detail)

    def write_state(self) -> str:
        return self.state

    def take_commit_ticket(self, conn: apsw.Connection) -> CommitTicket | None:
        ticket = super().take_commit_ticket(conn)
        if ticket is None or not self.fail_commits:
            return ticket
        failed: Future[int] = Future()
        failed.set_exception(QuorumUnavailableError("2 of 3 log store nodes did not answer"))
        return CommitTicket(ticket.lsn, failed)

    def replication(self) -> list[ReplicationPeer]:
        self.replication_threads.append(threading.current_thread().name)
        return list(self.peers)


Node = InProcessNode


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node, ReplicaFactory]]:
    primary = Node(StandaloneFactory(tmp_path / "data", page_cache_mb=8))
    replica_factory = ReplicaFactory(primary.factory.store, tmp_path)
    with psycopg.connect(primary.dsn(), autocommit=True):
        pass  # the primary bootstraps the postgres database first
    replica = Node(replica_factory)
    try:
        yield primary, replica, replica_factory
    finally:
        replica.close()
        primary.close()


def error_of(conn: psycopg.Connection[Any], sql: str) -> tuple[str | None, str | None, str | None]:
    """(SQLSTATE, message, hint) of a statement that must fail; the connection stays usable."""
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.execute("ROLLBACK")
    diag = info.value.diag
    return diag.sqlstate, diag.message_primary, diag.message_hint


def one(conn: psycopg.Connection[Any], sql: str) -> tuple[Any, ...]:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row


# Writes a standby refuses, each with the text PostgreSQL 15 gives in a read-only transaction
# (a hot standby forces transaction_read_only): compared live with the oracle below.
WRITES = [
    "INSERT INTO t VALUES (100, 'x')",
    "UPDATE t SET v = 'y'",
    "DELETE FROM t",
    "CREATE TABLE u (a int)",
    "DROP TABLE t",
    "ALTER TABLE t ADD COLUMN w int",
    "CREATE INDEX ON t (v)",
    "TRUNCATE t",
    "CREATE SEQUENCE s2",
    "CREATE VIEW vv AS SELECT 1 AS one",
    "SELECT nextval('s')",
    "SELECT setval('s', 5)",
    "SELECT * FROM t FOR UPDATE",
    "SELECT * FROM t FOR SHARE",
    "CREATE DATABASE x",
    "DROP DATABASE x",
    "COMMENT ON TABLE t IS 'x'",
]


def test_replica_reads_refuses_writes_and_follows_the_primary(
        pair: tuple[Node, Node, ReplicaFactory], pg_oracle: PostgresOracle) -> None:
    primary, replica, replica_factory = pair
    with psycopg.connect(primary.dsn(), autocommit=True) as p:
        p.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        p.execute("CREATE SEQUENCE s")
        p.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        assert p.info.parameter_status("in_hot_standby") == "off"
        assert p.info.parameter_status("default_transaction_read_only") == "off"

        with psycopg.connect(replica.dsn(), autocommit=True) as r:
            assert r.info.parameter_status("in_hot_standby") == "on"
            assert r.info.parameter_status("default_transaction_read_only") == "off"
            assert r.execute("SELECT id, v FROM t ORDER BY id").fetchall() == [(1, "one"), (2, "two")]
            assert r.execute("SHOW transaction_read_only").fetchone() == ("on",)
            assert r.execute("SHOW in_hot_standby").fetchone() == ("on",)
            assert r.execute("SHOW default_transaction_read_only").fetchone() == ("off",)
            assert r.execute("SELECT current_setting('in_hot_standby')").fetchone() == ("on",)

            # lag: the replica reads at its replay LSN, then catches up
            replica_factory.held_at = primary.factory.store.durable_lsn
            p.execute("INSERT INTO t VALUES (3, 'three')")
            assert r.execute("SELECT count(*) FROM t").fetchone() == (2,)
            replica_factory.held_at = None
            assert r.execute("SELECT count(*) FROM t").fetchone() == (3,)

            # every write is 25006 with PostgreSQL's text; the session goes on
            with psycopg.connect(pg_oracle.dsn, autocommit=True) as o:
                o.execute("DROP TABLE IF EXISTS t; DROP SEQUENCE IF EXISTS s")
                o.execute("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE SEQUENCE s")
                o.execute("SET default_transaction_read_only = on")
                for sql in WRITES:
                    expected = error_of(o, sql)
                    assert expected[0] == "25006", (sql, expected)
                    assert error_of(r, sql) == expected, sql
                o.execute("SET default_transaction_read_only = off")
                o.execute("DROP TABLE t; DROP SEQUENCE s")
            # as a PostgreSQL 15 hot standby answers these (not a read-only transaction's texts)
            r.execute("BEGIN")
            assert error_of(r, "LOCK TABLE t") == ("25006", "cannot execute LOCK TABLE during recovery", None)
            r.execute("BEGIN")
            r.execute("LOCK TABLE t IN ACCESS SHARE MODE")
            r.execute("ROLLBACK")
            with pytest.raises(pgerr.ReadOnlySqlTransaction):  # extended protocol too
                r.execute("INSERT INTO t VALUES (%s, %s)", (7, "seven"))
            assert error_of(r, "BEGIN READ WRITE") == (
                "0A000", "cannot set transaction read-write mode during recovery", None)
            with pytest.raises(pgerr.ReadOnlySqlTransaction) as info:
                with r.cursor().copy("COPY t FROM STDIN") as copy:
                    copy.write_row((9, "nine"))
            assert info.value.diag.message_primary == "cannot execute COPY during recovery"
            r.execute("BEGIN")
            assert error_of(r, "INSERT INTO t VALUES (5, 'five')")[0] == "25006"
            assert r.execute("SELECT count(*) FROM t").fetchone() == (3,)

            # the primary's DDL reaches the replica's cached catalog through the log
            p.execute("ALTER TABLE t ADD COLUMN w int DEFAULT 7")
            p.execute("CREATE TABLE later (k text)")
            p.execute("INSERT INTO later VALUES ('from the primary')")
            assert r.execute("SELECT id, w FROM t WHERE id = 1").fetchone() == (1, 7)
            assert r.execute("SELECT k FROM later").fetchall() == [("from the primary",)]
            p.execute("DROP TABLE later")
            with pytest.raises(pgerr.UndefinedTable):
                r.execute("SELECT k FROM later")

            # CREATE DATABASE on the primary: the replica lists it and serves it
            p.execute("CREATE DATABASE app")
            with psycopg.connect(primary.dsn("app"), autocommit=True) as pa:
                pa.execute("CREATE TABLE a (n int)")
                pa.execute("INSERT INTO a VALUES (42)")
            with psycopg.connect(replica.dsn("app"), autocommit=True) as ra:
                assert ra.execute("SELECT n FROM a").fetchall() == [(42,)]
                assert error_of(ra, "INSERT INTO a VALUES (1)")[:2] == (
                    "25006", "cannot execute INSERT in a read-only transaction")
            time.sleep(engine_module.REGISTRY_REFRESH_S)  # pg_database may lag this much
            names = {n for (n,) in r.execute("SELECT datname FROM pg_database").fetchall()}
            assert "app" in names
            p.execute("DROP DATABASE app")
            with pytest.raises(psycopg.OperationalError, match='database "app" does not exist'):
                psycopg.connect(replica.dsn("app"))

            # node functions on a replica
            assert r.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
            replay_ts = one(r, "SELECT pg_last_xact_replay_timestamp()")[0]
            assert replay_ts == datetime.datetime.fromtimestamp(REPLAY_TS_US / 1e6, datetime.UTC)
            assert error_of(r, "SELECT pg_current_wal_lsn()") == (
                "55000", "recovery is in progress", "WAL control functions cannot be executed during recovery.")
            assert error_of(r, "SELECT pg_current_wal_flush_lsn()")[0] == "55000"
            lsn = primary.factory.store.durable_lsn
            replay, receive = one(
                r, "SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_receive_lsn()::text")
            assert replay == receive == f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"
            status = one(r, "SELECT strata_node_status()")[0]
            assert status["role"] == "replica" and status["state"] == READ_ONLY
            assert status["replay_lsn"] == lsn
            assert r.execute("SELECT count(*) FROM pg_stat_replication").fetchone() == (0,)


def test_client_session_attributes(pair: tuple[Node, Node, ReplicaFactory]) -> None:
    """libpq and asyncpg pick a standby or a primary by in_hot_standby / transaction_read_only."""
    primary, replica, _ = pair
    with psycopg.connect(replica.dsn(), target_session_attrs="standby") as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    with psycopg.connect(replica.dsn(), target_session_attrs="read-only"):
        pass
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(replica.dsn(), target_session_attrs="read-write")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(primary.dsn(), target_session_attrs="standby")
    with psycopg.connect(primary.dsn(), target_session_attrs="primary"):
        pass

    async def asyncpg_check() -> None:
        conn = await asyncpg.connect(replica.dsn(), target_session_attrs="standby")
        try:
            assert conn.get_settings().in_hot_standby == "on"
            assert await conn.fetchval("SELECT pg_is_in_recovery()") is True
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await conn.execute("CREATE TABLE nope (a int)")
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        with pytest.raises(asyncpg.TargetServerAttributeNotMatched):
            await asyncpg.connect(primary.dsn(), target_session_attrs="standby")

    asyncio.run(asyncpg_check())


def test_promote_replica(pair: tuple[Node, Node, ReplicaFactory]) -> None:
    primary, replica, replica_factory = pair
    with psycopg.connect(primary.dsn(), autocommit=True) as p:
        p.execute("CREATE TABLE t (id int PRIMARY KEY)")
        p.execute("INSERT INTO t VALUES (1)")
    assert error_of(psycopg.connect(primary.dsn(), autocommit=True), "SELECT pg_promote()") == (
        "55000", "recovery is not in progress",
        "Recovery control functions can only be executed during recovery.")
    primary.call(primary.server.close())  # the old primary stops taking clients
    with psycopg.connect(replica.dsn(), autocommit=True) as idle, \
            psycopg.connect(replica.dsn(), autocommit=True) as r:
        assert idle.info.parameter_status("in_hot_standby") == "on"
        assert r.execute("SELECT pg_promote()").fetchone() == (True,)
        assert replica_factory.role() == "primary"
        r.execute("INSERT INTO t VALUES (2)")
        assert r.execute("SELECT count(*) FROM t").fetchone() == (2,)
        assert r.execute("SHOW transaction_read_only").fetchone() == ("off",)
        assert r.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()").fetchone() == (False, None)
        # an existing session learns in_hot_standby=off with its next ReadyForQuery
        idle.execute("SELECT 1")
        assert idle.info.parameter_status("in_hot_standby") == "off"
        idle.execute("CREATE TABLE after_promotion (a int)")
        with psycopg.connect(replica.dsn(), autocommit=True) as fresh:
            assert fresh.info.parameter_status("in_hot_standby") == "off"
            fresh.execute("CREATE DATABASE promoted_db")
        with psycopg.connect(replica.dsn("promoted_db"), autocommit=True) as db:
            db.execute("CREATE TABLE z (a int)")
        assert error_of(r, "SELECT pg_promote()")[:2] == ("55000", "recovery is not in progress")


def test_replica_waits_for_the_primary_to_bootstrap(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "REPLICA_BOOTSTRAP_WAIT_S", 0.3)
    store = LocalStore(tmp_path / "empty")
    replica = Node(ReplicaFactory(store, tmp_path))
    try:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as info:
            psycopg.connect(replica.dsn())
        assert "the database system is starting up" in str(info.value)
        assert time.monotonic() - started < 5
    finally:
        replica.close()
        store.close()


LSN_QUERIES = [
    "SELECT '0/1a'::pg_lsn, 'AB/CDEF01'::pg_lsn, '0/0'::pg_lsn::text",
    "SELECT 'AB/CDEF01'::pg_lsn - '0/1'::pg_lsn, '1/0'::pg_lsn > '0/FFFFFFFF', '1/0'::pg_lsn = '1/0'",
    "SELECT pg_wal_lsn_diff('1/0', '0/10'), pg_wal_lsn_diff('0/10', '1/0')",
    "SELECT pg_typeof(pg_current_wal_lsn()), pg_typeof(pg_current_wal_insert_lsn()), "
    "pg_typeof(pg_current_wal_flush_lsn()), pg_typeof(pg_wal_lsn_diff('1/0', '0/0'))",
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn(), "
    "pg_last_xact_replay_timestamp()",
    "SELECT pg_current_wal_lsn() >= '0/0', pg_current_wal_flush_lsn() <= pg_current_wal_lsn()",
    "SELECT x FROM (VALUES ('0/2'::pg_lsn), ('0/10'), ('1/0')) v(x) ORDER BY x DESC",
    "SELECT * FROM pg_stat_replication",
]
LSN_ERRORS = ["SELECT 'x'::pg_lsn", "SELECT '1/2/3'::pg_lsn", "SELECT ''::pg_lsn",
              "SELECT 'FFFFFFFFF/0'::pg_lsn", "SELECT pg_promote()"]


def test_node_functions_match_postgres(pair: tuple[Node, Node, ReplicaFactory],
                                       pg_oracle: PostgresOracle) -> None:
    primary, _, _ = pair
    with psycopg.connect(primary.dsn(), autocommit=True) as ours, \
            psycopg.connect(pg_oracle.dsn, autocommit=True) as theirs:
        for sql in LSN_QUERIES:
            got, want = ours.execute(sql), theirs.execute(sql)
            assert got.description is not None and want.description is not None
            assert [(d.name, d.type_code) for d in got.description] == \
                   [(d.name, d.type_code) for d in want.description], sql
            assert got.fetchall() == want.fetchall(), sql
        for sql in LSN_ERRORS:
            assert error_of(ours, sql) == error_of(theirs, sql), sql
        # binary format: pg_lsn is an int8 on the wire
        binary = []
        for conn in (ours, theirs):
            cur = conn.cursor(binary=True)
            cur.execute("SELECT 'AB/CDEF01'::pg_lsn, %s::pg_lsn", ("1/2",))
            binary.append(cur.fetchone())
        assert binary[0] == binary[1] == ((0xAB << 32 | 0xCDEF01).to_bytes(8, "big"),
                                          (1 << 32 | 2).to_bytes(8, "big"))
        ours.execute("CREATE TABLE positions (at pg_lsn)")
        ours.execute("INSERT INTO positions VALUES (%s), (pg_current_wal_lsn())", ("0/FF",))
        assert ours.execute("SELECT count(*) FROM positions WHERE at >= '0/FF'").fetchone() == (2,)


def test_storage_states_map_to_sqlstates(tmp_path: Path) -> None:
    factory = PrimaryFactory(tmp_path / "data")
    node = Node(factory)
    try:
        with psycopg.connect(node.dsn(), autocommit=True) as conn, \
                psycopg.connect(node.dsn(), autocommit=True) as other:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1)")
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)

            factory.state, factory.detail = FENCED, "term 4 (node b) took over from term 3"
            with pytest.raises(pgerr.ReadOnlySqlTransaction) as info:
                conn.execute("INSERT INTO t VALUES (2)")
            assert "deposed by a newer term" in str(info.value.diag.message_primary)
            assert info.value.diag.message_detail == factory.detail
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)  # reads go on
            status = one(conn, "SELECT strata_node_status()")[0]
            assert status == json.loads(json.dumps(factory.status().as_dict()))

            factory.state, factory.detail = NO_QUORUM, "acceptors b, c unreachable"
            with pytest.raises(pgerr.CannotConnectNow) as info2:
                conn.execute("BEGIN; INSERT INTO t VALUES (2); COMMIT")
            message = str(info2.value.diag.message_primary)
            assert "log store" in message and "quorum" in message
            conn.execute("ROLLBACK")  # the explicit transaction failed, as in PostgreSQL
            with pytest.raises(pgerr.CannotConnectNow):
                other.execute("CREATE DATABASE nope")

            # the log loses its quorum after taking the commit: the outcome is unknown (08007)
            factory.state, factory.detail = WRITABLE, ""
            factory.fail_commits = True
            with pytest.raises(pgerr.TransactionResolutionUnknown):
                conn.execute("INSERT INTO t VALUES (3)")
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (4)")
            with pytest.raises(pgerr.TransactionResolutionUnknown):
                conn.execute("COMMIT")
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            factory.fail_commits = False
            other.execute("INSERT INTO t VALUES (5)")  # nobody was left holding the writer
            conn.execute("INSERT INTO t VALUES (6)")
            assert one(conn, "SELECT count(*) FROM t")[0] >= 3

            # pg_stat_replication asks the node, off the event loop, once per query
            factory.peers = [ReplicationPeer("replica-b", "127.0.0.1:6543", 0x1_0000_0020)]
            rows = conn.execute("SELECT application_name, client_addr, client_port, state, "
                                "sent_lsn, sync_state FROM pg_stat_replication").fetchall()
            assert rows == [("replica-b", ipaddress.ip_address("127.0.0.1"), 6543, "streaming", "1/20",
                            "async")]
            conn.execute("SELECT count(*) FROM pg_stat_replication")
            assert len(factory.replication_threads) == 2
            assert all(name.startswith("sqlite") for name in factory.replication_threads)
    finally:
        node.close()


def test_unreadable_page_fails_the_statement_not_the_session(tmp_path: Path) -> None:
    factory = PrimaryFactory(tmp_path / "data")
    node = Node(factory)
    try:
        with psycopg.connect(node.dsn(), autocommit=True) as conn, \
                psycopg.connect(node.dsn(), autocommit=True) as other:
            conn.execute("CREATE TABLE big (id int PRIMARY KEY, pad text)")
            conn.execute("INSERT INTO big SELECT g, repeat('x', 500) FROM generate_series(1, 400) g")
            factory.pages.down = True
            with pytest.raises(psycopg.Error) as info:
                conn.execute("SELECT count(*), max(pad) FROM big")
            assert info.value.diag.sqlstate == "58030"  # io_error: PostgreSQL's failed block read
            assert "page server unreachable" in str(info.value.diag.message_primary)
            with pytest.raises(psycopg.Error) as info2:  # the extended protocol path
                conn.execute("SELECT max(pad) FROM big WHERE id > %s", (0,))
            assert info2.value.diag.sqlstate == "58030"
            factory.pages.down = False
            assert one(conn, "SELECT count(*) FROM big") == (400,)
            assert one(other, "SELECT count(*) FROM big") == (400,)
    finally:
        node.close()
