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
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import apsw
import apsw.ext

from compute.backend import Admin
from compute.node import FENCED, NO_QUORUM, PROMOTING, NodeStatus, ReplicationPeer, Role
from compute.sql import (
    ROLES,
    TABLES,
    Catalog,
    SessionContext,
    bootstrap_statements,
    prepare_connection,
    translate,
)
from compute.sql.api import SqlError, Translation
from compute.sqlcache import ShapeCache
from compute.temp_tables import drop_orphans
from strata.storage import (
    CommitTicket,
    NotPrimaryError,
    PageUnavailableError,
    QuorumUnavailableError,
    StorageError,
)

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

    def write_state(self) -> str:
        """``status().state`` alone, without building the rest: the write fast lane asks it
        per write statement (``Engine.writable_now``)."""
        ...

    def prewarm(self, db_ids: Sequence[int]) -> None:
        """Start warming the page cache for these databases in the background, if the
        storage gains from it (shared storage: yes; the local store: nothing to do)."""
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


def _never_current() -> bool:
    """The held-snapshot check of a connection its factory's VFS does not know."""
    return False


@dataclass
class Pooled:
    """A SQLite connection with the per-session context its SQL functions read."""

    conn: apsw.Connection
    ctx: SessionContext
    guard: Guard = field(default_factory=Guard)
    held: bool = False
    """Its open SQLite transaction is a held autocommit read (``Database.hold_for_read``):
    only plain autocommit reads ran in it, and it may be reused while its LSN is current."""
    held_tick: int = 0  # Database.hold_tick when it was last returned holding
    read_lsn: int = -1  # the durable LSN at its last autocommit read that did not hold
    control: apsw.Cursor | None = None  # runs hold_for_read's BEGIN and ROLLBACK
    reads: apsw.Cursor | None = None  # runs the read lane's statements (Session._fast_read)
    snapshot_current: Callable[[], bool] | None = None  # Database._snapshot_current's, bound

    def new_reads(self) -> apsw.Cursor:
        """The cursor kept for the read lane's statements (``reads``; ``conn.execute`` makes
        a new cursor per statement). apsw resets a cursor's statement when it is done or fails,
        so a kept cursor holds nothing between statements."""
        self.reads = self.conn.cursor()
        return self.reads


REGISTRY_DB_ID = 0  # the `postgres` database holds the list of databases
# Dropped databases keep their row (dropped = 1) so that an id is never reused: pages of a
# dropped database stay in the store and must never show up in a new database.
_REGISTRY_DDL = ("CREATE TABLE IF NOT EXISTS __strata_databases "
                 "(db_id INT PRIMARY KEY, name TEXT NOT NULL, dropped INT NOT NULL DEFAULT 0) STRICT")
DATABASE_OID_BASE = 16384  # pg_database.oid of database N is this + N (PostgreSQL's first user OID)
REPLICA_BOOTSTRAP_WAIT_S = 5.0  # a replica waits this long for the primary to bootstrap a database
BOOTSTRAP_POLL_S = 0.05
REGISTRY_REFRESH_S = 0.1  # a replica re-reads the database list at most this often per statement
SCHEMA_COOKIE_OFFSET = 40  # SQLite's schema cookie in page 1 (file format: the database header)
MAX_REMEMBERED_STATEMENTS = 4096  # bound of the slow and quick statement sets, in statements
HAND_OVER = os.environ.get("STRATA_WRITER_HANDOVER", "1") != "0"
"""``WriterLock.hand_over_now`` runs the lane waiter a COMMIT released the writer to at once
(``0``: it waits for its own callback, behind what the loop already had queued)."""
HOLD_READS = os.environ.get("STRATA_READER_HOLD", "1") != "0"
"""Pooled readers keep the read transaction of their last autocommit read open (``0``: every
autocommit read begins and ends its own, as before session 17; for A/B runs)."""
READER_HOLD_MS = 20
"""A pooled reader that served an autocommit read keeps its SQLite read transaction (and the
page-store pin of its snapshot) while idle for READER_HOLD_MS to twice that, in milliseconds;
the next autocommit read on it runs in that transaction if a new one would pin the very same
LSN (``Database.hold_for_read``), which skips SQLite's lock, change-counter read and unlock
(~39k of ~140k instructions per point select). Released by ``Database.release_idle_holds``,
and at once by any other use of the reader (docs/compute.md, "Held read transactions")."""
PROMOTING_WRITE_WAIT_S = 30.0  # a write on a node still taking its term waits at most this long
# LOCK modes a hot standby grants (PostgreSQL: up to ROW EXCLUSIVE); stronger ones are 25006
STANDBY_LOCK_MODES = frozenset({"ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE"})


