"""The fenced steps that move the source of truth: into `dynamodb` (stop-pg-writes) and back
(the rollback from `dynamodb`).

Why a protocol and not a flag change: until the flip, a committed PostgreSQL write may still be
on its way to DynamoDB (its outbox row not yet delivered). After the flip, `dynamodb`-mode writers
read-modify-write DynamoDB; one of them could build on an item that misses that write. So:

1. drain the outbox while writes continue, until nothing older than a moment is left;
2. pause writes (a new generation with `paused`): PostgreSQL writers see it through the fence in
   their next transaction and wait; the fence's `FOR UPDATE` waits out transactions in flight;
3. drain the outbox to exactly 0 — nothing can add to it now;
4. flip to `dynamodb` (a new generation, the pause ends): waiting writers continue in DynamoDB,
   and their versions order after every dual-write version.
The pause lasts as long as step 3, and carries a deadline so a crashed cutover cannot hold writes
for longer; if any step fails before the flip, writes resume in the old mode. Reverse replication
starts during the pause, so every change made in `dynamodb` mode reaches PostgreSQL.

Back from `dynamodb` (`rollback_from_dynamodb`): reverse replication must be healthy (a poller
that is only behind is waited for, up to `OPS_REVERSE_CATCHUP_SECONDS`) and PostgreSQL must verify
clean against DynamoDB under live traffic; then writes pause, the cutover
waits for every instance to see the pause (the application's flag-cache TTL,
`OPS_FLAG_READER_TTL_SECONDS`, plus a margin), waits until reverse replication
has applied the stream to its tip after that, and flips to `dual_write_read_dynamodb` with a new
generation (PostgreSQL versions order after every `dynamodb`-mode version again). Reverse
replication then stops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ops.exceptions import OpsError
from ops.flags import FlagState, Mode
from ops.migrate import adapters
from ops.migrate.config import MigrateConfig
from ops.results import GateResult, StepStatus

# Rows younger than this are still being delivered by the write that made them.
IN_FLIGHT_SECONDS = 2.0
# The flip must land this long before the pause's deadline, or it is not attempted.
DEADLINE_MARGIN_SECONDS = 5.0
# Beyond the application's flag-cache TTL: time for a write already under way to finish.
SETTLE_MARGIN_SECONDS = 2.0


@dataclass
class Step:
    name: str
    status: StepStatus
    detail: str = ""


@dataclass
class FlipReport:
    steps: list[Step] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, detail: str = "", status: StepStatus = StepStatus.OK) -> None:
        self.steps.append(Step(name, status, detail))


@dataclass
class DrainState:
    delivered: int = 0
    pending: int = 0
    oldest_age: float | None = None
    failed: int = 0
    error: str = ""


def _drain_until(cfg: MigrateConfig, deadline: float, *, in_flight_seconds: float) -> DrainState:
    """Drain passes until no row is older than `in_flight_seconds` (0: none at all) and the last
    pass delivered everything it took, or the deadline passes."""
    state = DrainState()
    while True:
        outcome = adapters.drain_outbox_now(cfg)
        state.delivered += outcome.drained
        state.failed = outcome.failed
        state.error = outcome.errors[0] if outcome.errors else ""
        state.pending, state.oldest_age = adapters.outbox_stats_now(cfg)
        young = state.pending == 0 or (
            in_flight_seconds > 0 and state.oldest_age is not None and state.oldest_age <= in_flight_seconds
        )
        if young and not state.failed:
            return state
        if time.monotonic() >= deadline:
            return state
        time.sleep(0.2)


def _undelivered(state: DrainState) -> str:
    reason = f": {state.error}" if state.error else ""
    return (
        f"{state.pending} outbox rows (oldest {state.oldest_age or 0:.0f} s), {state.failed} refused in "
        f"the last pass{reason}"
    )


def stop_postgres_writes(cfg: MigrateConfig, operator: str) -> FlipReport:
    """Steps 1-4 of the module docstring; raises OpsError (with writes resumed) when a step fails."""
    report = FlipReport()
    store = adapters.flag_store(cfg)
    state = store.heal()
    if state.mode is Mode.DYNAMODB and not state.paused:
        report.add("flag already dynamodb", state.describe(), StepStatus.SKIPPED)
        return report
    if state.mode is not Mode.DUAL_WRITE_READ_DYNAMODB:
        raise OpsError(
            f"stop-pg-writes starts from 'dual_write_read_dynamodb'; the flag is {state.describe()}. "
            "Check `ops migrate status`"
        )

    started = time.monotonic()
    before = _drain_until(cfg, started + cfg.drain_timeout_seconds, in_flight_seconds=IN_FLIGHT_SECONDS)
    if before.failed or (before.pending and (before.oldest_age or 0) > IN_FLIGHT_SECONDS):
        raise OpsError(
            f"the outbox did not drain within {cfg.drain_timeout_seconds:g} s ({_undelivered(before)}). "
            "Every committed PostgreSQL write must reach DynamoDB before PostgreSQL stops being written; "
            "nothing was changed. Fix what the error names (a row DynamoDB cannot hold must be fixed in "
            "PostgreSQL), check `ops repair outbox --dry-run`, then run this step again"
        )
    report.add("outbox drained while writes continue", f"{before.delivered} rows delivered")

    reason = "cutover: stop PostgreSQL writes"
    paused = store.pause(seconds=cfg.pause_max_seconds, reason=f"{reason} (drain the outbox)", who=operator)
    pause_started = time.monotonic()
    deadline = pause_started + cfg.pause_max_seconds - DEADLINE_MARGIN_SECONDS
    try:
        during = _drain_until(cfg, deadline, in_flight_seconds=0)
        if during.pending or during.failed:
            raise OpsError(
                f"the outbox could not be drained to 0 while writes were paused ({_undelivered(during)}). "
                "Writes resumed in dual_write_read_dynamodb; run this step again"
            )
        # From the flip on, DynamoDB's changes flow back to PostgreSQL: the stream is read from
        # now, while nothing is written, so no change made in `dynamodb` mode is missed.
        reverse = adapters.start_reverse(cfg, operator)
        if time.monotonic() >= deadline:
            raise OpsError("the pause came too close to its deadline; writes resumed; run this step again")
        flip = store.set(Mode.DYNAMODB, reason=reason, who=operator, fenced_protocol=True)
    except BaseException:
        _resume(store, operator)
        raise
    paused_for = time.monotonic() - pause_started
    report.add(
        "writes paused, outbox drained to 0",
        f"{paused_for:.2f} s at generation {paused.generation}; {during.delivered} rows delivered",
    )
    report.add("reverse replication started", f"{reverse.driver}, from the pause on")
    report.add(f"flag {Mode.DUAL_WRITE_READ_DYNAMODB} -> {Mode.DYNAMODB}", f"generation {flip.generation}")
    report.evidence = {
        "paused_seconds": round(paused_for, 3),
        "pause_generation": paused.generation,
        "generation": flip.generation,
    }
    return report


def _resume(store: Any, operator: str) -> FlagState:
    """Writes go on in the mode they were in; a failure here is reported, not hidden."""
    try:
        store.resume(reason="cutover step failed; writes resume", who=operator)
    except Exception as exc:
        raise OpsError(
            f"could not end the write pause ({exc}); it ends by itself at its deadline, or run "
            "`ops flags resume --reason ...`"
        ) from exc
    state: FlagState = store.state()
    return state


# Reverse replication checks that a busy poller (or a Lambda a period behind) passes by itself;
# outstanding failures or a stopped replication do not, so they refuse at once.
_CATCHING_UP = frozenset({"reverse replication running", "reverse replication lag"})


def _reverse_healthy(cfg: MigrateConfig) -> GateResult:
    """The reverse gate, waited for (up to OPS_REVERSE_CATCHUP_SECONDS) while only its report's
    freshness or its lag stand in the way."""
    deadline = time.monotonic() + cfg.reverse_catchup_seconds
    while True:
        gate = adapters.reverse_gate(cfg)
        catching_up = bool(gate.evidence.get("running")) and {c.name for c in gate.failed} <= _CATCHING_UP
        if gate.ok or not catching_up or time.monotonic() >= deadline:
            return gate
        time.sleep(0.5)


def rollback_from_dynamodb(cfg: MigrateConfig, operator: str, verify: Any) -> FlipReport:
    """See the module docstring. `verify()` runs the PostgreSQL-vs-DynamoDB verification and
    returns its result (with `.clean`, `.rows_compared`, ...)."""
    report = FlipReport()
    store = adapters.flag_store(cfg)
    state = store.heal()
    if state.mode is not Mode.DYNAMODB:
        raise OpsError(f"the rollback from dynamodb starts in 'dynamodb'; the flag is {state.describe()}")
    gate = _reverse_healthy(cfg)
    if not gate.ok:
        raise OpsError(
            "reverse replication is not healthy, so PostgreSQL may miss changes made in dynamodb mode: "
            + "; ".join(f"{c.name}: {c.measured} (fix: {c.fix})" for c in gate.failed)
        )
    report.add("reverse replication healthy", f"lag {gate.evidence.get('lag_seconds')} s")
    checked = verify()
    if not checked.clean:
        raise OpsError(
            f"PostgreSQL differs from DynamoDB ({checked.mismatched} mismatched, {checked.missing} missing, "
            f"{checked.extra} extra): reverse replication lost something. Nothing was changed; see "
            "`ops verify report` and `ops replica reverse failures`"
        )
    report.add("PostgreSQL verified against DynamoDB", f"{checked.rows_compared:,} rows, 0 differences")

    # Every instance re-reads the flag within its cache TTL or stops writing (fail closed), so
    # after the TTL (and a write already under way) no change can enter DynamoDB.
    propagation = cfg.flag_reader_ttl_seconds + SETTLE_MARGIN_SECONDS
    paused = store.pause(
        seconds=propagation + cfg.reverse_catchup_seconds + DEADLINE_MARGIN_SECONDS,
        reason="cutover: rollback from dynamodb",
        who=operator,
    )
    pause_started = time.monotonic()
    settled_at = time.time() + propagation
    try:
        # Every instance sees the pause within its cache TTL (or fails closed); after that no
        # change can enter DynamoDB, and once the stream is applied past that moment PostgreSQL
        # holds everything.
        time.sleep(propagation)
        deadline = pause_started + propagation + cfg.reverse_catchup_seconds
        while True:
            caught_up = adapters.reverse_gate(cfg, caught_up_after=settled_at)
            if caught_up.ok:
                break
            if time.monotonic() >= deadline:
                raise OpsError(
                    "reverse replication did not reach the stream's tip while writes were paused: "
                    + "; ".join(f"{c.name}: {c.measured}" for c in caught_up.failed)
                    + ". Writes resumed in dynamodb; run the rollback again"
                )
            time.sleep(0.2)
        flip = store.set(
            Mode.DUAL_WRITE_READ_DYNAMODB,
            reason="cutover: rollback from dynamodb",
            who=operator,
            fenced_protocol=True,
        )
    except BaseException:
        _resume(store, operator)
        raise
    report.add(
        "writes paused, reverse replication applied to the tip",
        f"{time.monotonic() - pause_started:.2f} s at generation {paused.generation}",
    )
    report.add(f"flag {Mode.DYNAMODB} -> {Mode.DUAL_WRITE_READ_DYNAMODB}", f"generation {flip.generation}")
    stopped = adapters.stop_reverse(cfg)
    report.add("reverse replication stopped", f"{stopped.applied + stopped.deleted:,} changes applied in all")
    report.evidence = {
        "paused_seconds": round(time.monotonic() - pause_started, 3),
        "generation": flip.generation,
        "reverse_applied": stopped.applied,
        "reverse_deleted": stopped.deleted,
        "verified_rows": checked.rows_compared,
    }
    return report
