"""One client session: transaction state, snapshots, the writer, timeouts and cancellation.

PostgreSQL semantics on a single-writer engine:
- Autocommit reads run on a pooled reader connection at the newest durable LSN; autocommit
  writes take the writer, commit, release it, and answer once the commit is durable.
- An explicit transaction starts as a reader. Under READ COMMITTED each statement reads a
  fresh snapshot; under REPEATABLE READ / SERIALIZABLE the first statement pins a snapshot
  held until the end. The first write takes the writer (waiting at most ``lock_timeout``,
  55P03); under REPEATABLE READ it fails with 40001 if anyone committed after the snapshot.
- Savepoints made before the upgrade are replayed on the writer so ROLLBACK TO still works.
- An error inside a transaction puts it in the failed state (25P02) until ROLLBACK.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import functools
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, assert_never

import apsw

from compute import database_ddl, temp_tables
from compute import settings as guc
from compute.backend import Backend
from compute.cursors import Cursors
from compute.deferred import check_pending, pending_on
from compute.engine import (
    STANDBY_LOCK_MODES,
    Database,
    Engine,
    Guard,
    Pooled,
    commit_unknown_error,
    read_only_error,
    storage_error,
)
from compute.session_fast import INLINE_BUDGET_S, WRITE_INLINE_LIMIT_S, FastLane
from compute.session_privileges import SessionPrivileges
from compute.session_settings import SessionSettings
from compute.sql import DEFAULT_SEARCH_PATH, Catalog, TempSchemaNeeded, map_sqlite_error
from compute.sql.api import Kind, SqlError, Translation
from compute.sql_prepared import SqlPrepared
from compute.sqlcache import lift
from compute.transaction import (
    COPY_TO,
    FAILED,
    IDLE,
    IN_TXN,
    QUERY,
    Ran,
    Result,
    Transaction,
    TxnStatus,
    bindable,
    params_used,
    prevent_in_block,
    quote_ident,
    read_write_during_recovery,
    statement_tag,
    steps_work,
    write_command,
)
from compute.writer_wait import WriterWait
from strata.storage import CommitTicket, StorageError, when_durable_on

log = logging.getLogger("strata.compute.session")


# DDL that PostgreSQL refuses in a read-only transaction before resolving any name.
_UTILITY_WRITE = re.compile(r"\s*(create|drop|alter|truncate)\s+(?:(?:unique|unlogged|or\s+replace)\s+)?(\w+)",
                            re.I)
SLOW_MEMORY_S = 10.0  # how long a statement stays marked as too slow to run inline

_INTERRUPT_MESSAGES = {
    "cancel": "canceling statement due to user request",
    "timeout": "canceling statement due to statement timeout",
}


def _on_loop(durable: concurrent.futures.Future[Any]) -> asyncio.Future[Any]:
    """``asyncio.wrap_future`` for a commit's durability future, at a third of the cost: the
    log's thread resolves it, the loop copies the outcome (a cancelled wait, a client gone,
    leaves the log's future alone)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Any] = loop.create_future()

    def copy() -> None:
        if waiter.done():
            return
        try:
            waiter.set_result(durable.result())
        except Exception as exc:  # noqa: BLE001 - the log's failure (or a cancelled future)
            waiter.set_exception(exc)

    def resolved(_: concurrent.futures.Future[Any]) -> None:  # on the log's thread (or loop)
        when_durable_on(loop, copy)

    durable.add_done_callback(resolved)
    return waiter