def read_only_error(command: str) -> SqlError:
    """PostgreSQL's refusal of a write in a read-only transaction (always so on a standby)."""
    return SqlError("25006", f"cannot execute {command} in a read-only transaction")


def storage_error(exc: StorageError, command: str = "", at_commit: bool = False) -> SqlError:
    """A storage failure as the SQLSTATE PostgreSQL clients act on (docs/compute.md).

    At COMMIT a lost quorum leaves the outcome unknown (08007); a deposed node refuses
    writes (25006); an unreachable log store quorum is "not accepting" (57P03); a page that
    cannot be read is an I/O error (58030, as PostgreSQL's failed block read).
    """
    what = f"cannot execute {command}: " if command else ""
    if at_commit and isinstance(exc, QuorumUnavailableError):
        return commit_unknown_error(exc)
    if isinstance(exc, NotPrimaryError):
        return SqlError("25006", f"{what}this node was deposed by a newer term and accepts no writes",
                        detail=str(exc) or None)
    if isinstance(exc, QuorumUnavailableError):
        return SqlError("57P03", f"{what}the log store has no quorum (a majority of log store nodes "
                                 "did not answer)", detail=str(exc) or None)
    code = getattr(exc, "sqlstate", None)  # a store that knows the SQLSTATE (53100, XX001)
    if isinstance(code, str):
        return SqlError(code, f"{what}{exc}")
    if isinstance(exc, PageUnavailableError):
        return SqlError("58030", f"could not read a page: {exc}")
    return SqlError("58030", f"could not write to the log: {exc}")


def commit_unknown_error(exc: BaseException) -> SqlError:
    """The log did not confirm a commit it was given: it may or may not survive (08007)."""
    return SqlError("08007", "transaction resolution unknown: the log store did not confirm the commit",
                    detail=str(exc) or type(exc).__name__,
                    hint="The transaction may or may not have been committed; check before retrying.")


