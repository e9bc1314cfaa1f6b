"""A fleet of workers on the real stack: take-over of segments nobody copies, processes per host,
and the write budget they publish in the control table."""

from __future__ import annotations

from ops.backfill.checkpoint import CheckpointStore, SegmentStatus
from ops.backfill.engine import run_backfill
from ops.backfill.fleet import run_processes
from tests.functional.backfill.support import Env, seed

ROWS = 600


def test_a_worker_that_finishes_takes_over_the_segments_nobody_copies(env: Env) -> None:
    seed(env.source_url, ROWS)
    # Worker 0 of 2, alone (worker 1 never starts): its own segments, then worker 1's.
    result = run_backfill(env.options(worker=0, workers=2))
    assert sorted(s.index for s in result.segments) == [0, 1, 2, 3]
    assert result.counters.rows_written == ROWS
    states = CheckpointStore(env.control, "answers").segments()
    assert [s.state for s in states] == [SegmentStatus.COMPLETE] * 4
    env.assert_copy_equals_source()
    # Worker 1 starting late finds nothing left, copies nothing, and does not fail.
    late = run_backfill(env.options(worker=1, workers=2))
    assert late.counters.rows_read == 0 and late.segments_complete == late.segments_owned


def test_processes_share_the_run_and_merge_into_one_result(env: Env) -> None:
    seed(env.source_url, ROWS)
    result = run_processes(env.options(segments=6), processes=3)
    assert result.counters.rows_written == ROWS
    assert sorted(s.index for s in result.segments) == list(range(6))
    assert result.segments_complete == 6
    env.assert_copy_equals_source()
    # Each process published its window of the write budget and removed it when done.
    assert env.control.query("BACKFILL#answers", "RATE#") == []
