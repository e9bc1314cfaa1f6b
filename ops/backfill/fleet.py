"""Processes per host: `ops backfill run --processes P` runs P workers of the run on this host.

Worker i of N with P processes runs workers i*P .. i*P+P-1 of N*P, each its own process (one
event loop and one core each), so a runner's cores all copy. They share the run through the
control table like workers on different hosts: segment leases, checkpoints and the fleet's write
budget. The parent shows the run's progress from the checkpoints and merges the results; if a
process fails, the others are stopped, and a re-run resumes from the checkpoints.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from ops.backfill.checkpoint import Counters
from ops.backfill.engine import BackfillOptions, BackfillResult, plan_backfill, run_backfill
from ops.backfill.status import segment_states
from ops.control import ControlTable
from ops.exceptions import OpsError

POLL_SECONDS = 1.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
LAST_RESULTS_SECONDS = 5.0
# Progress callback: (rows done in the run, rows in the run, processes still copying).
FleetProgress = Callable[[int, int, int], None]


class ProcessFailed(OpsError):
    """A worker process of this host failed; the others were stopped."""


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies: a `kill -9` of `ops backfill run`
    must stop its workers too, not leave them copying on their own."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _child(options: BackfillOptions, results: Any, parent: int) -> None:
    _die_with_parent(parent)
    try:
        results.put(("ok", options.worker, run_backfill(options)))
    except BaseException as exc:  # reported to the parent, which stops the others
        results.put(("error", options.worker, f"{type(exc).__name__}: {exc}"))


def run_processes(
    options: BackfillOptions, processes: int, on_progress: FleetProgress | None = None
) -> BackfillResult:
    """Run `processes` workers of the run on this host and merge their results."""
    o = options.resolved()
    if processes <= 1:
        return run_backfill(o)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    children = []
    for p in range(processes):
        worker = replace(o, worker=o.worker * processes + p, workers=o.workers * processes)
        child = context.Process(
            target=_child, args=(worker, results, os.getpid()), name=f"backfill-{worker.worker}"
        )
        child.start()
        children.append(child)
    started = time.monotonic()
    done: list[BackfillResult] = []
    try:
        while len(done) < processes:
            try:
                status, worker, payload = results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if on_progress is not None and not o.dry_run:
                    _report(o, on_progress, sum(1 for c in children if c.is_alive()))
                if any(c.is_alive() for c in children):
                    continue
                try:  # every process has exited: what they sent may still be in the pipe
                    status, worker, payload = results.get(timeout=LAST_RESULTS_SECONDS)
                except queue.Empty:
                    raise ProcessFailed(
                        "A backfill process ended without a result (killed?). Checkpoints are saved: "
                        "run the same command again to resume."
                    ) from None
            if status == "error":
                raise ProcessFailed(
                    f"Backfill worker {worker} of {o.workers * processes} failed: {payload}. The other "
                    "processes were stopped; checkpoints are saved, so the same command resumes."
                )
            done.append(payload)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join(timeout=30)
    return merge(o, done, time.monotonic() - started)


def _report(options: BackfillOptions, on_progress: FleetProgress, alive: int) -> None:
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
    # A segment one process took over from another is in both results (copied, found complete).
    segments = sorted({s.index: s for r in results for s in r.segments}.values(), key=lambda s: s.index)
    first = results[0]
    plan = plan_backfill(options)
    rate = counters.rows_written / seconds if seconds else None
    return BackfillResult(
        **{
            **asdict(first),
            "worker": options.worker,
            "workers": options.workers,
            "segments_owned": len(segments),
            "segments_complete": sum(1 for s in segments if s.state == "complete"),
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
