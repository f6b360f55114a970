"""Sessions as the administration functions see them: LISTEN/NOTIFY, advisory locks,
pg_stat_activity, pg_locks, pg_terminate_backend and pg_cancel_backend.

``Admin`` is the node's table (one per Engine): the live sessions by backend pid, one
``NotificationHub`` and one ``AdvisoryLocks`` per database (PostgreSQL's advisory keys and
channels are per database). ``Backend`` is one session's entry: its transaction's pending
notifications, whether it holds transaction-scope advisory locks, its activity, and the
callbacks the wire layer installs to wake, cancel or terminate it.

Advisory lock waits (``run_waiting``): a statement whose lock function would have to wait
ends with ``WouldBlock`` (SQLite undoes the statement), gives back its engine thread and
pooled connection, awaits the lock on the event loop, and runs again. The locks the statement
had taken stay held while it waits (as PostgreSQL's would) and are handed to the re-run's
calls instead of being counted twice; those the final run did not take again are released.

Threads: the SQL functions run inside SQLite statements, often on an engine thread. They
only append to the session's own ``Pending`` / ``warnings`` (the session is not running
anything else meanwhile), take advisory locks (thread-safe), or ask the event loop to cancel
or terminate another session (``loop.call_soon_threadsafe``). Delivery of notifications and
everything else touching other sessions runs on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import functools
import json
import time
from collections.abc import Callable
from typing import Any

from compute.advisory import AdvisoryLocks, Key, Scope, WouldBlock
from compute.notify import NotificationHub, Pending, check_channel
from compute.sql.api import Kind, SqlError, Translation
from compute.sql.functions.datetime import utc_text

_UTC = _dt.UTC
Slot = tuple[Key, bool, Scope]  # an advisory hold: key, shared, scope


class Admin:
    """The node's sessions, notification hubs and advisory lock tables."""

    def __init__(self) -> None:
        self.backends: dict[int, Backend] = {}
        self._hubs: dict[str, NotificationHub] = {}
        self._locks: dict[str, AdvisoryLocks] = {}

    def hub(self, database: str) -> NotificationHub:
        hub = self._hubs.get(database)
        if hub is None:
            hub = self._hubs[database] = NotificationHub()
        return hub

    def locks(self, database: str) -> AdvisoryLocks:
        table = self._locks.get(database)
        if table is None:
            table = self._locks[database] = AdvisoryLocks()
        return table


