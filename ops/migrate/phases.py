"""The cutover procedure as a state machine: the phases in order, the mode each one leaves the
application in, and which phases can be rolled back (and why not, where they cannot).

Pure data and functions, no I/O: the ledger records where the migration is; this module decides
what may happen next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ops.flags import Mode


class Phase(StrEnum):
    PREFLIGHT = "preflight"
    DUAL_WRITE = "dual-write"
    REPLICATE = "replicate"
    BACKFILL = "backfill"
    VERIFY = "verify"
    SWITCH_READS = "switch-reads"
    SOAK = "soak"
    STOP_PG_WRITES = "stop-pg-writes"
    CLEANUP = "cleanup"


ORDER: tuple[Phase, ...] = tuple(Phase)


class PhaseState(StrEnum):
    """Lifecycle of one phase in the ledger.

    `running`: its action was taken but its gate has not passed yet (re-run the command to
    re-check); `done`: the gate passed; `rolled_back`: undone by `ops migrate rollback`.
    """

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


# The migration mode the application is in once each phase is done.
MODE_AFTER: dict[Phase, Mode] = {
    Phase.PREFLIGHT: Mode.POSTGRES,
    Phase.DUAL_WRITE: Mode.DUAL_WRITE_SHADOW,
    Phase.REPLICATE: Mode.DUAL_WRITE_SHADOW,
    Phase.BACKFILL: Mode.DUAL_WRITE_SHADOW,
    Phase.VERIFY: Mode.DUAL_WRITE_SHADOW,
    Phase.SWITCH_READS: Mode.DUAL_WRITE_READ_DYNAMODB,
    Phase.SOAK: Mode.DUAL_WRITE_READ_DYNAMODB,
    Phase.STOP_PG_WRITES: Mode.DYNAMODB,
    Phase.CLEANUP: Mode.DYNAMODB,
}

# Phases that delete or make data stale: they take final snapshots first and ask for the
# resource name to be typed.
DESTRUCTIVE: frozenset[Phase] = frozenset({Phase.STOP_PG_WRITES, Phase.CLEANUP})

# Why a phase cannot be undone by a command. Everything else can go back one step (stop-pg-writes
# too: reverse replication keeps PostgreSQL current until cleanup).
ROLLBACK_REFUSED: dict[Phase, str] = {
    Phase.CLEANUP: (
        "cleanup deleted the V2 replica, stopped reverse replication and dropped the PostgreSQL tables; "
        "there is nothing to switch back to. Restore from the final snapshots that `ops migrate status` "
        "lists under 'snapshots' (runbooks/rollback.md, section Escalation)."
    ),
}


def index(phase: Phase) -> int:
    return ORDER.index(phase)


def previous(phase: Phase) -> Phase | None:
    i = index(phase)
    return ORDER[i - 1] if i > 0 else None


def next_phase(phase: Phase | None) -> Phase | None:
    """The phase after `phase` (the first one when nothing has run yet; None after the last)."""
    if phase is None:
        return ORDER[0]
    i = index(phase)
    return ORDER[i + 1] if i + 1 < len(ORDER) else None


def parse(name: str) -> Phase:
    try:
        return Phase(name)
    except ValueError:
        from ops.exceptions import ConfigError

        raise ConfigError(f"unknown phase '{name}'; phases are: {', '.join(ORDER)}") from None


@dataclass(frozen=True)
class Position:
    """Where the migration stands: the furthest phase that is not rolled back, and its state."""

    phase: Phase | None
    state: PhaseState | None

    @property
    def completed(self) -> Phase | None:
        """The last phase whose gate passed."""
        if self.phase is None:
            return None
        if self.state == PhaseState.DONE:
            return self.phase
        return previous(self.phase)

    @property
    def mode(self) -> Mode:
        """The migration mode the application should be in, according to the ledger."""
        return MODE_AFTER[self.completed] if self.completed else Mode.POSTGRES


def may_run(target: Phase, position: Position) -> str | None:
    """None when `target` may run from `position`, else the reason it may not.

    A phase runs when the one before it is done; the current phase may be re-run while it is
    still running (re-checking its gate) or after it failed. A done phase is not repeated:
    roll back first.
    """
    if position.phase is not None and position.state in (PhaseState.RUNNING, PhaseState.FAILED):
        if target == position.phase:
            return None
        return (
            f"phase '{position.phase}' is {position.state}; finish it (`ops migrate {position.phase}`) "
            f"or roll it back (`ops migrate rollback`) before running '{target}'"
        )
    expected = next_phase(position.completed)
    if expected is None:
        return "the migration is complete; there is no next phase"
    if target == expected:
        return None
    if index(target) < index(expected):
        return (
            f"phase '{target}' is already done; the next phase is '{expected}' (`ops migrate {expected}`), "
            "or go back with `ops migrate rollback`"
        )
    return f"phase '{target}' cannot run before '{expected}' is done (`ops migrate {expected}`)"


@dataclass(frozen=True)
class RollbackPlan:
    """What `ops migrate rollback` would undo from a position, or why it refuses."""

    phases: tuple[Phase, ...]
    mode_from: Mode
    mode_to: Mode
    refused: str | None = None


def rollback_plan(position: Position, current_mode: Mode | None = None) -> RollbackPlan:
    """One step back from `position`.

    The soak has no action of its own: the step back from it is the reads switch, so reading
    DynamoDB -> reading PostgreSQL is one command from switch-reads and from soak alike.
    """
    mode_from = current_mode or position.mode
    if position.phase is None:
        return RollbackPlan((), mode_from, mode_from, refused="nothing to roll back: no phase has run yet")
    if position.phase in ROLLBACK_REFUSED:
        return RollbackPlan((position.phase,), mode_from, mode_from, refused=ROLLBACK_REFUSED[position.phase])
    undo: tuple[Phase, ...] = (position.phase,)
    if position.phase == Phase.SOAK:
        undo = (Phase.SOAK, Phase.SWITCH_READS)
    before = previous(undo[-1])
    mode_to = MODE_AFTER[before] if before else Mode.POSTGRES
    return RollbackPlan(undo, mode_from, mode_to)
