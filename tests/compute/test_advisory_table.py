"""The advisory lock table on its own (compute/advisory.py), with real threads: conflicts,
re-entrancy, scopes, lock_timeout, cancel, deadlock detection and the key-count bound."""

from __future__ import annotations

import threading
import time

import pytest

from compute.advisory import AdvisoryLocks, Key, Scope
from compute.sql.api import SqlError

K1 = Key.of_bigint(42)
K2 = Key.of_pair(0, 42)  # another key space: does not conflict with K1


def take(t: AdvisoryLocks, owner: int, key: Key = K1, *, shared: bool = False,
         scope: Scope = Scope.SESSION, wait: bool = False, timeout_s: float | None = None) -> bool:
    return t.acquire(owner, key, shared=shared, scope=scope, wait=wait, timeout_s=timeout_s)


def test_exclusive_conflicts_shared_does_not() -> None:
    t = AdvisoryLocks()
    assert take(t, 1) and take(t, 1)  # re-entrant
    assert not take(t, 2) and not take(t, 2, shared=True)
    assert take(t, 2, K2)  # the two-int4 key space is separate
    assert t.release(1, K1, shared=False) and not take(t, 2)  # still held once
    assert t.release(1, K1, shared=False) and not t.release(1, K1, shared=False)
    assert take(t, 2, shared=True) and take(t, 3, shared=True) and not take(t, 4)


def test_own_locks_never_conflict() -> None:
    t = AdvisoryLocks()
    assert take(t, 1, shared=True) and take(t, 1) and take(t, 1, shared=True)
    assert not take(t, 2, shared=True)


def test_transaction_scope_is_released_only_at_end() -> None:
    t = AdvisoryLocks()
    assert take(t, 1, scope=Scope.XACT) and take(t, 1)
    assert not t.release(1, K1, shared=True)
    assert t.release_all(1, Scope.XACT) == 1
    assert not take(t, 2)  # the session-scope hold remains
    assert t.release_all(1, Scope.SESSION) == 1 and take(t, 2)


def test_waiter_gets_the_lock_when_released() -> None:
    t = AdvisoryLocks()
    take(t, 1)
    got: list[float] = []

    def waiter() -> None:
        take(t, 2, wait=True)
        got.append(time.monotonic())

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.1)
    assert not got and [(r.owner, r.granted) for r in t.rows() if not r.granted] == [(2, False)]
    released = time.monotonic()
    t.release(1, K1, shared=False)
    th.join(2)
    assert got and got[0] - released < 0.5


def test_lock_timeout_and_cancel() -> None:
    t = AdvisoryLocks()
    take(t, 1)
    start = time.monotonic()
    with pytest.raises(SqlError) as err:
        take(t, 2, wait=True, timeout_s=0.1)
    assert err.value.sqlstate == "55P03" and 0.09 < time.monotonic() - start < 1.0
    flag = threading.Event()
    threading.Timer(0.1, flag.set).start()
    with pytest.raises(SqlError) as err:
        t.acquire(2, K1, shared=False, scope=Scope.SESSION, wait=True, interrupted=flag.is_set)
    assert err.value.sqlstate == "57014"
    assert not [r for r in t.rows() if not r.granted]  # no waiter left behind


def test_deadlock_is_detected() -> None:
    t = AdvisoryLocks()
    take(t, 1, K1)
    take(t, 2, K2)
    errors: list[str] = []

    def first() -> None:
        try:
            take(t, 1, K2, wait=True, timeout_s=5)
        except SqlError as exc:
            errors.append(exc.sqlstate)

    th = threading.Thread(target=first)
    th.start()
    time.sleep(0.1)
    with pytest.raises(SqlError) as err:
        take(t, 2, K1, wait=True, timeout_s=5)
    assert err.value.sqlstate == "40P01"
    t.release_all(2)
    th.join(2)
    assert not errors and not th.is_alive()


def test_key_count_is_bounded() -> None:
    t = AdvisoryLocks(max_locks=3)
    for i in range(3):
        assert take(t, 1, Key.of_bigint(i))
    with pytest.raises(SqlError) as err:
        take(t, 1, Key.of_bigint(99))
    assert err.value.sqlstate == "53200"
    t.release_all(1)
    assert take(t, 1, Key.of_bigint(99))
