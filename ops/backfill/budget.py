"""Fleet write budget: every worker of a run converges on its share of what the table accepts.

Each worker publishes, every second (a quarter of one while the estimate is off the level the table
last sustained), what it sent and how much of it the table throttled, in the control table beside
the segment leases (`BACKFILL#<run>` / `RATE#<owner>`), and reads everyone else's. From the fleet's
sums, a `CapacityEstimator` tracks the table's limit: when the table throttles, the limit is what
it accepted in that second (the whole fleet's, not one worker's possibly tiny past); while it does
not, the estimate climbs back to the level the table last sustained and then probes upwards along a
cubic proportional to the limit. Past the highest level the table sustained in the run, the probe
stops a tenth above it until the table has taken that for longer than its banked burst could
explain: a table's unused second of capacity hides the limit, so a faster probe is accepted in full
(an overshoot of the table's rate) until the bank runs dry and then throttled hard. Below that
level (the limit fell and may be restored) it climbs steeply back towards it, so a restored limit
is followed within seconds. Each worker's allowance is an even split of the estimate, except that
workers which cannot use theirs (slow, CPU-bound, capped by `--rate`) leave the rest to the others;
no worker's allowance is ever below the even split, so one that was slow to start is not held back
once it catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ops.control import ControlTable

if TYPE_CHECKING:
    from ops.backfill.throttle import Throttle

RATE_PREFIX = "RATE#"
BUDGET_SECONDS = 1.0
# A record older than this is a worker that stopped or died: it no longer counts.
STALE_SECONDS = 5.0
# Throttled share of requests above which the table is taken to be at its limit: any share from
# THROTTLED_SHARE, a smaller one only while the fleet was sending about all of its estimate.
THROTTLED_SHARE = 0.02
SATURATED_SHARE = 0.002
CUBIC_KNEE = 2.0  # seconds after a trim at which the climb is back at the level it trimmed from
# The same past the highest level the table sustained: each probe there drains the table's banked
# second and ends in a few throttles, so it comes round less often.
PROBE_KNEE = 4.0
KEEP_SECONDS = 3.0
PROBE_CEILING = 2.0
REBASE_SECONDS = 10.0
REBASE_SHARE = 0.9
RECOVER_BELOW = 0.9
AGAIN_SHARE = 0.15
TRIM = 0.03
# Past the highest level the table sustained, the probe goes at most this share above `known`
# (the table's banked second then drains over ten seconds, each within +-15% of the limit).
STEP_SHARE = 0.1
# Below that level, the cubic back towards it is this many times steeper.
CLIMB_STEEPER = 3.0
# A peak the table has not sustained for this long is forgotten (a limit that fell for good).
PEAK_MEMORY_SECONDS = 120.0
# The fleet uses its allowance when it sends at least this share of it (the records it is
# judged by lag its allowance by up to a second, which a fast-growing probe outruns).
USING_SHARE = 0.7
NEAR_SHARE = 0.85  # a few throttles count when the table accepted about the estimate
LIMITED_SHARE = 0.8  # a worker sending less than this share of its allowance cannot use more
DEMAND_HEADROOM = 1.25
LIMITED_SECONDS = 3.0
MIN_RATE = 1.0
JOIN_SHARE = 0.1
# The fleet's first rate (rows/s), grown every `SLOW_START_SECONDS` until the table throttles.
# Gently enough that when a burst allowance at the table hides the limit for a moment, the rate
# that finally meets it is not several times the limit.
START_RATE = 500.0
SLOW_START_SECONDS = 0.25
SLOW_START_GROWTH = 1.25


class CapacityEstimator:
    """What the table accepts, in rows per second, learnt from accepted and throttled writes.

    `known` is the level the table last sustained. When the table throttles hard, the estimate
    drops to what it accepted, but a `known` that the fleet ran at for a whole window is kept
    for `KEEP_SECONDS`: the estimate climbs back
    to it by doubling, so that after a short storm the fleet is back at the limit within a
    second or two; only a table still refusing that level after `KEEP_SECONDS` makes the lower
    level the new `known` (a limit that really fell). Above `known`, the estimate probes.
    """

    def __init__(self, start: float | None = None) -> None:
        """`start`: the rate to begin at and grow from until the table first throttles (a slow
        start, as TCP's); None: no limit until it first throttles."""
        self.capacity: float | None = start
        self.known: float | None = None
        self.calm = 0.0  # seconds since the table last throttled
        self.probing = 0.0  # seconds spent probing above `known`
        self.held = 0.0  # seconds held at the probe's ceiling
        self.elapsed = 0.0
        self.below_since: float | None = None  # when the table first refused `known`
        self.sustained = False  # the fleet has run at `known` for a window without throttling hard
        self.peak: float | None = None  # the highest level the table sustained in this run
        self.peak_at = 0.0  # when the fleet last sustained `peak`

    def observe(self, accepted: float, throttled: float, seconds: float, *, using: bool) -> float | None:
        """One window of the fleet's rates; `using`: the fleet sent about all it was allowed."""
        self.elapsed += seconds
        offered = accepted + throttled
        share = throttled / offered if offered else 0.0
        near = self.capacity is None or accepted >= NEAR_SHARE * self.capacity
        if share >= THROTTLED_SHARE:
            self._throttled_hard(max(MIN_RATE, accepted))
            return self.capacity
        if share >= SATURATED_SHARE and near:
            # A few throttles while sending about the estimate: it is about right; settle a little
            # below it, so the next probe starts from under the limit instead of at it.
            assert self.capacity is not None
            self.known = max(MIN_RATE, accepted)
            self.capacity = (1 - TRIM) * self.known
            self.calm = self.probing = self.held = 0.0
            self.below_since, self.sustained = None, True
            return self.capacity
        if self.capacity is None:
            return None
        self.calm += seconds
        if not using or share:
            # Below the allowance, or a few throttles left over from an earlier burst: nothing
            # learnt about the limit; a probe waits where it is.
            return self.capacity
        if self.known is None:
            self.capacity *= SLOW_START_GROWTH
        elif self.capacity < RECOVER_BELOW * self.known:
            # Far below the level last sustained (after a storm): climb back by doubling.
            self.capacity = min(self.known, 2 * self.capacity)
        else:
            self.below_since, self.sustained = None, True
            if (
                self.peak is None
                or self.known >= self.peak
                or self.elapsed - self.peak_at > PEAK_MEMORY_SECONDS
            ):
                self.peak, self.peak_at = self.known, self.elapsed
            self.probing += seconds
            # A cubic around the level last sustained (as TCP CUBIC): it starts just under it
            # after a trim, creeps past it for a couple of seconds (a steady limit is overshot
            # by a percent or two), then accelerates up to the ceiling, holds there, and only
            # once the table took it for `REBASE_SECONDS` re-bases on it.
            ceiling, climbing = self._ceiling()
            if self.capacity >= ceiling and accepted >= REBASE_SHARE * ceiling:
                self.held += seconds
                if self.held >= REBASE_SECONDS:
                    self.known, self.probing, self.held = self.capacity, 0.0, 0.0
                    ceiling, climbing = self._ceiling()
            steep = CLIMB_STEEPER if climbing else 1.0
            knee = CUBIC_KNEE if climbing else PROBE_KNEE
            cubic = self.known * (1 + steep * TRIM / knee**3 * (self.probing - knee) ** 3)
            self.capacity = min(max(self.capacity, cubic), ceiling)
        return self.capacity

    def _ceiling(self) -> tuple[float, bool]:
        """How far the probe may go, and whether that is back towards a peak the table sustained
        (a limit that fell and may come back: at most twice `known`, DynamoDB's own growth)."""
        assert self.known is not None
        step = (1 + STEP_SHARE) * self.known
        if self.peak is not None and self.peak > step:
            return min(self.peak, PROBE_CEILING * self.known), True
        return step, False

    def _throttled_hard(self, accepted: float) -> None:
        self.capacity = accepted
        self.calm = self.probing = self.held = 0.0
        if self.known is None or accepted >= self.known or not self.sustained:
            # A level seen once only (a burst allowance at the table can inflate what it accepted
            # while it first throttled) is not worth climbing back to; one seen again is.
            again = self.known is not None and abs(accepted - self.known) <= AGAIN_SHARE * self.known
            self.known, self.below_since, self.sustained = accepted, None, again
        elif self.below_since is None:
            self.below_since = self.elapsed
        elif self.elapsed - self.below_since >= KEEP_SECONDS:
            self.known, self.below_since, self.sustained = accepted, None, False

    @property
    def recovering(self) -> bool:
        """Not at the level the table last sustained (below it after a storm, or probing past
        it, where the table's banked burst runs dry without warning), or just throttled: decide
        in short windows, so that throttles are answered within a fraction of a second."""
        return self.known is None or self.calm == 0.0 or (self.capacity or 0.0) != self.known

    def adopt(self, fleet: list[WorkerRate]) -> None:
        """Before this worker has seen the table throttle, start from the fleet's estimate: the
        limit another worker found, else the furthest slow start."""
        if self.known is not None:
            return
        found = [w for w in fleet if w.known]
        if found:
            best = max(found, key=lambda w: w.known or 0.0)
            self.capacity, self.known = best.capacity or best.known, best.known
            return
        ahead = [
            w.capacity for w in fleet if w.capacity and (self.capacity is None or w.capacity > self.capacity)
        ]
        if ahead:
            self.capacity = max(ahead)


@dataclass(frozen=True)
class WorkerRate:
    """One worker's last published second."""

    owner: str
    sent: float  # requests per second
    throttled: float
    demand: float | None  # rows/s it can use when that is below its allowance; None: wants more
    capacity: float | None
    known: float | None
    updated_at: float

    def to_item(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "sent": self.sent,
            "throttled": self.throttled,
            "demand": self.demand if self.demand is not None else -1,
            "capacity": self.capacity or 0,
            "known": self.known or 0,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> WorkerRate:
        demand = float(item.get("demand", -1))
        return cls(
            owner=str(item.get("owner", "")),
            sent=float(item.get("sent", 0)),
            throttled=float(item.get("throttled", 0)),
            demand=None if demand < 0 else demand,
            capacity=float(item.get("capacity", 0)) or None,
            known=float(item.get("known", 0)) or None,
            updated_at=float(item.get("updated_at", 0)),
        )


def demand_of(sent: float, allowance: float | None, target: float | None) -> float | None:
    """What a worker can use when that is less than its allowance, else None."""
    if target is not None and (allowance is None or target < allowance):
        return target
    if allowance is not None and sent < LIMITED_SHARE * allowance:
        return sent * DEMAND_HEADROOM
    return None


def fair_shares(capacity: float, demands: dict[str, float | None]) -> dict[str, float]:
    """Each worker's allowance: `capacity` split evenly, the unused part of the workers that
    cannot use theirs going to the others; nobody gets less than the even split."""
    even = capacity / max(1, len(demands))
    limited = {w: min(d, even) for w, d in demands.items() if d is not None and d < even}
    hungry = [w for w in demands if w not in limited]
    spare = capacity - sum(limited.values())
    shares = dict.fromkeys(limited, even)
    for w in hungry:
        shares[w] = max(even, spare / len(hungry))
    return shares


def allocate(
    me: WorkerRate, fleet: list[WorkerRate], estimator: CapacityEstimator, seconds: float = BUDGET_SECONDS
) -> float | None:
    """Feed the fleet's second into the estimator and return `me`'s allowance (None: no limit)."""
    others = [w for w in fleet if w.owner != me.owner]
    workers = [me, *others]
    estimator.adopt(others)
    sent = sum(w.sent for w in workers)
    throttled = sum(w.throttled for w in workers)
    # Against what the fleet was allowed during the window (the estimate before this update).
    using = estimator.capacity is None or sent >= USING_SHARE * estimator.capacity
    capacity = estimator.observe(sent - throttled, throttled, seconds, using=using)
    if capacity is None:
        return None
    # Split the fleet's middle estimate, not this worker's own: a worker that was descheduled
    # through the second the table throttled has not cut its estimate yet, and shares computed
    # from estimates that disagree add up to more (or less) than the table takes.
    estimates = sorted([capacity, *(w.capacity for w in others if w.capacity)])
    capacity = statistics.median(estimates)
    share = fair_shares(capacity, {w.owner: w.demand for w in workers})[me.owner]
    if not me.sent and others:
        # Joining a running fleet: the others still write at their old shares until their next
        # tick, so take only what they leave unused for this first second.
        spare = capacity - sum(w.sent - w.throttled for w in others)
        return max(JOIN_SHARE * share, min(share, spare))
    return share


class WorkerBudget:
    """One worker's side of the budget: measure its last window, then set its allowance from the
    fleet's records. No I/O, so a fake clock can drive it."""

    def __init__(self, owner: str, throttle: Throttle, clock: Callable[[], float] = time.time) -> None:
        self.owner = owner
        self.throttle = throttle
        self.clock = clock
        self.estimator = throttle.estimator = CapacityEstimator(START_RATE)
        self.window = BUDGET_SECONDS
        self.limited_for = 0.0
        throttle.local = False

    def measure(self) -> WorkerRate:
        throttle = self.throttle
        sent, throttled, self.window = throttle.take_window()
        rate = sent / self.window
        demand = None if throttle.paused else demand_of(rate, throttle.allowance, throttle.target)
        # A worker held up for a moment (descheduled, between segments) keeps its share: only one
        # that stays below it for a while leaves the rest to the others, who would otherwise
        # overshoot together when it catches up.
        self.limited_for = self.limited_for + self.window if demand is not None else 0.0
        return WorkerRate(
            owner=self.owner,
            sent=rate,
            throttled=throttled / self.window,
            demand=demand if self.limited_for >= LIMITED_SECONDS else None,
            capacity=self.estimator.capacity,
            known=self.estimator.known,
            updated_at=self.clock(),
        )

    def decide(self, me: WorkerRate, fleet: list[WorkerRate]) -> None:
        """`fleet`: every live worker's last record (with or without `me`)."""
        self.throttle.set_allowance(allocate(me, fleet, self.estimator, self.window))

    def next_tick(self, interval: float) -> float:
        """Seconds to the next tick: short until the limit is found, right after the table
        throttled (the rate that met it may be far above it) and while climbing back."""
        return SLOW_START_SECONDS if self.estimator.recovering else interval


class FleetBudget:
    """Runs beside a worker's copy: publish its window, read the fleet's, set its allowance."""

    def __init__(
        self,
        control: ControlTable,
        pk: str,
        owner: str,
        throttle: Throttle,
        interval: float = BUDGET_SECONDS,
    ) -> None:
        self.control = control
        self.pk = pk
        self.worker = WorkerBudget(owner, throttle)
        self.interval = interval
        self._exchanging: asyncio.Future[list[WorkerRate]] | None = None

    def _exchange(self, record: WorkerRate) -> list[WorkerRate]:
        self.control.put(self.pk, RATE_PREFIX + record.owner, record.to_item())
        now = time.time()
        fleet = [WorkerRate.from_item(i) for i in self.control.query(self.pk, RATE_PREFIX)]
        return [w for w in fleet if now - w.updated_at <= STALE_SECONDS]

    async def tick(self) -> None:
        me = self.worker.measure()
        # Shielded: a thread cannot be stopped, so a cancelled tick must not let `run` delete
        # this worker's record while the put is still on its way.
        self._exchanging = asyncio.ensure_future(asyncio.to_thread(self._exchange, me))
        try:
            fleet = await asyncio.shield(self._exchanging)
        except asyncio.CancelledError:
            raise
        except Exception:
            fleet = []  # the control table is unreachable for a moment: decide from this worker alone
        self.worker.decide(me, fleet)

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.worker.next_tick(self.interval))
                await self.tick()
        finally:
            with contextlib.suppress(Exception):
                if self._exchanging is not None:
                    await asyncio.wait([self._exchanging])
                await asyncio.to_thread(self.control.delete, self.pk, RATE_PREFIX + self.worker.owner)
