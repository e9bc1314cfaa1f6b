"""Progress: Rich live view (overall and per segment) and the summary table at the end.

Rates are measured over the last ten seconds; the ETA divides the rows left (from the plan's
exact per-segment counts) by that recent rate.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ops.backfill.checkpoint import SegmentStatus

if TYPE_CHECKING:
    from ops.backfill.engine import BackfillEngine
    from ops.backfill.results import BackfillResult

WINDOW_SECONDS = 10.0


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Rate:
    def __init__(self) -> None:
        self.samples: deque[tuple[float, int, int]] = deque()

    def add(self, now: float, rows: int, size: int) -> tuple[float, float]:
        self.samples.append((now, rows, size))
        while len(self.samples) > 2 and now - self.samples[0][0] > WINDOW_SECONDS:
            self.samples.popleft()
        t0, r0, b0 = self.samples[0]
        elapsed = now - t0
        if elapsed <= 0:
            return 0.0, 0.0
        return (rows - r0) / elapsed, (size - b0) / elapsed


class ProgressDisplay:
    """Callable handed to the engine; it is called about once a second with the engine."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live: Live | None = None
        self.overall = _Rate()
        self.per_segment: dict[int, _Rate] = {}

    def __call__(self, engine: BackfillEngine) -> None:
        if self.live is None:
            self.live = Live(console=self.console, auto_refresh=False, transient=False)
            self.live.start()
        self.live.update(self.render(engine), refresh=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def render(self, engine: BackfillEngine) -> Any:
        now = time.monotonic()
        live = engine.live
        done = live.rows_written + live.rows_present + live.rows_failed
        rows_per_s, bytes_per_s = self.overall.add(now, done, live.bytes_written)
        expected = sum(r.segment.rows for r in engine.runs.values())
        finished = sum(
            r.state.counters.rows_written + r.state.counters.rows_present + r.state.counters.rows_failed
            for r in engine.runs.values()
            if not r.active
        ) + sum(
            r.live.rows_written + r.live.rows_present + r.live.rows_failed
            for r in engine.runs.values()
            if r.active
        )
        left = max(0, expected - finished)
        head = Table(title=f"backfill {engine.options.run_id} -> {engine.options.target_table}", expand=False)
        for column in (
            "segments",
            "rows done",
            "of",
            "written",
            "present",
            "failed",
            "rows/s",
            "MB/s",
            "Mbps",
            "ETA",
        ):
            head.add_column(column, justify="right")
        complete = sum(1 for r in engine.runs.values() if r.state.state == SegmentStatus.COMPLETE)
        state = " (paused)" if engine.throttle.paused else ""
        head.add_row(
            f"{complete}/{len(engine.runs)}",
            f"{finished:,}",
            f"{expected:,}",
            f"{live.rows_written:,}",
            f"{live.rows_present:,}",
            f"{live.rows_failed:,}",
            f"{rows_per_s:,.0f}{state}",
            f"{bytes_per_s / 1e6:,.2f}",
            f"{bytes_per_s * 8 / 1e6:,.1f}",
            _eta(left / rows_per_s if rows_per_s else None),
        )
        segments = Table(expand=False)
        for column in ("segment", "state", "read", "of", "rows/s", "Mbps", "ETA"):
            segments.add_column(column, justify="right")
        for run in engine.runs.values():
            if not run.active:
                continue
            rate = self.per_segment.setdefault(run.segment.index, _Rate())
            seg_done = run.live.rows_written + run.live.rows_present + run.live.rows_failed
            seg_rows, seg_bytes = rate.add(now, seg_done, run.live.bytes_written)
            seg_left = max(0, run.segment.rows - seg_done)
            segments.add_row(
                str(run.segment.index),
                run.state.state,
                f"{run.live.rows_read:,}",
                f"{run.segment.rows:,}",
                f"{seg_rows:,.0f}",
                f"{seg_bytes * 8 / 1e6:,.1f}",
                _eta(seg_left / seg_rows if seg_rows else None),
            )
        return Group(head, segments)


class FleetProgressDisplay:
    """The run's progress while this host's processes copy: from the checkpoints, once a second."""

    def __init__(self, processes: int, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.processes = processes
        self.rate = _Rate()
        self.live: Live | None = None

    def __call__(self, done: int, expected: int, alive: int) -> None:
        if self.live is None:
            self.live = Live(console=self.console, auto_refresh=False, transient=False)
            self.live.start()
        rows_per_s, _ = self.rate.add(time.monotonic(), done, 0)
        table = Table(title="backfill (every worker of the run, from its checkpoints)", expand=False)
        for column in ("processes here", "rows done", "of", "rows/s", "ETA"):
            table.add_column(column, justify="right")
        left = max(0, expected - done)
        table.add_row(
            f"{alive}/{self.processes}",
            f"{done:,}",
            f"{expected:,}",
            f"{rows_per_s:,.0f}",
            _eta(left / rows_per_s if rows_per_s else None),
        )
        self.live.update(table, refresh=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def summary_table(result: BackfillResult) -> Table:
    c = result.counters
    title = f"backfill {result.run_id}" + (" (dry run: nothing written)" if result.dry_run else "")
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("worker", f"{result.worker} of {result.workers}"),
        (
            "segments complete",
            f"{result.segments_complete}/{result.segments_owned} (of {result.segments_total})",
        ),
        ("rows expected", f"{result.rows_expected:,}"),
        ("rows read", f"{c.rows_read:,}"),
        ("rows written" if not result.dry_run else "rows that would be written", f"{c.rows_written:,}"),
        ("already present (left alone)", f"{c.rows_present:,}"),
        ("failed (see `ops backfill failures list`)", f"{c.rows_failed:,}"),
        ("payload bytes", f"{c.bytes_written:,}"),
        ("duration", _eta(result.duration_seconds)),
        ("rows/s", f"{result.rows_per_second:,.0f}"),
        ("Mbps", f"{result.mbps:,.1f}"),
        ("throttle events / retries", f"{result.throttle_events} / {result.retries}"),
        ("est. write cost on-demand (whole table)", f"${result.cost.get('on_demand_usd', 0):,.2f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
