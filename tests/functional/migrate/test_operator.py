"""Operator interaction: confirmations, typing the resource name, the ledger lock, exit codes."""

from __future__ import annotations

import pytest

from ops.migrate.phases import Phase, PhaseState, Position

from .conftest import World

pytestmark = pytest.mark.stack


def _refused(world: World, *args: str, code: int, message: str, input: str | None = None) -> None:
    """`ops migrate ARGS` (answering `input`) exits with `code`, says `message`, changes nothing."""
    before = world.state()
    result = world.ops(*args, input=input)
    assert result.exit_code == code
    assert message in result.stderr
    assert world.state() == before


def test_declining_the_confirmation_changes_nothing(world: World) -> None:
    world.advance(Phase.PREFLIGHT)
    _refused(world, "dual-write", input="n\n", code=1, message="nothing was changed")


def test_a_destructive_step_needs_the_typed_resource_name(world: World) -> None:
    world.advance(Phase.SOAK)
    _refused(world, "stop-pg-writes", input="answer\n", code=1, message="'answer' is not 'answers'")
    right = world.ops("stop-pg-writes", input="answers\n")
    assert right.exit_code == 0, right.stdout
    assert world.mode() == "dynamodb"
    assert len(list(world.snapshot_dir.glob("answers-prod-final-*.dump"))) == 1


def test_yes_on_a_destructive_step_also_needs_the_confirm_name(world: World) -> None:
    world.advance(Phase.SOAK)
    _refused(world, "stop-pg-writes", "--yes", code=2, message="--confirm-name answers")


def test_two_operators_cannot_run_a_phase_at_once(world: World) -> None:
    with world.ledger.hold(Phase.PREFLIGHT, "alice"):
        result = world.ops("preflight")
        assert result.exit_code == 1
        assert "alice is running 'preflight'" in result.stderr
        _, status = world.ops_json("status")
        assert status["lock"] == {"operator": "alice", "phase": "preflight"}
    assert world.ops("preflight").exit_code == 0
    assert world.ledger.position() == Position(Phase.PREFLIGHT, PhaseState.DONE)


def test_usage_errors_exit_2(world: World) -> None:
    assert world.ops("preflight", "--no-such-option").exit_code == 2
    assert world.ops("no-such-phase").exit_code == 2


def test_status_shows_the_next_command_and_gate_evidence(world: World) -> None:
    code, status = world.ops_json("status")
    assert code == 0 and status["next"] == "ops migrate preflight"
    assert world.ops("preflight").exit_code == 0
    code, status = world.ops_json("status")
    pre = status["phases"][0]
    assert pre["state"] == "done" and pre["gate_ok"] is True and pre["gate_age"].endswith(" s")
    assert status["next"] == "ops migrate dual-write"
    assert status["mode"] == {"flag": "postgres", "app": "postgres", "expected": "postgres"}
    text = world.ops("status", "--history").stdout
    assert "ops migrate dual-write" in text and "history" in text