class Backend:
    """One session's administrative state (``session`` is its compute.session.Session)."""

    def __init__(self, admin: Admin, session: Any) -> None:
        self.admin = admin
        self.session = session
        self.database: str = session.db.name
        self.pid = 0
        self.pending = Pending()  # this transaction's LISTEN/UNLISTEN/NOTIFY
        self.xact_locks = False  # holds transaction-scope advisory locks
        self.session_locks = False  # may hold session-scope advisory locks
        self.listening = False  # attached to the hub (LISTEN was run once)
        # WARNINGs of the running statement (SQLSTATE 01000), or (sqlstate, text): PL/pgSQL RAISE
        self.warnings: list[str | tuple[str, str]] = []
        # advisory lock waits off the thread (run_waiting): per statement, while it runs
        self.defer_waits = False  # a lock that would wait raises WouldBlock (the statement re-runs)
        self._effects = False  # this attempt did something a re-run would repeat (NOTIFY, unlock, ...)
        self._used: list[Slot] = []  # holds this attempt took or re-used
        self._reuse: list[Slot] = []  # holds earlier attempts took, not yet re-used by this one
        # activity (pg_stat_activity)
        self.application_name = ""
        self.client_addr: str | None = None
        self.client_port: int | None = None
        self.backend_start = time.time()
        self.query = ""
        self.query_start: float | None = None
        self.busy = False
        self.wait_event: tuple[str, str] | None = None  # set by a wait no lock table knows (pg_sleep)
        # installed by the wire layer
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: Callable[[], None] = _nothing
        self.terminate: Callable[[], None] = _nothing
        self.read_only: Callable[[], bool] = lambda: bool(session.engine.read_only)

    # ---- life cycle (event loop)

    def register(self, pid: int) -> None:
        self.pid = pid
        self.loop = asyncio.get_running_loop()
        self.admin.backends[pid] = self

    def close(self) -> None:
        """Session end (also a killed client): every lock, listen and queued notification goes."""
        self.admin.backends.pop(self.pid, None)
        if self.xact_locks or self.session_locks:
            self.admin.locks(self.database).release_all(self.pid)
        if self.listening:
            self.admin.hub(self.database).detach(self.pid)
        self.pending = Pending()

    def start_query(self, sql: str) -> None:
        self.query = sql
        self.query_start = time.time()

    @property
    def in_xact(self) -> bool:
        """Something to finish when the transaction ends."""
        return self.xact_locks or bool(self.pending)

    def end_xact(self, commit: bool) -> None:
        """Transaction end: xact-scope locks go; LISTEN/NOTIFY apply on commit (after the commit
        is durable), are dropped on rollback."""
        if self.xact_locks:
            self.xact_locks = False
            self.admin.locks(self.database).release_all(self.pid, Scope.XACT)
        if not self.pending:
            return
        pending, self.pending = self.pending, Pending()
        if commit:
            hub = self.admin.hub(self.database)
            if not self.listening and any(op == "listen" for op, _ in pending.listen_ops):
                hub.attach(self.pid, self.wake)
                self.listening = True
            hub.commit(self.pid, pending)

    def check_room(self) -> None:
        """Before a commit: 54000 if this transaction's notifications overflow a listener."""
        if self.pending.notifications:
            self.admin.hub(self.database).check_room(self.pending)

    def statement(self, kind: str, channel: str, payload: str | None) -> str:
        """LISTEN / UNLISTEN / NOTIFY (kind is the Kind's value): the command tag."""
        if kind == "unlisten":
            self.pending.unlisten(None if channel == "*" else channel)
            return "UNLISTEN"
        if self.read_only():
            raise SqlError("25006", f"cannot execute {kind.upper()} during recovery")
        if kind == "listen":
            self.pending.listen(channel)
            return "LISTEN"
        self.pending.notify(channel, payload or "")
        return "NOTIFY"

    def take_notifications(self) -> list[tuple[int, str, str]]:
        if not self.listening:
            return []
        return [(n.sender_pid, n.channel, n.payload) for n in self.admin.hub(self.database).take(self.pid)]

    def take_warnings(self) -> list[tuple[str, str]]:
        out = [text if isinstance(text, tuple) else ("01000", text) for text in self.warnings]
        self.warnings.clear()
        return out

    # ---- SQL functions (any thread)

    def notify(self, channel: Any, payload: Any) -> None:
        """pg_notify(channel, payload): NULL channel is 22023, as in PostgreSQL."""
        self._effects = True
        if self.read_only():
            raise SqlError("25006", "cannot execute NOTIFY during recovery")
        if channel is None:
            raise SqlError("22023", "channel name cannot be empty")
        self.pending.notify(check_channel(str(channel)), "" if payload is None else str(payload))

    def lock(self, ints: tuple[int, ...], *, shared: bool, xact: bool, wait: bool,
             guard: Callable[[], bool] | None, lock_timeout_ms: float) -> bool:
        """pg_[try_]advisory_[xact_]lock[_shared] on one bigint or two int4 keys.

        Under ``defer_waits`` a lock an earlier attempt of this statement took is re-used, and
        one that would have to wait raises WouldBlock (unless this attempt already did
        something a re-run would repeat: then it waits here, on the thread, as before)."""
        key = advisory_key(ints)
        scope = Scope.XACT if xact else Scope.SESSION
        slot: Slot = (key, shared, scope)
        if self.defer_waits and slot in self._reuse:
            self._reuse.remove(slot)
            self._used.append(slot)
            return True
        table = self.admin.locks(self.database)
        got = table.acquire(self.pid, key, shared=shared, scope=scope, wait=False)
        if not got and wait:
            if self.defer_waits and not self._effects:
                raise WouldBlock(key, shared, scope)
            got = table.acquire(self.pid, key, shared=shared, scope=scope, wait=True,
                                timeout_s=lock_timeout_ms / 1000.0 if lock_timeout_ms > 0 else None,
                                interrupted=guard)
        if got:
            if xact:
                self.xact_locks = True
            else:
                self.session_locks = True
            if self.defer_waits:
                self._used.append(slot)
        return got

    async def run_waiting(self, tr: Translation, params: tuple[Any, ...]) -> Any:
        """Run a statement that may call lock functions (``off_loop``), awaiting any lock it
        would wait for on the event loop and then running it again (the module docstring).

        Only where SQLite undoes a failed run completely: an autocommit statement (its own
        transaction), or one non-DDL step inside a block (SQLite's statement rollback keeps the
        transaction); else (several steps in a block, COPY) a wait blocks the thread as before.
        """
        session = self.session
        run = functools.partial(session._run_sql, tr, params)
        if tr.kind not in (Kind.QUERY, Kind.COMMAND) or (
                session.txn is not None and (len(tr.steps) != 1 or tr.is_ddl)):
            return await run()
        self.defer_waits = True
        try:
            while True:
                self._effects = False
                self._reuse += self._used
                self._used = []
                txn = session.txn
                fk_mark = len(txn.fk.pending) if txn is not None else 0
                try:
                    return await run()
                except WouldBlock as block:
                    if txn is not None and txn is session.txn:  # the run's deferred-FK queue entries
                        del txn.fk.pending[fk_mark:]
                    self.warnings.clear()
                    await self._await_lock(block)
        finally:
            self.defer_waits = False
            table = self.admin.locks(self.database)
            for key, shared, scope in self._reuse:  # taken by an earlier run, not by the last one
                table.release_one(self.pid, key, shared=shared, scope=scope)
            self._reuse = []
            self._used = []

    async def _await_lock(self, block: WouldBlock) -> None:
        """Wait for the lock a run would have waited for; it is then held for the re-run."""
        session = self.session
        lock_timeout = session.setting_ms("lock_timeout")
        got = await self.admin.locks(self.database).wait_async(
            self.pid, block.key, shared=block.shared, scope=block.scope,
            timeout_s=lock_timeout / 1000.0 if lock_timeout > 0 else None,
            interrupted=session._interrupted)
        if not got:
            raise session._interrupt_error()
        if block.scope is Scope.XACT:
            self.xact_locks = True
        else:
            self.session_locks = True
        self._used.append((block.key, block.shared, block.scope))

    def unlock(self, ints: tuple[int, ...], *, shared: bool) -> bool:
        self._effects = True
        key = advisory_key(ints)
        if self.admin.locks(self.database).release(self.pid, key, shared=shared):
            return True
        mode = "ShareLock" if shared else "ExclusiveLock"
        self.warnings.append(f"you don't own a lock of type {mode}")
        return False

    def unlock_all(self) -> None:
        self._effects = True
        if self.session_locks:
            self.admin.locks(self.database).release_all(self.pid, Scope.SESSION)

    def signal(self, pid: int, terminate: bool) -> bool:
        """pg_terminate_backend / pg_cancel_backend: ask the loop to stop session ``pid``."""
        self._effects = True
        target = self.admin.backends.get(pid)
        if target is None or target.loop is None:
            self.warnings.append(f"PID {pid} is not a PostgreSQL server process")
            return False
        if terminate:
            target.loop.call_soon_threadsafe(target.terminate)
        else:
            target.loop.call_soon_threadsafe(target.session.interrupt, "cancel")
        return True

    def listening_channels(self) -> list[str]:
        return self.admin.hub(self.database).channels(self.pid) if self.listening else []

    # ---- views (any thread)

    def activity_json(self) -> str:
        """pg_stat_activity rows of every session on this node, as JSON."""
        rows = []
        for b in list(self.admin.backends.values()):
            txn = b.session.txn
            state = _state(b.busy, txn is not None, bool(b.session.failed))
            xact_start = txn.start_ts if txn is not None else (b.query_start if b.busy else None)
            wait_type, wait_event = b.waiting_on()
            rows.append({
                "wait_event_type": wait_type, "wait_event": wait_event,
                "datname": b.database, "pid": b.pid, "usename": b.session.user,
                "application_name": b.session.settings.get("application_name", ""),
                "client_addr": b.client_addr, "client_port": b.client_port,
                "backend_start": _ts(b.backend_start), "xact_start": _ts(xact_start),
                "query_start": _ts(b.query_start), "state": state, "query": b.query,
            })
        return json.dumps(rows)

    def waiting_on(self) -> tuple[str | None, str | None]:
        """pg_stat_activity's (wait_event_type, wait_event), with PostgreSQL's names: an idle
        session waits for its client (Client, ClientRead); one queued for the writer waits, as
        a PostgreSQL write waits for the transaction holding its row, for another transaction
        to end (Lock, transactionid); an advisory lock wait is (Lock, advisory); pg_sleep is
        (Timeout, PgSleep). A statement that is running waits for nothing (NULL, NULL)."""
        if self.admin.locks(self.database).is_waiting(self.pid):
            return "Lock", "advisory"
        if self.session._writer_wait.waiting:
            return "Lock", "transactionid"
        if self.wait_event is not None:
            return self.wait_event
        if not self.busy:
            return "Client", "ClientRead"
        return None, None

    def blocking_pids(self, pid: int) -> list[int]:
        """pg_blocking_pids(pid): who keeps session ``pid`` waiting. For the writer, the
        session of its database that holds it; for an advisory lock, the holders and the
        waiters ahead it conflicts with; [] when it does not wait (or is no session)."""
        target = self.admin.backends.get(pid)
        if target is None:
            return []
        locks = self.admin.locks(target.database)
        if locks.is_waiting(pid):
            return locks.blockers_of(pid)
        if target.session._writer_wait.waiting:
            return sorted(b.pid for b in list(self.admin.backends.values())
                          if b.pid != pid and b.database == target.database and b.session._holds_writer)
        return []

    def locks_json(self) -> str:
        """pg_locks rows of this database's advisory locks, as JSON."""
        rows = [{"classid": r.key.a, "objid": r.key.b, "objsubid": r.key.space, "pid": r.owner,
                 "mode": "ShareLock" if r.shared else "ExclusiveLock", "granted": r.granted}
                for r in self.admin.locks(self.database).rows()]
        return json.dumps(rows)


def advisory_key(ints: tuple[int, ...]) -> Key:
    return Key.of_bigint(ints[0]) if len(ints) == 1 else Key.of_pair(ints[0], ints[1])


def _state(busy: bool, in_txn: bool, failed: bool) -> str:
    if busy:
        return "active"
    if not in_txn:
        return "idle"
    return "idle in transaction (aborted)" if failed else "idle in transaction"


def _ts(seconds: float | None) -> str | None:
    """A timestamptz in its stored text (``utc_text``: the fraction without trailing zeros, as
    now() is stored), so ``xact_start = now()`` compares equal as in PostgreSQL (with a fixed
    six-digit fraction it did not when the microseconds ended in 0)."""
    if seconds is None:
        return None
    return utc_text(_dt.datetime.fromtimestamp(seconds, _UTC))


def _nothing() -> None:
    return None