class DatabaseRegistry:
    """Names of the compute's databases and their storage ids (mirrors __strata_databases)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"postgres": REGISTRY_DB_ID}
        self.next_id = REGISTRY_DB_ID + 1

    def rows(self) -> list[tuple[int, str]]:
        """(pg_database oid, name) for the ``strata_databases`` table-valued function."""
        return sorted((DATABASE_OID_BASE + i, n) for n, i in self.ids.items())


def pooled_connection(conn: apsw.Connection, registry: DatabaseRegistry | None = None,
                      node: ConnectionFactory | None = None) -> Pooled:
    ctx = SessionContext()
    ctx.node = node  # node_functions: pg_is_in_recovery(), pg_promote(), ...
    prepare_connection(conn, ctx)
    if registry is not None:
        def strata_databases() -> list[tuple[int, str]]:
            return registry.rows()

        strata_databases.columns = ("oid", "datname")  # type: ignore[attr-defined]
        strata_databases.column_access = apsw.ext.VTColumnAccess.By_Index  # type: ignore[attr-defined]
        apsw.ext.make_virtual_module(conn, "strata_databases", strata_databases)  # type: ignore[arg-type]
    pooled = Pooled(conn, ctx)
    ctx.guard = pooled.guard  # pg_sleep polls it (SQLite does not call the handler in a function)
    conn.set_progress_handler(pooled.guard, 1000)
    return pooled


class WriterLock(asyncio.Lock):
    """The database's single-writer lock, with a synchronous ``try_acquire`` for the write
    fast lane (compute/session_fast.py), which takes the writer without an await when it is
    free, and a waiter without a task for the callback lanes (compute/pgwire/fastwait.py):
    ``enqueue`` puts a future in the lock's own queue exactly as ``acquire`` does (so waiters
    of both kinds are served in one FIFO order) and ``granted`` is what ``acquire`` does once
    that future is done (take the lock, or leave the queue and pass a wake-up on)."""

    _locked: bool  # asyncio.Lock's own state (set by its acquire, cleared by release)

    def __init__(self) -> None:
        super().__init__()
        self._on_grant: dict[asyncio.Future[bool | None], Callable[[asyncio.Future[bool | None]], None]] = {}
        """Callback lanes' waiters and their done callbacks, for ``hand_over_now``."""
        self._handing = False

    def free(self) -> bool:
        """``acquire()`` would take the lock without waiting: unlocked and nobody queued (a
        woken waiter is never overtaken)."""
        return not self._locked and (not self._waiters or all(w.cancelled() for w in self._waiters))

    def try_acquire(self) -> bool:
        """Take the lock now if ``acquire()`` would take it without waiting; False otherwise."""
        if not self.free():
            return False
        self._locked = True
        return True

    def enqueue(self, on_grant: Callable[[asyncio.Future[bool | None]], None] | None = None
                ) -> asyncio.Future[bool | None]:
        """A waiter at the end of the queue (the caller found the lock not ``free``): the lock
        hands itself to it by setting its result to True (``release``, ``_wake_up_first``).
        Its owner must call ``granted`` once it is done, whatever made it done. ``on_grant``
        (a callback lane's waiter): its done callback, which ``hand_over_now`` may run before
        the loop does; it must do nothing when called a second time."""
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = collections.deque()
        fut: asyncio.Future[bool | None] = self._get_loop().create_future()  # type: ignore[attr-defined]
        waiters.append(fut)
        if on_grant is not None:
            fut.add_done_callback(on_grant)
            self._on_grant[fut] = on_grant
        return fut

    def hand_over_now(self) -> None:
        """The lock was just released to a callback lane's waiter (its future done with True,
        its done callback only scheduled): run that callback now instead of after everything
        already in the loop's ready queue. A commit's release is followed there by the work
        its commit scheduled (the log store proposer's sends to the acceptors, ~90 µs in a
        cluster), which the next holder's first statement then waited for; run first, the
        statement's answer goes out and that work fills the holder's client round trip
        (docs/performance.md, "The writer's hold in the cluster, and its hand-over (session
        13)"). Call it where nothing of the caller's own is left to do on the loop; not nested
        (a hand-over's statement that ends in a commit leaves the next one to the loop)."""
        waiters = self._waiters
        if not HAND_OVER or self._handing or self._locked or not waiters:
            return
        fut = waiters[0]
        if not fut.done() or fut.cancelled() or fut.result() is not True:
            return
        on_grant = self._on_grant.pop(fut, None)
        if on_grant is None:  # the message loop's waiter (a task): its own wake-up
            return
        self._handing = True
        try:
            on_grant(fut)
        finally:
            self._handing = False

    def granted(self, fut: asyncio.Future[bool | None]) -> bool:
        """``fut`` (from ``enqueue``) is done: it leaves the queue. True: the lock was handed to
        it and is now held (``acquire`` returning). False: it gave up first (another result,
        or cancelled); if the lock is free, the next waiter is woken (``acquire``'s
        cancellation: a wake-up meant for it is passed on)."""
        waiters = self._waiters
        if waiters is not None:
            with contextlib.suppress(ValueError):
                waiters.remove(fut)
        self._on_grant.pop(fut, None)
        if not fut.cancelled() and fut.result() is True:
            assert not self._locked
            self._locked = True
            return True
        if not self._locked:
            self._wake_up_first()  # type: ignore[attr-defined]
        return False


