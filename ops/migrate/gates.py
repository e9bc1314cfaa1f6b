"""The gates of the cutover that are not owned by another package: preflight, dual-write
(outbox and shadow reads), alarms, flag propagation and the soak. The replica, backfill and
verify gates come from their packages (see `ops.migrate.adapters`).

Each check records what it measured, the threshold, and the command that fixes it; a check that
cannot even be measured (a service unreachable) fails with the error as its measurement.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ops.control import ControlTable
from ops.migrate import adapters
from ops.migrate.config import DAY, MigrateConfig
from ops.migrate.ledger import Ledger, parse_time
from ops.migrate.phases import Phase, PhaseState
from ops.results import Check, GateResult

Probe = Callable[[], Check]


def _probe(name: str, threshold: str, fix: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as exc:
        return Check(name, False, f"error: {adapters.describe_error(exc)}", threshold, fix)


def flag_matches(cfg: MigrateConfig, expected: str) -> Check:
    name = "flag matches ledger"
    fix = f"ops migrate status (the ledger expects mode '{expected}'); investigate who changed the flag"

    def measure() -> Check:
        mode = adapters.current_mode(cfg)
        return Check(name, mode == expected, mode, expected, fix)

    return _probe(name, expected, fix, measure)


# ------------------------------------------------------------------ preflight


def _pg_check(
    label: str, url: str | None, variable: str, tables: list[str], privileges: tuple[str, ...]
) -> Check:
    name = f"{label} PostgreSQL"
    threshold = "reachable" + (f"; {', '.join(privileges)} on {', '.join(tables)}" if tables else "")
    fix = f"set {variable} to a role with {', '.join(privileges) or 'CONNECT'}; check network/security group"

    def measure() -> Check:
        if not url:
            return Check(
                name,
                False,
                f"{variable} not set",
                threshold,
                f'export {variable} (eval "$(ops sandbox env)")',
            )
        if not tables:
            adapters.existing_tables(url, [])
            return Check(name, True, "reachable", threshold, fix)
        missing = adapters.table_privileges(url, tables, privileges)
        if missing:
            return Check(
                name, False, "; ".join(f"{t}: {', '.join(m)}" for t, m in missing.items()), threshold, fix
            )
        return Check(name, True, "reachable, privileges ok", threshold, fix)

    return _probe(name, threshold, fix, measure)


def preflight_gate(cfg: MigrateConfig, control: ControlTable) -> GateResult:
    s = cfg.settings
    checks: list[Check] = []
    tables = _safe_tables()
    checks.append(
        _pg_check(
            "production",
            s.prod_database_url,
            "PROD_DATABASE_URL",
            [*tables, "outbox"],
            ("SELECT", "INSERT", "UPDATE", "DELETE"),
        )
    )
    checks.append(_pg_check("V2 replica", s.v2_database_url, "V2_DATABASE_URL", [], ()))
    if cfg.v2_rds_instance:
        instance = cfg.v2_rds_instance

        def rds() -> Check:
            found = adapters.rds_instance_exists(instance)
            return Check(
                "V2 RDS instance",
                found,
                instance if found else f"{instance} not found",
                "exists (its final snapshot is taken at cleanup)",
                "set OPS_V2_RDS_INSTANCE from `terraform output` (module rds_postgres)",
            )

        checks.append(_probe("V2 RDS instance", "exists", "grant rds:DescribeDBInstances", rds))

    def target() -> Check:
        info = adapters.describe_target(s.target_table)
        pitr_ok = info["pitr"] == "ENABLED"
        pitr = f"PITR {info['pitr']}"
        if info["pitr"] == adapters.PITR_UNSUPPORTED:
            pitr_ok = cfg.accept_unmeasurable_pitr
            pitr = "PITR not measurable on this endpoint (no backups API)" + (
                "; accepted by OPS_PITR_UNSUPPORTED=accept" if pitr_ok else ""
            )
        return Check(
            "target table + PITR",
            info["status"] == "ACTIVE" and pitr_ok,
            f"{s.target_table}: {info['status']}, {pitr}",
            "ACTIVE, PITR ENABLED",
            f"aws dynamodb update-continuous-backups --table-name {s.target_table} "
            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true",
        )

    checks.append(
        _probe(
            "target table + PITR",
            "ACTIVE, PITR ENABLED",
            f"terraform apply (creates {s.target_table} with PITR)",
            target,
        )
    )

    def control_rw() -> Check:
        control.put(f"LEDGER#{cfg.dataset}", "PROBE", {"at": adapters.utcnow().isoformat()})
        control.get(f"LEDGER#{cfg.dataset}", "PROBE")
        control.delete(f"LEDGER#{cfg.dataset}", "PROBE")
        return Check("control table read/write", True, f"{control.name}: ok", "get/put/delete allowed", "")

    checks.append(
        _probe(
            "control table read/write",
            "get/put/delete allowed",
            f"grant dynamodb:GetItem/PutItem/DeleteItem/Query on {control.name}",
            control_rw,
        )
    )

    def flag() -> Check:
        stored = adapters.flag_parameter_value(cfg)
        seen = adapters.app_reads_mode(cfg)
        ok = stored is not None and seen == stored
        return Check(
            "flag readable by the app",
            ok,
            f"{s.flag_parameter()}: stored {stored or 'missing'}, app reads {seen}",
            "parameter exists and the app's FlagReader reads it",
            f"terraform apply (module migration_flag creates {s.flag_parameter()} = postgres); "
            "grant ssm:GetParameter to the app role",
        )

    checks.append(
        _probe(
            "flag readable by the app",
            "parameter exists and the app's FlagReader reads it",
            f"grant ssm:GetParameter on {s.flag_parameter()}",
            flag,
        )
    )

    def alarms_exist() -> Check:
        found = adapters.alarms(cfg.alarm_prefixes)
        names = {a["name"] for a in found}
        missing_required = [
            n for n in cfg.required_alarms if n not in names and n not in adapters.alarm_names((n,))
        ]
        ok = bool(found) and not missing_required
        measured = f"{len(found)} alarm(s) with prefix {', '.join(cfg.alarm_prefixes)}"
        if missing_required:
            measured += f"; missing {', '.join(missing_required)}"
        return Check(
            "CloudWatch alarms exist",
            ok,
            measured,
            ">= 1" + (f" incl. {', '.join(cfg.required_alarms)}" if cfg.required_alarms else ""),
            "terraform apply (module migration-monitoring creates the alarms)",
        )

    checks.append(_probe("CloudWatch alarms exist", ">= 1", "grant cloudwatch:DescribeAlarms", alarms_exist))
    checks.append(flag_matches(cfg, "postgres"))
    return GateResult("preflight", checks, evidence={"tables": tables})


def _safe_tables() -> list[str]:
    try:
        return adapters.mapped_tables()
    except Exception:
        return []


# ------------------------------------------------------------------ dual-write


def outbox_check(cfg: MigrateConfig, *, empty: bool = False) -> Check:
    """Outbox rows are PostgreSQL writes DynamoDB has not confirmed. While PostgreSQL is still
    written, draining is enough; before it stops being written it must be empty, or those writes
    would exist only in PostgreSQL."""
    name = "outbox empty" if empty else "outbox empty or draining"
    threshold = "0 rows" if empty else f"0 rows, or none older than {cfg.outbox_max_age_seconds:.0f} s"
    fix = "ops repair outbox (drains it into DynamoDB); check the app logs for DynamoDB write failures"

    def measure() -> Check:
        url = adapters.require_url(cfg.settings.prod_database_url, "PROD_DATABASE_URL")
        stats = adapters.outbox_stats(url)
        age = stats.oldest_age_seconds
        ok = stats.rows == 0 or (not empty and age is not None and age <= cfg.outbox_max_age_seconds)
        measured = f"{stats.rows} rows" + (f", oldest {age:.0f} s" if age is not None else "")
        return Check(name, ok, measured, threshold, fix)

    return _probe(name, threshold, fix, measure)


def tombstone_ttl_check(cfg: MigrateConfig, ledger: Ledger) -> Check:
    """Tombstones keep a deleted row deleted against the backfill (which may read a lagging
    replica), repairs and late writes; one written when dual-write began must outlive the copy, the
    verification and the soak. Measured: the configured TTL against that timeline so far."""
    name = "tombstone TTL covers the migration"
    ttl = cfg.settings.tombstone_ttl_seconds
    record = ledger.record(Phase.DUAL_WRITE)
    began = parse_time(record.started_at) if record else None
    elapsed = (adapters.utcnow() - began).total_seconds() if began else 0.0
    need = elapsed + cfg.replica_max_lag_seconds + cfg.soak_seconds + DAY
    return Check(
        name,
        ttl >= need,
        f"TTL {_duration(ttl)}; dual-write began {_duration(elapsed)} ago",
        f">= {_duration(need)} (time since dual-write began + replica lag + soak + 1 d)",
        f"set OPS_TOMBSTONE_TTL_SECONDS >= {need:.0f} for the application and the cutover; tombstones "
        "already written keep their TTL, so run a full `ops verify run` again before reads switch",
    )


def shadow_check(cfg: MigrateConfig) -> Check:
    name = "shadow-read mismatches"
    window = cfg.shadow_window_seconds
    threshold = f"<= {cfg.shadow_max_mismatches} over the last {window:.0f} s, >= 1 comparison"
    fix = (
        "ops verify run --repair, then wait one window; the app logs sample each mismatch "
        "('shadow mismatch #n')"
    )

    def measure() -> Check:
        stats = adapters.shadow_stats(cfg, window)
        ok = stats.mismatches <= cfg.shadow_max_mismatches and stats.compared > 0
        return Check(name, ok, f"{stats.mismatches} of {stats.compared} reads", threshold, fix)

    return _probe(name, threshold, fix, measure)


def dual_write_gate(cfg: MigrateConfig, with_shadow: bool) -> GateResult:
    checks = [outbox_check(cfg)]
    if with_shadow:
        checks.append(shadow_check(cfg))
    return GateResult("dual-write", checks)


# ------------------------------------------------------------------ alarms, propagation


def alarms_ok(cfg: MigrateConfig, prefixes: tuple[str, ...], name: str = "alarms OK") -> Check:
    threshold = "every alarm OK"
    fix = "resolve the alarm (see its runbook); `aws cloudwatch describe-alarms --state-value ALARM`"

    def measure() -> Check:
        found = adapters.alarms(prefixes)
        firing = [a["name"] for a in found if a["state"] == "ALARM"]
        if not found:
            return Check(name, False, "no alarms found", threshold, "terraform apply (creates the alarms)")
        return Check(
            name, not firing, f"ALARM: {', '.join(firing)}" if firing else f"{len(found)} OK", threshold, fix
        )

    return _probe(name, threshold, fix, measure)


def propagation_check(cfg: MigrateConfig, expected: str, reader: Any = None) -> Check:
    name = "flag propagated to the app"
    threshold = f"app reads '{expected}' within {cfg.flag_propagation_seconds:.0f} s"
    fix = "check the app role can read the parameter; re-run the command to re-check"

    def measure() -> Check:
        seen, waited = adapters.wait_for_app_mode(cfg, expected, reader)
        return Check(name, seen == expected, f"app reads '{seen}' after {waited:.1f} s", threshold, fix)

    return _probe(name, threshold, fix, measure)


# ------------------------------------------------------------------ soak


def soak_gate(cfg: MigrateConfig, ledger: Ledger) -> GateResult:
    now = adapters.utcnow()
    switch = ledger.record(Phase.SWITCH_READS)
    switched_at = parse_time(switch.ended_at) if switch and switch.state == PhaseState.DONE else None
    need = cfg.soak_seconds
    checks: list[Check] = []
    if switched_at is None:
        checks.append(Check("reads switched", False, "no", "switch-reads done", "ops migrate switch-reads"))
        elapsed = 0.0
    else:
        elapsed = (now - switched_at).total_seconds()
        checks.append(
            Check(
                "soak time since reads switched",
                elapsed >= need,
                _duration(elapsed),
                f">= {_duration(need)}",
                "wait; re-run `ops migrate soak` later (OPS_SOAK_SECONDS / --soak-days sets the length)",
            )
        )
    window_start = now - timedelta(seconds=need)
    rollbacks = [
        e for e in ledger.history() if e.action == "rollback" and (parse_time(e.at) or now) >= window_start
    ]
    checks.append(
        Check(
            "no rollback in the soak window",
            not rollbacks,
            f"{len(rollbacks)} rollback(s)" + (f", last {rollbacks[-1].at}" if rollbacks else ""),
            "0",
            "the soak restarts with the next `ops migrate switch-reads`",
        )
    )
    checks.append(alarms_ok(cfg, cfg.error_alarm_prefixes, "error alarms quiet"))
    checks.append(flag_matches(cfg, "dual_write_read_dynamodb"))
    evidence: dict[str, Any] = {
        "reads_switched_at": switched_at.isoformat() if switched_at else None,
        "elapsed_seconds": round(elapsed, 1),
        "soak_seconds": need,
    }
    return GateResult("soak", checks, evidence)


def _duration(seconds: float) -> str:
    if seconds >= DAY:
        return f"{seconds / DAY:.2f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.0f} s"
