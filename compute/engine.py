"""The compute's SQL engine: databases, the single writer, pooled readers, caches.

One ``Database`` per PostgreSQL database. It owns exactly one writer connection (write
transactions are serialized through ``writer_lock``) and a bounded pool of reader
connections that read at snapshot LSNs. SQLite work runs on a small thread pool so that a
long statement never blocks the event loop, and so that CancelRequest and
statement_timeout can interrupt it (``apsw.Connection.interrupt`` is thread-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import apsw

from compute.sql import Catalog, translate
from compute.sql.api import SqlError, Translation
from compute.sql.catalog import bootstrap_statements
from compute.sql.functions import SessionContext, register_functions
from compute.sqlcache import ShapeCache
from compute.storage import CommitTicket

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

    def close(self) -> None: ...


class Guard:
    """Why the statement running on a connection must stop (polled by SQLite's progress handler)."""

    __slots__ = ("reason",)

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self) -> bool:
        return self.reason is not None


@dataclass
class Pooled:
    """A SQLite connection with the per-session context its SQL functions read."""

    conn: apsw.Connection
    ctx: SessionContext
    guard: Guard = field(default_factory=Guard)


def prepare_connection(conn: apsw.Connection) -> Pooled:
    ctx = SessionContext()
    register_functions(conn, ctx)
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
    reader_slots: asyncio.Semaphore
    factory: ConnectionFactory
    catalog_conn: apsw.Connection  # a reader used only on the event loop thread, for catalogs
    catalogs: OrderedDict[int, Catalog] = field(default_factory=OrderedDict)
    shapes: ShapeCache = field(default_factory=ShapeCache)

    async def checkout_reader(self) -> Pooled:
        """A reader connection for one statement or one snapshot transaction (bounded pool)."""
        await self.reader_slots.acquire()
        if self.idle_readers:
            return self.idle_readers.pop()
        try:
            return prepare_connection(self.factory.connect(self.db_id, "reader"))
        except BaseException:
            self.reader_slots.release()
            raise

    def return_reader(self, pooled: Pooled) -> None:
        if pooled.conn.in_transaction:
            with contextlib.suppress(apsw.Error):
                pooled.conn.execute("ROLLBACK")
        pooled.guard.reason = None
        self.idle_readers.append(pooled)
        self.reader_slots.release()

    def invalidate_catalogs(self) -> None:
        """Forget cached catalogs: a rolled-back DDL may have reused a schema cookie value."""
        self.catalogs.clear()

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
        self._db_ids = {"postgres": 0}
        self._open_lock = asyncio.Lock()

    async def run(self, fn: Callable[[], T]) -> T:
        """Run SQLite work on the engine's threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def database(self, name: str) -> Database:
        db = self.databases.get(name)
        if db is not None:
            return db
        db_id = self._db_ids.get(name)
        if db_id is None:
            raise SqlError("3D000", f'database "{name}" does not exist', severity="FATAL")
        async with self._open_lock:
            db = self.databases.get(name)
            if db is None:
                db = await self.run(lambda: self._open(name, db_id))
                self.databases[name] = db
        return db

    def _open(self, name: str, db_id: int) -> Database:
        writer = prepare_connection(self.factory.connect(db_id, "writer"))
        conn = writer.conn
        statements = bootstrap_statements()
        needs_bootstrap = not conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE name = '__strata_columns'").fetchall()
        if needs_bootstrap:
            conn.execute("BEGIN")
            for sql in statements:
                conn.execute(sql)
            conn.execute("COMMIT")
            ticket = self.factory.take_commit_ticket(conn)
            if ticket is not None:
                ticket.durable.result(timeout=60)
        catalog_conn = prepare_connection(self.factory.connect(db_id, "reader")).conn
        return Database(name, db_id, writer, asyncio.Lock(), [],
                        asyncio.Semaphore(self.max_readers), self.factory, catalog_conn)

    def close(self) -> None:
        for db in self.databases.values():
            for conn in [db.writer.conn, db.catalog_conn, *(p.conn for p in db.idle_readers)]:
                with contextlib.suppress(apsw.Error):
                    conn.close()
        self.databases.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.factory.close()
