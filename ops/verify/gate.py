"""The `verify clean` gate, read from the evidence the last run stored in the control table."""

from __future__ import annotations

from datetime import UTC, datetime

from ops.control import ControlTable
from ops.results import Check, GateResult
from ops.verify.checkpoint import CheckpointStore
from ops.verify.model import VerifyResult

GATE_NAME = "verify clean"
_RUN = "ops verify run"


def latest_verify(control: ControlTable, dataset: str) -> VerifyResult | None:
    return CheckpointStore(control, dataset).latest()


def verify_gate(control: ControlTable, dataset: str, max_age_hours: float = 24) -> GateResult:
    """The newest run covered every row (no sample), found no difference, and is recent."""
    result = latest_verify(control, dataset)
    if result is None:
        return GateResult(
            GATE_NAME,
            [Check("verify run recorded", False, "none", "one finished run", f"run `{_RUN}`")],
        )
    finished = datetime.fromisoformat(result.finished_at)
    age_hours = (datetime.now(UTC) - finished).total_seconds() / 3600
    counts = (
        f"{result.mismatched} mismatched, {result.missing} missing, {result.extra} extra, "
        f"{result.errors} unencodable"
    )
    checks = [
        Check(
            "differences",
            result.clean,
            counts,
            "0",
            f"repair with `{_RUN} --repair` (see `ops verify report`), then run `{_RUN}` again",
        ),
        Check(
            "coverage",
            result.sample_percent is None,
            "every row" if result.sample_percent is None else f"{result.sample_percent:g}% sample",
            "every row",
            f"run a full verification: `{_RUN}` (without --sample)",
        ),
        Check(
            "age",
            age_hours <= max_age_hours,
            f"{age_hours:.1f}h",
            f"<= {max_age_hours:g}h",
            f"run `{_RUN}` again",
        ),
    ]
    evidence = {
        "run_id": result.run_id,
        "finished_at": result.finished_at,
        "rows_compared": result.rows_compared,
        "matching": result.matching,
        "mismatched": result.mismatched,
        "missing": result.missing,
        "extra": result.extra,
        "errors": result.errors,
        "transient": result.transient,
    }
    return GateResult(GATE_NAME, checks, evidence)
