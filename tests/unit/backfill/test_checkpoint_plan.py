"""Recording the plan while a fellow worker already leases segments (two workers started together)."""

from __future__ import annotations

from ops.backfill.checkpoint import CheckpointStore
from ops.backfill.planner import Plan, Segment
from ops.backfill.status import segment_states
from ops.control import ControlTable


def _plan() -> Plan:
    segments = [Segment(i, [i * 100] if i else None, [(i + 1) * 100], 100 + i) for i in range(4)]
    return Plan("answers", ("id",), segments, sum(s.rows for s in segments), 100.0, 1.0, order=[0, 1, 2, 3])


def test_every_segment_gets_the_plans_row_count_when_a_fellow_leased_one_first(control: ControlTable) -> None:
    store = CheckpointStore(control, "answers")
    # Worker 1 of 2 lost the race for the run record and went on to lease its segment before the
    # winner wrote that segment's item: the lease created it from the key alone.
    store.acquire(1, "host:1:aaaa", worker="1/2")
    store.create_run(_plan(), "fingerprint", {})
    states = segment_states(control, "answers")
    assert [(s.index, expected) for s, expected in states] == [(0, 100), (1, 101), (2, 102), (3, 103)]
    assert states[1][0].lease_owner == "host:1:aaaa"  # the lease is kept
