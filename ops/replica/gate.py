"""The `replica ready` gate: what must hold before the backfill may read from `v2`.

Full load complete for every mapped table, validation clean (DMS: no failed or suspended
validation record, which is also how a LOB truncated by DMS's LOB limit shows; logical: exact
counts equal), the driver running, and lag under a threshold (30 s by default).
"""

from __future__ import annotations

from collections.abc import Iterable

from ops.replica.base import ReplicaStatus
from ops.results import Check, GateResult

GATE_NAME = "replica ready"
DEFAULT_MAX_LAG_SECONDS = 30.0
RUNNING = "running"

_VALIDATION_FIX = {
    "logical": "counts differ: wait (`ops replica wait`); if they stay apart, re-sync with "
    "`ops replica stop --teardown` then `ops replica start`",
    "dms": "inspect the validation failures (awsdms_validation_failures_v1 on the target): a LOB value "
    "truncated by the task's LOB limit shows here, so run `ops replica check --lob-scan exact` and fix "
    "the LOB settings it names first; then reload (`ops replica start --reload`)",
}
_NA_FIX = {
    "logical": "the table is not in the publication; restart with `ops replica start`",
    "dms": "enable validation in the task settings (ValidationSettings.EnableValidation=true) "
    "and resume the task (`ops replica start --resume`)",
}


def replica_gate(
    status: ReplicaStatus,
    max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS,
    expected_tables: Iterable[str] | None = None,
) -> GateResult:
    """Judge a replica status; every failed check names its fix."""
    checks: list[Check] = [
        Check(
            "replica running",
            status.state == RUNNING,
            status.state,
            RUNNING,
            "start or resume replication: `ops replica start`",
        )
    ]
    wanted = list(expected_tables) if expected_tables is not None else [t.table for t in status.tables]
    if not wanted:
        checks.append(Check("tables replicated", False, "none", "every mapped table", "`ops replica start`"))
    for name in wanted:
        sync = status.table(name)
        if sync is None:
            checks.append(
                Check(
                    f"{name}: replicated",
                    False,
                    "absent",
                    "present",
                    "add the table with `ops replica start`",
                )
            )
            continue
        checks.append(
            Check(
                f"{name}: full load",
                sync.full_load_complete,
                "complete" if sync.full_load_complete else (sync.detail or "in progress"),
                "complete",
                "wait for the full load: `ops replica wait`",
            )
        )
        counts = ""
        if sync.source_rows is not None or sync.target_rows is not None:
            counts = f" (source {_n(sync.source_rows)}, target {_n(sync.target_rows)})"
        fix = {
            "pending": "wait for validation to finish: `ops replica wait`",
            "n/a": _NA_FIX.get(status.driver, "enable validation for this table"),
        }.get(sync.validation, _VALIDATION_FIX.get(status.driver, "re-sync the table"))
        checks.append(
            Check(
                f"{name}: validation", sync.validation == "clean", f"{sync.validation}{counts}", "clean", fix
            )
        )
    lag = status.lag_seconds
    checks.append(
        Check(
            "lag",
            lag is not None and lag <= max_lag_seconds,
            "unknown" if lag is None else f"{lag:.1f}s",
            f"<= {max_lag_seconds:g}s",
            "wait for the replica to catch up (`ops replica wait`) or raise the limit with --max-lag",
        )
    )
    return GateResult(
        GATE_NAME, checks, evidence={"status": status.to_dict(), "max_lag_seconds": max_lag_seconds}
    )


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"
