"""The reverse Lambda's handler on a stream event as the event source mapping delivers it: the
changes reach PostgreSQL, counts land in the status, and a change PostgreSQL refuses is reported
as the batch's first failure (the mapping retries from it) and logged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdas.reverse import handler
from ops import aws
from ops.control import ControlTable
from ops.mapping import load_mapping
from ops.reverse import ReverseState
from ops.schema import apply_migrations
from ops.tables import ensure_pk_sk_table
from tests.functional.replica.seed import seed_domain

pytestmark = pytest.mark.stack

ANSWERS = load_mapping().table("answers")
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _record(seq: int, couple: int, version: int, body: str) -> dict[str, Any]:
    row = dict.fromkeys(ANSWERS.columns)
    row.update(
        id=5_000_000 + seq,
        couple_id=couple,
        question_id=1,
        user_id=2 * couple - 1,
        body=body,
        photo_urls=[],
        version=version,
        created_at=NOW,
        updated_at=NOW,
    )
    return {
        "eventID": str(seq),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_796_000_000.0,
            "Keys": {"pk": ANSWERS.key(row)["pk"], "sk": ANSWERS.key(row)["sk"]},
            "NewImage": ANSWERS.encode(row),
            "SequenceNumber": f"{seq:021d}",
            "StreamViewType": "NEW_IMAGE",
        },
    }


def _metrics(printed: str) -> dict[str, tuple[float, str, str, dict[str, str]]]:
    """The embedded-metric lines a batch printed: name -> (value, unit, namespace, dimensions)."""
    found = {}
    for line in printed.splitlines():
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        dims = {name: document[name] for name in directive["Dimensions"][0]}
        found[metric["Name"]] = (document[metric["Name"]], metric["Unit"], directive["Namespace"], dims)
    return found


def test_the_handler_applies_a_batch_and_reports_the_first_failure(
    stack: Any,
    prod_db: str,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    apply_migrations(prod_db)
    seed_domain(prod_db, 0, couples=2, questions=2)
    ensure_pk_sk_table(unique_name)
    monkeypatch.setenv("DATABASE_URL", prod_db)
    monkeypatch.setenv("OPS_CONTROL_TABLE", unique_name)
    monkeypatch.setenv("OPS_DATASET", "answers")
    monkeypatch.setenv("OPS_METRICS_NAMESPACE", "Test/Reverse")
    handler.applier.cache_clear()
    try:
        ok = handler.handler({"Records": [_record(1, 1, 10, "a"), _record(2, 2, 10, "b")]}, None)
        assert ok == {"batchItemFailures": []}
        capsys.readouterr()
        # Couple 99 does not exist in PostgreSQL: that change fails, the ones around it apply.
        batch = [_record(3, 1, 20, "a2"), _record(4, 99, 10, "orphan"), _record(5, 2, 20, "b2")]
        assert handler.handler({"Records": batch}, None) == {
            "batchItemFailures": [{"itemIdentifier": f"{4:021d}"}]
        }
        import psycopg

        with psycopg.connect(prod_db) as conn:
            bodies = dict(conn.execute("SELECT couple_id, body FROM answers").fetchall())
        assert bodies == {1: "a2", 2: "b2"}
        state = ReverseState(ControlTable(unique_name), "answers")
        assert state.status().applied == 4
        assert [f["item_pk"] for f in state.failures()] == ["COUPLE#99"]
        # What the lag alarm watches on AWS, where no poller runs: the batch's own measurements.
        metrics = _metrics(capsys.readouterr().out)
        where = ("Test/Reverse", {"Table": "answers"})
        assert metrics["ReverseReplicationApplied"] == (2, "Count", *where)
        assert metrics["ReverseReplicationFailures"] == (1, "Count", *where)
        lag, unit, *at = metrics["ReverseReplicationLagSeconds"]
        assert (unit, at) == ("Seconds", list(where))
        assert lag == state.status().lag_seconds and lag > 0
    finally:
        handler.applier().pool.close()
        handler.applier.cache_clear()
        aws.client("dynamodb").delete_table(TableName=unique_name)