class Session(SessionSettings, SqlPrepared, FastLane, SessionPrivileges):
    """SQL execution state of one client connection."""

    def __init__(self, engine: Engine, db: Database, user: str, settings: dict[str, str]) -> None:
        self.engine = engine
        self.db = db
        self.user = user
        self.superuser, self.checker = True, None  # (instance attributes: read per statement) login_role
        self.settings = settings
        self.startup_settings = dict(settings)  # what RESET returns to (startup packet over defaults)
        self.txn: Transaction | None = None
        self.failed = False
        self._active: Pooled | None = None
        self._interrupt: str | None = None
        self._interrupted = asyncio.Event()
        self._writer_wait = WriterWait()  # ended by interrupt()
        self._holds_writer = False
        self.last_commit_lsn = 0
        self.backend_pid = 0
        self._ms_cache: dict[str, tuple[str, float]] = {}
        self.sequence_values: dict[str, int] = {}  # currval() per sequence
        self.changed_settings: list[str] = []  # reported settings changed by the last statement
        self.catalog: Catalog | None = None  # the catalog the current statement was translated with
        self._implicit = False  # the open transaction is an implicit block (begin_implicit)
        self._implicit_lazy = False  # extended protocol: a write opens an implicit block until Sync
        self.cursors = Cursors(self)  # DECLARE / FETCH / CLOSE (compute/cursors.py)
        self.backend = Backend(engine.admin, self)  # LISTEN/NOTIFY, advisory locks, activity

    # ------------------------------------------------------------------ state

    @property
    def status(self) -> TxnStatus:
        if self.txn is None:
            return IDLE
        return FAILED if self.failed else IN_TXN

    def setting_ms(self, name: str) -> float:
        """A time setting in ms, parsed once per value (read on every statement)."""
        text = self.settings.get(name, "0")
        cached = self._ms_cache.get(name)
        if cached is not None and cached[0] == text:
            return cached[1]
        ms = guc.parse_milliseconds(name, text)
        self._ms_cache[name] = (text, ms)
        return ms

    # ------------------------------------------------------------------ interruption

    def interrupt(self, reason: str) -> None:
        """Stop the running statement (CancelRequest or statement_timeout)."""
        if reason == "timeout" and self._interrupt is not None:
            return
        self._interrupt = reason
        self._interrupted.set()
        self._writer_wait.wake()
        active = self._active
        if active is not None:
            active.guard.reason = reason
            active.conn.interrupt()

    def _interrupt_error(self) -> SqlError:
        reason = self._interrupt or "cancel"
        if reason == "terminate":  # pg_terminate_backend: the wire layer ends the session
            return SqlError("57P01", "terminating connection due to administrator command", severity="FATAL")
        return SqlError("57014", _INTERRUPT_MESSAGES.get(reason, _INTERRUPT_MESSAGES["cancel"]))

    @contextlib.contextmanager
    def statement_scope(self) -> Iterator[None]:
        """Arm statement_timeout for one statement and clear leftovers of the previous one."""
        self._interrupt = None
        self._interrupted.clear()
        timeout_ms = self.setting_ms("statement_timeout")
        timer = None
        if timeout_ms > 0:
            timer = asyncio.get_running_loop().call_later(
                timeout_ms / 1000.0, self.interrupt, "timeout")
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()

    # ------------------------------------------------------------------ public API

    @property
    def in_implicit_block(self) -> bool:
        """An implicit transaction is open (idle-in-transaction timeouts do not apply to it)."""
        return self._implicit

    def begin_implicit(self, *, eager: bool) -> None:
        """Statements until ``end_implicit`` form PostgreSQL's implicit transaction block.

        ``eager``: the rest of a simple-query string of several statements; the block opens now.
        Otherwise the extended-protocol messages up to Sync; the block opens at the first write
        (a read before it runs as its own autocommit read, which it may as well: it changed
        nothing). Inside an explicit transaction block this does nothing.
        """
        if not eager:
            self._implicit_lazy = True
        elif self.txn is None:
            self.txn = self._new_txn()
            self._implicit = True

    async def end_implicit(self, ok: bool = True) -> None:
        """Close the implicit block: commit it, or roll it back when ``ok`` is False or one of
        its statements failed. A failed commit raises SqlError (the block is gone either way)."""
        self._implicit_lazy = False
        if not self._implicit:
            return
        self._implicit = False
        if self.txn is None:
            return
        if ok and not self.failed:
            await self._commit()
        else:
            await self._end_txn(commit=False)

    def fail(self) -> None:
        """An error ended the statement: an open transaction is now failed (25P02 until ROLLBACK)."""
        if self.txn is not None:
            self.failed = True

    def translate(self, sql: str, param_types: tuple[int, ...] = ()) -> list[Translation]:
        """Translate ``sql`` against the catalog this session sees now (its own uncommitted DDL
        while it holds the writer, else the newest durable catalog)."""
        self.engine.refresh_registry()  # a replica: CREATE/DROP DATABASE of the primary
        self.query_text = sql  # what PREPARE records as pg_prepared_statements.statement
        return self.expand_execute(self._translate(sql, self._catalog_now(), param_types))

    def _translate(self, sql: str, catalog: Catalog, param_types: tuple[int, ...]) -> list[Translation]:
        try:
            try:
                return self.db.translate(sql, catalog, param_types)
            except TempSchemaNeeded:  # the session's first temporary table (compute/temp_tables.py)
                return self.db.translate(sql, catalog.with_temp(self.backend_pid), param_types)
        except SqlError as err:
            # PostgreSQL refuses a utility write in a read-only transaction before it looks at
            # the catalog: DROP TABLE nosuch there is 25006, not 42P01
            m = _UTILITY_WRITE.match(sql)
            if (m is not None and err.sqlstate != "25006" and not self.failed
                    and self._read_only_now() and ";" not in sql.strip().rstrip(";")):
                command = "TRUNCATE TABLE" if m.group(1).lower() == "truncate" else \
                    f"{m.group(1)} {m.group(2)}".upper()
                raise read_only_error(command) from err
            raise

    def retranslate(self, sql: str, param_types: tuple[int, ...], fingerprint: str
                    ) -> tuple[Translation, str] | None:
        """A prepared statement's translation made anew, with the catalog fingerprint it was
        made against, if the catalog changed since ``fingerprint`` (DDL in this session or
        another, committed or this transaction's own); None while it has not (the common case:
        one catalog lookup and a string comparison)."""
        catalog = self._catalog_now()
        if catalog.fingerprint == fingerprint:
            return None
        translations = self._translate(sql, catalog, param_types)
        if len(translations) != 1:  # the split does not depend on the catalog
            raise SqlError("42601", "cannot insert multiple commands into a prepared statement")
        return translations[0], catalog.fingerprint

    def _catalog_now(self) -> Catalog:
        """The catalog the next statement is translated with (kept for error messages)."""
        txn = self.txn
        catalog = (self._writer_catalog(txn) if txn is not None and txn.writer
                   else self.db.durable_catalog_now())
        path = self.settings.get("search_path", DEFAULT_SEARCH_PATH)
        if catalog.schemas or path != DEFAULT_SEARCH_PATH:  # else for_session is the catalog itself
            catalog = catalog.for_session(path, self.user, self.backend_pid)
        self.catalog = catalog
        return catalog

    async def execute(self, tr: Translation, params: tuple[Any, ...] = ()) -> Result:
        """Run one translated statement with PostgreSQL's transaction semantics."""
        kind = tr.kind
        params = bindable(tr, params) if self.checker is None else self.privilege_gate(tr, params)
        self._catalog_unchanged = None  # the general path may change the catalog
        if self.failed and kind not in (Kind.ROLLBACK, Kind.COMMIT, Kind.ROLLBACK_TO, Kind.EMPTY):
            raise SqlError("25P02", "current transaction is aborted, commands ignored until end "
                                    "of transaction block")
        if self._implicit_lazy and self.txn is None and tr.is_write \
                and kind not in (Kind.BEGIN, Kind.COMMIT, Kind.ROLLBACK):
            self.txn = self._new_txn()
            self._implicit = True
        ok = False
        try:
            result = await self._dispatch(tr, params)
            ok = True
        except SqlError:
            self.fail()
            raise
        except StorageError as exc:  # a failed read or write ends the statement, not the session
            self.fail()
            # writes reach the log only when they commit: autocommit writes fail at commit
            at_commit = kind is Kind.COMMIT or (tr.is_write and self.txn is None)
            raise storage_error(exc, write_command(tr) if tr.is_write else "",
                                at_commit=at_commit) from exc
        finally:  # a statement outside a block is its own transaction: end its locks, NOTIFYs
            if self.txn is None and self.backend.in_xact:
                self.backend.end_xact(ok)
        if self.txn is None:
            self._implicit = False
            if tr.is_write and (tr.is_ddl or self.catalog is not None and self.catalog.on_commit):
                await temp_tables.at_commit(self)  # its own transaction: ON COMMIT of temp tables
        return result

    async def _dispatch(self, tr: Translation, params: tuple[Any, ...]) -> Result:
        """One statement by kind; every Kind has its case (mypy checks with assert_never)."""
        kind = tr.kind
        match kind:
            case Kind.QUERY | Kind.COMMAND | Kind.COPY_TO | Kind.COPY_FROM:  # backend.py: lock waits
                result = await (self.backend.run_waiting(tr, params) if tr.off_loop else self._run_sql(tr, params))
                if tr.off_loop and not self.engine.read_only:
                    await self.engine.open_writers()  # pg_promote() made this node the primary
                return result
            case Kind.BEGIN:
                return self._begin(tr)
            case Kind.COMMIT:
                return await self._commit(tr.chain)
            case Kind.ROLLBACK:
                return await self._rollback(tr.tag or "ROLLBACK", tr.chain)
            case Kind.SAVEPOINT | Kind.RELEASE | Kind.ROLLBACK_TO:  # ROLLBACK TO closes newer cursors
                return self.cursors.savepoint(tr, await self._savepoint(tr))
            case Kind.SET_CONSTRAINTS:
                return await self._set_constraints(tr)
            case Kind.SET:
                return self._set(tr)
            case Kind.SHOW:
                return self._show(tr)
            case Kind.LOCK:
                if tr.lock_mode not in STANDBY_LOCK_MODES and self.engine.read_only:
                    raise SqlError("25006", "cannot execute LOCK TABLE during recovery")
                return Result(tr.tag)
            case Kind.DISCARD:
                if tr.name == "all":  # the caller forgets its prepared statements, we the SQL ones
                    prevent_in_block(self.txn, "DISCARD ALL")
                    self._set(Translation(Kind.SET, "RESET", name="all"))
                if tr.name in ("all", "temp", "temporary"):
                    await temp_tables.discard(self)
                return self.run_prepared(tr)
            case Kind.NOOP | Kind.DEALLOCATE | Kind.PREPARE | Kind.EXECUTE:  # SQL-prepared statements
                return self.run_prepared(tr)  # (DEALLOCATE: the caller owns the protocol ones)
            case Kind.EMPTY:
                return Result("")
            case Kind.LISTEN | Kind.UNLISTEN | Kind.NOTIFY:
                return Result(self.backend.statement(kind.value, tr.name, tr.value))
            case Kind.CREATE_DATABASE | Kind.DROP_DATABASE | Kind.ALTER_DATABASE:
                return await database_ddl.run(self, tr)  # compute/database_ddl.py
            case Kind.DECLARE_CURSOR | Kind.FETCH | Kind.CLOSE_CURSOR | Kind.EXPLAIN:
                return await self.cursors.run(tr, params)  # compute/cursors.py, compute/explain.py
            case _:
                assert_never(kind)

    # ---- transaction control

    def _begin(self, tr: Translation) -> Result:
        if self._implicit:  # BEGIN makes the implicit block an explicit transaction block
            self._implicit = False
            return Result(tr.tag or "BEGIN")
        if self.txn is not None:
            return Result("BEGIN", notices=[("25001", "there is already a transaction in progress")])
        self.txn = self._new_txn(tr)
        return Result(tr.tag or "BEGIN")

    def begin_deferred(self, start_ts: float) -> None:
        """A plain BEGIN the proxy answered itself and sent ahead of the client's next message
        (compute/pgwire/server.py, DEFERRED_BEGIN): the block starts now, dated ``start_ts``
        (when the client's BEGIN reached the proxy: now(), xact_start). SqlError if it cannot;
        the caller then makes the block a failed one (``fail_deferred_begin``)."""
        if self.txn is not None or self._implicit or self._implicit_lazy:
            raise SqlError("08P01", "deferred BEGIN inside a transaction block")
        txn = self._new_txn()
        txn.start_ts = start_ts
        self.txn = txn

    def fail_deferred_begin(self, start_ts: float) -> None:
        """The deferred BEGIN failed: a failed block all the same (25P02 until ROLLBACK), so
        what the client sent behind its BEGIN runs nowhere, as after a BEGIN that failed."""
        if self.txn is None:
            self.txn = Transaction(isolation="read committed", read_only=True, start_ts=start_ts)
        self.failed = True

    def _new_txn(self, tr: Translation | None = None) -> Transaction:
        isolation = self.settings.get("default_transaction_isolation", "read committed")
        read_only = self.settings.get("default_transaction_read_only", "off") == "on"
        if tr is not None:
            if tr.isolation:
                isolation = tr.isolation.lower()
            if tr.read_only is not None:
                read_only = tr.read_only
        if self.engine.read_only:  # a hot standby runs read-only transactions only
            if tr is not None and tr.read_only is False:
                raise read_write_during_recovery()
            read_only = True
        return Transaction(isolation=isolation, read_only=read_only, start_ts=time.time())

    async def _commit(self, chain: bool = False) -> Result:
        """COMMIT; AND CHAIN starts a new transaction with the same modes once this one ends."""
        txn = self.txn
        if txn is None:
            if chain:
                raise SqlError("25P01", "COMMIT AND CHAIN can only be used in transaction blocks")
            return Result("COMMIT", notices=[("25P01", "there is no transaction in progress")])
        if self.failed:
            await self._end_txn(commit=False)
            self._chain(txn, chain)
            return Result("ROLLBACK")
        if txn.writer and txn.fk.pending:
            try:
                await self._check_deferred(txn, None)
            except SqlError:
                await self._end_txn(commit=False)  # COMMIT fails and the transaction is gone
                raise
        if self.cursors.open:
            await self.cursors.before_commit()  # WITH HOLD cursors read their rows
        try:
            self.backend.check_room()  # NOTIFY: 54000 before anything is committed
        except SqlError:
            await self._end_txn(commit=False)
            raise
        if self.catalog is not None and self.catalog.on_commit:
            await temp_tables.at_commit(self)  # ON COMMIT DELETE ROWS / DROP (compute/temp_tables.py)
        ticket = await self._end_txn(commit=True)
        ok = False
        try:
            if ticket is not None:
                await self._await_durable(ticket)
            ok = True
        finally:  # notifications go out once the commit is durable
            self.backend.end_xact(ok)
        self._chain(txn, chain)
        return Result("COMMIT")

    def _chain(self, ended: Transaction, chain: bool) -> None:
        """AND CHAIN: the next transaction keeps the ended one's isolation and access mode."""
        if chain:
            self.txn = Transaction(isolation=ended.isolation, read_only=ended.read_only,
                                   start_ts=time.time())

    async def _check_deferred(self, txn: Transaction, prefixes: tuple[str, ...] | None) -> None:
        """Re-check queued rows of deferred foreign keys on the writer (compute/deferred.py)."""
        if not txn.heavy:
            self._check_deferred_now(txn, prefixes)
            return
        writer = self.db.writer
        self._bind_context(writer)
        try:
            await self.engine.run(lambda: check_pending(writer.conn, txn.fk, prefixes))
        except apsw.Error as exc:
            raise map_sqlite_error(exc, self.catalog) from exc

    def _check_deferred_now(self, txn: Transaction, prefixes: tuple[str, ...] | None) -> None:
        """``_check_deferred`` inline (a block that is not heavy; also the callback lanes)."""
        writer = self.db.writer
        self._bind_context(writer)
        try:
            check_pending(writer.conn, txn.fk, prefixes)
        except apsw.Error as exc:
            raise map_sqlite_error(exc, self.catalog) from exc

    async def _rollback(self, tag: str, chain: bool = False) -> Result:
        txn = self.txn
        if txn is None:
            if chain:
                raise SqlError("25P01", "ROLLBACK AND CHAIN can only be used in transaction blocks")
            return Result(tag, notices=[("25P01", "there is no transaction in progress")])
        await self._end_txn(commit=False)
        self._chain(txn, chain)
        return Result(tag)

    async def _end_txn(self, commit: bool) -> CommitTicket | None:
        """Finish the SQLite transaction(s), release the writer and the snapshot; a block
        whose statements were all short finishes inline (``end_txn_now``), else its SQLite
        commit or rollback runs on a thread."""
        txn = self.txn
        assert txn is not None
        if not (txn.writer and txn.heavy):
            return self.end_txn_now(commit)
        ticket: CommitTicket | None = None
        try:
            ticket = await self.engine.run(functools.partial(self._writer_end, commit))
        finally:
            self._after_txn(txn, commit, ticket)
        return ticket

    def _release_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            self.db.writer_lock.release()

    async def _await_durable(self, ticket: CommitTicket) -> None:
        """Answer a commit once durable; a failed durability future is 08007 for that
        transaction alone (the log may or may not keep it), never the end of the session."""
        try:
            durable = ticket.durable
            # already durable (a group fsync covered it): its answer needs no wait
            lsn = durable.result() if durable.done() else await _on_loop(durable)
        except Exception as exc:  # noqa: BLE001 - any failure of the log is a storage failure
            log.warning("commit at LSN %s not confirmed: %s", ticket.lsn, exc)
            raise commit_unknown_error(exc) from exc
        self.last_commit_lsn = max(self.last_commit_lsn, int(lsn))

    async def _savepoint(self, tr: Translation) -> Result:
        txn = self.txn
        name = tr.name
        if txn is None:
            if tr.kind is Kind.SAVEPOINT:
                raise SqlError("25P01", "SAVEPOINT can only be used in transaction blocks")
            word = "RELEASE SAVEPOINT" if tr.kind is Kind.RELEASE else "ROLLBACK TO SAVEPOINT"
            raise SqlError("25P01", f"{word} can only be used in transaction blocks")
        if tr.kind is Kind.SAVEPOINT:
            txn.savepoint(name, self.settings)
            command = "SAVEPOINT"
        elif tr.kind is Kind.RELEASE:
            txn.release(name)
            command = "RELEASE"
        else:
            settings = txn.rollback_to(name)
            for key in set(self.settings) | set(settings):
                self._restore_setting(key, settings.get(key))
            self.failed = False
            command = "ROLLBACK TO"
        if txn.writer:
            conn = self.db.writer.conn
            try:
                conn.execute(f"{command} {quote_ident(name)}")  # savepoint bookkeeping is instant
            except apsw.Error as exc:
                raise map_sqlite_error(exc, self.catalog) from exc
        return Result("ROLLBACK" if tr.kind is Kind.ROLLBACK_TO else command)

    # ---- settings

    async def _set_constraints(self, tr: Translation) -> Result:
        """SET CONSTRAINTS: change the modes; IMMEDIATE checks what is queued for them now."""
        txn = self.txn
        mode = tr.constraints
        assert mode is not None, "a SET_CONSTRAINTS translation carries its mode"
        if mode.error:  # an unknown or non-deferrable name (PostgreSQL warns first outside a transaction)
            raise SqlError(*mode.error)
        if txn is None:
            return Result("SET CONSTRAINTS", notices=[("25P01", "SET CONSTRAINTS can only be used in "
                                                                "transaction blocks")])
        prefixes, deferred = mode.trigger_prefixes, mode.deferred
        txn.fk.set_mode(prefixes, deferred)
        if not deferred and txn.writer and txn.fk.pending:
            await self._check_deferred(txn, prefixes)
        return Result("SET CONSTRAINTS")

    # ---- SQL statements

    async def _run_sql(self, tr: Translation, params: tuple[Any, ...]) -> Result:
        txn = self.txn
        if txn is not None:
            txn.queried = True
        altered = tr.altered_table
        if altered and txn is not None and txn.writer and txn.fk.pending and \
                pending_on(self.db.writer.conn, txn.fk, str(altered)):
            raise SqlError("55006", f'cannot ALTER TABLE "{altered}" because it has pending trigger events')
        if tr.is_ddl:
            if txn is not None:
                txn.did_ddl = True
            else:
                try:
                    return await self._run_sql_inner(tr, params)
                except BaseException:
                    self.db.invalidate_catalogs()
                    raise
        return await self._run_sql_inner(tr, params)

    async def _run_sql_inner(self, tr: Translation, params: tuple[Any, ...]) -> Result:
        txn = self.txn
        if tr.is_write or tr.kind is Kind.COPY_FROM:
            command = write_command(tr)
            if self._read_only_now() and not self.engine.read_only:
                raise read_only_error(command)
            await self.engine.check_writable(self.db, command)
            if txn is None:
                return await self._autocommit_write(tr, params)
            await self._ensure_writer(txn)
            return await self._run_on(self.db.writer, tr, params)
        if txn is None:
            return await self._on_reader(tr, params)
        if txn.writer:
            return await self._run_on(self.db.writer, tr, params)
        if txn.snapshot_isolation:
            if txn.snapshot_reader is None:
                reader = await self.db.checkout_reader()
                txn.snapshot_reader = reader
                reader.conn.execute("BEGIN")  # deferred: takes no lock yet
            return await self._run_on(txn.snapshot_reader, tr, params)
        return await self._on_reader(tr, params)

    def try_fast_read(self, tr: Translation, params: tuple[Any, ...]) -> Result | None:
        """The hot path for an autocommit single-statement read (pgbench -S, ORM lookups): runs
        inline on an idle pooled reader without any await; None when the statement does not
        qualify (the caller then takes the general path)."""
        steps = tr.steps
        if (self.txn is not None or tr.kind is not QUERY or tr.is_write
                or len(steps) != 1 or tr.off_loop):
            return None
        # (bindable(tr, params), without its call: the one step gets the parameters it uses)
        return self._fast_read(tr, steps, params[:params_used(steps[0])] if params else params)

    def simple_shape(self, sql: str) -> tuple[Translation, str, tuple[int, ...]] | None:
        """A simple-protocol statement that is a known shape of a single-step read or a
        bindable single-step write (``ShapeCache.fast_simple``): (the shape's template, the
        SQLite statement, its parameters) without making its Translation; None: translate it."""
        lifted = lift(sql)  # (no catalog needed)
        if lifted is None:  # no literal to lift: no shape (BEGIN, END)
            return None
        self.engine.refresh_registry()
        hit = self.db.fast_shape(sql, self._catalog_now(), lifted)
        if hit is not None:
            self.query_text = sql
        return hit

    def fast_shape_read(self, tr: Translation, step: str, params: tuple[Any, ...]) -> Result | None:
        """An autocommit read of a ``simple_shape`` on the fast lane; None: not now."""
        return self._fast_read(tr, (step,), params)

    def _fast_read(self, tr: Translation, steps: tuple[str, ...], params: tuple[Any, ...]
                   ) -> Result | None:
        db = self.db
        if not db.idle_readers or (db.slow_statements and steps in db.slow_statements):
            return None
        reader = db.idle_readers.pop()
        guard = reader.guard
        held = False
        try:
            self._bind_context(reader)
            started = time.monotonic()
            guard.budget_deadline = started + INLINE_BUDGET_S
            if self.settings.get("statement_timeout", "0") != "0":  # (the default: no call)
                timeout_ms = self.setting_ms("statement_timeout")
                if timeout_ms > 0:
                    guard.statement_deadline = started + timeout_ms / 1000.0
            try:
                hold = tr.kind is QUERY  # (a plain autocommit read: its transaction may be held)
                if hold:
                    db.hold_for_read(reader)
                elif reader.held:  # anything else never runs in a held snapshot (checkout_reader)
                    db.release_hold(reader)
                reads = reader.reads or reader.new_reads()  # (not a new cursor per statement)
                rows = reads.execute(steps[0], params).fetchall()
                held = hold
            except apsw.InterruptError as exc:
                if guard.reason == "budget":
                    db.note_slow(steps)
                    return None  # re-run on a thread by the general path
                self._interrupt = guard.reason or "cancel"
                raise self._interrupt_error() from exc
            except apsw.Error as exc:
                raise map_sqlite_error(exc, self.catalog) from exc
        finally:
            db.return_reader(reader, held)
        if reader.ctx.changed_settings:
            self._apply_set_config(reader.ctx.changed_settings)
        return Result(statement_tag(tr, len(rows)), rows, tr)

    async def _on_reader(self, tr: Translation, params: tuple[Any, ...]) -> Result:
        """Run a read on a pooled reader at the newest durable LSN (autocommit, READ COMMITTED).
        Outside a transaction block a query runs in the reader's held read transaction when
        that one is current (``Database.hold_for_read``)."""
        db = self.db
        hold = self.txn is None and tr.kind is QUERY
        reader = await db.checkout_reader(hold)
        held = False
        try:
            if hold:
                try:
                    db.hold_for_read(reader)
                except apsw.Error as exc:
                    raise map_sqlite_error(exc, self.catalog) from exc
            result = await self._run_on(reader, tr, params)
            held = hold
            return result
        finally:
            db.return_reader(reader, held)

    async def _autocommit_write(self, tr: Translation, params: tuple[Any, ...]) -> Result:
        await self._acquire_writer()
        writer = self.db.writer
        ticket: CommitTicket | None = None
        try:
            result, ticket = await self._run_autocommit(writer, tr, params)
        finally:
            self._release_writer()
        if ticket is not None:
            await self._await_durable(ticket)
        return result

    async def _acquire_writer(self) -> None:
        """Take the single writer, bounded by lock_timeout, statement_timeout and cancel."""
        if self._holds_writer:
            return
        lock = self.db.writer_lock
        if not lock.locked():
            await lock.acquire()
            self._holds_writer = True
            return
        lock_timeout = self.setting_ms("lock_timeout")
        if await self._writer_wait.acquire(lock, lock_timeout / 1000.0 if lock_timeout > 0 else None,
                                           self._interrupted.is_set()):
            self._holds_writer = True
            return
        if self._interrupt is not None:
            raise self._interrupt_error()
        raise SqlError("55P03", "canceling statement due to lock timeout")

    async def _ensure_writer(self, txn: Transaction) -> None:
        if txn.writer:
            return
        await self._acquire_writer()
        self._writer_begin(txn)

    def _writer_begin(self, txn: Transaction) -> None:
        """The transaction's first write: it holds the writer now; open its SQLite transaction
        there (BEGIN and SAVEPOINTs are instant). 40001 under REPEATABLE READ if the log moved
        past its snapshot. On any error the writer is released."""
        try:
            if txn.snapshot_isolation and txn.snapshot_lsn is not None:
                if self.db.last_commit_lsn > txn.snapshot_lsn:
                    raise SqlError("40001", "could not serialize access due to concurrent update")
            conn = self.db.writer.conn
            if conn.in_transaction:  # left over by a crashed session: never commit it
                conn.execute("ROLLBACK")
            conn.execute("BEGIN")
            for name in txn.savepoints:
                conn.execute(f"SAVEPOINT {quote_ident(name)}")
        except BaseException:
            self._release_writer()
            raise
        txn.writer = True
        if txn.snapshot_reader is not None:
            self.db.return_reader(txn.snapshot_reader)
            txn.snapshot_reader = None

    def _bind_context(self, pooled: Pooled) -> None:
        """Point the connection's SQL functions at this session (connections are shared)."""
        ctx = pooled.ctx
        now = datetime.datetime.now(datetime.UTC)
        ctx.user = self.user
        ctx.database = self.db.name
        ctx.backend_pid = self.backend_pid
        # current_setting('transaction_isolation' | 'transaction_read_only') reads these
        settings = self.settings
        txn = self.txn
        settings["transaction_isolation"] = (  # _isolation_now(), without its call
            txn.isolation if txn is not None
            else settings.get("default_transaction_isolation", "read committed"))
        settings["transaction_read_only"] = "on" if self._read_only_now() else "off"
        ctx.settings = settings
        ctx.timezone = settings.get("timezone", "UTC")
        ctx.sequence_values = self.sequence_values
        ctx.backend = self.backend
        # outside a transaction block a deferred foreign key is checked row by row, like an
        # immediate one (the statement's own commit follows at once)
        ctx.fk_state = txn.fk if txn is not None else None
        ctx.changed_settings = {}
        ctx.statement_start = now
        if txn is None:
            ctx.txn_start = now
        else:
            start = txn.start_dt
            if start is None:
                start = txn.start_dt = datetime.datetime.fromtimestamp(txn.start_ts, datetime.UTC)
            ctx.txn_start = start

    async def _run_on(self, pooled: Pooled, tr: Translation, params: tuple[Any, ...]) -> Result:
        """Execute the translation's SQLite steps on ``pooled``, in the session's transaction
        (or as an autocommit read on a pooled reader)."""
        ran = await self._run_steps(pooled, tr, params, autocommit=False)
        return self._result(pooled, tr, ran)

    async def _run_autocommit(self, pooled: Pooled, tr: Translation, params: tuple[Any, ...]
                              ) -> tuple[Result, CommitTicket | None]:
        """Execute the steps as their own transaction on the writer: the result and the ticket
        of its commit (None if it wrote nothing)."""
        ran = await self._run_steps(pooled, tr, params, autocommit=True)
        return self._result(pooled, tr, ran), ran[2]

    def _result(self, pooled: Pooled, tr: Translation, ran: Ran) -> Result:
        rows, changes, _, snapshot = ran
        txn = self.txn
        if txn is not None and txn.snapshot_isolation and txn.snapshot_lsn is None:
            txn.snapshot_lsn = snapshot
        if pooled.ctx.changed_settings:
            self._apply_set_config(pooled.ctx.changed_settings)
        result = Result(statement_tag(tr, changes), rows=rows, translation=tr)
        if self.backend.warnings:  # pg_advisory_unlock of a lock not held, ...
            result.notices = self.backend.take_warnings()
        return result

    def _steps_work(self, conn: apsw.Connection, tr: Translation, params: tuple[Any, ...],
                    autocommit: bool) -> Callable[[], Ran]:
        """The SQLite work of one statement, to run inline or on an engine thread."""
        snapshot_lsn = self.engine.factory.snapshot_lsn if self.txn is not None else None
        return steps_work(conn, tr, params, autocommit, self.db.take_ticket, snapshot_lsn, self.checker)

    async def _run_steps(self, pooled: Pooled, tr: Translation, params: tuple[Any, ...],
                         autocommit: bool) -> Ran:
        """Run the steps with cancel and statement_timeout armed; SQLite errors as SqlError."""
        with self.guarded(pooled) as guard:
            work = self._steps_work(pooled.conn, tr, params, autocommit)
            return await self._inline_or_threaded(work, tr, guard, autocommit)

    @contextlib.contextmanager
    def guarded(self, pooled: Pooled) -> Iterator[Guard]:
        """SQLite work on ``pooled`` as this session's statement (its steps, a cursor's FETCH):
        cancel, statement_timeout and pg_terminate_backend reach it through the guard, and
        SQLite's errors come out as SqlError."""
        guard = self._guard_on(pooled)
        try:
            yield guard
        except apsw.Error as exc:
            raise self._sqlite_error(exc, guard) from exc
        finally:
            self._active = None
            guard.reset()

    def _guard_on(self, pooled: Pooled) -> Guard:
        """The start of ``guarded`` (the write fast lane runs its body without the
        context manager): bind the session, arm the guard, make ``pooled`` interruptible."""
        self._bind_context(pooled)
        guard = pooled.guard
        guard.reason = self._interrupt
        self._active = pooled
        return guard

    def _sqlite_error(self, exc: apsw.Error, guard: Guard) -> SqlError:
        """A SQLite error of a guarded statement as the client sees it: an interrupt is the
        cancel / statement_timeout / terminate that caused it."""
        if isinstance(exc, apsw.InterruptError):
            if guard.reason == "timeout" and self._interrupt is None:
                self._interrupt = "timeout"
            if self._interrupt is not None:
                return self._interrupt_error()
        return map_sqlite_error(exc, self.catalog)

    async def _inline_or_threaded(self, work: Callable[[], Ran], tr: Translation, guard: Guard,
                                  autocommit: bool) -> Ran:
        """Run ``work`` on the loop thread when it is known to be short, else on a thread.

        A write inside a transaction block cannot be stopped and re-run (SQLite rolls back
        the whole transaction when a write is interrupted), so it runs inline only once it
        has been seen to be quick; reads and autocommit writes can. Short statements run
        right here: a thread hop and the GIL hand-offs around it cost more than a point
        query. A statement that runs past the budget is stopped and re-run on a thread (it
        has sent nothing and changed nothing yet); every statement obeys statement_timeout
        and cancel through the guard.
        """
        steps = tr.steps
        txn = self.txn
        restartable = not tr.is_write or autocommit
        if not (self._inline_ok(tr, steps) and (restartable or steps in self.db.quick_writes)):
            if txn is not None:
                txn.heavy = True
            started = time.monotonic()
            ran = await self.engine.run(work)
            if tr.is_write and not restartable and time.monotonic() - started < WRITE_INLINE_LIMIT_S:
                self.db.note_quick_write(steps)
            return ran
        started = time.monotonic()
        timeout_ms = self.setting_ms("statement_timeout")
        if timeout_ms > 0:
            guard.statement_deadline = started + timeout_ms / 1000.0
        if restartable:
            guard.budget_deadline = started + INLINE_BUDGET_S
        try:
            ran = work()
        except apsw.InterruptError:
            if guard.reason != "budget":
                raise
            self.db.note_slow(steps)
            guard.reset()
            guard.reason = self._interrupt
            if txn is not None:
                txn.heavy = True
            return await self.engine.run(work)
        if tr.is_write and time.monotonic() - started > WRITE_INLINE_LIMIT_S:
            self.db.note_slow(steps)  # next time on a thread
        return ran

    def _inline_ok(self, tr: Translation, steps: tuple[str, ...]) -> bool:
        """Whether to run a statement on the loop thread (single-step, not known to be slow).

        The slow set is forgotten every few seconds: a statement once slowed down by a busy
        machine gets another chance, a really slow one costs one more budget to re-learn.
        """
        slow = self.db.slow_statements
        if slow and time.monotonic() - self.db.slow_since > SLOW_MEMORY_S:
            slow.clear()
            self.db.slow_since = time.monotonic()
        return (len(steps) == 1 and not tr.is_ddl and tr.kind is not COPY_TO
                and self._interrupt is None and steps not in slow and not tr.off_loop)

    # ---- COPY FROM STDIN

    async def copy_in_begin(self, tr: Translation) -> None:
        """Take the writer for a COPY FROM; rows then arrive in batches via ``copy_in_rows``."""
        if self.engine.read_only:  # what PostgreSQL says on a standby
            raise SqlError("25006", "cannot execute COPY during recovery")
        if self._read_only_now() and not self.engine.read_only:
            raise read_only_error("COPY FROM")
        await self.engine.check_writable(self.db, "COPY FROM")
        if self.txn is None:
            await self._acquire_writer()
            writer = self.db.writer

            def begin() -> None:
                if writer.conn.in_transaction:
                    writer.conn.execute("ROLLBACK")
                writer.conn.execute("BEGIN")

            try:
                await self.engine.run(begin)
            except BaseException:
                self._release_writer()
                raise
        else:
            await self._ensure_writer(self.txn)

    async def copy_in_rows(self, insert_sql: str, rows: list[tuple[Any, ...]]) -> None:
        writer = self.db.writer
        if self.txn is not None:
            self.txn.heavy = True
        self._bind_context(writer)
        self._active = writer
        try:
            await self.engine.run(lambda: self.copy_rows_in(writer.conn, insert_sql, rows))
        except apsw.InterruptError as exc:
            raise self._interrupt_error() from exc
        except apsw.Error as exc:
            raise map_sqlite_error(exc, self.catalog) from exc
        finally:
            self._active = None

    async def copy_in_end(self, ok: bool) -> None:
        """Commit (autocommit COPY) or fail the COPY; inside a transaction only mark failure."""
        if self.txn is not None:
            if not ok:
                self.failed = True
            return
        writer = self.db.writer

        def finish() -> CommitTicket | None:
            if not writer.conn.in_transaction:
                return None
            writer.conn.execute("COMMIT" if ok else "ROLLBACK")
            ticket = self.db.take_ticket(writer.conn)
            return ticket if ok else None

        try:
            ticket = await self.engine.run(finish)
        except apsw.Error as exc:
            with contextlib.suppress(apsw.Error):
                await self.engine.run(lambda: writer.conn.execute("ROLLBACK"))
            raise map_sqlite_error(exc, self.catalog) from exc
        except StorageError as exc:
            with contextlib.suppress(apsw.Error):
                await self.engine.run(lambda: writer.conn.in_transaction and writer.conn.execute("ROLLBACK"))
            raise storage_error(exc, "COPY FROM", at_commit=True) from exc
        finally:
            self._release_writer()
        if ticket is not None:
            await self._await_durable(ticket)

    # ---- end of session

    async def close(self) -> None:
        """Client went away: roll back whatever is open and give back the writer."""
        self.backend.close()  # advisory locks, LISTENs (also of a killed client)
        if self.txn is not None:
            with contextlib.suppress(Exception):
                await self._end_txn(commit=False)
        elif self._holds_writer:
            writer = self.db.writer
            with contextlib.suppress(Exception):
                await self.engine.run(
                    lambda: writer.conn.in_transaction and writer.conn.execute("ROLLBACK"))
            self._release_writer()
        await temp_tables.drop_at_end(self)
