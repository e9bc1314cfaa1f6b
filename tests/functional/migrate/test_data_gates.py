"""The gates that read the data path refuse when it is broken: the replica not ready, rows the
backfill could not write, a verification that is not clean or too old, and a final snapshot that
cannot be taken (nothing is deleted then)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.demo.seed import seed_database
from ops.migrate.phases import Phase, PhaseState, Position

from .conftest import World

pytestmark = pytest.mark.stack


def failed_checks(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in (doc.get("gate") or {}).get("checks", []) if not c["ok"]}


def test_replicate_stays_running_while_its_gate_refuses(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_database(world.prod_url, 40, jobs=1)
    world.advance(Phase.DUAL_WRITE)
    monkeypatch.setenv("OPS_REPLICA_MAX_LAG_SECONDS", "-1")
    code, doc = world.ops_json("replicate", "--yes")
    assert code == 1
    assert any("lag" in name for name in failed_checks(doc)), failed_checks(doc)
    assert world.ledger.position() == Position(Phase.REPLICATE, PhaseState.RUNNING)
    monkeypatch.delenv("OPS_REPLICA_MAX_LAG_SECONDS")
    code, doc = world.ops_json("replicate", "--yes", "--wait", "60")
    assert code == 0, failed_checks(doc)
    # The replica the first run started was running: the re-run says so and makes no second one.
    [detail] = [s["detail"] for s in doc["steps"] if s["name"].startswith("start")]
    assert detail.startswith("already running") and "no second replica" in detail


def test_backfill_and_verify_refuse_on_a_row_dynamodb_cannot_hold(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_database(world.prod_url, 60, jobs=1)
    # 40 significant digits: past DynamoDB's 38-digit numbers, so the codec refuses the row.
    world.sql(
        world.prod_url, "UPDATE answers SET score = 1234567890123456789012345678901234567890 WHERE id = 7"
    )
    world.advance(Phase.DUAL_WRITE)
    assert world.ops_json("replicate", "--yes", "--wait", "60")[0] == 0

    code, doc = world.ops_json("backfill", "--yes")
    assert code == 1
    check = failed_checks(doc)["failures outstanding"]
    assert check["measured"] == "1" and check["threshold"] == "0"
    assert "retry-failed" in check["fix"]
    assert world.ledger.position() == Position(Phase.BACKFILL, PhaseState.RUNNING)

    code, doc = world.ops_json("backfill", "--yes", "--accept-failures")
    assert code == 0, failed_checks(doc)
    accepted = next(c for c in doc["gate"]["checks"] if c["name"] == "failures outstanding")
    assert accepted["measured"] == "1 (accepted)"

    code, doc = world.ops_json("verify", "--yes", "--recheck-delay", "0.1")
    assert code == 1
    assert "differences" in failed_checks(doc)
    assert world.ledger.position() == Position(Phase.VERIFY, PhaseState.RUNNING)


def test_switch_reads_refuses_a_verification_older_than_allowed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_database(world.prod_url, 30, jobs=1)
    world.advance(Phase.DUAL_WRITE)
    assert world.ops_json("replicate", "--yes", "--wait", "60")[0] == 0
    assert world.ops_json("backfill", "--yes")[0] == 0
    assert world.ops_json("verify", "--yes", "--recheck-delay", "0.1")[0] == 0
    world.shadow(compared=10, mismatches=0)
    monkeypatch.setenv("OPS_VERIFY_MAX_AGE_HOURS", "0.00001")
    code, doc = world.ops_json("switch-reads", "--yes")
    assert code == 1
    assert set(failed_checks(doc)) == {"age"}
    assert world.mode() == "dual_write_shadow"


def test_stop_pg_writes_refuses_while_an_error_alarm_fires(world: World) -> None:
    world.advance(Phase.SOAK)
    world.alarm("errors", "ALARM")
    code, doc = world.ops_json("stop-pg-writes", "--yes", "--confirm-name", "answers")
    assert code == 1
    assert set(failed_checks(doc)) == {"error alarms quiet"}
    assert world.mode() == "dual_write_read_dynamodb"


def test_cleanup_deletes_nothing_when_a_snapshot_fails(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_database(world.prod_url, 30, jobs=1)
    world.advance(Phase.STOP_PG_WRITES)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the snapshot folder should be")
    monkeypatch.setenv("OPS_SNAPSHOT_DIR", str(blocker / "snapshots"))
    before = world.state()
    code, doc = world.ops_json("cleanup", "--yes", "--confirm-name", "answers")
    assert code == 1
    assert [s for s in doc["steps"] if s["status"] == "failed"]
    after = world.state()
    assert {k: v for k, v in after.items() if k != "control"} == {
        k: v for k, v in before.items() if k != "control"
    }
    assert world.sql(world.prod_url, "SELECT count(*) FROM answers") == [(30,)]
    assert world.ledger.position() == Position(Phase.CLEANUP, PhaseState.FAILED)


def test_stop_pg_writes_refuses_while_an_outbox_row_cannot_reach_dynamodb(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A committed PostgreSQL write that DynamoDB has not got must get there before PostgreSQL stops
    being written: the step drains the outbox first, and refuses (changing nothing) when it cannot."""
    monkeypatch.setenv("OPS_DRAIN_TIMEOUT_SECONDS", "2")
    world.advance(Phase.SOAK)
    world.sql(
        world.prod_url,
        "INSERT INTO outbox (table_name, row_key, op, version) "
        "VALUES ('answers', '{\"id\": 1}', 'upsert', 1)",
    )
    code, doc = world.ops_json("stop-pg-writes", "--yes", "--confirm-name", "answers")
    assert code == 1
    failed = [s for s in doc["steps"] if s["status"] == "failed"]
    assert "the outbox did not drain" in failed[0]["detail"] and "1 outbox rows" in failed[0]["detail"]
    assert world.mode() == "dual_write_read_dynamodb"
    assert world.sql(world.prod_url, "SELECT paused FROM migration_fence") in ([], [(False,)])
