"""The migration rehearsal, smaller: the same code `make demo` runs, on a stack of its own."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from ops.demo.rehearsal import (
    DRILL_SAMPLE_PERCENT,
    FINAL_SAMPLE_PERCENT,
    Rehearsal,
    RehearsalOptions,
    render_report,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROWS = 20_000


def test_rehearsal_migrates_under_traffic_with_nothing_lost(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=160)
    options = RehearsalOptions(rows=ROWS, rps=10, root=tmp_path / "demo", soak_seconds=5, recheck_delay=2)
    report = Rehearsal(options, console).run()
    render_report(report, console)
    failed = [s for s in report.steps if not s.ok]
    assert not failed, f"failed steps: {failed}\n{out.getvalue()[-6000:]}"

    assert {
        "backfill (killed)",
        "backfill (resume + gate)",
        "rollback",
        "stop-pg-writes",
        "rollback from dynamodb",
        "stop-pg-writes again",
        "cleanup",
    } <= {s.name for s in report.steps}
    killed = next(s for s in report.steps if s.name == "backfill (killed)")
    assert killed.detail.startswith("killed at"), killed

    # Traffic ran through every mode and never failed.
    assert report.traffic["requests"] > 0
    assert not report.traffic["errors"], report.traffic["error_examples"]
    # Each 10 s traffic run records the mode it started in; a short phase can fall inside one run.
    assert report.traffic["modes"][0] == "postgres"
    assert {"dual_write_shadow", "dual_write_read_dynamodb"} <= set(report.traffic["modes"])

    # Every row copied, verification clean, both sides equal after the rollback drill and at the end.
    assert report.backfill["segments_complete"] == report.backfill["segments_total"]
    assert report.backfill["rows_failed"] == 0
    assert report.backfill["rows_written"] + report.backfill["rows_present"] >= ROWS
    assert report.verify["rows_compared"] >= ROWS and report.verify["sample_percent"] is None
    # After the rollback drill and at the end a sample is checked: full runs came before (the
    # gate's, the rollback from dynamodb's) and the history check compares every key.
    drill = report.verify["after_rollback"]
    assert drill["sample_percent"] == DRILL_SAMPLE_PERCENT
    assert report.final_check["sample_percent"] == FINAL_SAMPLE_PERCENT
    for result in (report.verify, drill, report.final_check):
        assert result["rows_compared"] > 0
        assert (result["mismatched"], result["missing"], result["extra"]) == (0, 0, 0), result
    assert report.rows_lost == 0
    assert report.rows_resurrected == 0
    # Every write judged by its history, across stop-pg-writes, the rollback from dynamodb and
    # forward again, on both databases.
    assert report.history["acknowledged"] > 100
    for side in ("dynamodb", "postgres"):
        verdict = report.history[side]
        assert verdict["keys"] >= ROWS, verdict
        assert (verdict["lost"], verdict["overwritten_by_older"], verdict["resurrected"]) == (0, 0, 0), (
            verdict
        )
    assert report.reverse["final"]["applied"] > 0

    n = report.notifications
    assert n["ok"], n
    assert n["dead_lettered"] == 0
    assert n["ignored"] == 1  # the late renewal after the refund
    assert n["rejected"] == 1  # the forged notification
    assert report.ok
    assert "PASSED" in out.getvalue()
