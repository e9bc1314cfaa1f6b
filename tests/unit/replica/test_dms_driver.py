"""The DMS driver and its gate, fed by botocore's Stubber with responses shaped like AWS's.

moto implements neither DescribeTableStatistics nor the task states after "creating", so the
status path is exercised here; Stubber also checks every response against the service model.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.replica import DmsReplicaDriver, ReplicaError, replica_gate

RESPONSES = Path(__file__).parent / "responses"
TABLES = ["couples", "users", "questions", "answers"]
ARN = "arn:aws:dms:us-east-1:123456789012:task:VQ7XEMPLAR3DTASKID"
INSTANCE_ARN = "arn:aws:dms:us-east-1:123456789012:rep:ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v) if isinstance(v, str) and k.endswith(("Date", "Time")) else _dates(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return value


def _at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-25T{clock}:00Z")


def _scenario(name: str) -> dict[str, Any]:
    body = json.loads((RESPONSES / f"{name}.json").read_text())
    return {k: _dates(v) for k, v in body.items() if not k.startswith("_")}


def _clients() -> tuple[Any, Any]:
    kw = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client("dms", **kw), boto3.client("cloudwatch", **kw)


def _stub_status(dms: Stubber, cw: Stubber, scenario: dict[str, Any]) -> None:
    dms.add_response(
        "describe_replication_tasks",
        {"ReplicationTasks": [scenario["task"]]},
        {"Filters": [{"Name": "replication-task-arn", "Values": [ARN]}], "WithoutSettings": True},
    )
    pages = scenario["pages"]
    for i, page in enumerate(pages):
        response: dict[str, Any] = {"ReplicationTaskArn": ARN, "TableStatistics": page}
        expected: dict[str, Any] = {"ReplicationTaskArn": ARN, "MaxRecords": 500}
        if i + 1 < len(pages):
            response["Marker"] = f"page-{i + 1}"
        if i:
            expected["Marker"] = f"page-{i}"
        dms.add_response("describe_table_statistics", response, expected)
    dms.add_response(
        "describe_replication_instances",
        {
            "ReplicationInstances": [
                {"ReplicationInstanceIdentifier": "couple-diary-dms", "ReplicationInstanceArn": INSTANCE_ARN}
            ]
        },
        {"Filters": [{"Name": "replication-instance-arn", "Values": [INSTANCE_ARN]}]},
    )
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        value = scenario["latency"][metric]
        points = (
            []
            if value is None
            else [
                {"Timestamp": _at("11:58"), "Maximum": 0.5, "Unit": "Seconds"},
                {"Timestamp": _at("11:59"), "Maximum": value, "Unit": "Seconds"},
            ]
        )
        cw.add_response(
            "get_metric_statistics",
            {"Label": metric, "Datapoints": list(reversed(points))},
            {
                "Namespace": "AWS/DMS",
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "ReplicationInstanceIdentifier", "Value": "couple-diary-dms"},
                    {"Name": "ReplicationTaskIdentifier", "Value": "VQ7XEMPLAR3DTASKID"},
                ],
                "StartTime": ANY,
                "EndTime": ANY,
                "Period": 60,
                "Statistics": ["Maximum"],
            },
        )


def _status(name: str) -> Any:
    dms, cw = _clients()
    with Stubber(dms) as dms_stub, Stubber(cw) as cw_stub:
        _stub_status(dms_stub, cw_stub, _scenario(name))
        status = DmsReplicaDriver(ARN, tables=TABLES, dms_client=dms, cloudwatch_client=cw).status()
        dms_stub.assert_no_pending_responses()
        cw_stub.assert_no_pending_responses()
    return status


def test_complete_task_passes_the_gate() -> None:
    status = _status("complete")
    assert status.state == "running"
    assert status.lag_seconds == 3.0  # newest datapoint of the larger metric, not the older 0.5
    assert [t.table for t in status.tables] == TABLES  # both pages read
    assert all(t.full_load_complete and t.validation == "clean" for t in status.tables)
    assert status.table("answers").target_rows == 1000 + 10 - 2
    assert status.detail["full_load_progress_percent"] == 100
    gate = replica_gate(status, 30, TABLES)
    assert gate.ok, gate.failed


def test_in_progress_task_names_the_tables_still_loading() -> None:
    status = _status("in_progress")
    gate = replica_gate(status, 30, TABLES)
    failed = {c.name: c for c in gate.failed}
    assert set(failed) == {
        "questions: full load",
        "questions: validation",
        "answers: full load",
        "answers: validation",
        "lag",
    }
    assert failed["answers: full load"].measured.startswith("Full load")
    assert failed["answers: validation"].measured.startswith("pending")
    assert failed["lag"].measured == "unknown"
    assert status.detail["full_load_progress_percent"] == 45


def test_failed_validation_is_refused_with_the_fix() -> None:
    gate = replica_gate(_status("failed_validation"), 30, TABLES)
    assert [c.name for c in gate.failed] == ["answers: validation"]
    check = gate.failed[0]
    assert check.measured.startswith("mismatched")
    assert "validation failures" in check.fix


def test_high_latency_is_refused() -> None:
    gate = replica_gate(_status("high_latency"), 30, TABLES)
    assert [(c.name, c.measured) for c in gate.failed] == [("lag", "95.0s")]
    assert replica_gate(_status("high_latency"), 120, TABLES).ok


def test_failed_task_reports_state_and_failure_message() -> None:
    status = _status("failed_task")
    gate = replica_gate(status, 30, TABLES)
    names = [c.name for c in gate.failed]
    assert names[0] == "replica running" and gate.failed[0].measured == "failed"
    assert "answers: full load" in names and "answers: validation" in names
    assert "out of memory" in status.detail["last_failure_message"]


def test_missing_table_in_statistics_fails_the_gate() -> None:
    dms, cw = _clients()
    scenario = _scenario("complete")
    with Stubber(dms) as dms_stub, Stubber(cw) as cw_stub:
        _stub_status(dms_stub, cw_stub, scenario)
        driver = DmsReplicaDriver(ARN, tables=[*TABLES, "outbox"], dms_client=dms, cloudwatch_client=cw)
        status = driver.status()
    gate = replica_gate(status, 30)
    assert [c.name for c in gate.failed] == ["outbox: full load", "outbox: validation"]


@pytest.mark.parametrize(
    ("start_date", "expected_kind"),
    [(None, "start-replication"), ("2026-11-25T10:00:00Z", "resume-processing")],
)
def test_start_chooses_fresh_start_or_resume(start_date: str | None, expected_kind: str) -> None:
    dms, cw = _clients()
    task = _scenario("complete")["task"]
    task["Status"] = "ready" if start_date is None else "stopped"
    if start_date is None:
        task.pop("ReplicationTaskStartDate")
    with Stubber(dms) as stub:
        stub.add_response("describe_replication_tasks", {"ReplicationTasks": [task]})
        stub.add_response(
            "start_replication_task",
            {"ReplicationTask": {**task, "Status": "starting"}},
            {"ReplicationTaskArn": ARN, "StartReplicationTaskType": expected_kind},
        )
        DmsReplicaDriver(ARN, dms_client=dms, cloudwatch_client=cw).start()
        stub.assert_no_pending_responses()


def test_refusal_from_dms_becomes_an_operator_error() -> None:
    dms, cw = _clients()
    with Stubber(dms) as stub:
        stub.add_client_error(
            "start_replication_task",
            service_error_code="InvalidResourceStateFault",
            service_message="Task is currently being modified",
        )
        with pytest.raises(ReplicaError, match="InvalidResourceStateFault: Task is currently being modified"):
            DmsReplicaDriver(ARN, dms_client=dms, cloudwatch_client=cw).resume()


def test_rejects_something_that_is_not_a_task_arn() -> None:
    with pytest.raises(ReplicaError, match="not a DMS replication task ARN"):
        DmsReplicaDriver("couple-diary-task", dms_client=object(), cloudwatch_client=object())
