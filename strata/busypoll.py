"""Busy polling: an event loop stays awake for a moment after input while it has a core to itself.

A latency-bound client (one statement at a time: psql, a web request's queries, pgbench
``-c 1``) sends its next message tens of microseconds after our answer. If the loop sleeps in
``epoll_wait`` meanwhile, that message costs a wake-up: the client's send must wake us (on a
VM, an inter-processor interrupt) and we are scheduled back in with cold caches. On the
2-core VM that was ~50-60 µs of a ~170 µs one-client prepared point select
(docs/performance.md, "Busy polling"). With busy polling, after each input the loop keeps
polling (``epoll_wait`` with a zero timeout, because a callback that reschedules itself is
always ready) for up to ``window_s``; input that arrives meanwhile is read at once.

The cost is CPU, and it only pays while the core would otherwise be idle. With more runnable
threads than cores (2 read replicas, a proxy and the clients on 2 cores) a polling loop takes
the CPU another process needs. So the poller measures itself: over each stretch of polling
(at most ``SAMPLE_S`` of wall time) it compares its thread's CPU time with the wall time; a
share below ``MIN_SHARE`` means the kernel ran something else on our core meanwhile, and
polling stops for a back-off (``BACKOFF_S``, doubling up to ``MAX_BACKOFF_S`` while that
persists; one good stretch resets it). Nothing is delayed by polling: the loop runs every
ready callback and I/O event between two polls as it would anyway.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

ENV = "STRATA_BUSY_POLL_US"
"""Environment variable: the polling window after input, in microseconds (0: never poll)."""
DEFAULT_WINDOW_US = 200
"""Longer than a client's turnaround between two statements on loopback (~30-120 µs
measured), shorter than a human's or a network's; see docs/performance.md."""
MAX_WINDOW_US = 10_000
"""A window above this (µs) is refused: polling that long is no longer latency hiding."""
SAMPLE_S = 0.01
"""Longest stretch of polling (seconds of wall time) judged at once."""
MIN_SAMPLE_S = 0.0001
"""A stretch shorter than this (seconds) is too short to judge and counts as good."""
MIN_SHARE = 0.8
"""Least share of the wall time the polling thread must have run for polling to go on."""
BACKOFF_S = 0.25
"""First pause (seconds) after a contended stretch."""
MAX_BACKOFF_S = 4.0
"""Longest pause (seconds) while the core stays contended."""


def window_us_from_env(environ: dict[str, str] | None = None) -> int:
    """The polling window in microseconds from ``STRATA_BUSY_POLL_US`` (default 200).

    Raises ValueError (with the variable's name) for a value that is not an integer in
    0..MAX_WINDOW_US."""
    raw = (os.environ if environ is None else environ).get(ENV, str(DEFAULT_WINDOW_US)).strip()
    try:
        micros = int(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be an integer number of microseconds, got {raw!r}") from None
    if not 0 <= micros <= MAX_WINDOW_US:
        raise ValueError(f"{ENV} must be between 0 and {MAX_WINDOW_US} µs, got {micros}")
    return micros


@dataclass(slots=True)
class BusyPollStats:
    """Counters for tests and the docs' measurements."""

    polls_started: int = 0
    """Stretches of polling begun (one per input that found the loop not polling)."""
    contended: int = 0
    """Stretches ended because the thread did not have its core (a back-off followed)."""


class BusyPoll:
    """``input()`` on every read from a socket; the loop then polls for ``window_s`` after the
    latest input, while it has a core to itself (module docstring). One per event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, window_s: float, *,
                 clock: Callable[[], float] = time.perf_counter,
                 cpu_clock: Callable[[], float] = time.thread_time) -> None:
        assert 0.0 <= window_s <= MAX_WINDOW_US / 1e6, window_s
        self.window_s = window_s
        self.stats = BusyPollStats()
        self._loop = loop
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._last_input = 0.0
        self._polling = False
        self._paused_until = 0.0
        self._backoff_s = BACKOFF_S
        self._sample_wall = 0.0
        self._sample_cpu = 0.0

    @classmethod
    def for_window(cls, loop: asyncio.AbstractEventLoop, window_us: int) -> BusyPoll | None:
        """A server's poller for a window in microseconds; None for 0 (no polling)."""
        return cls(loop, window_us / 1e6) if window_us else None

    @property
    def polling(self) -> bool:
        return self._polling

    def input(self) -> None:
        """Input arrived: poll until ``window_s`` after it (unless backing off)."""
        if not self.window_s:
            return
        now = self._clock()
        self._last_input = now
        if self._polling or now < self._paused_until:
            return
        self._polling = True
        self.stats.polls_started += 1
        self._sample_wall = now
        self._sample_cpu = self._cpu_clock()
        self._loop.call_soon(self._poll)

    def _poll(self) -> None:
        now = self._clock()
        idle_for = now - self._last_input
        if idle_for < self.window_s and now - self._sample_wall < SAMPLE_S:
            self._loop.call_soon(self._poll)
            return
        if not self._had_core(now):
            self._polling = False
            return
        if idle_for >= self.window_s:
            self._polling = False
            return
        self._sample_wall = now  # a long stretch: judged in parts
        self._sample_cpu = self._cpu_clock()
        self._loop.call_soon(self._poll)

    def _had_core(self, now: float) -> bool:
        """Whether this thread ran for at least MIN_SHARE of the stretch now ending; if not,
        polling pauses (doubling back-off)."""
        wall = now - self._sample_wall
        if wall < MIN_SAMPLE_S:
            return True
        share = (self._cpu_clock() - self._sample_cpu) / wall
        if share >= MIN_SHARE:
            self._backoff_s = BACKOFF_S
            return True
        self.stats.contended += 1
        self._paused_until = now + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, MAX_BACKOFF_S)
        return False
