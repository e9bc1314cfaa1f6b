"""Each gate passes on a healthy local stack and refuses, exit code 1, when its condition breaks;
the refusal names the check, the measured value, the threshold and the fix."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ops import aws
from ops.cli.main import app
from ops.mapping.model import default_mapping_path
from ops.migrate.phases import Phase, PhaseState, Position
from ops.settings import Settings
from ops.tables import ensure_pk_sk_table

from .conftest import World

pytestmark = pytest.mark.stack


def failed_checks(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in (doc.get("gate") or {}).get("checks", []) if not c["ok"]}


def test_preflight_passes_and_is_recorded(world: World) -> None:
    code, doc = world.ops_json("preflight")
    assert code == 0, doc
    assert doc["ok"] and not failed_checks(doc)
    names = {c["name"] for c in doc["gate"]["checks"]}
    assert {"production PostgreSQL", "V2 replica PostgreSQL", "target table + PITR"} <= names
    assert {"control table read/write", "flag readable by the app", "CloudWatch alarms exist"} <= names
    assert world.ledger.position() == Position(Phase.PREFLIGHT, PhaseState.DONE)
    record = world.ledger.record(Phase.PREFLIGHT)
    assert record is not None and record.operator and record.started_at and record.ended_at
    assert record.evidence["gate"]["ok"] is True


def test_preflight_refuses_a_mapping_that_does_not_load(
    world: World, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other check is measured over the mapped tables: with no mapping they would have none
    to vouch for, so the mapping is a check of its own and fails the gate."""
    missing = tmp_path / "mapping.yaml"
    monkeypatch.setenv("OPS_MAPPING_FILE", str(missing))
    code, doc = world.ops_json("preflight")
    assert code == 1 and not doc["ok"]
    check = failed_checks(doc)["mapping"]
    assert f"mapping file {missing} does not exist" in check["measured"]
    assert "OPS_MAPPING_FILE" in check["fix"]
    assert world.ledger.position() != Position(Phase.PREFLIGHT, PhaseState.DONE)

    missing.write_text(default_mapping_path().read_text())  # the same mapping, from its own file
    code, doc = world.ops_json("preflight")
    assert code == 0, failed_checks(doc)
    (check,) = [c for c in doc["gate"]["checks"] if c["name"] == "mapping"]
    assert check["ok"] and check["measured"] == f"{missing}: couples, users, questions, answers"


