"""Runs one cutover phase (or the rollback): order and entry gate, plan, confirmation, the
action, the completion gate, and the ledger record of all of it.

A phase whose action ran but whose completion gate has not passed yet stays `running`; running
the same command again re-checks (and, for the long phases, resumes) without repeating what was
done. `--dry-run` evaluates the gates and prints the plan; it writes nothing, not even the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ops.control import ControlTable
from ops.exceptions import ConfigError, OpsError
from ops.flags import Mode, mode_path
from ops.migrate import adapters, fenced, gates, snapshots
from ops.migrate.config import MigrateConfig
from ops.migrate.ledger import Ledger
from ops.migrate.phases import (
    DESTRUCTIVE,
    MODE_AFTER,
    Phase,
    PhaseState,
    Position,
    RollbackPlan,
    may_run,
    next_phase,
    previous,
    rollback_plan,
)
from ops.results import Check, GateResult, PhaseResult, StepStatus
from ops.settings import redact_url

log = logging.getLogger(__name__)

_CHANGES_MODE = frozenset({Phase.DUAL_WRITE, Phase.SWITCH_READS, Phase.STOP_PG_WRITES})


class Aborted(OpsError):
    """The operator declined the confirmation; nothing was changed."""

    exit_code = 1


@dataclass
class Interaction:
    """How the runner talks to the operator (the CLI passes Rich prompts; tests pass answers)."""

    yes: bool = False
    confirm_name: str | None = None
    confirm: Callable[[str], bool] = field(default=lambda _q: False)
    ask: Callable[[str], str] = field(default=lambda _q: "")


@dataclass
class PhaseOptions:
    wait_seconds: float = 0.0
    accept_failures: bool = False
    backfill: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)
    tables: list[str] | None = None
    # Live progress for the long phases: the CLI passes the backfill's Rich display (it has
    # `stop()`); False turns progress off (--json).
    progress: Any = None


class Cutover:
    def __init__(
        self,
        cfg: MigrateConfig,
        control: ControlTable | None = None,
        operator: str | None = None,
        interaction: Interaction | None = None,
    ) -> None:
        from ops.migrate.identity import operator_identity

        self.cfg = cfg
        self.control = control or ControlTable(cfg.settings.control_table)
        self.ledger = Ledger(self.control, cfg.dataset)
        self.operator = operator or operator_identity()
        self.io = interaction or Interaction()

    # ------------------------------------------------------------------ entry point

    def run(self, phase: Phase, dry_run: bool = False, options: PhaseOptions | None = None) -> PhaseResult:
        opts = options or PhaseOptions()
        result = PhaseResult(str(phase), dry_run=dry_run)
        position = self.ledger.position()
        entry = self._entry_gate(phase, position)
        result.gate = entry
        if not entry.ok:
            result.add("entry gate", StepStatus.FAILED, "; ".join(c.name for c in entry.failed))
            if dry_run and entry.checks[0].ok:
                # The plan is still worth reading: it is what will run once the gate passes.
                for line in self._plan(phase, position, opts):
                    result.add(line, StepStatus.PLANNED)
            if not dry_run:
                self.ledger.event(
                    phase, "refused", "refused", self.operator, detail="entry gate", evidence=entry.to_dict()
                )
            return result
        result.add("entry gate", StepStatus.OK, f"{len(entry.checks)} checks passed")
        plan = self._plan(phase, position, opts)
        if dry_run:
            for line in plan:
                result.add(line, StepStatus.PLANNED)
            return result
        self._confirm(phase, plan)
        with self.ledger.hold(phase, self.operator):
            # Re-read under the lock: another operator may have moved the migration meanwhile.
            position = self.ledger.position()
            reason = may_run(phase, position)
            if reason:
                raise OpsError(reason)
            fresh = position.phase != phase
            self.ledger.set_phase(
                phase, PhaseState.RUNNING, self.operator, {"entry_gate": entry.to_dict()}, started=fresh
            )
            self.ledger.event(phase, "start" if fresh else "resume", "running", self.operator)
            try:
                completion = self._handlers()[phase](result, opts, fresh)
            except Exception as exc:
                error = adapters.describe_error(exc)
                log.warning("phase %s failed", phase, exc_info=True)
                result.add("action", StepStatus.FAILED, error)
                self.ledger.set_phase(phase, PhaseState.FAILED, self.operator, {"error": error})
                self.ledger.event(phase, "failed", "failed", self.operator, detail=error)
                return result
            merged = GateResult(
                str(phase), entry.checks + completion.checks, {**entry.evidence, **completion.evidence}
            )
            result.gate = merged
            state = PhaseState.DONE if merged.ok and result.ok else PhaseState.RUNNING
            evidence = {
                "gate": merged.to_dict(),
                "steps": [s.__dict__ for s in result.steps],
                **result.evidence,
            }
            self.ledger.set_phase(phase, state, self.operator, evidence)
            self.ledger.event(
                phase,
                "gate",
                str(state),
                self.operator,
                detail="passed" if merged.ok else "not yet",
                evidence=merged.to_dict(),
            )
        return result

    # ------------------------------------------------------------------ gates before a phase

    def _order_check(self, phase: Phase, position: Position) -> Check:
        reason = may_run(phase, position)
        expected = previous(phase)
        where = f"{position.phase} {position.state}" if position.phase else "nothing run yet"
        return Check(
            "phase order",
            reason is None,
            where,
            f"'{expected}' done" if expected else "first phase",
            reason or "",
        )

    def _entry_gate(self, phase: Phase, position: Position) -> GateResult:
        checks = [self._order_check(phase, position)]
        if not checks[0].ok:
            return GateResult(f"{phase} (entry)", checks)
        # A phase that changes the flag and is being re-run may have moved it part of the way
        # already; its own action brings it to the target, so only a fresh start checks it.
        resuming_a_mode_change = position.phase == phase and phase in _CHANGES_MODE
        if phase != Phase.PREFLIGHT and not resuming_a_mode_change:
            checks.append(gates.flag_matches(self.cfg, position.mode))
        if phase == Phase.BACKFILL:
            checks.extend(self._replica_gate().checks)
        elif phase == Phase.SWITCH_READS:
            verification = _foreign_gate(
                "verification", lambda: adapters.verify_gate(self.cfg, self.control), "ops migrate verify"
            )
            checks.extend(verification.checks)
            # Shadow reads of keys not copied yet are vouched for by the verification that passed.
            verified_from = verification.evidence.get("started_at") if verification.ok else None
            checks.extend(
                gates.dual_write_gate(self.cfg, self.control, shadow=True, verified_from=verified_from).checks
            )
            checks.append(gates.tombstone_ttl_check(self.cfg, self.ledger))
            checks.append(gates.alarms_ok(self.cfg, self.cfg.alarm_prefixes))
        elif phase == Phase.STOP_PG_WRITES:
            checks.append(gates.alarms_ok(self.cfg, self.cfg.error_alarm_prefixes, "error alarms quiet"))
            checks.append(gates.outbox_check(self.cfg))
        elif phase == Phase.CLEANUP and not resuming_a_mode_change:
            # The point of no return: rollback is only possible while reverse replication keeps
            # PostgreSQL current. Its evidence says for how long that has been true.
            reverse = _foreign_gate("reverse replication", lambda: adapters.reverse_gate(self.cfg), "")
            return GateResult(f"{phase} (entry)", checks + reverse.checks, reverse.evidence)
        return GateResult(f"{phase} (entry)", checks)

    def _replica_gate(self) -> GateResult:
        return _foreign_gate(
            "replica ready",
            lambda: adapters.replica_gate(self.cfg, adapters.replica_driver(self.cfg)),
            "ops replica status",
        )

    # ------------------------------------------------------------------ plans (what --dry-run prints)

    def _plan(self, phase: Phase, position: Position, opts: PhaseOptions) -> list[str]:
        s = self.cfg.settings
        mode_now = self._mode_now()
        target_mode = MODE_AFTER[phase]
        flag_steps = [
            f"set flag {s.flag_parameter()}: {a} -> {b}" for a, b in mode_steps(mode_now, target_mode)
        ]
        if phase in DESTRUCTIVE:
            return self._destructive_plan(phase, flag_steps, opts)
        plans: dict[Phase, list[str]] = {
            Phase.PREFLIGHT: [
                "check connectivity, permissions, PITR, alarms and the flag (read-only)",
                "check the replica's source: logical decoding, slots, the replication role, WAL held, "
                "free storage, and LOB sizes against the replica's LOB limit",
            ],
            Phase.DUAL_WRITE: [*flag_steps, "check the outbox drains and the app reads each mode"],
            Phase.REPLICATE: [
                f"start the {self.cfg.replica_driver} replica (prod -> V2) unless started",
                "check `replica ready`",
            ],
            Phase.BACKFILL: [
                f"run the backfill V2 -> {s.target_table} (run id {self.cfg.dataset}, resumable)",
                "check every segment complete, no failed rows outstanding",
            ],
            Phase.VERIFY: [
                f"compare V2 PostgreSQL with {s.target_table} (mismatches re-checked)",
                "record the evidence",
            ],
            Phase.SWITCH_READS: [*flag_steps, "check the app reads the new mode"],
            Phase.SOAK: [
                f"check {self.cfg.soak_seconds:.0f} s since reads switched, no rollback, error alarms quiet"
            ],
        }
        return plans[phase]

    def _destructive_plan(self, phase: Phase, flag_steps: list[str], opts: PhaseOptions) -> list[str]:
        s = self.cfg.settings
        folder = self.cfg.snapshot_dir
        tables = self._tables(opts)
        prod = s.prod_database_url or "PROD_DATABASE_URL (unset)"
        lines: list[str] = []
        if phase == Phase.STOP_PG_WRITES:
            lines.append(f"snapshot (pg_dump) production tables {', '.join(tables)} into {folder}")
            lines.append("drain the outbox while writes continue (every committed write reaches DynamoDB)")
            lines.append(
                f"pause writes (at most {self.cfg.pause_max_seconds:g} s), drain the outbox to 0, "
                "then, fenced:"
            )
            lines.extend(flag_steps)
            lines.append("the app stops writing PostgreSQL; DynamoDB is the only database written")
            return lines
        counts = self._counts(s.prod_database_url, tables)
        v2_tables = self._existing(s.v2_database_url, adapters.mapped_tables(s))
        if self.cfg.v2_rds_instance:
            lines.append(f"snapshot RDS instance {self.cfg.v2_rds_instance} (V2 replica)")
        else:
            lines.append(f"snapshot (pg_dump) V2 tables {', '.join(v2_tables) or '(none)'} into {folder}")
        lines.append(f"snapshot (pg_dump) production tables {', '.join(counts) or '(none)'} into {folder}")
        lines.append(f"end the {self.cfg.replica_driver} replica (drop subscription and slot)")
        if self.cfg.v2_rds_instance:
            lines.append(f"DELETE RDS instance {self.cfg.v2_rds_instance}")
        else:
            v2_counts = self._counts(s.v2_database_url, v2_tables)
            v2 = redact_url(s.v2_database_url)
            lines.extend(f"DROP TABLE {t} on V2 ({v2}): {n} rows" for t, n in v2_counts.items())
        where = redact_url(prod)
        lines.extend(f"DROP TABLE {t} on production ({where}): {n} rows" for t, n in counts.items())
        return lines

    def _tables(self, opts: PhaseOptions) -> list[str]:
        """PostgreSQL tables this dataset retires: --table, else the dataset's own table when the
        mapping has one (the flag is per dataset), else every mapped table."""
        if opts.tables:
            return list(opts.tables)
        mapped = adapters.mapped_tables(self.cfg.settings)
        return [self.cfg.dataset] if self.cfg.dataset in mapped else mapped

    def _counts(self, url: str | None, tables: list[str]) -> dict[str, int]:
        if not url:
            return {}
        return adapters.table_counts(url, adapters.existing_tables(url, tables))

    def _existing(self, url: str | None, tables: list[str]) -> list[str]:
        return adapters.existing_tables(url, tables) if url else []

    # ------------------------------------------------------------------ confirmation

    def _confirm(self, phase: Phase | str, plan: list[str]) -> None:
        destructive = phase in DESTRUCTIVE
        name = self.confirm_resource()
        if destructive:
            if self.io.yes:
                if self.io.confirm_name != name:
                    raise ConfigError(
                        f"--yes on '{phase}' also needs --confirm-name {name} (the resource this step ends); "
                        f"got {self.io.confirm_name!r}"
                    )
                return
            typed = self.io.ask(f"This {phase} cannot be undone by a command. Type '{name}' to continue")
            if typed.strip() != name:
                raise Aborted(f"'{typed}' is not '{name}'; nothing was changed")
            return
        if self.io.yes or phase in (Phase.PREFLIGHT, Phase.SOAK, Phase.VERIFY):
            return
        if not self.io.confirm(f"Run '{phase}' ({len(plan)} step(s) above)?"):
            raise Aborted("not confirmed; nothing was changed")

    def confirm_resource(self) -> str:
        """The name the operator types before a destructive step: the dataset."""
        return self.cfg.dataset

    # ------------------------------------------------------------------ mode changes

    def _mode_now(self) -> Mode:
        try:
            return Mode(adapters.current_mode(self.cfg))
        except Exception:
            return self.ledger.position().mode

    def _move_mode(self, result: PhaseResult, target: Mode, reason: str) -> Any:
        """Step the flag to `target` through its neighbours; returns an app-side reader that was
        warmed before the change, so the propagation check waits out a real cache."""
        reader = adapters.app_reader(self.cfg)
        reader.mode()
        current = Mode(adapters.current_mode(self.cfg))
        if current == target:
            result.add(f"flag already {target}", StepStatus.SKIPPED)
            return reader
        for a, b in mode_steps(current, target):
            adapters.set_mode(self.cfg, b, self.operator, reason)
            result.add(f"flag {a} -> {b}", StepStatus.OK)
        return reader

    # ------------------------------------------------------------------ the phases

    def _handlers(self) -> dict[Phase, Callable[[PhaseResult, PhaseOptions, bool], GateResult]]:
        """What each phase does once its entry gate passed; returns its completion gate."""
        return {
            Phase.PREFLIGHT: self._do_preflight,
            Phase.DUAL_WRITE: self._do_dual_write,
            Phase.REPLICATE: self._do_replicate,
            Phase.BACKFILL: self._do_backfill,
            Phase.VERIFY: self._do_verify,
            Phase.SWITCH_READS: self._do_switch_reads,
            Phase.SOAK: self._do_soak,
            Phase.STOP_PG_WRITES: self._do_stop_pg_writes,
            Phase.CLEANUP: self._do_cleanup,
        }

    def _do_preflight(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        gate = gates.preflight_gate(self.cfg, self.control)
        result.add(
            "preflight checks", StepStatus.OK if gate.ok else StepStatus.SKIPPED, f"{len(gate.checks)} checks"
        )
        return gate

    def _do_dual_write(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        reader = self._move_mode(result, Mode.DUAL_WRITE, "cutover: dual-write")
        checks = [gates.propagation_check(self.cfg, Mode.DUAL_WRITE, reader), gates.outbox_check(self.cfg)]
        if all(c.ok for c in checks):
            reader = self._move_mode(result, Mode.DUAL_WRITE_SHADOW, "cutover: shadow reads")
            checks.append(gates.propagation_check(self.cfg, Mode.DUAL_WRITE_SHADOW, reader))
        return GateResult("dual-write", checks)

    def _do_replicate(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        driver = adapters.replica_driver(self.cfg)
        # Idempotent: it creates, re-enables (after a rollback) or leaves a running replica alone,
        # and says which.
        result.add(f"start {self.cfg.replica_driver} replica", StepStatus.OK, adapters.start_replica(driver))
        return self._wait(lambda: adapters.replica_gate(self.cfg, driver), opts.wait_seconds)

    def _do_backfill(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        try:
            outcome = adapters.run_backfill(self.cfg, self.control, opts.progress or None, **opts.backfill)
        finally:
            if opts.progress:
                opts.progress.stop()
        result.add("backfill", StepStatus.OK, _summary(outcome))
        # Counters only: per-segment detail stays in the backfill's own checkpoints.
        result.evidence["backfill"] = _scalars(outcome)
        gate = adapters.backfill_gate(self.cfg, self.control, opts.accept_failures)
        # The replica must still be keeping up when the copy ends, not only when it began: a copy
        # read from a replica that fell behind may hold rows deleted since (the tombstones and the
        # verification catch them, but only while the lag stays inside the tombstones' lifetime).
        replica = self._replica_gate()
        return GateResult(gate.gate, gate.checks + replica.checks, gate.evidence)

    def _do_verify(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        outcome = adapters.run_verify(self.cfg, self.control, opts.progress is not False, **opts.verify)
        result.add("verify", StepStatus.OK, _summary(outcome))
        gate = adapters.verify_gate(self.cfg, self.control)
        ttl = gates.tombstone_ttl_check(self.cfg, self.ledger)
        return GateResult(gate.gate, [*gate.checks, ttl], gate.evidence)

    def _do_switch_reads(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        reader = self._move_mode(result, Mode.DUAL_WRITE_READ_DYNAMODB, "cutover: switch reads")
        return GateResult(
            "switch-reads", [gates.propagation_check(self.cfg, Mode.DUAL_WRITE_READ_DYNAMODB, reader)]
        )

    def _do_soak(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        gate = self._wait(lambda: gates.soak_gate(self.cfg, self.ledger), opts.wait_seconds)
        result.add("soak check", StepStatus.OK, f"{gate.evidence.get('elapsed_seconds')} s elapsed")
        return gate

    def _do_stop_pg_writes(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        s = self.cfg.settings
        url = adapters.require_url(s.prod_database_url, "PROD_DATABASE_URL")
        tables = adapters.existing_tables(url, self._tables(opts))
        snap = snapshots.dump_tables(url, tables, self.cfg.snapshot_dir, f"{self.cfg.dataset}-prod-final")
        result.add("snapshot production tables", StepStatus.OK, f"{snap.location} ({snap.size_bytes} bytes)")
        result.evidence["snapshots"] = [snap.to_dict()]
        reader = adapters.app_reader(self.cfg)
        reader.mode()
        flip = fenced.stop_postgres_writes(self.cfg, self.operator)
        for step in flip.steps:
            result.add(step.name, step.status, step.detail)
        result.evidence["flip"] = flip.evidence
        return GateResult(
            "stop-pg-writes",
            [
                gates.propagation_check(self.cfg, Mode.DYNAMODB, reader),
                gates.outbox_check(self.cfg, empty=True),
            ],
        )

    def _do_cleanup(self, result: PhaseResult, opts: PhaseOptions, fresh: bool) -> GateResult:
        s = self.cfg.settings
        prod = adapters.require_url(s.prod_database_url, "PROD_DATABASE_URL")
        wanted = self._tables(opts)
        taken: list[snapshots.Snapshot] = []
        # Every snapshot first: a failure here leaves everything in place.
        if self.cfg.v2_rds_instance:
            taken.append(snapshots.rds_final_snapshot(self.cfg.v2_rds_instance, "final"))
            v2_tables: list[str] = []
        else:
            v2 = adapters.require_url(s.v2_database_url, "V2_DATABASE_URL")
            # V2 exists only for the migration: all of its mapped tables go.
            v2_tables = adapters.existing_tables(v2, adapters.mapped_tables(s))
            if v2_tables:
                taken.append(
                    snapshots.dump_tables(
                        v2, v2_tables, self.cfg.snapshot_dir, f"{self.cfg.dataset}-v2-final"
                    )
                )
        prod_tables = adapters.existing_tables(prod, wanted)
        if prod_tables:
            taken.append(
                snapshots.dump_tables(
                    prod, prod_tables, self.cfg.snapshot_dir, f"{self.cfg.dataset}-prod-drop"
                )
            )
        for snap in taken:
            result.add(f"snapshot ({snap.kind})", StepStatus.OK, snap.location)
        result.evidence["snapshots"] = [t.to_dict() for t in taken]
        self.ledger.set_phase(
            Phase.CLEANUP, PhaseState.RUNNING, self.operator, {"snapshots": result.evidence["snapshots"]}
        )
        stopped = adapters.stop_reverse(self.cfg)
        result.add(
            "stop reverse replication",
            StepStatus.OK,
            f"{stopped.applied + stopped.deleted:,} changes applied since stop-pg-writes",
        )
        try:
            result.add("end replica", StepStatus.OK, adapters.end_replica(self.cfg))
        except Exception as exc:
            result.add("stop replica", StepStatus.SKIPPED, adapters.describe_error(exc))
        if self.cfg.v2_rds_instance:
            adapters.rds_delete(self.cfg.v2_rds_instance)
            result.add(f"delete RDS {self.cfg.v2_rds_instance}", StepStatus.OK)
        else:
            adapters.drop_tables(adapters.require_url(s.v2_database_url, "V2_DATABASE_URL"), v2_tables)
            result.add(f"drop V2 tables {', '.join(v2_tables)}", StepStatus.OK)
        adapters.drop_tables(prod, prod_tables)
        result.add(f"drop production tables {', '.join(prod_tables)}", StepStatus.OK)
        left = adapters.existing_tables(prod, wanted)
        return GateResult(
            "cleanup",
            [
                Check(
                    "production tables dropped",
                    not left,
                    ", ".join(left) or "none left",
                    "none left",
                    "re-run ops migrate cleanup",
                )
            ],
        )

    def _wait(self, gate_fn: Callable[[], GateResult], wait_seconds: float) -> GateResult:
        deadline = time.monotonic() + wait_seconds
        gate = gate_fn()
        while not gate.ok and time.monotonic() < deadline:
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
            gate = gate_fn()
        return gate

    # ------------------------------------------------------------------ rollback

    def rollback(self, dry_run: bool = False) -> PhaseResult:
        position = self.ledger.position()
        mode_now = self._mode_now()
        plan = rollback_plan(position, mode_now)
        result = PhaseResult("rollback", dry_run=dry_run)
        allowed = Check(
            "rollback allowed",
            plan.refused is None,
            f"at {position.phase} ({position.state})" if position.phase else "nothing run",
            "a phase that can be undone",
            plan.refused or "",
        )
        result.gate = GateResult("rollback", [allowed], {"undo": [str(p) for p in plan.phases]})
        if plan.refused:
            result.add("rollback", StepStatus.FAILED, plan.refused)
            if not dry_run and position.phase is not None:
                self.ledger.event(
                    position.phase, "rollback-refused", "refused", self.operator, detail=plan.refused
                )
            return result
        lines = self._rollback_lines(plan)
        if dry_run:
            for line in lines:
                result.add(line, StepStatus.PLANNED)
            return result
        self._confirm("rollback", lines)
        with self.ledger.hold("rollback", self.operator):
            if self.ledger.position() != position:
                raise OpsError("the migration moved while you confirmed; run `ops migrate rollback` again")
            if Phase.REPLICATE in plan.phases:
                adapters.replica_driver(self.cfg).stop()
                result.add("stop replica", StepStatus.OK)
            try:
                reader = self._rollback_flag(result, plan)
            except OpsError as exc:
                result.add("rollback", StepStatus.FAILED, str(exc))
                self.ledger.event(plan.phases[0], "rollback-failed", "failed", self.operator, detail=str(exc))
                return result
            checks = [allowed]
            if plan.mode_to != plan.mode_from:
                checks.append(gates.propagation_check(self.cfg, plan.mode_to, reader))
            for phase in plan.phases:
                self.ledger.set_phase(
                    phase, PhaseState.ROLLED_BACK, self.operator, {"rolled_back_to": plan.mode_to}
                )
                result.add(f"'{phase}' rolled back", StepStatus.OK)
            result.gate = GateResult(
                "rollback", checks, {"undo": [str(p) for p in plan.phases], "mode": plan.mode_to}
            )
            self.ledger.event(
                plan.phases[0],
                "rollback",
                "rolled_back",
                self.operator,
                detail=f"{plan.mode_from} -> {plan.mode_to}",
                evidence=result.gate.to_dict(),
            )
        return result

    def _rollback_lines(self, plan: RollbackPlan) -> list[str]:
        lines = [f"set flag: {a} -> {b}" for a, b in mode_steps(plan.mode_from, plan.mode_to)]
        if plan.mode_from is Mode.DYNAMODB:
            lines = [
                "check reverse replication is healthy",
                "verify PostgreSQL against DynamoDB (every row, under live traffic)",
                f"pause writes, wait {self.cfg.flag_reader_ttl_seconds + fenced.SETTLE_MARGIN_SECONDS:g} s "
                "for every instance, wait for "
                "reverse replication to reach the stream's tip, then, fenced:",
                *lines,
                "stop reverse replication",
            ]
        if Phase.REPLICATE in plan.phases:
            lines.append(f"stop the {self.cfg.replica_driver} replica")
        lines.extend(f"mark '{p}' rolled back" for p in plan.phases)
        return lines

    def _rollback_flag(self, result: PhaseResult, plan: RollbackPlan) -> Any:
        """Move the flag back: out of `dynamodb` through the fenced protocol, else step by step."""
        if plan.mode_from is not Mode.DYNAMODB:
            return self._move_mode(result, plan.mode_to, f"cutover: rollback of {plan.phases[0]}")
        reader = adapters.app_reader(self.cfg)
        reader.mode()
        flip = fenced.rollback_from_dynamodb(
            self.cfg, self.operator, lambda: adapters.run_verify_primary(self.cfg, self.control)
        )
        for step in flip.steps:
            result.add(step.name, step.status, step.detail)
        result.evidence["flip"] = flip.evidence
        return reader

    # ------------------------------------------------------------------ status

    def next_command(self) -> str | None:
        position = self.ledger.position()
        if position.phase is not None and position.state in (PhaseState.RUNNING, PhaseState.FAILED):
            return f"ops migrate {position.phase}"
        following = next_phase(position.completed)
        return f"ops migrate {following}" if following else None


def _foreign_gate(name: str, fn: Callable[[], Any], fix: str) -> GateResult:
    """Another package's gate; a gate that cannot even be evaluated is a failed check, not a crash."""
    try:
        gate: GateResult = fn()
    except Exception as exc:
        return GateResult(
            name, [Check(name, False, f"error: {adapters.describe_error(exc)}", "evaluable", fix)]
        )
    return gate


def mode_steps(current: Mode, target: Mode) -> list[tuple[Mode, Mode]]:
    path = mode_path(current, target)
    return list(zip([current, *path[:-1]], path, strict=True)) if path else []


def _plain(obj: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return obj if isinstance(obj, dict | list | str | int | float) or obj is None else str(obj)


def _scalars(obj: Any) -> dict[str, Any]:
    data = _plain(obj)
    if not isinstance(data, dict):
        return {"result": str(data)[:500]}
    return {k: v for k, v in data.items() if isinstance(v, int | float | str | bool) or v is None}


def _summary(obj: Any) -> str:
    keep = {k: v for k, v in _scalars(obj).items() if v is not None}
    return ", ".join(f"{k}={v}" for k, v in list(keep.items())[:8])
