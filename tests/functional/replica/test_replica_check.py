"""`ops replica check`: the source checks of preflight on their own, through the Typer app, against
real PostgreSQL and a DMS task in moto's server; outside the cutover's phase order, so they can be
re-run after the DMS settings change."""

from __future__ import annotations

import json

import psycopg
import pytest
from typer.testing import CliRunner

from ops.cli.main import app
from ops.migrate.gates import SOURCE
from ops.schema import apply_migrations
from tests.functional.replica.moto_dms import create_task, lob_settings, replace_task
from tests.functional.replica.seed import seed_domain

pytestmark = pytest.mark.stack

LOB_CHECK = "LOB sizes vs replication LOB limit"


def test_check_measures_the_source_and_the_dms_lob_limit(
    prod_db: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_migrations(prod_db)
    seed_domain(prod_db, answers=20)
    with psycopg.connect(prod_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE users SET avatar = decode(repeat('ff', 100000), 'hex') "
            "WHERE id = (SELECT min(id) FROM users)"
        )
    monkeypatch.setenv("PROD_DATABASE_URL", prod_db)
    runner = CliRunner()

    logical = runner.invoke(app, ["replica", "check", "--json"])
    assert logical.exit_code == 0, logical.output
    doc = json.loads(logical.output)
    assert doc["gate"] == "replica source"
    # The source checks of preflight, the same functions, in the same order.
    assert [c["name"] for c in doc["checks"]] == [check.name for check in SOURCE]
    assert all(c["ok"] for c in doc["checks"])

    arn = create_task(unique_name, lob_settings(LimitedSizeLobMode=True, LobMaxSize=64))
    args = ["replica", "check", "--driver", "dms", "--task-arn", arn, "--lob-scan", "exact", "--json"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1, refused.output
    doc = json.loads(refused.output)
    [lob] = [c for c in doc["checks"] if not c["ok"]]
    assert lob["name"] == LOB_CHECK
    assert lob["measured"].startswith(
        "users.avatar: largest value 100,000 B (exact, 20 rows) needs LobMaxSize >= 123 KB"
    )

    replace_task(arn, lob_settings(LimitedSizeLobMode=True, LobMaxSize=128))
    passed = runner.invoke(app, args)
    assert passed.exit_code == 0, passed.output
    assert "users.avatar 100,000 B (exact, 20 rows); limited LOB mode, LobMaxSize 128 KB" in passed.output
