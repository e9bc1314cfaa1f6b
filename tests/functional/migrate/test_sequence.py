"""The whole cutover forward on the local stack with small data: seeded with the demo seeder,
replicated by logical replication, backfilled and verified in process, through the CLI."""

from __future__ import annotations

import time

import pytest

from ops.cli.main import app
from ops.demo.seed import seed_database
from ops.migrate.phases import ORDER, Phase, PhaseState, Position

from .conftest import World

pytestmark = pytest.mark.stack


def test_the_whole_sequence_runs_forward(world: World) -> None:
    seeded = seed_database(world.prod_url, 300, jobs=1)
    assert seeded.answers == 300

    def step(*args: str) -> dict:
        code, doc = world.ops_json(*args)
        assert code == 0, doc
        assert doc["ok"] is True
        return doc

    step("preflight")
    step("dual-write", "--yes")
    assert world.mode() == "dual_write_shadow"
    step("replicate", "--yes", "--wait", "60")
    assert world.sql(world.v2_url, "SELECT count(*) FROM answers") == [(300,)]
    backfill = step("backfill", "--yes")
    assert backfill["gate"]["evidence"]["rows_written"] + backfill["gate"]["evidence"]["rows_present"] == 300
    step("verify", "--yes", "--recheck-delay", "0.1")
    # The app's shadow reads have been agreeing (published as the dual-write layer does).
    world.shadow(compared=120, mismatches=0)
    switch = step("switch-reads", "--yes")
    propagated = next(c for c in switch["gate"]["checks"] if c["name"] == "flag propagated to the app")
    assert propagated["measured"].startswith("app reads 'dual_write_read_dynamodb'")
    time.sleep(1.1)
    step("soak", "--soak-days", str(1 / 86400))

    stop = step("stop-pg-writes", "--yes", "--confirm-name", "answers")
    assert world.mode() == "dynamodb"
    [snapshot] = stop["evidence"]["snapshots"]
    assert snapshot["tables"] == ["answers"] and snapshot["size_bytes"] > 0
    # The operator's status (not only --json) shows where the snapshot is.
    shown = world.runner.invoke(app, ["migrate", "status"], env={"COLUMNS": "300"})
    assert "snapshots" in shown.stdout and snapshot["location"] in shown.stdout
    # Done already: the refusal offers the next phase and a rollback that really works from here.
    code, again = world.ops_json("stop-pg-writes", "--yes", "--confirm-name", "answers")
    fix = next(c["fix"] for c in again["gate"]["checks"] if not c["ok"])
    assert code == 1 and "`ops migrate cleanup`" in fix and "`ops migrate rollback`" in fix
    code, plan = world.ops_json("rollback", "--dry-run")
    assert code == 0, plan

    cleanup = step("cleanup", "--yes", "--confirm-name", "answers")
    assert {s["kind"] for s in cleanup["evidence"]["snapshots"]} == {"pg_dump"}
    prod_tables = {
        r[0] for r in world.sql(world.prod_url, "SELECT tablename FROM pg_tables WHERE schemaname='public'")
    }
    assert "answers" not in prod_tables and "couples" in prod_tables
    v2_tables = {
        r[0] for r in world.sql(world.v2_url, "SELECT tablename FROM pg_tables WHERE schemaname='public'")
    }
    assert not v2_tables & {"answers", "couples", "users", "questions"}
    assert world.sql(
        world.v2_url, "SELECT count(*) FROM pg_subscription WHERE subname = %s", (world.replica_name,)
    ) == [(0,)]
    # The DynamoDB copy is untouched by the cleanup.
    assert world.state()["target_items"] >= 300

    assert world.ledger.position() == Position(Phase.CLEANUP, PhaseState.DONE)
    # Past the point of no return the refusal points at the snapshots `ops migrate status` lists.
    code, refused = world.ops_json("rollback", "--yes")
    assert code == 1 and "`ops migrate status` lists under 'snapshots'" in refused["gate"]["checks"][0]["fix"]
    listed = world.runner.invoke(app, ["migrate", "status"], env={"COLUMNS": "300"}).stdout
    assert all(s["location"] in listed for s in cleanup["evidence"]["snapshots"])
    code, status = world.ops_json("status", "--history")
    assert code == 0
    assert [p["state"] for p in status["phases"]] == ["done"] * len(ORDER)
    assert status["next"] is None
    assert status["mode"]["flag"] == "dynamodb"
    actions = [(e["phase"], e["action"]) for e in status["history"]]
    assert ("cleanup", "gate") in actions and ("preflight", "start") in actions
    # OPS_OPERATOR (the world's environment) names who ran every phase: the CLI passes it down.
    assert {p["operator"] for p in status["phases"]} == {"test-operator"}
