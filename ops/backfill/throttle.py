"""Throttler: a target rate in rows per second, paused or resumed live, slowed by throttling (AIMD).

When DynamoDB throttles (or answers 5xx), the effective rate halves (at most once per half
second, from the rate actually achieved), then grows back by a tenth of the target every second
without throttling. Without a target the throttler is free-running until the first throttle event,
and becomes free-running again once it has grown past twice the rate that was throttled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

MIN_RATE = 1.0
_DECREASE_INTERVAL = 0.5
_INCREASE_INTERVAL = 1.0
_BURST_SECONDS = 0.05


class Throttle:
    def __init__(self, rate: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.target: float | None = rate or None
        self.current: float | None = self.target
        self._ceiling: float | None = None
        self._next = clock()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._last_decrease = 0.0
        self._last_increase = clock()
        self._window_start = clock()
        self._window_count = 0
        self.observed = 0.0
        self.throttle_events = 0

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        if not self._resumed.is_set():
            self._next = self._clock()
            self._resumed.set()

    def set_rate(self, rate: float | None) -> None:
        self.target = rate or None
        self.current = self.target
        self._ceiling = None
        self._next = self._clock()

    def free(self) -> bool:
        """True (and counted) when a request may go now without waiting: unlimited and not paused."""
        if self.current is None and self._resumed.is_set():
            self._count(self._clock())
            return True
        return False

    async def acquire(self) -> None:
        """Wait for the next slot: while paused, and as long as the current rate requires."""
        if not self._resumed.is_set():
            await self._resumed.wait()
        now = self._clock()
        self._count(now)
        rate = self.current
        if rate is None:
            return
        interval = 1.0 / rate
        # A small burst allowance keeps many concurrent writers from each sleeping a sliver.
        self._next = max(self._next, now - _BURST_SECONDS) + interval
        delay = self._next - now
        if delay > 0:
            await asyncio.sleep(delay)

    def _count(self, now: float) -> None:
        self._window_count += 1
        elapsed = now - self._window_start
        if elapsed >= 1.0:
            self.observed = self._window_count / elapsed
            self._window_start = now
            self._window_count = 0
        if now - self._last_increase >= _INCREASE_INTERVAL:
            self._last_increase = now
            self._increase()

    def _increase(self) -> None:
        if self.current is None or self._ceiling is None:
            return
        step = max(MIN_RATE, (self.target or self._ceiling) / 10)
        self.current = self.current + step
        if self.target is not None and self.current >= self.target:
            self.current, self._ceiling = self.target, None
        elif self.target is None and self.current >= 2 * self._ceiling:
            self.current, self._ceiling = None, None

    def on_throttled(self) -> None:
        """DynamoDB throttled a request (or failed with 5xx): slow down."""
        self.throttle_events += 1
        now = self._clock()
        if now - self._last_decrease < _DECREASE_INTERVAL:
            return
        self._last_decrease = now
        self._last_increase = now
        # Before the first full one-second window, the rate so far in this window: without it a
        # throttle in the first second would drop the rate to MIN_RATE.
        partial = self._window_count / max(now - self._window_start, 0.1)
        achieved = self.observed or partial or self.current or MIN_RATE
        base = min(self.current, achieved) if self.current is not None else achieved
        self._ceiling = self._ceiling or base
        self.current = max(MIN_RATE, base / 2)
