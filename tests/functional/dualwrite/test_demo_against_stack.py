"""`ops demo seed`, `ops demo traffic` and `ops repair outbox` against the local stack."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from ops import aws
from ops.cli.main import app
from ops.demo.seed import seed_database
from ops.demo.traffic import run_traffic
from ops.dualwrite import Metrics, Repository, make_pool, pending_outbox
from ops.exceptions import OpsError
from ops.flags import FixedMode, Mode
from ops.mapping import configure_connection, is_tombstone, load_mapping
from ops.settings import Settings
from ops.tables import ensure_target_table

pytestmark = pytest.mark.stack
ANSWERS = load_mapping().table("answers")


@pytest.fixture
def target(stack: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    ddb = aws.client("dynamodb")
    ensure_target_table(unique_name, ddb)
    monkeypatch.setenv("OPS_TARGET_TABLE", unique_name)
    yield unique_name
    ddb.delete_table(TableName=unique_name)


def test_seed_fills_realistic_rows_that_all_encode(prod_db: str) -> None:
    result = seed_database(prod_db, 20_000)
    assert result.answers == 20_000
    with psycopg.connect(prod_db) as conn:
        configure_connection(conn)
        stats = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE mood IS NULL),"
            " count(*) FILTER (WHERE photo_urls = '{}'),"
            " count(*) FILTER (WHERE body = ''), count(*) FILTER (WHERE body ~ '[가-힣]'),"
            " max(octet_length(metadata::text)), count(*) FILTER (WHERE metadata IS NULL),"
            " (SELECT max(c) FROM (SELECT count(*) c FROM answers GROUP BY couple_id) x) FROM answers"
        ).fetchone()
        assert stats is not None
        total, null_moods, empty_arrays, empty_bodies, korean, biggest_json, null_json, top_couple = stats
        assert total == 20_000
        assert null_moods and empty_arrays and empty_bodies and korean and null_json
        assert biggest_json > 10_000
        assert top_couple >= 500
        cur = conn.cursor(row_factory=dict_row)
        cur.execute("SELECT * FROM answers")
        for row in cur:
            ANSWERS.encode(row)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO answers (couple_id, question_id, user_id, body) SELECT couple_id, question_id,"
                " user_id, 'dup' FROM answers LIMIT 1"
            )
    with pytest.raises(OpsError, match="--truncate"):
        seed_database(prod_db, 10)
    assert seed_database(prod_db, 100, truncate=True).answers == 100


def test_traffic_in_dual_write_leaves_both_sides_equal(prod_db: str, target: str) -> None:
    seed_database(prod_db, 3000)
    pool = make_pool(prod_db, max_size=8)
    try:
        repo = Repository(
            ANSWERS,
            pool,
            target_table=target,
            settings=Settings.from_env(),
            modes=FixedMode(Mode.DUAL_WRITE),
            metrics=Metrics("PlatformOps/Test", enabled=False),
        )
        result = run_traffic(repo, rps=120, duration=2.5, seed=7)
        assert result.error_count == 0, result.error_examples
        assert result.total == 300
        assert all(result.done[op] > 0 for op in ("create", "update", "delete", "get", "query")), (
            dict(result.done),
            dict(result.conflicts),
        )
        assert result.outbox_pending == 0
        with pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            # Rows the traffic wrote carry versions above the seed's.
            cur.execute("SELECT * FROM answers WHERE version > 3001")
            touched = cur.fetchall()
        assert touched
        ddb = aws.client("dynamodb")
        for row in touched:
            item = ddb.get_item(TableName=target, Key=ANSWERS.key(row), ConsistentRead=True)["Item"]
            assert ANSWERS.diff(ANSWERS.encode(row), item) == {}
        deleted = result.done["delete"]
        items = [i for page in ddb.get_paginator("scan").paginate(TableName=target) for i in page["Items"]]
        stones = [i for i in items if is_tombstone(i)]
        # A deleted answer can be answered again later in the run (same couple, question and user):
        # its tombstone is then replaced by the new row's item. So: at most one tombstone per
        # delete, and every item agrees with PostgreSQL about whether the row exists.
        assert 0 < len(stones) <= deleted
        with pool.connection() as conn:
            for item in items:
                couple = int(item["pk"]["S"].split("#")[1])
                _, question, user = item["sk"]["S"].split("#")
                found = conn.execute(
                    "SELECT 1 FROM answers WHERE couple_id = %s AND question_id = %s AND user_id = %s",
                    (couple, int(question), int(user)),
                ).fetchone()
                assert (found is None) == is_tombstone(item), item
    finally:
        pool.close()


def _traffic(runner: CliRunner, prod_db: str, mode: str, *, duration: str, seed: str) -> dict[str, Any]:
    """`ops demo traffic` at 40 requests a second in `mode`; its JSON report."""
    argv = ["demo", "traffic", "--rps", "40", "--duration", duration, "--mode", mode]
    result = runner.invoke(app, [*argv, "--database-url", prod_db, "--json", "--seed", seed])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_cli_seed_traffic_and_repair(prod_db: str, target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    seeded = runner.invoke(app, ["demo", "seed", "--rows", "1000", "--database-url", prod_db, "--json"])
    assert seeded.exit_code == 0, seeded.output
    assert json.loads(seeded.stdout)["answers"] == 1000
    report = _traffic(runner, prod_db, "dual_write_shadow", duration="1.5", seed="3")
    assert report["mode"] == "dual_write_shadow"
    assert report["errors"] == {}
    assert report["dual_write"].get("ShadowCompared", 0) > 0

    # Writes while DynamoDB is unreachable stay in the outbox; `ops repair outbox` drains them.
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws.reset()
    outage = _traffic(runner, prod_db, "dual_write", duration="1", seed="4")
    assert outage["errors"] == {}
    assert outage["dual_write"]["DynamoWriteFailures"] == outage["outbox_pending"] > 0
    monkeypatch.undo()
    monkeypatch.setenv("OPS_TARGET_TABLE", target)
    aws.reset()
    pool = make_pool(prod_db, max_size=2)
    pending = pending_outbox(pool)
    pool.close()
    assert pending > 0
    dry = runner.invoke(app, ["repair", "outbox", "--database-url", prod_db, "--dry-run", "--json"])
    assert json.loads(dry.output)["pending"] == pending
    done = runner.invoke(app, ["repair", "outbox", "--database-url", prod_db, "--table", target, "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["remaining"] == 0 and summary["drained"] == pending


def test_traffic_stopped_early_prints_its_report(prod_db: str, target: str) -> None:
    seed_database(prod_db, 500)
    env = {**os.environ, "PROD_DATABASE_URL": prod_db, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops",
            "demo",
            "traffic",
            "--rps",
            "20",
            "--duration",
            "600",
            "--mode",
            "dual_write",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped early after" in err
    assert "traffic: " in out and "operations in" in out
    assert "modes followed: dual_write" in out
    assert "errors: none" in out


def test_seed_with_the_stack_down_says_so_without_a_traceback(stack: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{closed}/diary"
    done = subprocess.run(
        [sys.executable, "-m", "ops", "demo", "seed", "--rows", "10", "--database-url", url],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot reach PostgreSQL" in done.stderr and "ops sandbox up" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_repair_progress_counts_rows_written_while_it_drains(
    prod_db: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ops.dualwrite

    seed_database(prod_db, 50)
    with psycopg.connect(prod_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO outbox (table_name, row_key, op, version) SELECT 'answers', "
            "jsonb_build_object('couple_id', couple_id, 'question_id', question_id, 'user_id', user_id), "
            "'upsert', version FROM answers LIMIT 1"
        )
    # The count is taken before the drain; a row the application adds meanwhile is drained too.
    monkeypatch.setattr(ops.dualwrite, "pending_outbox", lambda _pool: 0)
    monkeypatch.setenv("COLUMNS", "200")
    out = CliRunner().invoke(app, ["repair", "outbox", "--database-url", prod_db])
    assert out.exit_code == 0, out.output
    assert "1/1" in out.stderr and "1/0" not in out.stderr
    assert "written 1" in out.stdout
