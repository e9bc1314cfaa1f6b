"""Fixtures the unit tests share: AWS mocked in this process (moto), and a control table on it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from ops.control import ControlTable

# Variables that would send boto3 to a real endpoint or account instead of moto.
_POINTS_ELSEWHERE = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_PROFILE",
)


@pytest.fixture
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in this process: no endpoint or profile from the environment, dummy credentials."""
    for var in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_CLOUDWATCH",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.fixture
def control(in_process_aws: None) -> ControlTable:
    """An empty control table on moto."""
    table = ControlTable("control-unit", boto3.client("dynamodb", region_name="us-east-1"))
    table.ensure()
    return table
