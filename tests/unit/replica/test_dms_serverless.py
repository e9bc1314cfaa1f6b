"""The DMS driver on a DMS Serverless replication config ARN, fed by botocore's Stubber.

moto serves no replication configs, so every DMS call here is stubbed; Stubber refuses a request
or a response that does not fit botocore's DMS service model, so the driver is held to the real
StartReplication / DescribeReplications / StopReplication / DescribeReplicationTableStatistics
shapes. The same gate judges the result as for a classic task.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.stub import Stubber

from ops.replica import DmsReplicaDriver, ReplicaError, make_driver, replica_gate
from ops.replica.lobs import dms_limits
from tests.unit.replica.dms_stubs import (
    CONFIG_ARN,
    TABLES,
    clients,
    describe_replication,
    scenario,
    stub_serverless_status,
)


def _driver(dms: Any, cw: Any) -> DmsReplicaDriver:
    return DmsReplicaDriver(CONFIG_ARN, tables=TABLES, dms_client=dms, cloudwatch_client=cw)


def _status(name: str) -> Any:
    dms, cw = clients()
    with Stubber(dms) as dms_stub, Stubber(cw) as cw_stub:
        stub_serverless_status(dms_stub, cw_stub, scenario(name))
        status = _driver(dms, cw).status()
        dms_stub.assert_no_pending_responses()
        cw_stub.assert_no_pending_responses()
    return status


def _act_on(status: str, action: str, call: tuple[str, str, dict[str, Any]] | None) -> None:
    """Run the driver's `action` ("start" or "stop") on a replication in `status`; `call` is the
    one DMS request it must make (operation, the status DMS answers with, the request's parameters
    besides the config ARN), or None for none at all."""
    dms, cw = clients()
    replication = {**scenario("serverless_running")["replication"], "Status": status}
    with Stubber(dms) as stub:
        describe_replication(stub, [replication])
        if call:
            operation, new_status, params = call
            stub.add_response(
                operation,
                {"Replication": {**replication, "Status": new_status}},
                {"ReplicationConfigArn": CONFIG_ARN, **params},
            )
        getattr(_driver(dms, cw), action)()
        stub.assert_no_pending_responses()


def test_the_arn_chooses_the_serverless_api() -> None:
    dms, cw = clients()
    driver = DmsReplicaDriver(CONFIG_ARN, dms_client=dms, cloudwatch_client=cw)
    assert driver.kind == "replication-config"
    task = DmsReplicaDriver(
        CONFIG_ARN.replace("replication-config", "task"), dms_client=dms, cloudwatch_client=cw
    )
    assert task.kind == "task"


def test_running_replication_passes_the_gate_with_its_provisioning_state() -> None:
    status = _status("serverless_running")
    assert status.state == "running"
    assert [t.table for t in status.tables] == TABLES  # both pages read
    assert all(t.full_load_complete and t.validation == "clean" for t in status.tables)
    assert status.detail["kind"] == "replication-config"
    assert status.detail["provision_state"] == "provisioned"
    assert status.detail["provisioned_capacity_units"] == 16
    assert status.detail["full_load_progress_percent"] == 100
    # The metric whose dimension names this config; another config's metric is ignored.
    assert status.lag_seconds == 4.0
    gate = replica_gate(status, 30, TABLES)
    assert gate.ok, gate.failed


def test_provisioning_replication_is_not_ready_and_has_no_statistics_yet() -> None:
    status = _status("serverless_provisioning")
    assert status.state == "provisioning_capacity"
    assert status.detail["provision_state"] == "provisioning"
    gate = replica_gate(status, 30, TABLES)
    failed = {c.name: c for c in gate.failed}
    assert failed["replica running"].measured == "provisioning_capacity"
    assert failed["answers: full load"].measured == "not in the replication's table statistics"
    assert failed["lag"].measured == "unknown"


def test_failed_replication_reports_its_failure_messages() -> None:
    status = _status("serverless_failed")
    gate = replica_gate(status, 30, TABLES)
    names = [c.name for c in gate.failed]
    assert names[0] == "replica running" and gate.failed[0].measured == "failed"
    assert {"answers: full load", "answers: validation"} <= set(names)
    assert "FATAL_ERROR" in status.detail["last_failure_message"]
    assert status.detail["stop_reason"] == "Stop Reason FATAL_ERROR"


def test_suspended_validation_records_are_refused_with_the_lob_fix() -> None:
    gate = replica_gate(_status("serverless_suspended"), 30, TABLES)
    (check,) = gate.failed
    assert check.name == "answers: validation"
    assert check.measured.startswith("mismatched")
    assert "LOB" in check.fix


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("created", "start-replication"),
        ("stopped", "resume-processing"),
        ("failed", "resume-processing"),
        ("running", None),
        ("provisioning_capacity", None),
        ("replication_starting", None),
    ],
)
def test_start_picks_a_fresh_start_a_resume_or_nothing(status: str, kind: str | None) -> None:
    call = ("start_replication", "initializing", {"StartReplicationType": kind}) if kind else None
    _act_on(status, "start", call)


def test_a_config_without_a_replication_record_is_created_and_starts_fresh() -> None:
    dms, cw = clients()
    config = {
        "ReplicationConfigIdentifier": "couple-diary-staging",
        "ReplicationConfigArn": CONFIG_ARN,
        "ReplicationType": "full-load-and-cdc",
    }
    with Stubber(dms) as stub:
        describe_replication(stub, [])
        stub.add_response(
            "describe_replication_configs",
            {"ReplicationConfigs": [config]},
            {"Filters": [{"Name": "replication-config-arn", "Values": [CONFIG_ARN]}]},
        )
        stub.add_response(
            "start_replication",
            {"Replication": {"ReplicationConfigArn": CONFIG_ARN, "Status": "initializing"}},
            {"ReplicationConfigArn": CONFIG_ARN, "StartReplicationType": "start-replication"},
        )
        _driver(dms, cw).start()
        stub.assert_no_pending_responses()


def test_an_unknown_config_says_so() -> None:
    dms, cw = clients()
    with Stubber(dms) as stub:
        describe_replication(stub, [])
        stub.add_response("describe_replication_configs", {"ReplicationConfigs": []})
        with pytest.raises(ReplicaError, match=r"replication config .* does not exist; check --task-arn"):
            _driver(dms, cw).replication()


@pytest.mark.parametrize(("status", "calls"), [("running", 1), ("stopped", 0), ("created", 0), ("failed", 0)])
def test_stop_only_stops_what_runs(status: str, calls: int) -> None:
    _act_on(status, "stop", ("stop_replication", "stopping", {}) if calls else None)


@pytest.mark.parametrize(
    ("action", "call", "code", "message"),
    [
        ("start", "start_replication", "InvalidResourceStateFault", "Replication is being deleted"),
        ("stop", "stop_replication", "AccessDeniedFault", "not authorized to perform dms:StopReplication"),
        ("reload", "start_replication", "ResourceNotFoundFault", "Replication config not found"),
    ],
)
def test_refusals_from_dms_become_operator_errors(action: str, call: str, code: str, message: str) -> None:
    dms, cw = clients()
    replication = {
        **scenario("serverless_running")["replication"],
        "Status": "stopped" if action == "start" else "running",
    }
    with Stubber(dms) as stub:
        if action != "reload":
            describe_replication(stub, [replication])
        stub.add_client_error(call, service_error_code=code, service_message=message)
        with pytest.raises(
            ReplicaError, match=re.escape(f"{code}: {message}; check its state with `ops replica status`")
        ):
            getattr(_driver(dms, cw), action)()


def test_describe_refused_becomes_an_operator_error() -> None:
    dms, cw = clients()
    with Stubber(dms) as stub:
        stub.add_client_error(
            "describe_replications", service_error_code="ResourceNotFoundFault", service_message="not found"
        )
        with pytest.raises(ReplicaError, match=r"describe the replication of .*: ResourceNotFoundFault"):
            _driver(dms, cw).status()


def test_replication_settings_give_the_lob_limits() -> None:
    dms, cw = clients()
    config = {
        "ReplicationConfigIdentifier": "couple-diary-staging",
        "ReplicationConfigArn": CONFIG_ARN,
        "SourceEndpointArn": "arn:aws:dms:us-east-1:123456789012:endpoint:SOURCEENDPOINTID",
        "ReplicationType": "full-load-and-cdc",
        "ReplicationSettings": json.dumps({"TargetMetadata": {"SupportLobs": True, "FullLobMode": True}}),
        "TableMappings": json.dumps({"rules": []}),
    }
    with Stubber(dms) as stub:
        stub.add_response(
            "describe_replication_configs",
            {"ReplicationConfigs": [config]},
            {"Filters": [{"Name": "replication-config-arn", "Values": [CONFIG_ARN]}]},
        )
        configuration = _driver(dms, cw).configuration()
    assert configuration.settings_name == "replication settings"
    limits = dms_limits(configuration.settings, configuration.table_mappings, TABLES, "public")
    assert {limit.mode for limit in limits.values()} == {"full"}


def test_make_driver_accepts_a_replication_config_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    driver = make_driver("dms", task_arn=CONFIG_ARN, tables=TABLES)
    assert isinstance(driver, DmsReplicaDriver) and driver.kind == "replication-config"
    assert driver.tables == TABLES


def test_a_status_in_capitals_is_read_as_documented() -> None:
    dms, cw = clients()
    scene = scenario("serverless_running")
    scene["replication"]["Status"] = "RUNNING"
    with Stubber(dms) as dms_stub, Stubber(cw) as cw_stub:
        stub_serverless_status(dms_stub, cw_stub, scene)
        status = _driver(dms, cw).status()
    assert status.state == "running"
    assert replica_gate(status, 30, TABLES).ok
