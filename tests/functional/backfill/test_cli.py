"""`ops backfill` commands end to end on the real stack (through Typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from ops.backfill.checkpoint import segment_sk
from ops.backfill.controls import LiveControls
from ops.cli.main import app
from tests.functional.backfill.support import Env, seed

runner = CliRunner()


def _ops(env: Env, *args: str) -> str:
    result = runner.invoke(app, ["backfill", *args, "--control-table", env.control_table])
    assert result.exit_code == 0, result.output + str(result.exception)
    return result.stdout


def test_plan_run_status_controls_and_failures_commands(env: Env, tmp_path: Path) -> None:
    seed(env.source_url, 400)
    with psycopg.connect(env.source_url, autocommit=True) as conn:
        conn.execute("UPDATE answers SET score = 1e45 + 0.5 WHERE id = 3")
    common = ["--source-url", env.source_url, "--table", "answers", "--target-table", env.target_table]

    plan = json.loads(_ops(env, "plan", *common, "--segments", "4", "--json"))
    assert plan["rows_total"] == 400
    assert sum(s["rows"] for s in plan["segments"]) == 400
    assert len(plan["segments"]) == 4 and sorted(plan["order"]) == [0, 1, 2, 3]
    assert plan["avg_payload_bytes"] > 200 and plan["cost"]["on_demand_usd"] > 0
    assert env.control.query("BACKFILL#answers") == []  # planning writes nothing

    dry = json.loads(_ops(env, "run", *common, "--segments", "4", "--dry-run", "--no-progress", "--json"))
    assert dry["dry_run"] and dry["counters"]["rows_written"] == 399 and dry["counters"]["rows_failed"] == 1
    assert env.items() == {}

    summary = json.loads(_ops(env, "run", *common, "--segments", "4", "--no-progress", "--json"))
    assert summary["counters"]["rows_written"] == 399
    assert summary["segments_complete"] == 4

    status = json.loads(_ops(env, "status", "--json"))
    assert status["summary"]["rows_written"] == 399
    assert status["summary"]["failures_outstanding"] == 1
    assert not status["gate"]["ok"]
    assert [s["state"] for s in status["segments"]] == ["complete"] * 4

    failures = json.loads(_ops(env, "failures", "list", "--json"))
    assert [f["key"] for f in failures] == [{"id": 3}]
    out = tmp_path / "failures.csv"
    _ops(env, "failures", "export", str(out))
    assert "score" in out.read_text() and out.read_text().count("\n") == 2

    with psycopg.connect(env.source_url, autocommit=True) as conn:
        conn.execute("UPDATE answers SET score = 7 WHERE id = 3")
    retried = json.loads(_ops(env, "retry-failed", *common, "--json"))
    assert retried["copied"] == 1
    assert json.loads(_ops(env, "status", "--json"))["gate"]["ok"]
    env.assert_copy_equals_source()

    # A finished run has nothing to steer: saying "rate set" would be a lie.
    for args in (("pause",), ("set-rate", "250"), ("resume",)):
        refused = runner.invoke(app, ["backfill", *args, "--control-table", env.control_table])
        assert refused.exit_code == 1
        assert "run 'answers' is finished (4/4 segments complete)" in str(refused.exception)
    assert LiveControls(env.control, "answers").read().rate is None

    # One segment not done yet (as after a crash): the controls apply.
    env.control.update("BACKFILL#answers", segment_sk(1), set_={"state": "running"})
    _ops(env, "pause")
    assert LiveControls(env.control, "answers").read().paused
    _ops(env, "set-rate", "250")
    _ops(env, "resume")
    state = LiveControls(env.control, "answers").read()
    assert not state.paused and state.rate == 250


def test_controls_without_a_run_say_so(env: Env) -> None:
    refused = runner.invoke(app, ["backfill", "set-rate", "10", "--control-table", env.control_table])
    assert refused.exit_code == 1
    assert "no backfill run 'answers' recorded" in str(refused.exception)
