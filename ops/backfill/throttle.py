"""Throttler: every PutItem passes here; it paces them to this worker's rate and counts the answers.

The rate is the lower of the operator's target (`--rate`, `set-rate`) and the worker's allowance
under the table's limit. The allowance comes from a `CapacityEstimator`: fed with the whole
fleet's accepted and throttled writes by `FleetBudget`, or, for a throttler on its own, with this
process's (`local=True`). A throttle never decides from its own short past, so a slow start or a
burst of throttles does not collapse the rate.

Pacing is a token bucket whose waiters queue in order and are released by one timer: a rate
change (or pause) re-times every request already waiting, instead of each holding a slot that
was computed at the old rate.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from ops.backfill.budget import CapacityEstimator

# Tokens a worker may bank: enough that many concurrent writers do not each sleep a sliver,
# small enough that a burst stays far below a second of the rate.
_BURST_SECONDS = 0.05
# Waiters are released in batches at least this far apart (the bucket refills meanwhile).
_MIN_WAKE_SECONDS = 0.002
_LOCAL_WINDOW_SECONDS = 1.0


class Throttle:
    def __init__(
        self,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        local: bool = True,
    ) -> None:
        """`rate`: the operator's target in rows per second (None = no target). `local`: estimate
        the table's limit from this throttle's own counts (a `FleetBudget` sets it False)."""
        self._clock = clock
        self.target: float | None = rate or None
        self.allowance: float | None = None
        self.local = local
        self.estimator = CapacityEstimator()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._tokens = 0.0
        self._stamp = clock()
        # Each waiter's future resolves True with a token, False when woken without one.
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.sent = 0
        self.throttle_events = 0
        self._window_start = clock()
        self._window_sent = 0
        self._window_throttled = 0
        self.observed = 0.0

    # ------------------------------------------------------------ the rate

    @property
    def current(self) -> float | None:
        """Rows per second this worker is paced to; None when nothing limits it."""
        if self.target is None:
            return self.allowance
        if self.allowance is None:
            return self.target
        return min(self.target, self.allowance)

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        self._resumed.clear()
        self._cancel_timer()

    def resume(self) -> None:
        if not self._resumed.is_set():
            self._stamp = self._clock()
            self._tokens = 0.0
            self._resumed.set()
            self._schedule()

    def set_rate(self, rate: float | None) -> None:
        """The operator's target; None or 0 removes it (the table's limit still applies)."""
        self._refill(self._clock())
        self.target = rate or None
        self._schedule()

    def set_allowance(self, allowance: float | None) -> None:
        """This worker's share of what the table accepts (None: no limit seen yet)."""
        self._refill(self._clock())
        self.allowance = allowance
        self._schedule()

    # ------------------------------------------------------------ pacing

    def free(self) -> bool:
        """True (and counted) when a request may go now: not paused, nobody waiting, a token left."""
        if not self._resumed.is_set():
            return False
        rate = self.current
        if rate is None:
            self._count()
            return True
        if self._waiters:
            return False
        self._refill(self._clock())
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._count()
            return True
        return False

    async def acquire(self) -> None:
        """Wait for the next slot: while paused, and as long as the current rate requires."""
        while True:
            if not self._resumed.is_set():
                await self._resumed.wait()
            if self.free():
                return
            if self.current is None or not self._resumed.is_set():
                continue
            waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            self._schedule()
            try:
                granted = await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
            if granted:
                return

    def _refill(self, now: float) -> None:
        rate = self.current
        if rate is not None:
            self._tokens = min(max(1.0, rate * _BURST_SECONDS), self._tokens + (now - self._stamp) * rate)
        self._stamp = now

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        """(Re)arm the one timer that releases waiters, for the rate in force now."""
        self._cancel_timer()
        if not self._waiters:
            return
        rate = self.current
        if rate is None or not self._resumed.is_set():
            if rate is None:
                self._wake_all()
            return
        self._refill(self._clock())
        delay = max(_MIN_WAKE_SECONDS, (1.0 - self._tokens) / rate)
        self._timer = asyncio.get_running_loop().call_later(delay, self._release)

    def _wake_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)

    def _release(self) -> None:
        self._timer = None
        self._refill(self._clock())
        while self._waiters and self._tokens >= 1.0:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._tokens -= 1.0
            self._count()
            waiter.set_result(True)
        self._schedule()

    # ------------------------------------------------------------ counting

    def _count(self) -> None:
        self.sent += 1
        self._window_sent += 1
        if self.local and self._window_sent & 63 == 0:
            self._tick_local()

    def on_throttled(self) -> None:
        """DynamoDB throttled a request (or failed with 5xx, or the connection broke)."""
        self.throttle_events += 1
        self._window_throttled += 1
        if self.local:
            self._tick_local()

    def take_window(self) -> tuple[int, int, float]:
        """(requests sent, throttled, seconds) since the previous call; starts a new window."""
        now = self._clock()
        window = (self._window_sent, self._window_throttled, max(now - self._window_start, 1e-6))
        self._window_start = now
        self._window_sent = self._window_throttled = 0
        self.observed = window[0] / window[2]
        return window

    def _tick_local(self) -> None:
        if self._clock() - self._window_start < _LOCAL_WINDOW_SECONDS:
            return
        sent, throttled, seconds = self.take_window()
        current = self.current
        self.set_allowance(
            self.estimator.observe(
                (sent - throttled) / seconds,
                throttled / seconds,
                seconds,
                using=current is None or sent / seconds >= 0.9 * current,
            )
        )
