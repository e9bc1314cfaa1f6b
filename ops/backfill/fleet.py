"""Processes per host: `ops backfill run --processes P` runs P workers of the run on this host.

Worker i of N with P processes runs workers i*P .. i*P+P-1 of N*P, each its own process (one
event loop and one core each), so a runner's cores all copy. They share the run through the
control table like workers on different hosts: segment leases, checkpoints and the fleet's write
budget. The parent shows the run's progress from the checkpoints and merges the results; if a
process fails, the others are stopped (`ops.workers`), and a re-run resumes from the checkpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, replace

from ops.backfill.checkpoint import Counters, SegmentStatus
from ops.backfill.engine import plan_backfill, run_backfill
from ops.backfill.options import BackfillOptions
from ops.backfill.results import BackfillResult
from ops.backfill.status import segment_states
from ops.control import ControlTable
from ops.workers import run_workers

# Progress callback: (rows done in the run, rows in the run, processes still copying).
FleetProgress = Callable[[int, int, int], None]


def run_processes(
    options: BackfillOptions, processes: int, on_progress: FleetProgress | None = None
) -> BackfillResult:
    """Run `processes` workers of the run on this host and merge their results."""
    o = options.resolved()
    if processes <= 1:
        return run_backfill(o)
    workers = [
        replace(o, worker=o.worker * processes + p, workers=o.workers * processes) for p in range(processes)
    ]
    started = time.monotonic()

    def tick(alive: int) -> None:
        if on_progress is not None and not o.dry_run:
            _report(o, on_progress, alive)

    results = run_workers(run_backfill, workers, what="backfill", on_tick=tick)
    return merge(o, results, time.monotonic() - started)


def _report(options: BackfillOptions, on_progress: FleetProgress, alive: int) -> None:
    assert options.control_table  # resolved options
    try:
        states = segment_states(ControlTable(options.control_table), options.run_id or "")
    except Exception:
        return  # progress is best effort; the copy goes on
    finished = sum(
        s.counters.rows_written + s.counters.rows_present + s.counters.rows_failed for s, _ in states
    )
    on_progress(finished, sum(expected for _, expected in states), alive)


def merge(options: BackfillOptions, results: list[BackfillResult], seconds: float) -> BackfillResult:
    """One result for the host: counters summed, segments listed once, the wall-clock duration."""
    counters = Counters()
    for r in results:
        counters.add(r.counters)
    # A segment one process took over from another may be in both results: the complete one wins.
    listed = sorted((s for r in results for s in r.segments), key=lambda s: s.state == SegmentStatus.COMPLETE)
    segments = sorted({s.index: s for s in listed}.values(), key=lambda s: s.index)
    first = results[0]
    plan = plan_backfill(options)
    rate = counters.rows_written / seconds if seconds else None
    return BackfillResult(
        **{
            **asdict(first),
            "worker": options.worker,
            "workers": options.workers,
            "segments_owned": len(segments),
            "segments_complete": sum(1 for s in segments if s.state == SegmentStatus.COMPLETE),
            "rows_expected": sum(s.rows_expected for s in segments),
            "counters": counters,
            "duration_seconds": seconds,
            "throttle_events": sum(r.throttle_events for r in results),
            "retries": sum(r.retries for r in results),
            "cost": plan.cost(plan.rows_total / rate if rate else None),
            "segments": segments,
            "failure_samples": [f for r in results for f in r.failure_samples][:20],
        }
    )
