"""The DMS driver and its gate, fed by botocore's Stubber with responses shaped like AWS's.

moto implements neither DescribeTableStatistics nor the task states after "creating", so the
status path is exercised here; Stubber also checks every response against the service model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from ops.replica import DmsReplicaDriver, ReplicaError, replica_gate
from tests.unit.replica.dms_stubs import (
    TABLES,
    TASK_ARN,
    clients,
    describe_task,
    scenario,
    stub_task_status,
)

ARN = TASK_ARN


def _status(name: str) -> Any:
    dms, cw = clients()
    with Stubber(dms) as dms_stub, Stubber(cw) as cw_stub:
        stub_task_status(dms_stub, cw_stub, scenario(name))
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
    dms, cw = clients()
    with Stubber(dms) as dms_stub, Stubber(cw) as cw_stub:
        stub_task_status(dms_stub, cw_stub, scenario("complete"))
        driver = DmsReplicaDriver(ARN, tables=[*TABLES, "outbox"], dms_client=dms, cloudwatch_client=cw)
        status = driver.status()
    gate = replica_gate(status, 30)
    assert [c.name for c in gate.failed] == ["outbox: full load", "outbox: validation"]


@pytest.mark.parametrize(
    ("start_date", "expected_kind"),
    [(None, "start-replication"), ("2026-11-25T10:00:00Z", "resume-processing")],
)
def test_start_chooses_fresh_start_or_resume(start_date: str | None, expected_kind: str) -> None:
    dms, cw = clients()
    task = scenario("complete")["task"]
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
    dms, cw = clients()
    with Stubber(dms) as stub:
        stub.add_client_error(
            "start_replication_task",
            service_error_code="InvalidResourceStateFault",
            service_message="Task is currently being modified",
        )
        with pytest.raises(ReplicaError, match="InvalidResourceStateFault: Task is currently being modified"):
            DmsReplicaDriver(ARN, dms_client=dms, cloudwatch_client=cw).resume()


@pytest.mark.parametrize(
    "arn",
    [
        "couple-diary-task",
        "arn:aws:dms:us-east-1:123456789012:endpoint:SOURCEENDPOINTID",
        "arn:aws:rds:us-east-1:123456789012:task:VQ7XEMPLAR3DTASKID",
        "arn:aws:dms:us-east-1:123456789012:task:",
    ],
)
def test_rejects_an_arn_of_neither_kind(arn: str) -> None:
    with pytest.raises(ReplicaError, match=r"neither a DMS replication task ARN .* nor a DMS Serverless"):
        DmsReplicaDriver(arn, dms_client=object(), cloudwatch_client=object())


def test_suspended_validation_records_fail_the_table_as_mismatched() -> None:
    """Suspended records are rows DMS could not compare (a truncated LOB among them): the table is
    mismatched, with the LOB fix, even while its ValidationState still reads "Pending records"."""
    dms, cw = clients()
    scene = scenario("complete")
    answers = scene["pages"][-1][-1]
    assert answers["TableName"] == "answers"
    answers.update(
        ValidationState="Pending records", ValidationPendingRecords=10, ValidationSuspendedRecords=3
    )
    with Stubber(dms) as dms_stub, Stubber(cw) as cw_stub:
        stub_task_status(dms_stub, cw_stub, scene)
        status = DmsReplicaDriver(ARN, tables=TABLES, dms_client=dms, cloudwatch_client=cw).status()
    gate = replica_gate(status, 30, TABLES)
    (check,) = gate.failed
    assert check.name == "answers: validation"
    assert check.measured.startswith("mismatched")
    assert "0 failed, 3 suspended records" in status.table("answers").detail
    assert "LOB" in check.fix and "ops replica check --lob-scan exact" in check.fix


@pytest.mark.parametrize(("status", "calls"), [("running", 1), ("stopped", 0), ("stopping", 0)])
def test_stop_only_stops_what_runs(status: str, calls: int) -> None:
    dms, cw = clients()
    task = {**scenario("complete")["task"], "Status": status}
    with Stubber(dms) as stub:
        describe_task(stub, task)
        if calls:
            stub.add_response(
                "stop_replication_task",
                {"ReplicationTask": {**task, "Status": "stopping"}},
                {"ReplicationTaskArn": ARN},
            )
        DmsReplicaDriver(ARN, dms_client=dms, cloudwatch_client=cw).stop()
        stub.assert_no_pending_responses()


def test_task_settings_and_table_mappings_give_each_tables_lob_limit() -> None:
    from ops.replica.lobs import dms_limits

    dms, cw = clients()
    task = {
        **scenario("complete")["task"],
        "ReplicationTaskSettings": json.dumps(
            {
                "TargetMetadata": {
                    "SupportLobs": True,
                    "FullLobMode": False,
                    "LimitedSizeLobMode": True,
                    "LobMaxSize": 64,
                }
            }
        ),
        "TableMappings": json.dumps(
            {
                "rules": [
                    {
                        "rule-type": "selection",
                        "rule-id": "1",
                        "rule-name": "include",
                        "object-locator": {"schema-name": "public", "table-name": "%"},
                        "rule-action": "include",
                    },
                    {
                        "rule-type": "table-settings",
                        "rule-id": "2",
                        "rule-name": "users-full-lob",
                        "object-locator": {"schema-name": "public", "table-name": "users"},
                        "lob-settings": {"mode": "unlimited", "bulk-max-size": "0"},
                    },
                ]
            }
        ),
    }
    with Stubber(dms) as stub:
        describe_task(stub, task, with_settings=True)
        configuration = DmsReplicaDriver(ARN, dms_client=dms, cloudwatch_client=cw).configuration()
    assert configuration.settings_name == "task settings"
    assert configuration.source_endpoint_arn == task["SourceEndpointArn"]
    limits = dms_limits(configuration.settings, configuration.table_mappings, TABLES, "public")
    assert limits["answers"].mode == "limited" and limits["answers"].max_kb == 64
    assert limits["users"].mode == "full" and "users-full-lob" in limits["users"].origin


def test_source_username_comes_from_the_source_endpoint() -> None:
    dms, cw = clients()
    task = scenario("complete")["task"]
    with Stubber(dms) as stub:
        describe_task(stub, task, with_settings=True)
        stub.add_response(
            "describe_endpoints",
            {
                "Endpoints": [
                    {
                        "EndpointIdentifier": "couple-diary-source",
                        "EndpointType": "SOURCE",
                        "EngineName": "postgres",
                        "Username": "dms_replication",
                        "EndpointArn": task["SourceEndpointArn"],
                    }
                ]
            },
            {"Filters": [{"Name": "endpoint-arn", "Values": [task["SourceEndpointArn"]]}]},
        )
        assert (
            DmsReplicaDriver(ARN, dms_client=dms, cloudwatch_client=cw).source_username() == "dms_replication"
        )
        stub.assert_no_pending_responses()
