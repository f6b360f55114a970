"""The compute's SQL engine: databases, the single writer, pooled readers, caches.

One ``Database`` per PostgreSQL database. It owns exactly one writer connection (write
transactions are serialized through ``writer_lock``) and a bounded pool of reader
connections that read at snapshot LSNs. SQLite work runs on a small thread pool so that a
long statement never blocks the event loop, and so that CancelRequest and
statement_timeout can interrupt it (``apsw.Connection.interrupt`` is thread-safe).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import apsw
import apsw.ext

from compute.node import NodeStatus, ReplicationPeer, Role
from compute.sql import Catalog, translate
from compute.sql.api import SqlError, Translation
from compute.sql.catalog import bootstrap_statements
from compute.sql.functions import SessionContext, register_functions
from compute.sqlcache import ShapeCache
from strata.storage import CommitTicket

log = logging.getLogger("strata.compute")
T = TypeVar("T")


class ConnectionFactory(Protocol):
    """How the engine gets SQLite connections on Strata storage (the page VFS)."""

    def connect(self, db_id: int, role: str) -> apsw.Connection: ...

    def take_commit_ticket(self, conn: apsw.Connection) -> CommitTicket | None: ...

    def snapshot_lsn(self, conn: apsw.Connection) -> int | None:
        """The LSN a connection's open read transaction is pinned at (None if none open)."""
        ...

    def latest_lsn(self) -> int:
        """The newest commit LSN a writer would see (written, maybe not yet durable)."""
        ...

    def durable_lsn(self) -> int:
        """The newest durable commit LSN (what new reader snapshots see)."""
        ...

    def role(self) -> Role:
        """standalone | primary | replica. A replica opens databases read-only (no bootstrap
        writes) and its sessions reject writes with 25006."""
        ...

    def status(self) -> NodeStatus:
        """Role, state, term and LSNs (cheap: no I/O; called per SQL function call)."""
        ...

    def promote(self, timeout_s: float) -> None:
        """Make a replica the primary (blocking: elect the next term, replay the log to its
        end, then accept writes). Raises StorageError on failure; a no-op on a primary."""
        ...

    def replication(self) -> list[ReplicationPeer]:
        """The readers of this node's log (``pg_stat_replication``); may do I/O."""
        ...

    def close(self) -> None: ...


class Guard:
    """Why the statement running on a connection must stop (polled by SQLite's progress handler).

    ``reason`` is set from outside (cancel, a statement_timeout timer). The two deadlines are
    checked here because a statement run inline on the event loop thread blocks those timers:
    ``budget_deadline`` ends an inline read that turned out long (it is re-run on a thread),
    ``statement_deadline`` is statement_timeout.
    """

    __slots__ = ("reason", "budget_deadline", "statement_deadline")

    def __init__(self) -> None:
        self.reason: str | None = None
        self.budget_deadline = 0.0
        self.statement_deadline = 0.0

    def __call__(self) -> bool:
        if self.reason is not None:
            return True
        if self.budget_deadline or self.statement_deadline:
            now = time.monotonic()
            if self.budget_deadline and now > self.budget_deadline:
                self.reason = "budget"
                return True
            if self.statement_deadline and now > self.statement_deadline:
                self.reason = "timeout"
                return True
        return False

    def reset(self) -> None:
        self.reason = None
        self.budget_deadline = 0.0
        self.statement_deadline = 0.0


@dataclass
class Pooled:
    """A SQLite connection with the per-session context its SQL functions read."""

    conn: apsw.Connection
    ctx: SessionContext
    guard: Guard = field(default_factory=Guard)


REGISTRY_DB_ID = 0  # the `postgres` database holds the list of databases
# Dropped databases keep their row (dropped = 1) so that an id is never reused: pages of a
# dropped database stay in the store and must never show up in a new database.
_REGISTRY_DDL = ("CREATE TABLE IF NOT EXISTS __strata_databases "
                 "(db_id INT PRIMARY KEY, name TEXT NOT NULL, dropped INT NOT NULL DEFAULT 0) STRICT")
DATABASE_OID_BASE = 16384  # pg_database.oid of database N is this + N (PostgreSQL's first user OID)


