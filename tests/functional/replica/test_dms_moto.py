"""The DMS driver against moto's server over HTTP: what moto serves (the task lifecycle, task
settings, endpoints, CloudWatch metrics).

moto serves neither table statistics, task states past "running", nor DMS Serverless replication
configs; those paths are covered with Stubber in tests/unit/replica/test_dms_driver.py and
test_dms_serverless.py. The serverless driver's metric discovery only talks to CloudWatch, so it
runs against moto here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ops import aws
from ops.mapping import load_mapping
from ops.replica import DmsReplicaDriver, make_driver
from ops.replica.dms import Replication
from ops.replica.lobs import dms_limits
from tests.functional.replica.moto_dms import create_task, lob_settings

MAPPED = list(load_mapping().tables)  # the packaged mapping's tables

pytestmark = pytest.mark.stack


@pytest.fixture
def task_arn(stack: Any, unique_name: str) -> str:
    return create_task(
        unique_name, lob_settings(LimitedSizeLobMode=True, LobMaxSize=64), source_user="dms_replication"
    )


def _put_latency(dimensions: list[dict[str, str]], metric: str, values: list[float]) -> None:
    now = datetime.now(UTC)
    aws.client("cloudwatch").put_metric_data(
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


def test_task_lifecycle_through_moto(task_arn: str) -> None:
    driver = make_driver("dms", task_arn=task_arn, tables=MAPPED)
    assert isinstance(driver, DmsReplicaDriver) and driver.kind == "task"
    assert driver.tables == ["couples", "users", "questions", "answers"]  # the tables it was given
    assert driver.replication().status == "creating"
    driver.start()
    assert driver.replication().status == "running"
    driver.start()  # already running: no second start request
    driver.stop()
    assert driver.replication().status == "stopped"
    driver.stop()  # already stopped: harmless
    driver.resume()
    assert driver.replication().status == "running"


def test_task_settings_and_source_user_read_through_moto(task_arn: str) -> None:
    driver = make_driver("dms", task_arn=task_arn, tables=MAPPED)
    assert isinstance(driver, DmsReplicaDriver)
    configuration = driver.configuration()
    limits = dms_limits(configuration.settings, configuration.table_mappings, ["answers"], "public")
    assert (limits["answers"].mode, limits["answers"].max_kb) == ("limited", 64)
    assert driver.source_username() == "dms_replication"


def test_task_cdc_latency_read_from_cloudwatch(task_arn: str, unique_name: str) -> None:
    driver = make_driver("dms", task_arn=task_arn, tables=MAPPED)
    assert isinstance(driver, DmsReplicaDriver)
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": unique_name},
        {"Name": "ReplicationTaskIdentifier", "Value": task_arn.rsplit(":", 1)[-1]},
    ]
    _put_latency(dimensions, "CDCLatencySource", [4.0, 2.0])
    _put_latency(dimensions, "CDCLatencyTarget", [40.0, 7.0])
    assert driver.latency_seconds() == {"CDCLatencySource": 2.0, "CDCLatencyTarget": 7.0}


def test_serverless_cdc_latency_found_by_the_metric_naming_the_config(stack: Any, unique_name: str) -> None:
    arn = f"arn:aws:dms:us-east-1:123456789012:replication-config:{unique_name.upper()}"
    driver = DmsReplicaDriver(arn, cloudwatch_client=aws.client("cloudwatch"))
    assert driver.kind == "replication-config"
    replication = Replication("running", True, {}, {"config_identifier": unique_name})
    assert driver.latency_seconds(replication) == {"CDCLatencySource": None, "CDCLatencyTarget": None}
    mine = [{"Name": "ReplicationConfigIdentifier", "Value": unique_name}]
    other = [{"Name": "ReplicationConfigIdentifier", "Value": f"{unique_name}-other"}]
    _put_latency(mine, "CDCLatencySource", [9.0, 3.0])
    _put_latency(mine, "CDCLatencyTarget", [12.0, 5.0])
    _put_latency(other, "CDCLatencyTarget", [600.0])
    assert driver.latency_seconds(replication) == {"CDCLatencySource": 3.0, "CDCLatencyTarget": 5.0}
