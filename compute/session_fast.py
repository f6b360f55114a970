"""The write fast lane: statements inside a transaction block run without an await.

A TPC-B transaction is BEGIN, three UPDATEs, a SELECT and an INSERT on the writer, then
COMMIT. On the general path each of them goes through ``Session.execute`` and its chain of
coroutines (``_dispatch``, ``_run_sql``, ``_run_sql_inner``, ``_ensure_writer``, ``_run_on``,
``_run_steps``, ``_inline_or_threaded``) and the statement_timeout timer of
``statement_scope``. ``FastLane.try_fast_statement`` does the same work synchronously for the
statements that need no wait, with every check the general path makes, and says None (before
doing anything) for everything else, which then takes the general path:

- BEGIN (``Session._begin``, which is synchronous anyway);
- inside a block that is not failed: a single-step read on the writer the block already holds,
  or a single-step INSERT/UPDATE/DELETE known to be quick (``Database.quick_writes``: an
  interrupted write takes its transaction with it, so only writes seen to finish quickly on a
  thread run inline, as on the general path) — taking the writer now if the block does not
  hold it yet and the writer is free (``WriterLock.try_acquire``; when it is busy the general
  path waits, with lock_timeout, cancel and statement_timeout — or, from a callback lane,
  ``writer_wait_ready`` / ``queue_for_writer`` / ``writer_granted`` queue the statement in
  the lock's own queue without a task and it runs here once the writer is handed to it:
  compute/pgwire/fastwait.py);
- not: a read-only transaction (25006 comes from the general path), a node that is not
  writable at once (``Engine.writable_now``), DDL, several steps, COPY, statements that call
  the node (``off_loop``), databases with triggers (``after_rows``), a statement known to be
  slow, a pending cancel.

Autocommit writes stay on the general path (they await their commit's durability). COMMIT
is split for compute/pgwire/fastcommit.py: ``commit_ready`` (would ``Session._commit`` run
it without an await before its durability wait?), ``commit_now`` (the SQLite commit, the
writer released) and ``commit_finished`` (once the commit's durability future is done: the
answer, or 08007), so the answer can go out from the future's own callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import apsw

from compute.engine import Guard, Pooled, commit_unknown_error, storage_error
from compute.sql import Catalog, map_sqlite_error
from compute.sql.api import SqlError, Translation
from compute.transaction import (
    BEGIN,
    COMMAND,
    COMMIT,
    QUERY,
    Ran,
    Result,
    Transaction,
    bindable,
    write_command,
)
from compute.writer_wait import WriterWait
from strata.storage import CommitTicket, StorageError

if TYPE_CHECKING:
    from compute.backend import Backend
    from compute.cursors import Cursors
    from compute.engine import Database, Engine

log = logging.getLogger("strata.compute.session")

_AUTO_TAGS = frozenset(("INSERT", "UPDATE", "DELETE"))
"""The autocommit writes a callback lane runs (compute/pgwire/fastauto.py)."""


def _one_plain_step(tr: Translation) -> bool:
    """One SQLite step that runs as it is: not calling the node, not DDL, no AFTER ROW
    triggers to fire, no COPY, no count of its own, no table altered by a rewrite."""
    return (len(tr.steps) == 1 and not tr.off_loop and not tr.is_ddl and not tr.after_rows
            and tr.copy is None and not tr.count_last_step and tr.altered_table is None)

INLINE_BUDGET_S = 0.01  # an inline read running longer than this moves to a thread
WRITE_INLINE_LIMIT_S = 0.05  # an inline write that took longer runs on a thread next time


class FastLane:
    """``try_fast_statement`` (a mixin of Session, which owns these attributes)."""

    engine: Engine
    db: Database
    txn: Transaction | None
    failed: bool
    backend: Backend
    _interrupt: str | None
    _interrupted: asyncio.Event
    _holds_writer: bool
    _writer_wait: WriterWait
    _active: Pooled | None
    _implicit: bool
    _implicit_lazy: bool
    cursors: Cursors
    catalog: Catalog | None
    sequence_values: dict[str, int]
    last_commit_lsn: int
    _kept_catalog: tuple[Transaction, Catalog] | None = None
    """The writer's catalog as this session's block last read it (``_writer_catalog``)."""
    _catalog_unchanged: Transaction | None = None
    """The block whose last statement ran here (not DDL: the writer's catalog is as it was
    before it): the next catalog lookup in that block may reuse ``_kept_catalog``. Every
    lookup takes it, and so does ``Session.execute`` (the general path: anything may run)."""

    if TYPE_CHECKING:
        def fail(self) -> None: ...

        def _begin(self, tr: Translation) -> Result: ...

        def _read_only_now(self) -> bool: ...

        def _inline_ok(self, tr: Translation, steps: tuple[str, ...]) -> bool: ...

        def _writer_begin(self, txn: Transaction) -> None: ...

        def setting_ms(self, name: str) -> float: ...

        def _guard_on(self, pooled: Pooled) -> Guard: ...

        def _sqlite_error(self, exc: apsw.Error, guard: Guard) -> SqlError: ...

        def _steps_work(self, conn: apsw.Connection, tr: Translation, params: tuple[Any, ...],
                        autocommit: bool) -> Callable[[], Ran]: ...

        def _result(self, pooled: Pooled, tr: Translation, ran: Ran) -> Result: ...

        def _release_writer(self) -> None: ...

        def _new_txn(self, tr: Translation | None = None) -> Transaction: ...

        def _bind_context(self, pooled: Pooled) -> None: ...

        def _interrupt_error(self) -> SqlError: ...

        def _check_deferred_now(self, txn: Transaction, prefixes: tuple[str, ...] | None
                                ) -> None: ...

        def _restore_setting(self, name: str, value: str | None) -> None: ...

    @property
    def implicit_open(self) -> bool:
        """An implicit block is open or pending (extended messages not yet ended by Sync): a
        failed statement must then end it (``end_implicit``, an await)."""
        return self._implicit or self._implicit_lazy

    def try_fast_statement(self, tr: Translation, params: tuple[Any, ...]) -> Result | None:
        """Run ``tr`` now, without an await, when that is exactly what ``Session.execute``
        would do (see the module docstring); None when it does not qualify (nothing was done:
        the caller takes the general path). Errors are raised as ``execute`` raises them (the
        block is failed first)."""
        if self.failed:
            return None
        if tr.kind is BEGIN:
            return self._fast_begin(tr)
        if not self._fast_gate(tr):
            return None
        txn = self.txn
        assert txn is not None
        if not txn.writer and not self._holds_writer:  # (held: granted to a lane's wait)
            if not self.db.writer_lock.try_acquire():
                return None  # busy: the general path waits for it (lock_timeout, cancel)
            self._holds_writer = True
        txn.queried = True
        try:
            if not txn.writer:
                self._writer_begin(txn)
            result = self._run_inline(self.db.writer, tr, bindable(tr, params) if params else params)
            if result is not None:  # a plain step, not DDL: the writer's catalog is unchanged
                self._catalog_unchanged = txn
            return result
        except SqlError:
            self.fail()
            raise
        except StorageError as exc:  # as Session.execute: the statement fails, not the session
            self.fail()
            raise storage_error(exc, write_command(tr) if tr.is_write else "", at_commit=False) from exc

    def _writer_catalog(self, txn: Transaction) -> Catalog:
        """The catalog on the writer ``txn`` holds: its schema cookie asked (``catalog_for``:
        a PRAGMA), or, when only this lane's statements ran in the block since it was last
        asked (``_catalog_unchanged``; the writer is the block's alone), the same catalog."""
        kept = self._kept_catalog
        unchanged, self._catalog_unchanged = self._catalog_unchanged, None
        if kept is not None and kept[0] is txn and unchanged is txn:
            return kept[1]
        db = self.db
        catalog = db.catalog_for(db.writer.conn)
        self._kept_catalog = (txn, catalog)
        return catalog

    def _fast_gate(self, tr: Translation) -> bool:
        """Whether ``try_fast_statement`` runs ``tr`` (not BEGIN, the block not failed) once it
        has the writer (see the module docstring). As ``statement_scope`` starts, a cancel
        between statements is cleared."""
        txn = self.txn
        kind = tr.kind
        if (txn is None or (kind is not COMMAND and kind is not QUERY)
                or not _one_plain_step(tr)):
            return False
        db = self.db
        steps = tr.steps
        if tr.is_write:
            if steps not in db.quick_writes or self._read_only_now() or not self.engine.writable_now(db):
                return False
        elif not txn.writer:
            return False
        self._interrupt = None  # statement_scope's start: a cancel between statements is moot
        self._interrupted.clear()
        return self._inline_ok(tr, steps)

    def writer_wait_ready(self, tr: Translation) -> bool:
        """``try_fast_statement`` just refused ``tr`` only because the writer is busy: its
        block's first write, which would run inline once it has the writer (a callback lane
        may then queue for it, compute/pgwire/fastwait.py)."""
        txn = self.txn
        return (txn is not None and not txn.writer and not self._holds_writer and not self.failed
                and tr.is_write and (tr.kind is COMMAND or tr.kind is QUERY)
                and self._fast_gate(tr) and not self.db.writer_lock.free())

    # ---- a callback lane's wait for the writer (compute/pgwire/fastwait.py)

    def queue_for_writer(self, on_grant: Callable[[asyncio.Future[bool | None]], None]
                         ) -> asyncio.Future[bool | None]:
        """After ``writer_wait_ready``: a waiter in the writer lock's queue (behind every waiter
        already there, of either kind) that cancel, statement_timeout and
        pg_terminate_backend wake as they wake ``_acquire_writer``'s wait; ``on_grant`` is its
        done callback (``WriterLock.enqueue``: it may be run early, by ``hand_over_now``)."""
        txn = self.txn
        assert txn is not None
        txn.queried = True  # (``_run_sql`` marks it before its wait too)
        waiter = self.db.writer_lock.enqueue(on_grant)
        self._writer_wait.watch(waiter)
        return waiter

    def writer_granted(self, waiter: asyncio.Future[bool | None]) -> SqlError | None:
        """The end of that wait (``waiter`` is done): None when the session now holds the
        writer (the statement runs at once, ``try_fast_statement``); else the error
        ``_acquire_writer`` raises — the interrupt's (57014, or FATAL 57P01), else 55P03 (its
        lock_timeout passed) —
        and the writer is not held (handed on, as a cancelled ``Lock.acquire`` does). A
        cancel that came after the grant ends the wait too (the loop would run the statement
        interrupted)."""
        self._writer_wait.watch(None)
        if self.db.writer_lock.granted(waiter):
            self._holds_writer = True
            if self._interrupt is None:
                return None
            self._release_writer()
        if self._interrupt is not None:
            return self._interrupt_error()
        return SqlError("55P03", "canceling statement due to lock timeout")

    def give_back_writer(self) -> None:
        """The writer a lane's wait was granted, handed on if its block did not start writing
        with it (the statement did not run: nothing was done)."""
        txn = self.txn
        if self._holds_writer and (txn is None or not txn.writer):
            self._release_writer()

    def _fast_begin(self, tr: Translation) -> Result:
        """BEGIN as ``Session.execute`` runs it (the block is not failed)."""
        try:
            result = self._begin(tr)
        except SqlError:
            self.fail()
            if self.txn is None and self.backend.in_xact:
                self.backend.end_xact(False)
            raise
        return result

    def _run_inline(self, pooled: Pooled, tr: Translation, params: tuple[Any, ...]
                    ) -> Result | None:
        """``Session._run_on`` for a statement ``_inline_or_threaded`` runs inline: a read past
        its inline budget is stopped (it changed nothing) and None sends it to the general
        path, which now runs it on a thread."""
        ran = self._run_inline_ran(pooled, tr, params, False)
        return None if ran is None else self._result(pooled, tr, ran)

    def _run_inline_ran(self, pooled: Pooled, tr: Translation, params: tuple[Any, ...],
                        autocommit: bool) -> Ran | None:
        """``_run_steps`` of a statement ``_inline_or_threaded`` runs inline (``autocommit``:
        its steps are their own transaction, restartable as a read is); None: stopped at its
        inline budget (it changed nothing)."""
        steps = tr.steps
        guard = self._guard_on(pooled)  # Session.guarded, without a generator per statement
        try:
            work = self._steps_work(pooled.conn, tr, params, autocommit)
            started = time.monotonic()
            timeout_ms = self.setting_ms("statement_timeout")
            if timeout_ms > 0:
                guard.statement_deadline = started + timeout_ms / 1000.0
            if not tr.is_write or autocommit:
                guard.budget_deadline = started + INLINE_BUDGET_S
            try:
                ran = work()
            except apsw.InterruptError:
                if guard.reason != "budget":
                    raise
                self.db.note_slow(steps)
                return None
            if tr.is_write and time.monotonic() - started > WRITE_INLINE_LIMIT_S:
                self.db.note_slow(steps)  # next time on a thread
        except apsw.Error as exc:
            raise self._sqlite_error(exc, guard) from exc
        finally:
            self._active = None
            guard.reset()
        return ran

    # ---- the end of a block (Session._end_txn), and COMMIT without an await

    def _writer_end(self, commit: bool) -> CommitTicket | None:
        """The block's SQLite COMMIT (its ticket: None if it wrote nothing) or ROLLBACK on the
        writer; a failure rolls back and is raised as SqlError."""
        conn = self.db.writer.conn
        try:
            if not conn.in_transaction:
                return None
            if commit:
                conn.execute("COMMIT")
                return self.db.take_ticket(conn)
            conn.execute("ROLLBACK")
            self.db.take_ticket(conn)
            return None
        except apsw.Error as exc:
            with contextlib.suppress(apsw.Error):
                conn.execute("ROLLBACK")
            raise map_sqlite_error(exc, self.catalog) from exc
        except StorageError as exc:  # the log refused the commit: nothing was written
            with contextlib.suppress(apsw.Error):
                conn.execute("ROLLBACK")
            raise storage_error(exc, "COMMIT", at_commit=True) from exc

    def end_txn_now(self, commit: bool) -> CommitTicket | None:
        """``Session._end_txn`` of a block whose statements were all short (its commit is
        short too: inline, no thread hop)."""
        txn = self.txn
        assert txn is not None and not (txn.writer and txn.heavy)
        ticket: CommitTicket | None = None
        try:
            if txn.writer:
                ticket = self._writer_end(commit)
        finally:
            self._after_txn(txn, commit, ticket)
        return ticket

    def _after_txn(self, txn: Transaction, commit: bool, ticket: CommitTicket | None) -> None:
        """The block is over (committed, rolled back or failed to commit): the writer, the
        snapshot, cursors, settings and caches go back to outside a block."""
        if self.cursors.open or self.cursors.streams:
            self.cursors.end_txn(commit)
        self._release_writer()
        if txn.did_ddl and ticket is None:
            self.db.invalidate_catalogs()
            self.sequence_values.clear()  # a rolled-back CREATE SEQUENCE may reuse its oid
        if txn.did_ddl:  # a sequence's oid or definition may have changed
            self.db.writer.ctx.sequence_positions.clear()
        if txn.snapshot_reader is not None:
            self.db.return_reader(txn.snapshot_reader)
        restore: dict[str, str | None]
        if ticket is not None or commit:
            restore = dict(txn.saved_settings)
        else:
            restore = txn.settings_before
        for name, value in restore.items():
            self._restore_setting(name, value)
        self.txn = None
        self.failed = False
        self._implicit = False
        if not commit:
            self.backend.end_xact(False)

    def commit_ready(self, tr: Translation) -> bool:
        """Whether ``Session.execute`` would run COMMIT ``tr`` as exactly ``commit_now`` and
        then its durability wait: an explicit block that is not failed, not heavy (its commit
        runs inline), without deferred foreign-key rows, open cursors, LISTEN/NOTIFY or
        transaction-scope advisory locks to finish, or ON COMMIT temporary tables; no AND CHAIN."""
        txn = self.txn
        return (tr.kind is COMMIT and not tr.chain and txn is not None and not self.failed
                and not txn.heavy and not self._implicit and not self._implicit_lazy
                and not (txn.writer and txn.fk.pending) and not self.cursors.open
                and not self.cursors.streams and not self.backend.in_xact
                and (self.catalog is None or not self.catalog.on_commit))

    def commit_now(self) -> CommitTicket | None:
        """COMMIT up to its durability wait (``commit_ready`` said yes; as ``statement_scope``
        starts, a cancel between statements is moot): the SQLite commit, the writer released,
        the block over; the ticket to wait for (None: nothing was written). A failed commit
        raises SqlError as ``Session.execute`` does (the block is gone either way)."""
        self._interrupt = None
        self._interrupted.clear()
        try:
            return self.end_txn_now(True)
        except SqlError:
            if self.backend.in_xact:  # Session.execute's finally (no block any more)
                self.backend.end_xact(False)
            raise

    def commit_finished(self, ticket: CommitTicket | None) -> Result:
        """COMMIT's answer once its ticket's durability future is done (``_await_durable``
        and the rest of ``Session._commit``): the result, or 08007 when the log did not
        confirm it."""
        ok = False
        try:
            if ticket is not None:
                self.auto_durable(ticket)
            ok = True
        finally:  # notifications go out once the commit is durable
            self.backend.end_xact(ok)
        return Result("COMMIT")

    # ---- an autocommit write from a callback lane (compute/pgwire/fastauto.py)

    def auto_write_ready(self, tr: Translation) -> bool:
        """Whether a callback lane may run ``tr`` as an autocommit write without an await up
        to its durability wait: a single-step INSERT / UPDATE / DELETE without RETURNING,
        outside any block (explicit or implicit), no triggers (``after_rows``), not DDL, not
        calling the node, nothing left to finish at a transaction's end (WITH HOLD cursors,
        LISTEN/NOTIFY or advisory xact locks, ON COMMIT temporary tables), a writable node
        (``writable_now``) and a session that is not read-only (25006 comes from the general
        path). Nothing is changed."""
        return (tr.kind is COMMAND and tr.is_write and tr.tag in _AUTO_TAGS
                and self.txn is None and not self.failed and not self._holds_writer
                and not self._implicit and not self._implicit_lazy
                and _one_plain_step(tr) and not tr.notices
                and not self.cursors.open and not self.cursors.streams
                and not self.backend.in_xact
                and (self.catalog is None or not self.catalog.on_commit)
                and not self._read_only_now() and self.engine.writable_now(self.db))

    def try_auto_write(self, tr: Translation, params: tuple[Any, ...]
                       ) -> tuple[Result, CommitTicket | None] | None:
        """A simple Query's autocommit write as ``Session.execute`` runs it up to its
        durability wait (``_autocommit_write``: the writer, the steps with their own commit,
        the writer released at once); the result and the ticket to wait for (None: nothing
        was written). None: not now (it does not qualify, the writer is busy, or it ran past
        its inline budget and changed nothing): the general path runs it. Errors are raised
        as ``execute`` raises them; ``auto_ended`` must follow either way."""
        if not self.auto_write_ready(tr):
            return None
        self._interrupt = None  # statement_scope's start
        self._interrupted.clear()
        if not self._inline_ok(tr, tr.steps) or not self.db.writer_lock.try_acquire():
            return None
        self._holds_writer = True
        writer = self.db.writer
        try:
            ran = self._run_inline_ran(writer, tr, bindable(tr, params), True)
            if ran is None:
                return None
            return self._result(writer, tr, ran), ran[2]
        except StorageError as exc:  # as Session.execute (an autocommit write fails at commit)
            raise storage_error(exc, write_command(tr), at_commit=True) from exc
        finally:
            self._release_writer()

    def auto_durable(self, ticket: CommitTicket) -> None:
        """``_await_durable`` once the ticket's durability future is done: 08007 if the log did
        not confirm it."""
        try:
            lsn = ticket.durable.result(0)
        except Exception as exc:  # noqa: BLE001 - any failure of the log is a storage failure
            log.warning("commit at LSN %s not confirmed: %s", ticket.lsn, exc)
            raise commit_unknown_error(exc) from exc
        self.last_commit_lsn = max(self.last_commit_lsn, int(lsn))

    def auto_ended(self, ok: bool) -> None:
        """``Session.execute``'s end of a statement outside a block (its own transaction)."""
        if self.txn is None and self.backend.in_xact:
            self.backend.end_xact(ok)
        if self.txn is None:
            self._implicit = False

    def try_implicit_write(self, tr: Translation, params: tuple[Any, ...]) -> Result | None:
        """An extended-protocol Execute of an autocommit write as the message loop runs it:
        ``begin_implicit`` (until Sync), ``execute`` opens the implicit block for the write,
        which then runs as a block's statement (``try_fast_statement``: a write known quick,
        the writer free). None: not now, nothing done (no block left). Errors are raised as
        ``execute`` raises them (the block is failed: ``implicit_end`` rolls it back)."""
        if not self.auto_write_ready(tr) or tr.steps not in self.db.quick_writes:
            return None
        self._implicit_lazy = True
        self.txn = self._new_txn()
        self._implicit = True
        result = self.try_fast_statement(tr, params)
        if result is None:
            assert not (self.txn is not None and self.txn.writer)
            self.txn = None
            self._implicit = self._implicit_lazy = False
        return result

    def implicit_end(self) -> tuple[bool, CommitTicket | None]:
        """Sync after ``try_implicit_write`` (``end_implicit``): a failed block rolls back
        (False); else ``_commit`` up to its durability wait (True, and its ticket: then
        ``commit_finished``). A failed commit raises SqlError (the block is gone either way)."""
        self._implicit_lazy = False
        self._implicit = False
        txn = self.txn
        if txn is None:
            return False, None
        if self.failed:
            self.end_txn_now(False)
            return False, None
        try:
            if txn.writer and txn.fk.pending:  # _check_deferred (the block is not heavy)
                self._check_deferred_now(txn, None)
            self.backend.check_room()
        except SqlError:
            self.end_txn_now(False)
            raise
        return True, self.end_txn_now(True)
