"""What other phases need from the backfill: a summary from the control table, and its gate.

Both read only the control table, so `ops backfill status` and the cutover work from any host.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ops.backfill.checkpoint import CheckpointStore, SegmentState, SegmentStatus
from ops.backfill.failures import FailureLog
from ops.control import ControlTable
from ops.results import Check, GateResult


def _iso(epoch: Any) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")


@dataclass
class BackfillSummary:
    run_id: str
    segments_total: int
    segments_complete: int
    segments_running: int
    rows_read: int
    rows_written: int
    rows_present: int
    rows_failed: int
    failures_outstanding: int
    bytes_written: int
    started_at: str | None
    finished_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def segment_states(control: ControlTable, run_id: str) -> list[tuple[SegmentState, int]]:
    """Each segment's stored state with its expected row count."""
    items = CheckpointStore(control, run_id).segment_items()
    return sorted(
        ((SegmentState.from_item(i), int(i.get("rows_expected", 0))) for i in items), key=lambda p: p[0].index
    )


def backfill_summary(control: ControlTable, run_id: str) -> BackfillSummary | None:
    store = CheckpointStore(control, run_id)
    run = store.load_run()
    if run is None:
        return None
    segments = [s for s, _ in segment_states(control, run_id)]
    total = len(run.get("plan", {}).get("segments", [])) or len(segments)
    now = datetime.now(UTC).timestamp()
    return BackfillSummary(
        run_id=run_id,
        segments_total=total,
        segments_complete=sum(1 for s in segments if s.state == SegmentStatus.COMPLETE),
        segments_running=sum(
            1
            for s in segments
            if s.state == SegmentStatus.RUNNING and s.lease_owner and s.lease_expires > now
        ),
        rows_read=sum(s.counters.rows_read for s in segments),
        rows_written=sum(s.counters.rows_written for s in segments),
        rows_present=sum(s.counters.rows_present for s in segments),
        rows_failed=sum(s.counters.rows_failed for s in segments),
        failures_outstanding=len(FailureLog(control, run_id).list(only_open=True)),
        bytes_written=sum(s.counters.bytes_written for s in segments),
        started_at=_iso(run.get("started_at")),
        finished_at=_iso(run.get("finished_at")),
    )


def backfill_gate(control: ControlTable, run_id: str, accept_failures: bool = False) -> GateResult:
    """Every segment complete, and no outstanding failures unless they are explicitly accepted."""
    summary = backfill_summary(control, run_id)
    if summary is None:
        return GateResult(
            "backfill",
            [
                Check(
                    "backfill run exists",
                    False,
                    "no run recorded",
                    f"run {run_id!r}",
                    f"ops backfill run --run-id {run_id}",
                )
            ],
        )
    checks = [
        Check(
            "segments complete",
            summary.segments_complete == summary.segments_total,
            f"{summary.segments_complete}/{summary.segments_total}",
            f"{summary.segments_total}/{summary.segments_total}",
            f"ops backfill run --run-id {run_id}",
        ),
        Check(
            "failures outstanding",
            summary.failures_outstanding == 0 or accept_failures,
            str(summary.failures_outstanding)
            + (" (accepted)" if accept_failures and summary.failures_outstanding else ""),
            "0",
            f"fix the rows, then `ops backfill retry-failed --run-id {run_id}` (or accept them explicitly)",
        ),
    ]
    return GateResult("backfill", checks, evidence=summary.to_dict())
