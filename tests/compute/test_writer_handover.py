"""``WriterLock.hand_over_now``: the callback lane's waiter that a release just handed the
writer to runs at once, ahead of what was already in the loop's ready queue, exactly once;
nothing else is run early (the message loop's waiter, a waiter woken without the lock, a
lock taken again, a hand-over inside a hand-over)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from compute import engine
from compute.engine import WriterLock

Waiter = asyncio.Future[bool | None]


@pytest.fixture(autouse=True)
def _hand_over_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever ``STRATA_WRITER_HANDOVER`` says in the environment."""
    monkeypatch.setattr(engine, "HAND_OVER", True)


def _run(test: Callable[[], object]) -> None:
    async def main() -> None:
        result = test()
        if asyncio.iscoroutine(result):
            await result

    asyncio.run(main())


def _lane(lock: WriterLock, log: list[str], name: str) -> Waiter:
    """A callback lane's waiter: its callback takes the writer (``granted``) once only."""
    ran: list[bool] = []

    def on_grant(fut: Waiter) -> None:
        log.append(f"{name} called")
        if ran:
            return
        ran.append(True)
        log.append(f"{name} granted={lock.granted(fut)}")

    return lock.enqueue(on_grant)


def test_the_lane_waiter_runs_before_the_ready_queue_once() -> None:
    async def test() -> None:
        lock = WriterLock()
        log: list[str] = []
        assert lock.try_acquire()
        waiter = _lane(lock, log, "b")
        loop = asyncio.get_running_loop()
        loop.call_soon(log.append, "scheduled by the commit")  # e.g. the proposer's sends
        lock.release()
        assert waiter.done() and log == []
        lock.hand_over_now()
        assert log == ["b called", "b granted=True"] and lock.locked()
        for _ in range(3):
            await asyncio.sleep(0)
        # the future's own done callback still comes, after the queue, and does nothing
        assert log == ["b called", "b granted=True", "scheduled by the commit", "b called"]
        assert lock.locked() and not lock._waiters
        lock.release()
        assert lock.free()

    _run(test)


@pytest.mark.parametrize("switched_off", [False, True], ids=["not-called", "switched-off"])
def test_without_hand_over_the_order_is_the_loops(monkeypatch: pytest.MonkeyPatch,
                                                  switched_off: bool) -> None:
    async def test() -> None:
        lock = WriterLock()
        log: list[str] = []
        assert lock.try_acquire()
        _lane(lock, log, "b")
        asyncio.get_running_loop().call_soon(log.append, "scheduled by the commit")
        lock.release()
        if switched_off:  # STRATA_WRITER_HANDOVER=0
            monkeypatch.setattr(engine, "HAND_OVER", False)
            lock.hand_over_now()
        for _ in range(3):
            await asyncio.sleep(0)
        assert log == ["scheduled by the commit", "b called", "b granted=True"]

    _run(test)


def test_nothing_else_is_run_early() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        # the message loop's waiter (no callback given): its task wakes as before
        lock = WriterLock()
        assert lock.try_acquire()
        plain = lock.enqueue()
        lock.release()
        lock.hand_over_now()
        assert plain.done() and not lock.locked()
        assert lock.granted(plain) and lock.locked()
        lock.release()
        # nobody waiting, or the lock still held: nothing to do
        lock.hand_over_now()
        log: list[str] = []
        assert lock.try_acquire()
        held = _lane(lock, log, "held")
        lock.hand_over_now()
        assert log == [] and not held.done()
        # a waiter woken without the lock (lock_timeout, cancel): its own callback decides
        held.set_result(None)
        lock.hand_over_now()
        assert log == []
        await asyncio.sleep(0)
        assert log == ["held called", "held granted=False"] and lock.locked()
        # a hand-over inside a hand-over is left to the loop
        nested: list[str] = []
        second = _lane(lock, nested, "second")

        def first_grant(fut: Waiter) -> None:
            if nested:  # (called again by the future itself)
                return
            if lock.granted(fut):
                nested.append("first granted")
                lock.release()  # its block ends at once: the writer goes on to `second`
                lock.hand_over_now()  # nested: not run here

        first = lock.enqueue(first_grant)
        lock._waiters.rotate(1)  # `first` ahead of `second`
        lock.release()
        lock.hand_over_now()
        assert nested == ["first granted"] and second.done() and not first.cancelled()
        await asyncio.sleep(0)
        assert nested == ["first granted", "second called", "second granted=True"]
        assert lock.locked()
        del loop

    _run(test)