def test_preflight_refuses_without_point_in_time_recovery(
    world: World, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DynamoDB Local has no backups API; moto's server (over HTTP) does, so PITR is measured there.
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    monkeypatch.delenv("OPS_PITR_UNSUPPORTED")
    ddb = aws.client("dynamodb")
    ensure_pk_sk_table(world.control.name, ddb)
    ensure_pk_sk_table(world.target_table, ddb)
    try:
        code, doc = world.ops_json("preflight")
        assert code == 1
        check = failed_checks(doc)["target table + PITR"]
        assert check["measured"] == f"{world.target_table}: ACTIVE, PITR DISABLED"
        assert check["threshold"] == "ACTIVE, PITR ENABLED"
        assert "update-continuous-backups" in check["fix"]
        ddb.update_continuous_backups(
            TableName=world.target_table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        code, doc = world.ops_json("preflight")
        assert code == 0, failed_checks(doc)
    finally:
        for name in (world.control.name, world.target_table):
            ddb.delete_table(TableName=name)


def test_preflight_refuses_pitr_it_cannot_measure_unless_accepted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPS_PITR_UNSUPPORTED")
    code, doc = world.ops_json("preflight")
    assert code == 1
    assert "not measurable" in failed_checks(doc)["target table + PITR"]["measured"]
    assert world.ledger.position() == Position(Phase.PREFLIGHT, PhaseState.RUNNING)


def test_preflight_refuses_when_alarms_or_flag_are_missing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_ALARM_PREFIXES", "no-such-alarm-")
    aws.client("ssm").delete_parameter(Name=world.cfg.settings.flag_parameter())
    code, doc = world.ops_json("preflight")
    assert code == 1
    failed = failed_checks(doc)
    assert failed["CloudWatch alarms exist"]["measured"].startswith("0 alarm(s)")
    assert "stored missing" in failed["flag readable by the app"]["measured"]


def test_preflight_refuses_an_unreachable_database(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("V2_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, doc = world.ops_json("preflight")
    assert code == 1
    assert failed_checks(doc)["V2 replica PostgreSQL"]["measured"].startswith("error:")


def test_dual_write_moves_the_flag_through_its_neighbours(world: World) -> None:
    world.advance(Phase.PREFLIGHT)
    result = world.ops("dual-write", "--yes")
    assert result.exit_code == 0, result.stdout
    assert world.mode() == "dual_write_shadow"
    from ops.flags import FlagStore

    assert [(c.from_mode, c.to_mode) for c in FlagStore(settings=Settings.from_env()).history()] == [
        ("postgres", "dual_write"),
        ("dual_write", "dual_write_shadow"),
    ]
    assert world.ledger.position() == Position(Phase.DUAL_WRITE, PhaseState.DONE)


def test_dual_write_refuses_while_the_outbox_holds_old_rows(world: World) -> None:
    world.advance(Phase.PREFLIGHT)
    world.sql(
        world.prod_url,
        "INSERT INTO outbox (table_name, row_key, op, version, created_at) "
        "VALUES ('answers', '{\"id\": 1}', 'upsert', 1, now() - interval '10 minutes')",
    )
    code, doc = world.ops_json("dual-write", "--yes")
    assert code == 1
    check = failed_checks(doc)["outbox empty or draining"]
    assert check["measured"].startswith("1 rows, oldest 6")
    assert "ops repair outbox" in check["fix"]
    # Dual writes are on, but shadow reads wait for the outbox.
    assert world.mode() == "dual_write"
    assert world.ledger.position() == Position(Phase.DUAL_WRITE, PhaseState.RUNNING)
    world.sql(world.prod_url, "DELETE FROM outbox")
    code, doc = world.ops_json("dual-write", "--yes")
    assert code == 0, doc
    assert world.mode() == "dual_write_shadow"


def test_a_phase_out_of_order_is_refused_with_the_next_command(world: World) -> None:
    code, doc = world.ops_json("switch-reads", "--yes")
    assert code == 1
    check = failed_checks(doc)["phase order"]
    assert "`ops migrate preflight`" in check["fix"]
    assert world.mode() == "postgres"


def test_the_flag_changed_behind_the_ledgers_back_is_refused(world: World) -> None:
    world.advance(Phase.PREFLIGHT)
    world.set_mode("dual_write")
    world.ledger.set_phase(Phase.DUAL_WRITE, PhaseState.DONE, "test", started=True)
    world.set_mode("dual_write_shadow")
    world.set_mode("dual_write")
    code, doc = world.ops_json("replicate", "--yes")
    assert code == 1
    assert failed_checks(doc)["flag matches ledger"]["measured"] == "dual_write"


def test_switch_reads_refuses_while_an_alarm_fires(world: World) -> None:
    world.advance(Phase.VERIFY)
    world.alarm("latency", "ALARM")
    code, doc = world.ops_json("switch-reads", "--yes")
    assert code == 1
    check = failed_checks(doc)["alarms OK"]
    assert check["measured"] == f"ALARM: {world.alarm_prefix}latency"
    assert world.mode() == "dual_write_shadow"


def test_soak_refuses_until_the_time_has_passed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.advance(Phase.SWITCH_READS)
    code, doc = world.ops_json("soak")
    assert code == 1
    check = failed_checks(doc)["soak time since reads switched"]
    assert check["threshold"] == ">= 14.00 d"
    assert world.ledger.position() == Position(Phase.SOAK, PhaseState.RUNNING)
    time.sleep(1.1)
    code, doc = world.ops_json("soak", "--soak-days", str(1 / 86400))
    assert code == 0, doc
    assert world.ledger.position() == Position(Phase.SOAK, PhaseState.DONE)
    # Done is done: the next command is stop-pg-writes.
    code, doc = world.ops_json("soak")
    assert code == 1
    assert "`ops migrate stop-pg-writes`" in failed_checks(doc)["phase order"]["fix"]


def test_soak_refuses_when_error_alarms_fired(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_SOAK_SECONDS", "0")
    world.advance(Phase.SWITCH_READS)
    world.alarm("errors", "ALARM")
    code, doc = world.ops_json("soak")
    assert code == 1
    assert set(failed_checks(doc)) == {"error alarms quiet"}


def test_soak_refuses_after_a_rollback_in_the_window(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.advance(Phase.SWITCH_READS)
    assert world.ops("rollback", "--yes").exit_code == 0
    assert world.mode() == "dual_write_shadow"
    world.ledger.set_phase(Phase.SWITCH_READS, PhaseState.DONE, "test", started=True)
    world.set_mode("dual_write_read_dynamodb")
    time.sleep(1.1)
    code, doc = world.ops_json("soak", "--soak-days", str(1 / 86400))
    # The rollback lies more than one soak length back: only the window counts.
    assert code == 0, doc
    code, doc = world.ops_json("rollback", "--yes")
    assert code == 0
    world.ledger.set_phase(Phase.SWITCH_READS, PhaseState.DONE, "test", started=True)
    world.set_mode("dual_write_read_dynamodb")
    code, doc = world.ops_json("soak", "--soak-days", "1")
    assert code == 1
    assert failed_checks(doc)["no rollback in the soak window"]["measured"].startswith("2 rollback(s)")


def test_switch_reads_refuses_on_shadow_mismatches(world: World) -> None:
    world.advance(Phase.VERIFY)
    world.shadow(compared=200, mismatches=3)
    code, doc = world.ops_json("switch-reads", "--yes")
    assert code == 1
    check = failed_checks(doc)["shadow-read mismatches"]
    assert check["measured"] == "3 mismatched in 200 reads"
    assert check["threshold"].startswith("<= 0 mismatched over the last 900 s")
    assert "ops verify shadow" in check["fix"]
    assert world.mode() == "dual_write_shadow"
    listed = world.runner.invoke(app, ["verify", "shadow", "--json"])
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)["mismatches"] == 3


def test_switch_reads_refuses_without_recorded_shadow_reads(world: World) -> None:
    world.advance(Phase.VERIFY)
    code, doc = world.ops_json("switch-reads", "--yes")
    assert code == 1
    check = failed_checks(doc)["shadow-read mismatches"]
    assert check["measured"] == "0 mismatched in 0 reads"
    assert f"SHADOW#answers items to the control table {world.control.name}" in check["fix"]


def test_backfill_refuses_while_the_replica_is_not_ready(world: World) -> None:
    world.advance(Phase.REPLICATE)
    code, doc = world.ops_json("backfill", "--yes")
    assert code == 1
    failed = failed_checks(doc)
    assert failed, doc
    assert any("replica" in name or "replicated" in name or name == "replica ready" for name in failed), (
        failed
    )
    assert world.ledger.position() == Position(Phase.REPLICATE, PhaseState.DONE)


def test_reads_of_rows_not_copied_yet_count_only_after_the_verification_started(world: World) -> None:
    from ops.dualwrite.shadow_log import stamp
    from ops.migrate import gates
    from ops.migrate.config import MigrateConfig

    cfg = MigrateConfig.from_env(Settings.from_env())
    now = time.time()
    world.shadow(compared=50, not_copied=30, read_at=now - 60)  # while the backfill still copied
    verified_from = stamp(now - 30)  # a full, clean verification started after those reads
    excused = gates.shadow_check(cfg, world.control, verified_from)
    assert excused.ok, excused
    assert "30 not copied yet, 30 before the verification started" in excused.measured
    assert not gates.shadow_check(cfg, world.control, None).ok  # no clean verification: they count
    world.shadow(compared=5, not_copied=1, read_at=now)  # a row with no item after the verification
    check = gates.shadow_check(cfg, world.control, verified_from)
    assert not check.ok
    assert "no DynamoDB item after the verification started" in check.fix
    assert "ops verify shadow" in check.fix
