"""Pure parts of the dual-write layer: metric batching and the repair's per-key plan."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from opstestkit.clock import ManualClock

from ops.dualwrite.metrics import Metrics
from ops.dualwrite.repair import latest_per_key
from ops.mapping import is_tombstone, load_mapping

ANSWERS = load_mapping().table("answers")


@pytest.fixture
def cloudwatch(in_process_aws: None) -> Any:
    return boto3.client("cloudwatch", region_name="us-east-1")


def test_metrics_are_aggregated_and_sent_once_per_interval(cloudwatch: Any) -> None:
    calls: list[dict[str, Any]] = []
    real = cloudwatch.put_metric_data

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    cloudwatch.put_metric_data = spy
    clock = ManualClock()
    metrics = Metrics(
        "Test/NS", dimensions={"Table": "answers"}, cloudwatch=cloudwatch, interval_seconds=10, clock=clock
    )
    for _ in range(500):
        metrics.add("ShadowCompared")
    metrics.add("ShadowMismatches", 3)
    assert calls == []
    clock.now = 10.0
    metrics.add("ShadowCompared")
    assert len(calls) == 1
    sent = {d["MetricName"]: d["Value"] for d in calls[0]["MetricData"]}
    assert sent == {"ShadowCompared": 501.0, "ShadowMismatches": 3.0}
    assert calls[0]["MetricData"][0]["Dimensions"] == [{"Name": "Table", "Value": "answers"}]
    assert metrics.count("ShadowCompared") == 501
    metrics.flush()
    assert len(calls) == 1  # nothing pending, nothing sent


def test_a_failing_metrics_backend_never_raises() -> None:
    class Broken:
        def put_metric_data(self, **_: Any) -> None:
            raise ConnectionError("cloudwatch down")

    metrics = Metrics("Test/NS", cloudwatch=Broken(), interval_seconds=0)
    metrics.add("DynamoWriteFailures")
    assert metrics.flush_failures == 1
    assert metrics.count("DynamoWriteFailures") == 1


def _entry(outbox_id: int, version: int, exists: bool, op: str = "upsert", **row: Any) -> dict[str, Any]:
    key = {"couple_id": 1, "question_id": 2, "user_id": 1}
    base: dict[str, Any] = dict.fromkeys(ANSWERS.columns)
    if exists:
        base.update(key)
        base.update({"id": 9, "body": "now", "photo_urls": [], "version": row.get("current", version)})
    return {
        "outbox_id": outbox_id,
        "outbox_op": op,
        "outbox_version": version,
        **{f"key_{c}": v for c, v in key.items()},
        "row_exists": exists,
        **base,
    }


def test_repair_writes_one_current_item_per_key() -> None:
    work = latest_per_key(ANSWERS, [_entry(1, 5, True, current=8), _entry(2, 8, True, current=8)], 0)
    assert len(work) == 1
    assert work[0].ids == [1, 2]
    assert work[0].item is not None and work[0].item["_ver"] == {"N": "8"}


def test_repair_writes_a_tombstone_with_the_newest_version_for_a_gone_row() -> None:
    work = latest_per_key(ANSWERS, [_entry(1, 5, False), _entry(2, 7, False, op="delete")], 1_900_000_000)
    assert len(work) == 1 and work[0].kind == "tombstone"
    assert work[0].item is not None and is_tombstone(work[0].item)
    assert work[0].item["_ver"] == {"N": "7"}
    assert work[0].item["pk"] == {"S": "COUPLE#1"}


def test_repair_keeps_a_row_dynamodb_cannot_hold_as_a_failure() -> None:
    bad = _entry(1, 5, True)
    bad["body"] = "x" * 500_000
    work = latest_per_key(ANSWERS, [bad], 0)
    assert work[0].item is None and work[0].kind == "row_error"
    assert "400 KB" in work[0].error