class DatabaseRegistry:
    """Names of the compute's databases and their storage ids (mirrors __strata_databases)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"postgres": REGISTRY_DB_ID}
        self.next_id = REGISTRY_DB_ID + 1

    def rows(self) -> list[tuple[int, str]]:
        """(pg_database oid, name) for the ``strata_databases`` table-valued function."""
        return sorted((DATABASE_OID_BASE + i, n) for n, i in self.ids.items())


def prepare_connection(conn: apsw.Connection, registry: DatabaseRegistry | None = None) -> Pooled:
    ctx = SessionContext()
    register_functions(conn, ctx)
    if registry is not None:
        def strata_databases() -> list[tuple[int, str]]:
            return registry.rows()

        strata_databases.columns = ("oid", "datname")  # type: ignore[attr-defined]
        strata_databases.column_access = apsw.ext.VTColumnAccess.By_Index  # type: ignore[attr-defined]
        apsw.ext.make_virtual_module(conn, "strata_databases", strata_databases)  # type: ignore[arg-type]
    pooled = Pooled(conn, ctx)
    conn.set_progress_handler(pooled.guard, 1000)
    return pooled


@dataclass
class Database:
    name: str
    db_id: int
    writer: Pooled
    writer_lock: asyncio.Lock
    idle_readers: list[Pooled]
    max_readers: int
    factory: ConnectionFactory
    registry: DatabaseRegistry
    catalog_conn: apsw.Connection  # a reader used only on the event loop thread, for catalogs
    catalogs: OrderedDict[int, Catalog] = field(default_factory=OrderedDict)
    slow_statements: set[tuple[str, ...]] = field(default_factory=set)  # run on threads
    slow_since: float = 0.0
    shapes: ShapeCache = field(default_factory=ShapeCache)
    reader_count: int = 0
    reader_waiters: collections.deque[asyncio.Future[Pooled]] = field(
        default_factory=collections.deque)
    durable_catalog: tuple[int, Catalog] | None = None  # (durable LSN, catalog at it)
    last_commit_lsn: int = 0  # of this database (the log is shared by all databases)

    def take_ticket(self, conn: apsw.Connection) -> CommitTicket | None:
        """The writer's commit ticket, remembering this database's newest commit LSN."""
        ticket = self.factory.take_commit_ticket(conn)
        if ticket is not None:
            self.last_commit_lsn = max(self.last_commit_lsn, ticket.lsn)
        return ticket

    async def checkout_reader(self) -> Pooled:
        """A reader connection for one statement or one snapshot transaction (bounded pool)."""
        if self.idle_readers:
            return self.idle_readers.pop()
        if self.reader_count < self.max_readers:
            self.reader_count += 1
            try:
                return prepare_connection(self.factory.connect(self.db_id, "reader"),
                                          self.registry)
            except BaseException:
                self.reader_count -= 1
                raise
        waiter: asyncio.Future[Pooled] = asyncio.get_running_loop().create_future()
        self.reader_waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.return_reader(waiter.result())
            raise

    def return_reader(self, pooled: Pooled) -> None:
        if pooled.conn.in_transaction:
            with contextlib.suppress(apsw.Error):
                pooled.conn.execute("ROLLBACK")
        pooled.guard.reset()
        while self.reader_waiters:
            waiter = self.reader_waiters.popleft()
            if not waiter.done():
                waiter.set_result(pooled)
                return
        self.idle_readers.append(pooled)

    def invalidate_catalogs(self) -> None:
        """Forget cached catalogs: a rolled-back DDL may have reused a schema cookie value."""
        self.catalogs.clear()
        self.durable_catalog = None

    def durable_catalog_now(self) -> Catalog:
        """The catalog at the newest durable LSN; re-read only when that LSN moved."""
        lsn = self.factory.durable_lsn()
        cached = self.durable_catalog
        if cached is not None and cached[0] == lsn:
            return cached[1]
        catalog = self.catalog_for(self.catalog_conn)
        self.durable_catalog = (lsn, catalog)
        return catalog

    def catalog_for(self, conn: apsw.Connection) -> Catalog:
        """The catalog as this connection sees it, cached by SQLite's schema cookie."""
        version = int(conn.execute("PRAGMA schema_version").fetchall()[0][0])  # type: ignore[arg-type]
        catalog = self.catalogs.get(version)
        if catalog is None:
            catalog = Catalog.load(conn)
            self.catalogs[version] = catalog
            while len(self.catalogs) > 16:
                self.catalogs.popitem(last=False)
        return catalog

    def translate(self, sql: str, catalog: Catalog) -> list[Translation]:
        return self.shapes.translate(sql, catalog, translate)


