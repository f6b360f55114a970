"""Advisory locks: PostgreSQL's ``pg_advisory_*`` lock table for one compute node.

Why a table of our own: SQLite has one writer lock and no user locks, and migration tools
(Alembic, Flyway, Django's, Rails') take an advisory lock before anything else. The
semantics follow PostgreSQL's:

- keys are one bigint or two int4s (two separate key spaces, as ``objsubid`` 1 and 2);
- exclusive conflicts with any lock of another session, shared only with exclusive;
  a session never conflicts with itself, and locks are re-entrant (counted per scope);
- session-scope locks live until unlocked or the session ends (a rollback keeps them),
  transaction-scope locks until the transaction ends and cannot be unlocked early;
- a waiter gives up at ``lock_timeout`` (55P03), on cancel or ``statement_timeout`` (the
  guard), and a wait that would close a cycle of waiters fails with 40P01 at once;
- waiters queue per key, first come first served, as PostgreSQL's lock manager does: a request
  that conflicts with a queued waiter's mode waits behind it even when the holders would
  allow it (so a stream of shared lockers cannot starve an exclusive waiter), and
  ``pg_try_advisory_lock*`` then returns false; a session that already holds the key goes
  ahead of the first waiter that waits for it (PostgreSQL's ProcSleep), so upgrading a
  shared hold does not deadlock behind a waiter; a release lets each waiter in queue order
  take the lock if neither a holder nor a waiter ahead of it conflicts (ProcLockWakeup).

The lock functions run inside SQLite statements on a worker thread, so the table is guarded
by a ``threading.Condition``. A lock function that would have to wait does not wait there
(that would hold an engine thread and a pooled connection, and enough waiters stall every
other session): it raises ``WouldBlock`` and the session awaits the lock on the event loop
with ``wait_async`` (woken by releases), then re-runs its statement (compute/backend.py).
The thread-blocking ``acquire(wait=True)`` remains for statements that cannot be re-run.
Bounded: at most ``MAX_LOCKS`` distinct keys held on a node (53200,
PostgreSQL's "out of shared memory" for the lock table).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from compute.sql.api import SqlError

MAX_LOCKS = 64 * 1024  # distinct advisory keys held at once on one node (entries)
WAIT_SLICE_S = 0.02  # a waiter re-checks cancel / statement_timeout this often (seconds)


class Scope(Enum):
    SESSION = "session"
    XACT = "xact"


class WouldBlock(Exception):  # noqa: N818 - a signal to the session, not an error a client sees
    """A lock function that would have to wait: the session undoes the statement, awaits the
    lock off any thread and connection, and runs the statement again."""

    def __init__(self, key: Key, shared: bool, scope: Scope) -> None:
        super().__init__(f"would block on advisory key {tuple(key)} ({'shared' if shared else 'exclusive'})")
        self.key = key
        self.shared = shared
        self.scope = scope


class Key(NamedTuple):
    """``(space, a, b)``: space 1 = one bigint (a = high 32 bits, b = low), 2 = two int4s."""

    space: int
    a: int
    b: int

    @staticmethod
    def of_bigint(value: int) -> Key:
        unsigned = value & 0xFFFF_FFFF_FFFF_FFFF
        return Key(1, unsigned >> 32, unsigned & 0xFFFF_FFFF)

    @staticmethod
    def of_pair(a: int, b: int) -> Key:
        return Key(2, a & 0xFFFF_FFFF, b & 0xFFFF_FFFF)


@dataclass
class _Holds:
    """One session's holds on one key: counts by (shared, scope)."""

    counts: dict[tuple[bool, Scope], int] = field(default_factory=dict)

    def total(self) -> int:
        return sum(self.counts.values())

    def exclusive(self) -> bool:
        return any(n for (shared, _), n in self.counts.items() if not shared)


@dataclass(frozen=True, slots=True)
class _Waiter:
    """One queued request on a key."""

    owner: int
    shared: bool


