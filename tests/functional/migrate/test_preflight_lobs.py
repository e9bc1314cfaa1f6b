"""LOB safety in preflight, on the local stack: real PostgreSQL holds the values, moto's server
(over HTTP) holds the DMS task whose LOB settings are judged.

The 70 KB `answers.body` is repetitive text: PostgreSQL compresses it to well under 64 KB on
disk, so a measurement of the stored size (`pg_column_size`) would wave it through; DMS copies
the uncompressed value and would truncate it at 64 KB.
"""

from __future__ import annotations

from typing import Any

import pytest

from ops.migrate.phases import Phase, PhaseState
from tests.functional.replica.moto_dms import create_task, lob_settings, replace_task

from .conftest import World

pytestmark = pytest.mark.stack

CHECK = "LOB sizes vs replication LOB limit"
BODY = 70 * 1024


def checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["gate"]["checks"]}


@pytest.fixture
def long_answer(world: World) -> int:
    """One answer whose body is 70 KB; returns its id."""
    world.seed(couples=2, per_couple=4)
    [(answer_id,)] = world.sql(
        world.prod_url,
        "UPDATE answers SET body = repeat('x', %s) WHERE id = (SELECT min(id) FROM answers) RETURNING id",
        (BODY,),
    )
    [(stored,)] = world.sql(
        world.prod_url, "SELECT pg_column_size(body) FROM answers WHERE id = %s", (answer_id,)
    )
    assert stored < 64 * 1024  # the adversary: on disk it looks small
    return int(answer_id)


def _use_dms(monkeypatch: pytest.MonkeyPatch, arn: str) -> None:
    monkeypatch.setenv("OPS_REPLICA_DRIVER", "dms")
    monkeypatch.setenv("OPS_DMS_TASK_ARN", arn)


def test_preflight_refuses_a_lob_over_the_limit_and_passes_once_the_task_is_fixed(
    world: World, long_answer: int, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = create_task(unique_name, lob_settings(FullLobMode=False, LimitedSizeLobMode=True, LobMaxSize=64))
    _use_dms(monkeypatch, arn)

    code, doc = world.ops_json("preflight")
    assert code == 1
    failed = {c["name"] for c in doc["gate"]["checks"] if not c["ok"]}
    assert failed == {CHECK}
    check = checks(doc)[CHECK]
    assert check["measured"] == (
        "answers.body: largest value 71,680 B (exact, 8 rows) needs LobMaxSize >= 88 KB; "
        "the replication has limited LOB mode, LobMaxSize 64 KB (TargetMetadata)"
    )
    assert check["threshold"] == "full LOB mode, or LobMaxSize >= largest LOB value + 25%"
    assert "LimitedSizeLobMode=true with LobMaxSize >= 88 KB" in check["fix"]
    assert "FullLobMode=true" in check["fix"]
    assert f"aws dms modify-replication-task --replication-task-arn {arn}" in check["fix"]
    largest = {c["table"] + "." + c["column"]: c for c in doc["gate"]["evidence"]["lob_columns"]}
    assert largest["answers.body"]["max_bytes"] == BODY
    assert {"answers.metadata", "answers.photo_urls", "users.avatar", "couples.name"} <= set(largest)
    assert world.ledger.position().state == PhaseState.RUNNING

    # The fix the check names (moto has no ModifyReplicationTask: the task is re-created with the
    # new settings under the same identifier, which keeps its ARN in moto).
    assert replace_task(arn, lob_settings(FullLobMode=True, LimitedSizeLobMode=False, LobChunkSize=64)) == arn

    code, doc = world.ops_json("preflight")
    assert code == 0, [c for c in doc["gate"]["checks"] if not c["ok"]]
    check = checks(doc)[CHECK]
    assert check["ok"]
    assert check["measured"] == (
        "largest: answers.body 71,680 B (exact, 8 rows); full LOB mode, no size limit "
        "(TargetMetadata.FullLobMode=true)"
    )


@pytest.mark.parametrize(("limit_kb", "ok"), [(80, False), (88, True)])
def test_a_limited_mode_limit_must_clear_the_margin(  # noqa: PLR0917 - fixtures and parameters
    world: World, long_answer: int, unique_name: str, monkeypatch: pytest.MonkeyPatch, limit_kb: int, ok: bool
) -> None:
    _use_dms(
        monkeypatch, create_task(unique_name, lob_settings(LimitedSizeLobMode=True, LobMaxSize=limit_kb))
    )
    code, doc = world.ops_json("preflight")
    assert checks(doc)[CHECK]["ok"] is ok
    assert code == (0 if ok else 1)


def test_lobs_not_migrated_at_all_are_refused(
    world: World, long_answer: int, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_dms(monkeypatch, create_task(unique_name, {"TargetMetadata": {"SupportLobs": False}}))
    code, doc = world.ops_json("preflight")
    assert code == 1
    assert checks(doc)[CHECK]["measured"].startswith(
        "LOB columns of answers, couples, questions, users would not be"
    )


def test_a_large_table_is_sampled_unless_an_exact_scan_is_asked_for(
    world: World, long_answer: int, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.sql(
        world.prod_url,
        "INSERT INTO questions (body, category) SELECT 'q' || g, 'bulk' FROM generate_series(1, 4000) g",
    )
    world.sql(
        world.prod_url,
        "INSERT INTO answers (couple_id, question_id, user_id, body) "
        "SELECT a.couple_id, q.id, a.user_id, repeat('y', 200) FROM answers a, questions q "
        "WHERE a.id = %s AND q.category = 'bulk'",
        (long_answer,),
    )
    [(heap,)] = world.sql(world.prod_url, "SELECT pg_relation_size('answers')")
    [(rows,)] = world.sql(world.prod_url, "SELECT count(*) FROM answers")
    _use_dms(monkeypatch, create_task(unique_name, lob_settings(FullLobMode=True)))
    monkeypatch.setenv("OPS_LOB_SAMPLE_MB", str(heap / 10 / 2**20))

    code, doc = world.ops_json("preflight")
    assert code == 0, [c for c in doc["gate"]["checks"] if not c["ok"]]
    [body] = [
        c for c in doc["gate"]["evidence"]["lob_columns"] if c["table"] == "answers" and c["column"] == "body"
    ]
    assert body["method"].startswith("sample of 10% of")
    assert 0 < body["rows_read"] < rows
    assert "`ops replica check --lob-scan exact` reads every row" in checks(doc)[CHECK]["measured"]

    world.ledger.set_phase(Phase.PREFLIGHT, PhaseState.FAILED, "test")
    code, doc = world.ops_json("preflight", "--lob-scan", "exact")
    assert code == 0
    [body] = [
        c for c in doc["gate"]["evidence"]["lob_columns"] if c["table"] == "answers" and c["column"] == "body"
    ]
    assert (body["method"], body["rows_read"], body["max_bytes"]) == (f"exact, {rows:,} rows", rows, BODY)