@dataclass
class Database:
    name: str
    db_id: int
    writer_pooled: Pooled | None  # None on a replica (and until a promoted node opens it)
    writer_lock: WriterLock
    idle_readers: list[Pooled]
    max_readers: int
    factory: ConnectionFactory
    registry: DatabaseRegistry
    catalog_conn: apsw.Connection  # a reader used only on the event loop thread, for catalogs
    catalogs: OrderedDict[int, Catalog] = field(default_factory=OrderedDict)
    slow_statements: set[tuple[str, ...]] = field(default_factory=set)  # run on threads
    slow_since: float = 0.0
    # writes in a transaction block seen to finish quickly on a thread: only these run inline
    # (an interrupted write takes its whole transaction with it, so it cannot be re-run)
    quick_writes: set[tuple[str, ...]] = field(default_factory=set)
    shapes: ShapeCache = field(default_factory=ShapeCache)
    # compute/sql/privileges.py: what each step touches, by (schema version, step), for the checks
    # of sessions that are not superusers
    access_sets: dict[tuple[int, str], tuple[tuple[str, str, str | None], ...]] = field(default_factory=dict)
    reader_count: int = 0
    reader_waiters: collections.deque[asyncio.Future[Pooled]] = field(
        default_factory=collections.deque)
    durable_catalog: tuple[int, Catalog] | None = None  # (durable LSN, catalog at it)
    last_commit_lsn: int = 0  # of this database (the log is shared by all databases)
    hold_check: Callable[[Pooled], bool] | None = None
    """Whether a reader's open read transaction is pinned at the LSN a new one would pin:
    ``factory.snapshot_is_current`` of its connection (``_snapshot_current``; None: readers
    never hold; a factory without a page VFS, or ``STRATA_READER_HOLD=0``)."""
    hold_tick: int = 0  # release_idle_holds rounds so far
    hold_timer: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        if HOLD_READS and getattr(self.factory, "snapshot_check", None) is not None:
            self.hold_check = self._snapshot_current

    def _snapshot_current(self, pooled: Pooled) -> bool:
        """``factory.snapshot_is_current(pooled.conn)``, through the check the factory binds
        to the connection once (``snapshot_check``: its VFS file's own, without finding the
        file per call; a connection not of its VFS is never current)."""
        current = pooled.snapshot_current
        if current is None:
            bind: Callable[[apsw.Connection], Callable[[], bool] | None] = getattr(  # noqa: B009 - not in the protocol
                self.factory, "snapshot_check")
            current = pooled.snapshot_current = bind(pooled.conn) or _never_current
        return current()

    def note_slow(self, steps: tuple[str, ...]) -> None:
        """A statement ran past its inline budget: run it on a thread from now on."""
        if len(self.slow_statements) >= MAX_REMEMBERED_STATEMENTS:
            self.slow_statements.clear()
        if not self.slow_statements:  # the memory of slow statements starts now (SLOW_MEMORY_S)
            self.slow_since = time.monotonic()
        self.slow_statements.add(steps)
        self.quick_writes.discard(steps)

    def note_quick_write(self, steps: tuple[str, ...]) -> None:
        """A write in a transaction block finished quickly on a thread: it may run inline."""
        if len(self.quick_writes) >= MAX_REMEMBERED_STATEMENTS:
            self.quick_writes.clear()
        self.quick_writes.add(steps)

    @property
    def writer(self) -> Pooled:
        """The writer connection; sessions reach it only after ``Engine.check_writable``."""
        if self.writer_pooled is None:
            raise SqlError("25006", "cannot execute a write on a read-only node")
        return self.writer_pooled

    def take_ticket(self, conn: apsw.Connection) -> CommitTicket | None:
        """The writer's commit ticket, remembering this database's newest commit LSN."""
        ticket = self.factory.take_commit_ticket(conn)
        if ticket is not None:
            self.last_commit_lsn = max(self.last_commit_lsn, ticket.lsn)
        return ticket

    async def checkout_reader(self, hold: bool = False) -> Pooled:
        """A reader connection for one statement or one snapshot transaction (bounded pool).
        Without a transaction open, unless ``hold`` (an autocommit read, which calls
        ``hold_for_read`` next)."""
        reader = await self._checkout_reader()
        if reader.held and not hold:
            self.release_hold(reader)
        return reader

    async def _checkout_reader(self) -> Pooled:
        if self.idle_readers:
            return self.idle_readers.pop()
        if self.reader_count < self.max_readers:
            self.reader_count += 1
            try:
                return pooled_connection(self.factory.connect(self.db_id, "reader"),
                                          self.registry, self.factory)
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

    def hold_for_read(self, pooled: Pooled) -> None:
        """Before an autocommit read on the idle reader ``pooled``: if it holds a read
        transaction pinned at exactly the LSN a new one would pin now (no commit became visible
        since: the same snapshot, so the same answer), the read runs in it. Otherwise that
        transaction ends, and a new one is begun to be held only if the durable LSN is the one
        this reader's previous autocommit read saw (reads are repeating at one LSN; after a
        commit a hold would likely be stale at its next use, and its BEGIN and ROLLBACK would
        be paid for nothing): deferred, so the read's first step takes the SHARED lock and pins
        ``reader_lsn()`` exactly as an autocommit read does. Readers of a factory without
        ``snapshot_is_current`` never hold. Raises apsw.Error if the old transaction cannot be
        ended (the read must then not run on it)."""
        check = self.hold_check
        if check is None:
            return
        conn = pooled.conn
        control = pooled.control
        if control is None:
            control = pooled.control = conn.cursor()
        if pooled.held:
            if check(pooled):
                return
            pooled.held = False
            control.execute("ROLLBACK")
        elif conn.in_transaction:  # (never left so by return_reader)
            control.execute("ROLLBACK")
        lsn = self.factory.durable_lsn()  # (a guess at reuse only: check() decides it)
        if lsn != pooled.read_lsn:
            pooled.read_lsn = lsn
            return
        control.execute("BEGIN")
        pooled.held = True

    def release_hold(self, pooled: Pooled) -> None:
        """End the held read transaction of ``pooled`` (its pin goes with it)."""
        pooled.held = False
        with contextlib.suppress(apsw.Error):
            pooled.conn.execute("ROLLBACK")

    def release_idle_holds(self, all_of_them: bool = False) -> None:
        """The hold timer (every READER_HOLD_MS while an idle reader holds): end the held
        transactions of idle readers not used since the last round (``all_of_them``: of every
        idle reader: nothing waits for the timer)."""
        timer = self.hold_timer
        if all_of_them and timer is not None:
            timer.cancel()
        self.hold_timer = None
        tick = self.hold_tick
        self.hold_tick = tick + 1
        left = False
        for pooled in self.idle_readers:
            if pooled.held:
                if all_of_them or pooled.held_tick != tick:
                    self.release_hold(pooled)
                else:
                    left = True
        if left:
            self._arm_hold_timer()

    def _arm_hold_timer(self) -> bool:
        """Start the hold timer; False off the event loop (nothing would release a hold)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self.hold_timer = loop.call_later(READER_HOLD_MS / 1000.0, self.release_idle_holds)
        return True

    def return_reader(self, pooled: Pooled, hold: bool = False) -> None:
        """Back to the pool. ``hold``: an autocommit read on it ended normally after
        ``hold_for_read``; its read transaction stays open (READER_HOLD_MS). Anything else
        ends the transaction open on it."""
        if hold and pooled.held and (self.hold_timer is not None or self._arm_hold_timer()):
            pooled.held_tick = self.hold_tick
        elif pooled.conn.in_transaction:
            pooled.held = False
            with contextlib.suppress(apsw.Error):
                pooled.conn.execute("ROLLBACK")
        else:
            pooled.held = False
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
        """The catalog at the newest durable LSN; re-checked only when that LSN moved."""
        lsn = self.factory.durable_lsn()
        cached = self.durable_catalog
        if cached is not None and cached[0] == lsn:
            return cached[1]
        version = self.durable_schema_version()
        catalog = self.catalogs.get(version) if version is not None else None
        if catalog is None:
            catalog = self.catalog_for(self.catalog_conn)
        self.durable_catalog = (lsn, catalog)
        return catalog

    def durable_schema_version(self) -> int | None:
        """What ``PRAGMA schema_version`` on the catalog reader would answer now, read from
        the page store without a SQLite read transaction (after every commit that one costs
        ~15-40 µs of VFS callbacks and a dropped page cache; this is one page lookup). It is
        the same bytes: SQLite's schema cookie, bytes 40-43 of page 1, at the snapshot a new
        read transaction pins (``vfs.reader_lsn()``); 0 for an empty database. None when the
        factory has no page VFS (then the PRAGMA). At one of the writer's recent commits
        (``StrataFile.recent``) that commit's page 1 is the store's, without the lookups."""
        vfs = getattr(self.factory, "vfs", None)
        store = getattr(vfs, "store", None)
        if vfs is None or store is None:
            return None
        lsn = vfs.pin(vfs.reader_lsn(), False)
        try:
            writer = self.writer_pooled
            own = vfs.own_commit(writer.conn, lsn) if writer is not None else None
            if own is not None:  # the writer's own commit at exactly that LSN: its page 1
                page: bytes | None = own[1]
            elif store.db_size(self.db_id, lsn) <= 0:
                return 0
            else:
                page = store.get_page(self.db_id, 0, lsn)
        finally:
            vfs.unpin(lsn)
        return 0 if page is None else int.from_bytes(page[SCHEMA_COOKIE_OFFSET:SCHEMA_COOKIE_OFFSET + 4], "big")

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

    def translate(self, sql: str, catalog: Catalog, param_types: tuple[int, ...] = ()
                  ) -> list[Translation]:
        """Translations of ``sql`` through the database's one translation cache (an LRU)."""
        return self.shapes.translate(sql, catalog, translate, param_types)

    def fast_shape(self, sql: str, catalog: Catalog, lifted: tuple[str, list[str]] | None = None
                   ) -> tuple[Translation, str, tuple[int, ...]] | None:
        """A known shape of a single-step read or bindable DML statement: its template, SQLite
        statement and parameters (``ShapeCache.fast_simple``; ``lifted``: ``sqlcache.lift(sql)``
        if the caller has it); None: use ``translate``."""
        return self.shapes.fast_simple(sql, catalog, translate, lifted)


