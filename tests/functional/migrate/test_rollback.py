"""`ops migrate rollback`: one step back from every phase where that is possible, refused with
the reason where it is not; reading DynamoDB -> reading PostgreSQL is one command."""

from __future__ import annotations

import pytest

from ops.flags import FlagReader, Mode
from ops.migrate.phases import ROLLBACK_REFUSED, Phase, PhaseState, Position
from ops.settings import Settings

from .conftest import World

pytestmark = pytest.mark.stack


@pytest.mark.parametrize(
    ("phase", "mode_after", "position_after"),
    [
        (Phase.PREFLIGHT, "postgres", Position(None, None)),
        (Phase.DUAL_WRITE, "postgres", Position(Phase.PREFLIGHT, PhaseState.DONE)),
        (Phase.BACKFILL, "dual_write_shadow", Position(Phase.REPLICATE, PhaseState.DONE)),
        (Phase.VERIFY, "dual_write_shadow", Position(Phase.BACKFILL, PhaseState.DONE)),
        (Phase.SWITCH_READS, "dual_write_shadow", Position(Phase.VERIFY, PhaseState.DONE)),
    ],
)
def test_rollback_goes_one_step_back(
    world: World, phase: Phase, mode_after: str, position_after: Position
) -> None:
    world.advance(phase)
    code, doc = world.ops_json("rollback", "--yes")
    assert code == 0, doc
    assert world.mode() == mode_after
    assert world.ledger.position() == position_after
    record = world.ledger.record(phase)
    assert record is not None and record.state == PhaseState.ROLLED_BACK
    assert [e.action for e in world.ledger.history()][-1] == "rollback"
    # ... and the phase can run again from there.
    code, status = world.ops_json("status")
    assert status["next"] == f"ops migrate {phase}"


def test_from_the_soak_reading_postgresql_again_is_one_command(world: World) -> None:
    world.advance(Phase.SOAK)
    assert FlagReader(ttl_seconds=0, settings=Settings.from_env()).mode().reads_dynamodb
    result = world.ops("rollback", "--yes")
    assert result.exit_code == 0, result.stdout
    mode = FlagReader(ttl_seconds=0, settings=Settings.from_env()).mode()
    assert mode == Mode.DUAL_WRITE_SHADOW and not mode.reads_dynamodb and mode.writes_dynamodb
    assert world.ledger.position() == Position(Phase.VERIFY, PhaseState.DONE)
    for phase in (Phase.SOAK, Phase.SWITCH_READS):
        record = world.ledger.record(phase)
        assert record is not None and record.state == PhaseState.ROLLED_BACK


def test_rollback_of_replicate_pauses_the_replica(world: World) -> None:
    world.advance(Phase.DUAL_WRITE)
    code, doc = world.ops_json("replicate", "--yes", "--wait", "60")
    assert code == 0, doc
    assert world.sql(
        world.v2_url, "SELECT subenabled FROM pg_subscription WHERE subname = %s", (world.replica_name,)
    ) == [(True,)]
    code, doc = world.ops_json("rollback", "--yes")
    assert code == 0, doc
    assert world.sql(
        world.v2_url, "SELECT subenabled FROM pg_subscription WHERE subname = %s", (world.replica_name,)
    ) == [(False,)]
    assert world.ledger.position() == Position(Phase.DUAL_WRITE, PhaseState.DONE)
    # Forward again resumes it.
    code, doc = world.ops_json("replicate", "--yes", "--wait", "60")
    assert code == 0, doc


def test_rollback_is_refused_with_the_reason_after_cleanup(world: World) -> None:
    phase = Phase.CLEANUP
    world.advance(phase)
    before = world.state()
    code, doc = world.ops_json("rollback", "--yes")
    assert code == 1
    [check] = doc["gate"]["checks"]
    assert check["name"] == "rollback allowed" and not check["ok"]
    assert check["fix"] == ROLLBACK_REFUSED[phase]
    after = world.state()
    # Only the refusal itself is recorded.
    assert {k: v for k, v in after.items() if k != "control"} == {
        k: v for k, v in before.items() if k != "control"
    }
    assert world.mode() == "dynamodb"
    assert [e.action for e in world.ledger.history()] == ["rollback-refused"]


def test_rollback_with_nothing_run_is_refused(world: World) -> None:
    code, doc = world.ops_json("rollback", "--yes")
    assert code == 1
    assert doc["gate"]["checks"][0]["fix"] == "nothing to roll back: no phase has run yet"
