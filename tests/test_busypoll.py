"""strata/busypoll.py: an event loop polls after input, stops after the window, and backs off
while its thread does not get its core."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from strata import busypoll
from strata.busypoll import BusyPoll, window_us_from_env


class FakeClocks:
    """Wall and thread-CPU clocks that advance by ``step_s`` (CPU by ``share`` of it) per read
    of the wall clock."""

    def __init__(self, step_s: float, share: float) -> None:
        self.wall = 100.0
        self.cpu = 5.0
        self.step_s = step_s
        self.share = share

    def clock(self) -> float:
        self.wall += self.step_s
        self.cpu += self.step_s * self.share
        return self.wall

    def cpu_clock(self) -> float:
        return self.cpu


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _run_until_idle(loop: asyncio.AbstractEventLoop, poll: BusyPoll, limit: int = 100_000) -> int:
    """Run loop iterations until the poller stops; the number of iterations."""
    for n in range(limit):
        if not poll.polling:
            return n
        loop.run_until_complete(asyncio.sleep(0))
    raise AssertionError("the poller never stopped")


def test_polls_for_the_window_after_the_last_input_then_stops(loop: asyncio.AbstractEventLoop) -> None:
    clocks = FakeClocks(step_s=10e-6, share=1.0)
    poll = BusyPoll(loop, 200e-6, clock=clocks.clock, cpu_clock=clocks.cpu_clock)
    poll.input()
    assert poll.polling and poll.stats.polls_started == 1
    poll.input()  # input while polling extends the window, no second stretch
    assert poll.stats.polls_started == 1
    last_input = clocks.wall
    _run_until_idle(loop, poll)
    assert 200e-6 <= clocks.wall - last_input <= 250e-6  # stopped once the window passed
    assert poll.stats.contended == 0
    poll.input()  # the next input starts polling again
    assert poll.polling and poll.stats.polls_started == 2
    _run_until_idle(loop, poll)


def test_contended_core_stops_polling_and_backs_off_doubling(loop: asyncio.AbstractEventLoop) -> None:
    clocks = FakeClocks(step_s=10e-6, share=0.5)  # the kernel ran someone else half the time
    poll = BusyPoll(loop, 200e-6, clock=clocks.clock, cpu_clock=clocks.cpu_clock)
    poll.input()
    _run_until_idle(loop, poll)
    assert poll.stats.contended == 1
    poll.input()  # within the back-off: no polling
    assert not poll.polling and poll.stats.polls_started == 1
    clocks.wall += busypoll.BACKOFF_S
    poll.input()
    assert poll.polling
    _run_until_idle(loop, poll)
    assert poll.stats.contended == 2
    clocks.wall += busypoll.BACKOFF_S  # the back-off doubled: still pausing
    poll.input()
    assert not poll.polling
    clocks.wall += busypoll.BACKOFF_S
    clocks.share = 1.0  # the core is free again: polling resumes, the back-off resets
    poll.input()
    assert poll.polling
    _run_until_idle(loop, poll)
    assert poll.stats.contended == 2
    clocks.share = 0.5
    poll.input()
    _run_until_idle(loop, poll)
    assert poll.stats.contended == 3
    clocks.wall += busypoll.BACKOFF_S  # reset to the first back-off, not 4 x
    poll.input()
    assert poll.polling
    _run_until_idle(loop, poll)


def test_a_long_stretch_is_judged_in_parts(loop: asyncio.AbstractEventLoop) -> None:
    """Input that never stops for the window: contention is still noticed after SAMPLE_S."""
    clocks = FakeClocks(step_s=10e-6, share=0.3)
    poll = BusyPoll(loop, 200e-6, clock=clocks.clock, cpu_clock=clocks.cpu_clock)
    poll.input()
    for _ in range(5_000):
        if not poll.polling:
            break
        poll._last_input = clocks.wall  # input keeps coming
        loop.run_until_complete(asyncio.sleep(0))
    assert not poll.polling and poll.stats.contended == 1
    assert clocks.wall - 100.0 >= busypoll.SAMPLE_S


def test_real_clocks_poll_keeps_the_loop_busy_then_sleeps(loop: asyncio.AbstractEventLoop) -> None:
    """With the real clocks, a 2 ms window keeps callbacks coming for ~2 ms; then none."""
    poll = BusyPoll(loop, 0.002)
    calls = 0
    real_poll = poll._poll

    def counting() -> None:
        nonlocal calls
        calls += 1
        real_poll()

    poll._poll = counting  # type: ignore[method-assign]
    start = time.perf_counter()
    poll.input()
    loop.run_until_complete(asyncio.sleep(0.02))
    assert not poll.polling
    assert calls > 10  # the loop polled many times within the window
    assert time.perf_counter() - start >= 0.02
    before = calls
    loop.run_until_complete(asyncio.sleep(0.01))
    assert calls == before  # asleep after the window


def test_window_zero_never_polls(loop: asyncio.AbstractEventLoop) -> None:
    assert BusyPoll.for_window(loop, 0) is None
    assert BusyPoll.for_window(loop, 350).window_s == 350e-6  # type: ignore[union-attr]
    poll = BusyPoll(loop, 0.0)
    poll.input()
    assert not poll.polling and poll.stats.polls_started == 0


def test_window_us_from_env() -> None:
    assert window_us_from_env({}) == busypoll.DEFAULT_WINDOW_US
    assert window_us_from_env({busypoll.ENV: "0"}) == 0
    assert window_us_from_env({busypoll.ENV: " 350 "}) == 350
    for bad in ("abc", "-1", "1.5", str(busypoll.MAX_WINDOW_US + 1)):
        with pytest.raises(ValueError, match=busypoll.ENV):
            window_us_from_env({busypoll.ENV: bad})
