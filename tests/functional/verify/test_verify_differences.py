"""Each kind of difference is reported exactly, with its key; repair then verify is clean."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from ops.verify import verify_gate
from tests.functional.verify.conftest import World

pytestmark = pytest.mark.stack


def _inject(world: World) -> dict[str, dict[str, Any]]:
    rows = world.rows()
    changed, missing, stale, drift = rows[3], rows[60], rows[100], rows[140]
    ddb, target = world.ddb, world.target
    item = world.tm.encode(changed)
    ddb.put_item(TableName=target, Item={**item, "body": {"S": "tampered"}})
    ddb.delete_item(TableName=target, Key=world.tm.key(missing))
    ddb.put_item(TableName=target, Item=world.tm.tombstone(stale, stale["version"], time.time() + 3600))
    item = world.tm.encode(drift)
    ddb.put_item(TableName=target, Item={**item, "mood": {"S": item["mood"]["N"]}})
    extra = {**world.tm.encode({**rows[0], "question_id": 999_999}), "answerId": {"N": "999999"}}
    ddb.put_item(TableName=target, Item=extra)
    # A tombstone without a row is what a delete leaves: not an extra item.
    gone = world.tm.encode({**rows[0], "question_id": 888_888})
    ddb.put_item(TableName=target, Item=world.tm.tombstone(gone, 1, time.time() + 3600))
    return {"changed": changed, "missing": missing, "stale": stale, "drift": drift, "extra": extra}


def _by_kind(samples: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        out.setdefault(s["kind"], []).append(s)
    return out


def test_clean_copy_is_clean_and_passes_the_gate(world: World) -> None:
    world.copy_all()
    result = world.verify()
    assert result.clean, result.samples
    assert (result.rows_compared, result.matching, result.items_scanned) == (150, 150, 150)
    gate = verify_gate(world.control, f"answers-{world.target}", table="answers")
    assert gate.ok, gate.failed
    assert gate.evidence["rows_compared"] == 150


def test_every_injected_difference_is_reported_with_its_key_then_repaired(world: World) -> None:
    world.copy_all()
    injected = _inject(world)
    result = world.verify()
    assert (result.mismatched, result.missing, result.stale_tombstones, result.extra, result.errors) == (
        2,
        2,
        1,
        1,
        0,
    )
    assert result.rows_compared == 150 and result.matching == 146
    kinds = _by_kind(result.samples)
    mismatched = {s["key"]["id"]: s for s in kinds["mismatched"]}
    assert set(mismatched) == {injected["changed"]["id"], injected["drift"]["id"]}
    assert mismatched[injected["changed"]["id"]]["diff"] == {
        "body": [{"S": injected["changed"]["body"]}, {"S": "tampered"}]
    }
    mood = str(injected["drift"]["mood"])
    assert mismatched[injected["drift"]["id"]]["diff"] == {"mood": [{"N": mood}, {"S": mood}]}
    assert [s["key"] for s in kinds["missing"]] == [{"id": injected["missing"]["id"]}]
    assert [s["key"] for s in kinds["stale_tombstone"]] == [{"id": injected["stale"]["id"]}]
    assert [(s["pk"], s["sk"]) for s in kinds["extra"]] == [
        (injected["extra"]["pk"]["S"], injected["extra"]["sk"]["S"])
    ]
    gate = verify_gate(world.control, f"answers-{world.target}", table="answers")
    assert [c.name for c in gate.failed] == ["differences"]
    assert "2 mismatched, 2 missing, 1 extra" in gate.failed[0].measured

    plan = world.verify(repair=True, dry_run=True)
    assert plan.repaired == 0 and len(plan.repair_actions) == 5
    assert {a["result"] for a in plan.repair_actions} == {"planned"}
    assert {(a["action"], a["kind"]) for a in plan.repair_actions} == {
        ("put", "mismatched"),
        ("put", "missing"),
        ("put", "stale_tombstone"),
        ("tombstone", "extra"),
    }
    assert world.item(injected["missing"]) is None  # the dry run changed nothing

    repaired = world.verify(repair=True)
    assert repaired.repaired == 5 and repaired.repair_skipped == 0
    after = world.verify()
    assert after.clean, after.samples
    assert verify_gate(world.control, f"answers-{world.target}", table="answers").ok


def test_sampled_run_reads_a_fraction_and_does_not_pass_the_gate(world: World) -> None:
    world.copy_all()
    result = world.verify(sample_percent=30)
    assert 0 < result.rows_compared < 150 and result.clean
    gate = verify_gate(world.control, f"answers-{world.target}", table="answers")
    assert [(c.name, c.measured) for c in gate.failed] == [
        ("full verification recorded", "newest run: 30% sample")
    ]


def test_unencodable_row_is_reported_not_crashed(world: World) -> None:
    world.copy_all()
    with psycopg.connect(world.url, autocommit=True) as conn:
        bad = conn.execute(
            "UPDATE answers SET score = 1e40 + 1 WHERE id = (SELECT min(id) FROM answers) RETURNING id"
        ).fetchone()
    assert bad is not None
    result = world.verify(repair=True, dry_run=True)
    assert result.errors == 1 and result.repair_skipped == 1
    (sample,) = [s for s in result.samples if s["kind"] == "unencodable"]
    assert sample["key"] == {"id": bad[0]} and "38" in sample["reason"]