@dataclass(frozen=True)
class LockRow:
    """One granted or awaited lock, as ``pg_locks`` shows it."""

    key: Key
    owner: int  # backend pid
    shared: bool
    granted: bool


class AdvisoryLocks:
    """The node's advisory lock table; ``owner`` is the session's backend pid."""

    def __init__(self, max_locks: int = MAX_LOCKS) -> None:
        self._cond = threading.Condition()
        self._held: dict[Key, dict[int, _Holds]] = {}
        self._waiting: dict[int, tuple[Key, bool]] = {}  # owner -> what it waits for
        self._queues: dict[Key, list[_Waiter]] = {}  # key -> its waiters, first come first
        self._wakers: dict[int, Callable[[], None]] = {}  # owner -> wakes its wait_async
        self._max_locks = max_locks

    # ---- taking and releasing

    def acquire(self, owner: int, key: Key, *, shared: bool, scope: Scope, wait: bool,
                timeout_s: float | None = None, interrupted: Callable[[], bool] | None = None) -> bool:
        """Take the lock; False only for a ``try`` (``wait=False``) that would have to wait.

        ``timeout_s`` is ``lock_timeout`` (None or 0: wait forever); ``interrupted`` is polled
        every ``WAIT_SLICE_S`` and, when true, the wait ends with 57014.
        """
        deadline = time.monotonic() + timeout_s if timeout_s else None
        with self._cond:
            if not wait:
                if not self._free_now(owner, key, shared):
                    return False
                self._grant(owner, key, shared, scope)
                return True
            if self._request(owner, key, shared):  # _free_now, or ahead of the queue
                self._grant(owner, key, shared, scope)
                return True
            try:
                while not self._may_take(owner, key, shared):
                    if self._closes_cycle(owner, key, shared):
                        raise _deadlock(owner, key, shared)
                    if interrupted is not None and interrupted():
                        raise SqlError("57014", "canceling statement due to user request")
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise SqlError("55P03", "canceling statement due to lock timeout")
                    self._cond.wait(WAIT_SLICE_S if remaining is None else min(WAIT_SLICE_S, remaining))
                self._grant(owner, key, shared, scope)
                return True
            finally:
                self._leave_queue(owner, key)

    async def wait_async(self, owner: int, key: Key, *, shared: bool, scope: Scope,
                         timeout_s: float | None, interrupted: asyncio.Event) -> bool:
        """Take the lock, waiting on the event loop (no thread, no connection); False when
        ``interrupted`` was set (cancel, statement_timeout, terminate: the caller says which).

        ``timeout_s`` is ``lock_timeout`` (None or 0: wait forever, 55P03 when it passes); a
        wait that would close a cycle of waiters is 40P01 at once, as in ``acquire``.
        """
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        deadline = time.monotonic() + timeout_s if timeout_s else None

        def wake() -> None:  # any thread, under the condition
            loop.call_soon_threadsafe(woken.set)

        with self._cond:
            if self._request(owner, key, shared):
                self._grant(owner, key, shared, scope)
                return True
            self._wakers[owner] = wake
        try:
            while True:
                with self._cond:
                    if self._may_take(owner, key, shared):
                        self._grant(owner, key, shared, scope)
                        return True
                    if self._closes_cycle(owner, key, shared):
                        raise _deadlock(owner, key, shared)
                    woken.clear()
                if interrupted.is_set():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise SqlError("55P03", "canceling statement due to lock timeout")
                await _first(woken, interrupted, remaining)
        finally:
            with self._cond:
                self._wakers.pop(owner, None)
                self._leave_queue(owner, key)

    def release_one(self, owner: int, key: Key, *, shared: bool, scope: Scope) -> None:
        """Drop one hold of ``owner`` (a lock a re-run statement did not take again); no-op
        when it is gone already (the transaction ended)."""
        with self._cond:
            holds = self._held.get(key, {}).get(owner)
            slot = (shared, scope)
            if holds is None or not holds.counts.get(slot):
                return
            holds.counts[slot] -= 1
            if not holds.counts[slot]:
                del holds.counts[slot]
            self._forget_if_empty(key, owner)
            self._notify()

    def release(self, owner: int, key: Key, *, shared: bool) -> bool:
        """pg_advisory_unlock[_shared]: drop one session-scope hold; False if none was held."""
        with self._cond:
            holds = self._held.get(key, {}).get(owner)
            slot = (shared, Scope.SESSION)
            if holds is None or not holds.counts.get(slot):
                return False
            holds.counts[slot] -= 1
            if not holds.counts[slot]:
                del holds.counts[slot]
            self._forget_if_empty(key, owner)
            self._notify()
            return True

    def release_all(self, owner: int, scope: Scope | None = None) -> int:
        """End of transaction (XACT), pg_advisory_unlock_all (SESSION), disconnect (None: both).
        Returns the number of holds dropped."""
        dropped = 0
        with self._cond:
            for key in [k for k, holders in self._held.items() if owner in holders]:
                holds = self._held[key][owner]
                for slot in [s for s in holds.counts if scope is None or s[1] is scope]:
                    dropped += holds.counts.pop(slot)
                self._forget_if_empty(key, owner)
            if dropped:
                self._notify()
        return dropped

    def rows(self) -> list[LockRow]:
        """Granted locks and waiters, for ``pg_locks``."""
        with self._cond:
            out = [LockRow(key, owner, shared, True)
                   for key, holders in self._held.items() for owner, holds in holders.items()
                   for shared in sorted({s for s, _ in holds.counts})]
            out += [LockRow(key, owner, shared, False) for owner, (key, shared) in self._waiting.items()]
        return out

    def is_waiting(self, owner: int) -> bool:
        """``owner`` waits for an advisory lock (pg_stat_activity's wait_event)."""
        return owner in self._waiting

    def blockers_of(self, owner: int) -> list[int]:
        """pg_blocking_pids for a session waiting here: the holders it conflicts with and the
        conflicting waiters queued ahead of it, as PostgreSQL counts them; [] if not waiting."""
        with self._cond:
            waiting = self._waiting.get(owner)
            if waiting is None:
                return []
            key, shared = waiting
            return sorted(set(self._blockers(owner, key, shared) + self._ahead_of(owner, key, shared)))

    # ---- internals (call with the condition held)

    def _grant(self, owner: int, key: Key, shared: bool, scope: Scope) -> None:
        holders = self._held.get(key)
        if holders is None:
            if len(self._held) >= self._max_locks:
                raise SqlError("53200", "out of shared memory",
                               hint=f"The advisory lock table holds at most {self._max_locks} keys.")
            holders = self._held[key] = {}
        holds = holders.setdefault(owner, _Holds())
        holds.counts[(shared, scope)] = holds.counts.get((shared, scope), 0) + 1

    def _notify(self) -> None:
        """A release: wake the thread waiters and the event-loop waiters."""
        self._cond.notify_all()
        for wake in self._wakers.values():
            wake()

    def _held_modes(self, owner: int, key: Key) -> set[bool]:
        """The modes (shared or not) ``owner`` holds on ``key``, in any scope."""
        holds = self._held.get(key, {}).get(owner)
        return set() if holds is None else {s for (s, _), n in holds.counts.items() if n}

    def _free_now(self, owner: int, key: Key, shared: bool) -> bool:
        """May ``owner`` take the lock without waiting (PostgreSQL's LockAcquire)? A mode it
        holds already is re-entered at once; else neither another holder nor any queued
        waiter may conflict (the ``waitMask`` check: a try-lock fails behind a waiter)."""
        if shared in self._held_modes(owner, key):
            return True
        return not self._blockers(owner, key, shared) and not any(
            w.owner != owner and _conflict(w.shared, shared) for w in self._queues.get(key, ()))

    def _request(self, owner: int, key: Key, shared: bool) -> bool:
        """A request that may wait: True when it may take the lock at once; else ``owner`` is
        queued. At the end of the queue, unless it holds the key already: then before the first
        waiter that waits for its holds, and granted at once if no holder and no waiter ahead
        of that place conflicts (PostgreSQL's ProcSleep)."""
        if self._free_now(owner, key, shared):
            return True
        queue = self._queues.setdefault(key, [])
        mine = self._held_modes(owner, key)
        place = len(queue)
        if mine:
            ahead: list[bool] = []
            for i, waiter in enumerate(queue):
                if any(_conflict(waiter.shared, m) for m in mine):  # it waits for our holds
                    if not self._blockers(owner, key, shared) and not any(_conflict(shared, a) for a in ahead):
                        return True
                    place = i
                    break
                ahead.append(waiter.shared)
        queue.insert(place, _Waiter(owner, shared))
        self._waiting[owner] = (key, shared)
        return False

    def _may_take(self, owner: int, key: Key, shared: bool) -> bool:
        """May the queued ``owner`` take the lock now (PostgreSQL's ProcLockWakeup)?"""
        return not self._blockers(owner, key, shared) and not self._ahead_of(owner, key, shared)

    def _leave_queue(self, owner: int, key: Key) -> None:
        """``owner`` stops waiting (granted, timed out, cancelled): the waiters behind it may
        be able to go now, so they are woken."""
        queue = self._queues.get(key)
        if queue is None:
            return
        before = len(queue)
        queue[:] = [w for w in queue if w.owner != owner]
        if not queue:
            del self._queues[key]
        self._waiting.pop(owner, None)
        if len(queue) != before:
            self._notify()

    def _blockers(self, owner: int, key: Key, shared: bool) -> list[int]:
        """Other sessions holding ``key`` in a mode that conflicts with ``shared``."""
        return [other for other, holds in self._held.get(key, {}).items()
                if other != owner and holds.total() and (not shared or holds.exclusive())]

    def _ahead_of(self, owner: int, key: Key, shared: bool) -> list[int]:
        """Waiters queued before ``owner`` on ``key`` whose mode conflicts with ``shared``."""
        out: list[int] = []
        for waiter in self._queues.get(key, ()):
            if waiter.owner == owner:
                return out
            if _conflict(waiter.shared, shared):
                out.append(waiter.owner)
        return out

    def _closes_cycle(self, owner: int, key: Key, shared: bool) -> bool:
        """Would ``owner`` waiting on ``key`` close a cycle in the waits-for graph? A waiter
        waits for the holders it conflicts with and for the conflicting waiters ahead of it."""
        frontier = self._blockers(owner, key, shared) + self._ahead_of(owner, key, shared)
        seen: set[int] = set()
        while frontier:
            other = frontier.pop()
            if other == owner:
                return True
            if other in seen:
                continue
            seen.add(other)
            waiting = self._waiting.get(other)
            if waiting is not None:
                frontier.extend(self._blockers(other, waiting[0], waiting[1]))
                frontier.extend(self._ahead_of(other, waiting[0], waiting[1]))
        return False

    def _forget_if_empty(self, key: Key, owner: int) -> None:
        holders = self._held.get(key)
        if holders is None:
            return
        if owner in holders and not holders[owner].total():
            del holders[owner]
        if not holders:
            del self._held[key]


def _conflict(a_shared: bool, b_shared: bool) -> bool:
    """Advisory modes conflict unless both are shared."""
    return not (a_shared and b_shared)


def _deadlock(owner: int, key: Key, shared: bool) -> SqlError:
    return SqlError("40P01", "deadlock detected",
                    detail=f"Process {owner} waits for {_mode(shared)} on advisory lock "
                           f"[{key.a},{key.b},{key.space}]; blocked by another process.",
                    hint="See server log for query details.")


async def _first(woken: asyncio.Event, interrupted: asyncio.Event, timeout_s: float | None) -> None:
    """Until a release, an interrupt, or ``timeout_s`` (None: no limit)."""
    waits = {asyncio.ensure_future(woken.wait()), asyncio.ensure_future(interrupted.wait())}
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _mode(shared: bool) -> str:
    return "ShareLock" if shared else "ExclusiveLock"
