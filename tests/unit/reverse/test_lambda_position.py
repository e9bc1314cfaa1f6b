"""The Lambda driver's lag and caught-up time, read from IteratorAge (moto's CloudWatch)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ops import aws
from ops.reverse.control import lambda_position, reverse_gate
from ops.reverse.state import ReverseStatus


@pytest.fixture
def now() -> datetime:
    """Half a minute into a minute that has not begun yet, taken when the test starts: the gate
    judges a status's freshness by the real clock, so a fixed date (or one taken when the module is
    collected, minutes before the test runs) turns stale."""
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(seconds=90)


@pytest.fixture
def cloudwatch(in_process_aws: None) -> Iterator[Any]:
    aws.reset()
    yield boto3.client("cloudwatch", region_name="us-east-1")
    aws.reset()


def _age(cloudwatch: Any, at: datetime, ms: float) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": "reverse"}],
                "Timestamp": at,
                "Value": ms,
                "Unit": "Milliseconds",
            }
        ],
    )


def test_a_minute_at_the_tip_counts_as_caught_up_at_its_end(cloudwatch: Any, now: datetime) -> None:
    _age(cloudwatch, now - timedelta(seconds=90), 45_000)
    status = ReverseStatus(running=True, measured_at=now.timestamp())
    lambda_position(status, "reverse", now=now.timestamp())
    assert status.lag_seconds == 45.0 and status.caught_up_at is None
    _age(cloudwatch, now - timedelta(seconds=20), 200)
    lambda_position(status, "reverse", now=now.timestamp())
    assert status.lag_seconds == 0.2
    assert status.caught_up_at is not None and status.caught_up_at > (now - timedelta(seconds=30)).timestamp()
    gate = reverse_gate(status, caught_up_after=(now - timedelta(seconds=60)).timestamp())
    assert [c.name for c in gate.failed] == []


def test_no_invocation_for_two_periods_means_nothing_was_waiting(cloudwatch: Any, now: datetime) -> None:
    status = ReverseStatus(running=True)
    lambda_position(status, "reverse", now=now.timestamp())
    assert status.lag_seconds == 0.0 and status.caught_up_at == now.timestamp() - 60
