from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from ops.exceptions import GateFailed
from ops.results import Check, GateResult, PhaseResult, StepStatus, render


def test_failed_gate_names_check_measured_threshold_and_fix() -> None:
    gate = GateResult(
        "replica ready",
        [
            Check("full load complete", True, "3/3 tables", "all tables"),
            Check("lag", False, "95.0 s", "<= 30 s", "ops replica wait"),
        ],
    )
    assert not gate.ok
    with pytest.raises(GateFailed) as err:
        gate.raise_if_failed()
    message = str(err.value)
    assert (
        "replica ready" in message
        and "lag: measured 95.0 s, required <= 30 s; fix: ops replica wait" in message
    )
    assert "full load" not in message


def test_phase_result_renders_as_json_and_table() -> None:
    result = PhaseResult("backfill", dry_run=True)
    result.add("plan", StepStatus.PLANNED, "12 segments")
    result.add("write", StepStatus.SKIPPED, "dry run")
    out = io.StringIO()
    render(result, Console(file=out, width=120), as_json=True)
    doc = json.loads(out.getvalue())
    assert doc["ok"] is True and doc["dry_run"] is True
    assert [s["status"] for s in doc["steps"]] == ["planned", "skipped"]
    out = io.StringIO()
    render(result, Console(file=out, width=120))
    text = " ".join(out.getvalue().split())
    assert "dry run: nothing changed" in text and "12 segments" in text
