"""The phase state machine: what may run next, and what rollback undoes or refuses."""

from __future__ import annotations

import pytest

from ops.exceptions import ConfigError
from ops.migrate.phases import (
    ORDER,
    ROLLBACK_REFUSED,
    Phase,
    PhaseState,
    Position,
    may_run,
    next_phase,
    parse,
    rollback_plan,
)
from ops.migrate.runner import mode_path, mode_steps

DONE = PhaseState.DONE
RUNNING = PhaseState.RUNNING


def test_order_is_the_procedure() -> None:
    assert [str(p) for p in ORDER] == [
        "preflight",
        "dual-write",
        "replicate",
        "backfill",
        "verify",
        "switch-reads",
        "soak",
        "stop-pg-writes",
        "cleanup",
    ]


def test_only_the_next_phase_may_run() -> None:
    position = Position(None, None)
    for phase in ORDER:
        for other in ORDER:
            reason = may_run(other, position)
            assert (reason is None) == (other == phase), (phase, other, reason)
        position = Position(phase, DONE)
    assert may_run(Phase.CLEANUP, position) == "the migration is complete; there is no next phase"


def test_a_running_phase_may_be_rerun_and_blocks_the_next() -> None:
    position = Position(Phase.BACKFILL, RUNNING)
    assert may_run(Phase.BACKFILL, position) is None
    reason = may_run(Phase.VERIFY, position)
    assert reason is not None and "ops migrate backfill" in reason and "rollback" in reason


def test_refusals_name_the_command_to_run() -> None:
    skip = may_run(Phase.SWITCH_READS, Position(Phase.BACKFILL, DONE))
    assert skip is not None and "`ops migrate verify`" in skip
    again = may_run(Phase.PREFLIGHT, Position(Phase.BACKFILL, DONE))
    assert again is not None and "already done" in again


def test_position_mode_follows_the_last_done_phase() -> None:
    assert Position(None, None).mode == "postgres"
    assert Position(Phase.DUAL_WRITE, RUNNING).mode == "postgres"
    assert Position(Phase.DUAL_WRITE, DONE).mode == "dual_write_shadow"
    assert Position(Phase.SWITCH_READS, DONE).mode == "dual_write_read_dynamodb"
    assert Position(Phase.SOAK, RUNNING).mode == "dual_write_read_dynamodb"
    assert Position(Phase.STOP_PG_WRITES, DONE).mode == "dynamodb"


def test_next_phase() -> None:
    assert next_phase(None) == Phase.PREFLIGHT
    assert next_phase(Phase.VERIFY) == Phase.SWITCH_READS
    assert next_phase(Phase.CLEANUP) is None


@pytest.mark.parametrize(
    ("phase", "undo", "mode_to"),
    [
        (Phase.PREFLIGHT, (Phase.PREFLIGHT,), "postgres"),
        (Phase.DUAL_WRITE, (Phase.DUAL_WRITE,), "postgres"),
        (Phase.REPLICATE, (Phase.REPLICATE,), "dual_write_shadow"),
        (Phase.BACKFILL, (Phase.BACKFILL,), "dual_write_shadow"),
        (Phase.VERIFY, (Phase.VERIFY,), "dual_write_shadow"),
        (Phase.SWITCH_READS, (Phase.SWITCH_READS,), "dual_write_shadow"),
        # From the soak, the step back is the reads switch: reading PostgreSQL is one command.
        (Phase.SOAK, (Phase.SOAK, Phase.SWITCH_READS), "dual_write_shadow"),
    ],
)
def test_rollback_goes_one_step_back(phase: Phase, undo: tuple[Phase, ...], mode_to: str) -> None:
    for state in (DONE, RUNNING):
        plan = rollback_plan(Position(phase, state))
        assert plan.refused is None
        assert plan.phases == undo
        assert plan.mode_to == mode_to


def test_only_cleanup_is_refused_stop_pg_writes_goes_back_to_reading_dynamodb() -> None:
    plan = rollback_plan(Position(Phase.CLEANUP, DONE))
    assert plan.refused == ROLLBACK_REFUSED[Phase.CLEANUP]
    assert "runbooks/rollback.md" in plan.refused
    back = rollback_plan(Position(Phase.STOP_PG_WRITES, DONE))
    assert back.refused is None and back.phases == (Phase.STOP_PG_WRITES,)
    assert (back.mode_from, back.mode_to) == ("dynamodb", "dual_write_read_dynamodb")


def test_rollback_with_nothing_run_is_refused() -> None:
    assert rollback_plan(Position(None, None)).refused == "nothing to roll back: no phase has run yet"


def test_mode_path_moves_through_neighbours_only() -> None:
    assert mode_path("postgres", "dual_write_shadow") == ["dual_write", "dual_write_shadow"]
    assert mode_path("dual_write_shadow", "postgres") == ["dual_write", "postgres"]
    assert mode_path("dual_write_read_dynamodb", "dual_write_shadow") == ["dual_write_shadow"]
    assert mode_path("dynamodb", "dynamodb") == []
    assert mode_steps("postgres", "dual_write_shadow") == [
        ("postgres", "dual_write"),
        ("dual_write", "dual_write_shadow"),
    ]
    assert mode_steps("postgres", "postgres") == []


def test_unknown_phase_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="phases are: preflight"):
        parse("switch")