class Engine:
    """All databases of one compute node, and the threads their SQLite work runs on."""

    def __init__(self, factory: ConnectionFactory, *, max_readers: int = 8,
                 threads: int = 4) -> None:
        self.factory = factory
        self.max_readers = max_readers
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqlite")
        self.databases: dict[str, Database] = {}
        self.registry = DatabaseRegistry()
        self._open_lock = asyncio.Lock()
        self._registry_loaded = False
        self.connected: collections.Counter[str] = collections.Counter()  # sessions per database

    def sessions_using(self, name: str) -> int:
        return self.connected[name]

    async def run(self, fn: Callable[[], T]) -> T:
        """Run SQLite work on the engine's threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def database(self, name: str) -> Database:
        db = self.databases.get(name)
        if db is not None:
            return db
        if not self._registry_loaded:
            await self._load_registry()
        db_id = self.registry.ids.get(name)
        if db_id is None:
            raise SqlError("3D000", f'database "{name}" does not exist', severity="FATAL")
        async with self._open_lock:
            db = self.databases.get(name)
            if db is None:
                db = await self.run(lambda: self._open(name, db_id))
                self.databases[name] = db
        return db

    async def _load_registry(self) -> None:
        async with self._open_lock:
            if self._registry_loaded:
                return
            db = self.databases.get("postgres")
            if db is None:
                db = await self.run(lambda: self._open("postgres", REGISTRY_DB_ID))
                self.databases["postgres"] = db
            rows = await self.run(lambda: db.writer.conn.execute(
                "SELECT name, db_id, dropped FROM __strata_databases").fetchall())
            for name, db_id, dropped in rows:
                self.registry.next_id = max(self.registry.next_id, int(db_id) + 1)  # type: ignore[arg-type]
                if not dropped:
                    self.registry.ids[str(name)] = int(db_id)  # type: ignore[arg-type]
            self._registry_loaded = True

    async def create_database(self, name: str) -> None:
        """CREATE DATABASE: a new id in the registry; its storage starts empty."""
        postgres = await self.database("postgres")
        if name in self.registry.ids or name in ("template0", "template1"):  # listed in pg_database
            raise SqlError("42P04", f'database "{name}" already exists')
        async with postgres.writer_lock:
            db_id = self.registry.next_id
            await self._registry_write(
                postgres, "INSERT INTO __strata_databases (db_id, name) VALUES (?, ?)",
                (db_id, name))
            self.registry.ids[name] = db_id
            self.registry.next_id = db_id + 1

    async def drop_database(self, name: str, in_use: Callable[[str], int]) -> None:
        """DROP DATABASE: forget the name (pages of the old id are never read again)."""
        postgres = await self.database("postgres")
        if name not in self.registry.ids:
            raise SqlError("3D000", f'database "{name}" does not exist')
        if name == "postgres":
            raise SqlError("0A000", 'dropping the "postgres" database is not supported: it holds '
                                    "the list of databases")
        users = in_use(name)
        if users:
            raise SqlError("55006", f'database "{name}" is being accessed by other users',
                           detail=f"There is {users} other session using the database." if users == 1
                           else f"There are {users} other sessions using the database.")
        async with postgres.writer_lock:
            await self._registry_write(
                postgres, "UPDATE __strata_databases SET dropped = 1 WHERE db_id = ?",
                (self.registry.ids[name],))
            del self.registry.ids[name]
        db = self.databases.pop(name, None)
        if db is not None:
            for conn in [db.writer.conn, db.catalog_conn, *(p.conn for p in db.idle_readers)]:
                with contextlib.suppress(apsw.Error):
                    conn.close()

    async def _registry_write(self, postgres: Database, sql: str, args: tuple[object, ...]) -> None:
        conn = postgres.writer.conn

        def write() -> CommitTicket | None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute(sql, args)
            return self.factory.take_commit_ticket(conn)

        ticket = await self.run(write)
        if ticket is not None:
            await asyncio.wrap_future(ticket.durable)

    def _open(self, name: str, db_id: int) -> Database:
        writer = prepare_connection(self.factory.connect(db_id, "writer"), self.registry)
        conn = writer.conn
        statements = bootstrap_statements()
        if db_id == REGISTRY_DB_ID:
            statements = [*statements, _REGISTRY_DDL]
        # Every open: the statements are idempotent, and a database made by an older
        # version gains the catalog tables added since (no change -> nothing is logged).
        conn.execute("BEGIN")
        for sql in statements:
            conn.execute(sql)
        conn.execute("COMMIT")
        ticket = self.factory.take_commit_ticket(conn)
        if ticket is not None:
            ticket.durable.result(timeout=60)
        catalog_conn = prepare_connection(self.factory.connect(db_id, "reader"), self.registry).conn
        return Database(name, db_id, writer, asyncio.Lock(), [], self.max_readers, self.factory,
                        self.registry, catalog_conn)

    def close(self) -> None:
        for db in self.databases.values():
            for conn in [db.writer.conn, db.catalog_conn, *(p.conn for p in db.idle_readers)]:
                with contextlib.suppress(apsw.Error):
                    conn.close()
        self.databases.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.factory.close()
