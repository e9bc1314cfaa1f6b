"""`ops migrate status`: the ledger, the flag as stored and as the app reads it, what runs now
(replica, backfill, verification) and the next allowed command, as one dictionary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ops.control import ControlTable
from ops.migrate import adapters
from ops.migrate.config import MigrateConfig
from ops.migrate.ledger import Ledger, parse_time
from ops.migrate.phases import ORDER, Phase
from ops.migrate.runner import Cutover


def _age(at: str | None) -> str | None:
    when = parse_time(at)
    if when is None:
        return None
    seconds = (datetime.now(UTC) - when).total_seconds()
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.0f} s"


def _try(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except Exception as exc:  # status shows what it cannot reach instead of failing
        return f"unavailable ({adapters.describe_error(exc)[:120]})"


def migration_status(
    cfg: MigrateConfig, history: bool = False, control: ControlTable | None = None
) -> dict[str, Any]:
    table = control or ControlTable(cfg.settings.control_table)
    ledger = Ledger(table, cfg.dataset)
    records = ledger.records()
    position = ledger.position()
    phases = []
    for phase in ORDER:
        rec = records.get(phase)
        gate = (rec.evidence.get("gate") if rec else None) or {}
        phases.append(
            {
                "phase": str(phase),
                "state": str(rec.state) if rec else None,
                "operator": rec.operator if rec else None,
                "started_at": rec.started_at if rec else None,
                "ended_at": rec.ended_at if rec else None,
                "gate_ok": gate.get("ok"),
                "gate_checked_at": gate.get("checked_at"),
                "gate_age": _age(gate.get("checked_at")),
                "gate": gate or None,
                "snapshots": rec.evidence.get("snapshots") if rec else None,
            }
        )
    report: dict[str, Any] = {
        "dataset": cfg.dataset,
        "position": {"phase": str(position.phase) if position.phase else None, "state": position.state},
        "mode": {
            "flag": _try(lambda: adapters.current_mode(cfg) or "unset"),
            "app": _try(lambda: adapters.app_reads_mode(cfg)),
            "expected": position.mode,
        },
        "lock": ledger.lock_holder(),
        "phases": phases,
        "running": _running(cfg, table, records),
        "next": Cutover(cfg, table, operator="status").next_command(),
    }
    if history:
        report["history"] = [e.to_dict() for e in ledger.history()]
    return report


def _running(cfg: MigrateConfig, control: ControlTable, records: dict[Phase, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    if Phase.REPLICATE in records:

        def replica() -> str:
            st = adapters.replica_driver(cfg).status()
            lag = "-" if st.lag_seconds is None else f"{st.lag_seconds:.1f} s"
            return f"{st.driver}: {st.state}, lag {lag}"

        out["replica"] = _try(replica)
    if Phase.BACKFILL in records:

        def backfill() -> str:
            from ops.backfill.status import backfill_summary

            s = backfill_summary(control, cfg.dataset)
            if s is None:
                return "not started"
            return (
                f"segments {s.segments_complete}/{s.segments_total} ({s.segments_running} running), "
                f"rows written {s.rows_written}, present {s.rows_present}, failed {s.rows_failed}"
            )

        out["backfill"] = _try(backfill)
    if Phase.VERIFY in records:

        def verify() -> str:
            from ops.verify import latest_verify

            v = latest_verify(control, cfg.dataset)
            if v is None:
                return "no verification yet"
            return (
                f"{'clean' if v.clean else 'NOT clean'}: {v.rows_compared} compared, "
                f"{v.mismatched} mismatched, "
                f"{v.missing} missing, {v.extra} extra; finished {v.finished_at} ({_age(v.finished_at)} ago)"
            )

        out["verify"] = _try(verify)
    return out