class Engine:
    """All databases of one compute node, and the threads their SQLite work runs on."""

    def __init__(self, factory: ConnectionFactory, *, max_readers: int = 8,
                 threads: int = 4) -> None:
        self.factory = factory
        self.max_readers = max_readers
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqlite")
        self.databases: dict[str, Database] = {}
        self.registry = DatabaseRegistry()
        self.admin = Admin()  # sessions, LISTEN/NOTIFY hubs, advisory locks (compute/backend.py)
        self._open_lock = asyncio.Lock()
        self._registry_loaded = False
        self._registry_lsn = -1  # replica: the LSN the registry was last read at
        self._registry_read_at = 0.0  # ... and when (time.monotonic())
        self.connected: collections.Counter[str] = collections.Counter()  # sessions per database
        self._standalone = factory.role() == "standalone"
        """A standalone node keeps its role (only a cluster's nodes are promoted): ``read_only``
        and ``writable_now``, asked several times per statement, need not ask the factory."""

    def sessions_using(self, name: str) -> int:
        return self.connected[name]

    # ------------------------------------------------------------------ role

    @property
    def read_only(self) -> bool:
        """A replica: databases open without a writer, every write is refused with 25006."""
        return not self._standalone and self.factory.role() == "replica"

    def in_hot_standby(self) -> str:
        """The in_hot_standby setting as PostgreSQL reports it (GUC_REPORT)."""
        return "on" if self.read_only else "off"

    async def check_writable(self, db: Database, command: str) -> None:
        """Refuse a write the node cannot take (25006 / 57P03), else make sure ``db`` has its
        writer (a promoted replica opens it on the first write)."""
        factory = self.factory
        role = factory.role()
        if role == "replica":
            raise read_only_error(command)
        if role != "standalone":
            status = factory.status()
            deadline = time.monotonic() + PROMOTING_WRITE_WAIT_S
            while status.state == PROMOTING and time.monotonic() < deadline:
                await asyncio.sleep(BOOTSTRAP_POLL_S)
                status = factory.status()
            if status.state == FENCED:
                raise SqlError("25006", f"cannot execute {command}: this node was deposed by a newer "
                                        "term and accepts no writes", detail=status.detail or None)
            if status.state == NO_QUORUM:
                raise SqlError("57P03", f"cannot execute {command}: the log store has no quorum "
                                        "(a majority of log store nodes did not answer)",
                               detail=status.detail or None)
            if status.state == PROMOTING:
                raise SqlError("57P03", "the database system is not yet accepting writes",
                               detail="This node is still being promoted.")
        if db.writer_pooled is None:
            await self.open_writers([db])

    def writable_now(self, db: Database) -> bool:
        """Whether ``check_writable`` would pass at once: no error and no await (the write fast
        lane takes the general path otherwise, which gives the errors and waits)."""
        if db.writer_pooled is None:
            return False
        if self._standalone:
            return True
        factory = self.factory
        return factory.role() != "replica" and factory.write_state() not in (PROMOTING, FENCED, NO_QUORUM)

    async def open_writers(self, dbs: list[Database] | None = None) -> None:
        """After promotion: give the open databases (or ``dbs``) their writer connection."""
        if self.read_only:
            return
        async with self._open_lock:
            for db in dbs if dbs is not None else list(self.databases.values()):
                if db.writer_pooled is None:
                    db.writer_pooled = await self.run(lambda db=db: self._open_writer(db.db_id))  # type: ignore[misc]

    async def run(self, fn: Callable[[], T]) -> T:
        """Run SQLite work on the engine's threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def database(self, name: str) -> Database:
        db = self.databases.get(name)
        if db is not None and self.read_only:
            self.refresh_registry(force=True)  # the primary may have dropped (or re-created) it
            if self.registry.ids.get(name) != db.db_id:
                del self.databases[name]  # sessions still on it finish; new ones see the change
                db = None
        if db is not None:
            return db
        if not self._registry_loaded:
            await self._load_registry()
        db_id = self.registry.ids.get(name)
        if db_id is None and self.read_only:  # made on the primary since we last looked?
            self.refresh_registry(force=True)
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
            sql = "SELECT name, db_id, dropped FROM __strata_databases"
            if db.writer_pooled is not None:
                writer = db.writer.conn
                rows = await self.run(lambda: writer.execute(sql).fetchall())
            else:  # the catalog connection is used on the loop thread only (a small read)
                rows = db.catalog_conn.execute(sql).fetchall()
            self._apply_registry(rows)
            self._registry_loaded = True
            self.factory.prewarm(sorted(self.registry.ids.values()))

    def _apply_registry(self, rows: list[tuple[object, ...]]) -> None:
        ids: dict[str, int] = {"postgres": REGISTRY_DB_ID}
        for name, db_id, dropped in rows:
            self.registry.next_id = max(self.registry.next_id, int(db_id) + 1)  # type: ignore[call-overload]
            if not dropped:
                ids[str(name)] = int(db_id)  # type: ignore[call-overload]
        if ids != self.registry.ids:
            self.registry.ids.clear()
            self.registry.ids.update(ids)

    def refresh_registry(self, force: bool = False) -> None:
        """Replica: re-read the list of databases when the replay LSN moved (the primary's
        CREATE/DROP DATABASE arrive through the log). Runs on the event loop: one small read,
        at most every REGISTRY_REFRESH_S unless ``force`` (a connection naming a database).
        Called per statement: a replica that replayed nothing new pays one LSN comparison
        (no clock read)."""
        if self._standalone or not self._registry_loaded or self.factory.role() != "replica":
            return  # (a standalone node is never a replica: no role() call per statement)
        lsn = self.factory.durable_lsn()
        if not force and lsn == self._registry_lsn:
            return
        now = time.monotonic()
        if not force and now - self._registry_read_at < REGISTRY_REFRESH_S:
            return
        self._registry_read_at = now
        postgres = self.databases.get("postgres")
        if postgres is None:
            return
        rows = postgres.catalog_conn.execute(
            "SELECT name, db_id, dropped FROM __strata_databases").fetchall()
        self._registry_lsn = lsn
        self._apply_registry(rows)

    async def create_database(self, name: str, template: str | None = None,
                              owner: dict[str, object] | None = None) -> None:
        """CREATE DATABASE: a new id in the registry, bootstrapped at once (so that replicas,
        which never write, find its catalog tables). ``template``: one other than template0/1
        (copying a database is not supported); ``owner``: a role row the new database gets
        (compute/database_ddl.py)."""
        postgres = await self.database("postgres")
        await self.check_writable(postgres, "CREATE DATABASE")
        if template is not None:
            if template in self.registry.ids:
                raise SqlError("0A000", f'CREATE DATABASE … TEMPLATE {template} is not supported: '
                                        "databases are not copied (template0 and template1 are empty)")
            raise SqlError("3D000", f'template database "{template}" does not exist')
        if name in self.registry.ids or name in ("template0", "template1"):  # listed in pg_database
            raise SqlError("42P04", f'database "{name}" already exists')
        async with postgres.writer_lock:
            conn = postgres.writer.conn
            top = await self.run(lambda: conn.execute(
                "SELECT max(db_id) FROM __strata_databases").fetchall()[0][0])
            db_id = max(self.registry.next_id, int(top) + 1 if top is not None else 0)
            await self._registry_write(
                postgres, "INSERT INTO __strata_databases (db_id, name) VALUES (?, ?)",
                (db_id, name))
            self.registry.ids[name] = db_id
            self.registry.next_id = db_id + 1
        await self.database(name)
        if owner is not None:
            await self.add_role(name, owner)

    async def add_role(self, name: str, role: dict[str, object]) -> None:
        """Give database ``name`` a role read from another one (CREATE/ALTER DATABASE …
        OWNER): its row with a new OID of this database's, unless a role of that name is
        there already (then it stays as it is)."""
        db = await self.database(name)
        await self.check_writable(db, "ALTER DATABASE")
        row = {k: v for k, v in role.items() if k != "oid"}
        sql = (f"INSERT INTO {ROLES} (oid, {', '.join(row)}) SELECT (SELECT "
               f"max(coalesce(max(oid), 16383), 16383) + 1 FROM {ROLES}), "
               f"{', '.join('?' * len(row))} WHERE NOT EXISTS (SELECT 1 FROM {ROLES} "
               "WHERE name = ?)")
        async with db.writer_lock:
            await self._registry_write(db, sql, (*row.values(), role["name"]))
            # the database owner owns schema public (PostgreSQL 15's pg_database_owner): it may
            # create there (compute/sql/privileges.py)
            await self._registry_write(
                db, "INSERT INTO __strata_acl (oid, owner, acl) VALUES (2200, ?, NULL) "
                    "ON CONFLICT (oid) DO UPDATE SET owner = excluded.owner", (role["name"],))

    async def drop_database_from(self, current: str, name: str, if_exists: bool) -> str | None:
        """DROP DATABASE [IF EXISTS] from a session on database ``current``: the notice, if any."""
        if name == current:
            raise SqlError("55006", "cannot drop the currently open database")
        if name not in self.registry.ids and if_exists:
            return f'database "{name}" does not exist, skipping'
        await self.drop_database(name, self.sessions_using)
        return None

    async def drop_database(self, name: str, in_use: Callable[[str], int]) -> None:
        """DROP DATABASE: forget the name (pages of the old id are never read again)."""
        postgres = await self.database("postgres")
        await self.check_writable(postgres, "DROP DATABASE")
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
            _close_connections(db)

    async def _registry_write(self, postgres: Database, sql: str, args: tuple[object, ...]) -> None:
        conn = postgres.writer.conn

        def write() -> CommitTicket | None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute(sql, args)
            return self.factory.take_commit_ticket(conn)

        try:
            ticket = await self.run(write)
        except StorageError as exc:
            raise storage_error(exc) from exc
        if ticket is not None:
            try:
                await asyncio.wrap_future(ticket.durable)
            except Exception as exc:  # noqa: BLE001 - any failure of the log
                raise commit_unknown_error(exc) from exc

    def _open(self, name: str, db_id: int) -> Database:
        """Open a database (on an engine thread): the writer and bootstrap on a primary, only
        readers on a replica (after the primary has bootstrapped it)."""
        writer = None if self.read_only else self._open_writer(db_id)
        catalog_conn = pooled_connection(self.factory.connect(db_id, "reader"), self.registry,
                                          self.factory).conn
        if writer is None:
            try:
                self._wait_bootstrapped(catalog_conn, db_id)
            except BaseException:
                catalog_conn.close()
                raise
        return Database(name, db_id, writer, WriterLock(), [], self.max_readers, self.factory,
                        self.registry, catalog_conn)

    def _wait_bootstrapped(self, conn: apsw.Connection, db_id: int) -> None:
        """Replica: wait (bounded) until the primary's bootstrap of ``db_id`` has been replayed."""
        wanted = "__strata_databases" if db_id == REGISTRY_DB_ID else TABLES
        deadline = time.monotonic() + REPLICA_BOOTSTRAP_WAIT_S
        while True:
            found = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = ?",
                                 (wanted,)).fetchall()[0][0]
            if found:
                return
            if time.monotonic() > deadline:
                raise SqlError("57P03", "the database system is starting up", severity="FATAL",
                               detail=f"The primary has not initialized database {db_id} yet.")
            time.sleep(BOOTSTRAP_POLL_S)

    def _open_writer(self, db_id: int) -> Pooled:
        writer = pooled_connection(self.factory.connect(db_id, "writer"), self.registry,
                                    self.factory)
        conn = writer.conn
        statements = bootstrap_statements()
        if db_id == REGISTRY_DB_ID:
            statements = [*statements, _REGISTRY_DDL]
        # Every open: the statements are idempotent, and a database made by an older
        # version gains the catalog tables added since (no change -> nothing is logged).
        conn.execute("BEGIN")
        for sql in statements:
            conn.execute(sql)
        drop_orphans(conn)  # temporary tables of sessions a crash or restart ended
        conn.execute("COMMIT")
        ticket = self.factory.take_commit_ticket(conn)
        if ticket is not None:
            ticket.durable.result(timeout=60)
        return writer

    def close(self) -> None:
        for db in self.databases.values():
            _close_connections(db)
        self.databases.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.factory.close()


def _close_connections(db: Database) -> None:
    timer = db.hold_timer
    if timer is not None:
        timer.cancel()
        db.hold_timer = None
    writer = [db.writer_pooled.conn] if db.writer_pooled is not None else []
    for conn in [*writer, db.catalog_conn, *(p.conn for p in db.idle_readers)]:
        with contextlib.suppress(apsw.Error):
            conn.close()
