"""kill -9 at several points, then run again: same final state, nothing re-read before a checkpoint."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.backfill.checkpoint import LeaseHeld, SegmentState, SegmentStatus
from ops.backfill.engine import run_backfill
from ops.backfill.status import segment_states
from tests.functional.backfill.support import Env, seed

ROWS = 1500


def _start_cli(env: Env, rate: int) -> subprocess.Popen[bytes]:
    argv = [
        str(Path(sys.executable).with_name("ops")),
        "backfill",
        "run",
        "--source-url",
        env.source_url,
        "--table",
        "answers",
        "--target-table",
        env.target_table,
        "--control-table",
        env.control_table,
        "--segments",
        "4",
        "--page-rows",
        "25",
        "--concurrency",
        "8",
        "--rate",
        str(rate),
        "--no-progress",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"backfill exited early ({proc.returncode}): {stderr[-2000:]}")
        time.sleep(0.2)
    pytest.fail("timed out waiting for the backfill's checkpoints")


def _segments(env: Env) -> dict[int, SegmentState]:
    return {s.index: s for s, _ in segment_states(env.control, "answers")}


def _settled_segments(env: Env, quiet: float = 1.0, timeout: float = 30) -> dict[int, SegmentState]:
    """The checkpoints once nothing changes them any more: a checkpoint write the killed process
    (or one of its workers, which die with it a moment later) had already sent can still land."""
    deadline = time.monotonic() + timeout
    before = _segments(env)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = _segments(env)
        if now == before:
            return now
        before = now
    pytest.fail("the killed backfill's checkpoints kept changing")


def _committed_reads(env: Env) -> int:
    return sum(s.counters.rows_read for s in _segments(env).values())


def _reads_reached(env: Env, threshold: int) -> bool:
    return _committed_reads(env) >= threshold


def test_killed_at_several_points_resumes_without_loss_or_rereads(env: Env) -> None:
    seed(env.source_url, ROWS)
    snapshots: list[dict[int, SegmentState]] = []
    for threshold in (300, 700):
        proc = _start_cli(env, rate=250)
        try:
            _wait_for(functools.partial(_reads_reached, env, threshold), proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        snapshots.append(_settled_segments(env))
    # The second process resumed each segment it took up exactly where the first one's checkpoint
    # was (it may be killed before it reaches them all: those are the third run's, checked below).
    first, second = snapshots
    resumed = 0
    for index, before in first.items():
        if second[index].sessions == before.sessions:
            assert second[index] == before
        elif before.state != SegmentStatus.COMPLETE and before.last_key is not None:
            assert second[index].resumed_from == before.last_key
            resumed += 1
    assert resumed >= 1
    committed = sum(s.counters.rows_read for s in second.values())
    assert 700 <= committed < ROWS

    result = run_backfill(env.options())
    # This run read exactly the rows after the checkpoints: nothing before them again.
    assert result.counters.rows_read == ROWS - committed
    final = _segments(env)
    assert all(s.state == SegmentStatus.COMPLETE for s in final.values())
    assert sum(s.counters.rows_read for s in final.values()) == ROWS
    for index, before in second.items():
        if before.state != SegmentStatus.COMPLETE:
            assert final[index].resumed_from == before.last_key
    totals = [s.counters for s in final.values()]
    assert sum(c.rows_written + c.rows_present for c in totals) == ROWS
    env.assert_copy_equals_source()


def test_duplicate_start_on_the_same_segments_is_refused(env: Env) -> None:
    seed(env.source_url, 600)
    proc = _start_cli(env, rate=50)
    try:
        _wait_for(lambda: any(s.lease_owner for s in _segments(env).values()), proc)
        with pytest.raises(LeaseHeld, match="is being copied by"):
            run_backfill(env.options())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # The dead process's leases on this host are taken over at once; the copy completes.
    result = run_backfill(env.options())
    assert result.segments_complete == 4
    env.assert_copy_equals_source()
