"""The DMS driver against moto's server over HTTP: what moto serves (task lifecycle, CloudWatch).

Table statistics and task states past "creating" are not served by moto; those paths are covered
with Stubber in tests/unit/replica/test_dms_driver.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ops import aws
from ops.replica import DmsReplicaDriver, make_driver

pytestmark = pytest.mark.stack


@pytest.fixture
def task_arn(stack: Any, unique_name: str) -> str:
    dms = aws.client("dms")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=unique_name, ReplicationInstanceClass="dms.t3.medium"
    )["ReplicationInstance"]
    endpoints = [
        dms.create_endpoint(
            EndpointIdentifier=f"{unique_name}-{role}",
            EndpointType=role,
            EngineName="postgres",
            ServerName="127.0.0.1",
            Port=5432,
            DatabaseName="diary",
            Username="postgres",
            Password="unused",
        )["Endpoint"]["EndpointArn"]
        for role in ("source", "target")
    ]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=unique_name,
        SourceEndpointArn=endpoints[0],
        TargetEndpointArn=endpoints[1],
        ReplicationInstanceArn=instance["ReplicationInstanceArn"],
        MigrationType="full-load-and-cdc",
        TableMappings='{"rules": []}',
    )["ReplicationTask"]
    return str(task["ReplicationTaskArn"])


def test_task_lifecycle_through_moto(task_arn: str) -> None:
    driver = make_driver("dms", task_arn=task_arn)
    assert isinstance(driver, DmsReplicaDriver)
    assert driver.tables == ["couples", "users", "questions", "answers"]  # every mapped table
    assert driver.task()["Status"] == "creating"
    driver.start()
    assert driver.task()["Status"] == "running"
    driver.start()  # already running: no second start request
    driver.stop()
    assert driver.task()["Status"] == "stopped"
    driver.stop()  # already stopped: harmless
    driver.resume()
    assert driver.task()["Status"] == "running"


def test_cdc_latency_read_from_cloudwatch(task_arn: str, unique_name: str) -> None:
    driver = make_driver("dms", task_arn=task_arn)
    assert isinstance(driver, DmsReplicaDriver)
    instance_id = driver.instance_identifier(driver.task())
    assert instance_id == unique_name
    cloudwatch = aws.client("cloudwatch")
    now = datetime.now(UTC)
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": instance_id},
        {"Name": "ReplicationTaskIdentifier", "Value": task_arn.rsplit(":", 1)[-1]},
    ]
    for metric, values in (("CDCLatencySource", [4.0, 2.0]), ("CDCLatencyTarget", [40.0, 7.0])):
        cloudwatch.put_metric_data(
            Namespace="AWS/DMS",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": dimensions,
                    "Timestamp": now - timedelta(minutes=3 - i),
                    "Value": v,
                    "Unit": "Seconds",
                }
                for i, v in enumerate(values)
            ],
        )
    assert driver.latency_seconds(instance_id) == {"CDCLatencySource": 2.0, "CDCLatencyTarget": 7.0}
    assert driver.latency_seconds("another-instance") == {"CDCLatencySource": None, "CDCLatencyTarget": None}
