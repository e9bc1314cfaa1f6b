"""`ops verify` and `ops replica status` through the Typer app, against the local stack."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ops.cli.main import app
from ops.flags import FlagStore
from ops.settings import Settings
from tests.functional.verify.conftest import World

pytestmark = pytest.mark.stack


def test_verify_run_status_report_cycle(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.copy_all()
    dataset = f"answers-{world.target}"
    for name, value in {
        "V2_DATABASE_URL": world.url,
        "OPS_TARGET_TABLE": world.target,
        "OPS_CONTROL_TABLE": world.control.name,
        "OPS_DATASET": dataset,
        "PROD_DATABASE_URL": world.url,
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    row = world.rows()[5]
    world.ddb.delete_item(TableName=world.target, Key=world.tm.key(row))

    found = runner.invoke(app, ["verify", "run", "--table", "answers", "--recheck-delay", "0.1", "--json"])
    assert found.exit_code == 1, found.output
    body = json.loads(found.output)
    assert body["missing"] == 1 and body["samples"][0]["key"] == {"id": row["id"]}

    refused = runner.invoke(app, ["verify", "status", "--table", "answers"])
    assert refused.exit_code == 1 and "differences" in refused.output

    fixed = runner.invoke(
        app, ["verify", "run", "--table", "answers", "--recheck-delay", "0.1", "--repair", "--yes", "--json"]
    )
    assert json.loads(fixed.output)["repaired"] == 1
    clean = runner.invoke(app, ["verify", "run", "--table", "answers", "--recheck-delay", "0.1"])
    assert clean.exit_code == 0, clean.output
    assert runner.invoke(app, ["verify", "status", "--table", "answers"]).exit_code == 0
    report = runner.invoke(app, ["verify", "report", "--history", "--json"])
    assert [r["clean"] for r in json.loads(report.output)] == [True, False, False]

    dry = runner.invoke(app, ["verify", "run", "--dry-run"])
    assert dry.exit_code != 0 and "--dry-run applies to --repair" in str(dry.exception or dry.output)

    flags = FlagStore(dataset, settings=Settings.from_env())
    for mode in ("dual_write", "dual_write_shadow", "dual_write_read_dynamodb"):
        flags.set(mode, reason="test")
    refused_repair = runner.invoke(app, ["verify", "run", "--table", "answers", "--repair", "--yes"])
    assert refused_repair.exit_code != 0
    assert "--force-reason" in str(refused_repair.exception)
    flags.set("dynamodb", reason="test", fenced_protocol=True)
    refused_repair = runner.invoke(app, ["verify", "run", "--table", "answers", "--repair", "--yes"])
    assert refused_repair.exit_code != 0
    assert "mode 'dynamodb'" in str(refused_repair.exception)


def test_replica_status_without_subscription_fails_the_gate(
    world: World, monkeypatch: pytest.MonkeyPatch, v2_db: str
) -> None:
    monkeypatch.setenv("PROD_DATABASE_URL", world.url)
    monkeypatch.setenv("V2_DATABASE_URL", v2_db)
    result = CliRunner().invoke(app, ["replica", "status", "--name", "cli_absent", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["status"]["state"] == "absent"
    assert not body["gate"]["ok"]
