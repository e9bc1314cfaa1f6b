"""Planner order and ownership, the throttler's AIMD, the interleaver, acknowledgement order, controls."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

import pytest
from opstestkit.clock import ManualClock

from ops.backfill.checkpoint import SegmentState
from ops.backfill.controls import ControlPoller, ControlState
from ops.backfill.interleave import Interleaver, Page, SegmentRun
from ops.backfill.options import fingerprint
from ops.backfill.planner import Plan, Segment, interleaved_order, owns
from ops.backfill.throttle import Throttle


@pytest.mark.parametrize("count", [1, 2, 5, 16, 37])
def test_interleaved_order_is_a_permutation_that_spreads_neighbours(count: int) -> None:
    order = interleaved_order(count)
    assert sorted(order) == list(range(count))
    if count >= 16:
        # Segments started one after another are never key-range neighbours.
        assert all(abs(a - b) > 1 for a, b in itertools.pairwise(order))


def test_workers_share_segments_without_overlap() -> None:
    for workers in (1, 2, 3):
        shares = [{i for i in range(10) if owns(i, w, workers)} for w in range(workers)]
        assert set().union(*shares) == set(range(10))
        assert sum(len(s) for s in shares) == 10


def test_plan_round_trips_and_estimates_cost() -> None:
    plan = Plan(
        "answers", ("id",), [Segment(0, None, [10], 10), Segment(1, [10], None, 5)], 15, 1300.0, 2.0, [1, 0]
    )
    assert Plan.from_dict(plan.to_dict()) == plan
    assert plan.bytes_total == 19500
    cost = plan.cost(plan.duration_seconds(5.0))
    assert cost["write_units"] == 30
    assert cost["provisioned_wcu"] == pytest.approx(10.0)
    assert cost["on_demand_usd"] == pytest.approx(30 / 1e6 * 0.625)


def test_fingerprint_depends_on_mapping_table_target_and_segments() -> None:
    base = fingerprint("m", "answers", "t", 16)
    assert base == fingerprint("m", "answers", "t", 16)
    assert (
        len(
            {
                base,
                fingerprint("m2", "answers", "t", 16),
                fingerprint("m", "x", "t", 16),
                fingerprint("m", "answers", "u", 16),
                fingerprint("m", "answers", "t", 8),
            }
        )
        == 5
    )


def test_a_throttle_on_its_own_learns_the_limit_from_what_the_table_accepted() -> None:
    clock = ManualClock(100.0)
    throttle = Throttle(None, clock=clock)
    assert throttle.current is None  # free-running until the table first throttles
    for _ in range(10):  # ten seconds against a table that accepts 800 a second
        accepted = 0
        for _ in range(1000):
            clock.now += 0.001
            if throttle.free():
                accepted += 1
                if accepted > 800:
                    throttle.on_throttled()
    assert throttle.current == pytest.approx(800, rel=0.05)  # not halved, not collapsed
    assert 200 <= throttle.throttle_events <= 600


def test_the_operators_rate_caps_the_allowance() -> None:
    throttle = Throttle(300)
    throttle.set_allowance(1000)
    assert throttle.current == 300
    throttle.set_rate(None)
    assert throttle.current == 1000
    throttle.set_allowance(200)
    assert throttle.current == 200


def test_acquire_paces_to_the_rate_and_blocks_while_paused() -> None:
    async def go() -> tuple[int, int]:
        throttle = Throttle(200)
        count = 0

        async def worker() -> None:
            nonlocal count
            while True:
                await throttle.acquire()
                count += 1

        tasks = [asyncio.create_task(worker()) for _ in range(4)]
        await asyncio.sleep(0.5)
        running = count
        throttle.pause()
        await asyncio.sleep(0.05)
        paused = count
        await asyncio.sleep(0.3)
        still = count
        for task in tasks:
            task.cancel()
        assert still == paused
        return running, still

    running, _ = asyncio.run(go())
    assert 60 <= running <= 130


def test_control_poller_applies_pause_and_rate_changes() -> None:
    throttle = Throttle(100)
    poller = ControlPoller(controls=None, throttle=throttle)  # type: ignore[arg-type]
    poller.apply(ControlState(paused=True, rate=None, changed_at=1.0))
    assert throttle.paused and throttle.target == 100
    poller.apply(ControlState(paused=False, rate=250.0, changed_at=2.0))
    assert not throttle.paused and throttle.target == 250
    poller.apply(ControlState(paused=False, rate=0.0, changed_at=3.0))
    assert throttle.target is None


def test_interleaver_alternates_segments_and_reports_fullness() -> None:
    async def go() -> list[str]:
        queue = Interleaver(capacity=4)
        a: deque[str] = deque()
        b: deque[str] = deque()
        queue.put_many(a, ["a1", "a2", "a3"])
        queue.put_many(b, ["b1", "b2"])
        waiter = asyncio.create_task(queue.wait_for_space())
        await asyncio.sleep(0)
        assert not waiter.done()
        got = [queue.take() for _ in range(5)]
        await asyncio.wait_for(waiter, 1)
        assert queue.take() is None
        assert queue.size == 0
        return got

    assert asyncio.run(go()) == ["a1", "b1", "a2", "b2", "a3"]


def test_checkpoint_only_moves_over_pages_finished_in_key_order() -> None:
    async def go() -> None:
        run = SegmentRun(Segment(0, None, None, 30), SegmentState(0))
        pages = [Page(run, [k], 10) for k in (10, 20, 30)]
        for page in pages:
            page.remaining = 1
            page.sealed = True
            run.pages.append(page)
        pages[1].remaining = 0
        run.acknowledge()
        assert run.state.last_key is None  # page 2 done, page 1 not: nothing committed
        pages[0].remaining = 0
        run.acknowledge()
        assert run.state.last_key == [20] and run.state.counters.rows_read == 20
        run.reading_done = True
        pages[2].remaining = 0
        run.acknowledge()
        assert run.state.last_key == [30] and run.drained.is_set()

    asyncio.run(go())


def test_a_segment_item_created_by_a_lease_alone_still_reads() -> None:
    """Another worker may list segments between a first lease and that segment's first save."""
    item = {"pk": "BACKFILL#answers", "sk": "SEG#00005", "lease_owner": "host:1:ab", "sessions": 1}
    state = SegmentState.from_item(item)
    assert (state.index, state.state, state.lease_owner, state.sessions) == (5, "pending", "host:1:ab", 1)
