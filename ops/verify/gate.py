"""The `verify` gate: only a run that covered the whole dataset, recently, and after the last change
that could have made DynamoDB differ, may let reads switch.

A run proves nothing about what it did not look at, so the gate reads the evidence of what each run
covered: the table, every planned segment read to its end, the Scan for extra items, no sampling,
and the source (the primary or its V2 replica, with positions). It takes the newest *full* run of
the dataset's table, requires it clean, started after `not_before` (the cutover passes the end of
the backfill or the last rollback, whichever is later), and recent; and it fails when a newer
partial run has found differences, even though such a run could not pass on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ops.control import ControlTable
from ops.results import Check, GateResult
from ops.verify.checkpoint import CheckpointStore
from ops.verify.model import VerifyResult
from ops.verify.source import PRIMARY, REPLICA

GATE_NAME = "verify"
_RUN = "ops verify run"
_HISTORY = 50


def latest_verify(control: ControlTable, dataset: str) -> VerifyResult | None:
    return CheckpointStore(control, dataset).latest()


def _shortfall(result: VerifyResult, table: str) -> str:
    """Why a run does not count as a full verification of `table`."""
    reasons = []
    if result.table != table:
        reasons.append(f"table {result.table}")
    if result.sample_percent is not None:
        reasons.append(f"{result.sample_percent:g}% sample")
    if not result.extras:
        reasons.append("no scan for extra items (--no-extras)")
    if not result.complete:
        reasons.append(
            f"{result.segments_done}/{result.segments_planned} row segments, "
            f"{result.scan_segments_done}/{result.scan_segments_planned} scan segments"
        )
    if result.source not in (PRIMARY, REPLICA):
        reasons.append(f"source {result.source or 'unrecorded'}")
    return ", ".join(reasons) or "full"


def _counts(result: VerifyResult) -> str:
    return (
        f"{result.mismatched} mismatched, {result.missing} missing, {result.extra} extra, "
        f"{result.errors} unencodable"
    )


def verify_gate(
    control: ControlTable,
    dataset: str,
    max_age_hours: float = 24,
    *,
    table: str | None = None,
    not_before: str | None = None,
    not_before_reason: str = "",
) -> GateResult:
    """Gate on the newest full run of `table` (default: the dataset's own table); see the module."""
    table = table or dataset
    runs = CheckpointStore(control, dataset).history(_HISTORY)
    full = next((r for r in runs if r.table == table and r.full and r.source in (PRIMARY, REPLICA)), None)
    if full is None:
        newest = runs[0] if runs else None
        measured = "no run recorded" if newest is None else f"newest run: {_shortfall(newest, table)}"
        return GateResult(
            GATE_NAME,
            [
                Check(
                    "full verification recorded",
                    False,
                    measured,
                    f"a finished run of {table}: every row, extras scanned, no sample, source primary or V2",
                    f"run `{_RUN}` (no --sample, no --no-extras, no --table of another table)",
                )
            ],
            {"runs_considered": len(runs)},
        )
    finished = datetime.fromisoformat(full.finished_at)
    age_hours = (datetime.now(UTC) - finished).total_seconds() / 3600
    unencodable = (
        "; unencodable rows cannot be repaired: fix them in PostgreSQL "
        "(`ops backfill failures list` lists them)"
        if full.errors
        else ""
    )
    checks = [
        Check(
            "full verification recorded",
            True,
            f"{full.run_id}: {full.rows_compared:,} rows, {full.items_scanned:,} items scanned, "
            f"source {full.source}",
            "every row, extras scanned, no sample",
            "",
        ),
        Check(
            "differences",
            full.clean,
            _counts(full),
            "0",
            f"inspect `ops verify report`, repair with `{_RUN} --repair`, then run `{_RUN}` again"
            + unencodable,
        ),
    ]
    if not_before:
        checks.append(
            Check(
                "started after the last change",
                datetime.fromisoformat(full.started_at) >= datetime.fromisoformat(not_before),
                f"started {full.started_at}",
                f"after {not_before}" + (f" ({not_before_reason})" if not_before_reason else ""),
                f"run `{_RUN}` again: DynamoDB may have changed since this run",
            )
        )
    checks.append(
        Check(
            "age",
            age_hours <= max_age_hours,
            f"{age_hours:.1f}h",
            f"<= {max_age_hours:g}h",
            f"run `{_RUN}` again",
        )
    )
    newer_findings = [
        r
        for r in runs
        if datetime.fromisoformat(r.finished_at) > finished and r.table == table and not r.clean
    ]
    if newer_findings:
        latest = newer_findings[0]
        checks.append(
            Check(
                "no newer run found differences",
                False,
                f"{latest.run_id} ({_shortfall(latest, table)}): {_counts(latest)}",
                "0",
                f"repair, then run a full `{_RUN}`",
            )
        )
    evidence = {
        "run_id": full.run_id,
        "table": full.table,
        "started_at": full.started_at,
        "finished_at": full.finished_at,
        "source": full.source,
        "position": full.position,
        "extras": full.extras,
        "sample_percent": full.sample_percent,
        "segments": f"{full.segments_done}/{full.segments_planned}",
        "rows_compared": full.rows_compared,
        "items_scanned": full.items_scanned,
        "matching": full.matching,
        "mismatched": full.mismatched,
        "missing": full.missing,
        "extra": full.extra,
        "errors": full.errors,
        "transient": full.transient,
        "lagging": full.lagging,
        "not_before": not_before,
    }
    return GateResult(GATE_NAME, checks, evidence)
