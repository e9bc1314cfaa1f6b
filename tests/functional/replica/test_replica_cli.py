"""`ops replica start | wait | status | stop` through the Typer app against prod and v2."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from typer.testing import CliRunner

from ops.cli.main import app
from ops.schema import apply_migrations
from tests.functional.replica.seed import seed_domain

pytestmark = pytest.mark.stack


def test_replica_cli_cycle(prod_db: str, v2_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_migrations(prod_db)
    seed_domain(prod_db, answers=50)
    monkeypatch.setenv("PROD_DATABASE_URL", prod_db)
    monkeypatch.setenv("V2_DATABASE_URL", v2_db)
    name = ["--name", f"cli_{uuid.uuid4().hex[:8]}"]
    runner = CliRunner()
    try:
        planned = runner.invoke(app, ["replica", "start", "--dry-run", *name])
        assert planned.exit_code == 0 and "nothing changed" in planned.output
        started = runner.invoke(app, ["replica", "start", *name])
        assert started.exit_code == 0, started.output
        assert "started: a new replica" in started.output
        again = runner.invoke(app, ["replica", "start", *name])
        assert "already running" in again.output and "no second replica" in again.output
        waited = runner.invoke(
            app, ["replica", "wait", "--timeout", "60", "--interval", "0.5", "--json", *name]
        )
        assert waited.exit_code == 0, waited.output
        assert json.loads(waited.output)["ok"] is True
        shown = runner.invoke(app, ["replica", "status", *name])
        assert shown.exit_code == 0 and "answers" in shown.output and "passed" in shown.output
        paused = runner.invoke(app, ["replica", "stop", "--yes", *name])
        assert paused.exit_code == 0
        refused = runner.invoke(app, ["replica", "status", "--json", *name])
        assert refused.exit_code == 1 and json.loads(refused.output)["status"]["state"] == "stopped"
        resumed = runner.invoke(app, ["replica", "start", *name])
        assert "resumed: the same replica continues from where it was stopped" in resumed.output
        with psycopg.connect(v2_db) as conn:
            found = conn.execute("SELECT count(*) FROM pg_subscription WHERE subname = %s", (name[1],))
            assert found.fetchone() == (1,)
    finally:
        dropped = runner.invoke(app, ["replica", "stop", "--teardown", "--yes", *name])
    assert dropped.exit_code == 0, dropped.output
    with psycopg.connect(prod_db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (name[1],)
        ).fetchone() == (0,)


def test_start_refuses_a_target_that_already_holds_rows(prod_db: str, v2_db: str) -> None:
    from ops.replica import LogicalReplicaDriver, ReplicaError

    for url in (prod_db, v2_db):
        apply_migrations(url)
        seed_domain(url, answers=5)
    driver = LogicalReplicaDriver(prod_db, v2_db, ["couples", "answers"], name=f"t_{uuid.uuid4().hex[:8]}")
    with pytest.raises(ReplicaError, match="already hold rows on the target: couples, answers"):
        driver.start()
    with psycopg.connect(prod_db) as conn:  # refused before anything was created on prod
        assert conn.execute("SELECT count(*) FROM pg_publication").fetchone() == (0,)
