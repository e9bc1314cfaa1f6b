"""Stubber scripts for the DMS driver: the calls one `status()` makes, for a task or for DMS
Serverless, answered from the scenario files in responses/ (Stubber checks every response and
every request against botocore's service model)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

RESPONSES = Path(__file__).parent / "responses"
TABLES = ["couples", "users", "questions", "answers"]
TASK_ARN = "arn:aws:dms:us-east-1:123456789012:task:VQ7XEMPLAR3DTASKID"
CONFIG_ARN = "arn:aws:dms:us-east-1:123456789012:replication-config:EXAMPLESERVERLESSCONFIGID"
INSTANCE_ARN = "arn:aws:dms:us-east-1:123456789012:rep:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LATENCY_METRICS = ("CDCLatencySource", "CDCLatencyTarget")


def _dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v)
            if isinstance(v, str) and (k.endswith(("Date", "Time")) or k.startswith("Date"))
            else _dates(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return value


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-25T{clock}:00Z")


def scenario(name: str) -> dict[str, Any]:
    body = json.loads((RESPONSES / f"{name}.json").read_text())
    return {k: _dates(v) for k, v in body.items() if not k.startswith("_")}


def clients() -> tuple[Any, Any]:
    kw = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client("dms", **kw), boto3.client("cloudwatch", **kw)


def stub_pages(dms: Stubber, action: str, key: str, arn_param: dict[str, str], pages: list[Any]) -> None:
    """A paginated Describe* call: one response per page, each Marker asked for by the next."""
    for i, page in enumerate(pages):
        response: dict[str, Any] = {**arn_param, key: page}
        expected: dict[str, Any] = {**arn_param, "MaxRecords": 500}
        if i + 1 < len(pages):
            response["Marker"] = f"page-{i + 1}"
        if i:
            expected["Marker"] = f"page-{i}"
        dms.add_response(action, response, expected)


def stub_latency(cw: Stubber, dimensions: list[dict[str, str]], latency: dict[str, float | None]) -> None:
    for metric in LATENCY_METRICS:
        value = latency[metric]
        points = (
            []
            if value is None
            else [
                {"Timestamp": at("11:58"), "Maximum": 0.5, "Unit": "Seconds"},
                {"Timestamp": at("11:59"), "Maximum": value, "Unit": "Seconds"},
            ]
        )
        cw.add_response(
            "get_metric_statistics",
            {"Label": metric, "Datapoints": list(reversed(points))},
            {
                "Namespace": "AWS/DMS",
                "MetricName": metric,
                "Dimensions": dimensions,
                "StartTime": ANY,
                "EndTime": ANY,
                "Period": 60,
                "Statistics": ["Maximum"],
            },
        )


def describe_task(dms: Stubber, task: dict[str, Any], *, with_settings: bool = False) -> None:
    dms.add_response(
        "describe_replication_tasks",
        {"ReplicationTasks": [task]},
        {
            "Filters": [{"Name": "replication-task-arn", "Values": [TASK_ARN]}],
            "WithoutSettings": not with_settings,
        },
    )


def stub_task_status(dms: Stubber, cw: Stubber, scene: dict[str, Any]) -> None:
    """DescribeReplicationTasks, DescribeTableStatistics (paged), DescribeReplicationInstances,
    then GetMetricStatistics per latency metric."""
    describe_task(dms, scene["task"])
    stub_pages(
        dms, "describe_table_statistics", "TableStatistics", {"ReplicationTaskArn": TASK_ARN}, scene["pages"]
    )
    dms.add_response(
        "describe_replication_instances",
        {
            "ReplicationInstances": [
                {"ReplicationInstanceIdentifier": "couple-diary-dms", "ReplicationInstanceArn": INSTANCE_ARN}
            ]
        },
        {"Filters": [{"Name": "replication-instance-arn", "Values": [INSTANCE_ARN]}]},
    )
    stub_latency(
        cw,
        [
            {"Name": "ReplicationInstanceIdentifier", "Value": "couple-diary-dms"},
            {"Name": "ReplicationTaskIdentifier", "Value": "VQ7XEMPLAR3DTASKID"},
        ],
        scene["latency"],
    )


def describe_replication(dms: Stubber, replications: list[dict[str, Any]]) -> None:
    dms.add_response(
        "describe_replications",
        {"Replications": replications},
        {"Filters": [{"Name": "replication-config-arn", "Values": [CONFIG_ARN]}]},
    )


def stub_serverless_status(dms: Stubber, cw: Stubber, scene: dict[str, Any]) -> None:
    """DescribeReplications, DescribeReplicationTableStatistics (paged, or refused before capacity
    is provisioned), ListMetrics per latency metric, then GetMetricStatistics for each match."""
    describe_replication(dms, [scene["replication"]])
    if "pages" in scene:
        stub_pages(
            dms,
            "describe_replication_table_statistics",
            "ReplicationTableStatistics",
            {"ReplicationConfigArn": CONFIG_ARN},
            scene["pages"],
        )
    else:
        dms.add_client_error(
            "describe_replication_table_statistics",
            service_error_code="InvalidResourceStateFault",
            service_message="Replication is not in a state to return table statistics",
        )
    matching: list[list[dict[str, str]]] = []
    for metric in LATENCY_METRICS:
        metrics = [{**m, "MetricName": metric} for m in scene["metrics"]]
        cw.add_response("list_metrics", {"Metrics": metrics}, {"Namespace": "AWS/DMS", "MetricName": metric})
        for m in metrics:
            if m["Dimensions"][0]["Value"] == "couple-diary-staging" and m["Dimensions"] not in matching:
                matching.append(m["Dimensions"])
    for dimensions in matching:
        stub_latency(cw, dimensions, scene["latency"])
