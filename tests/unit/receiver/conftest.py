"""Fixtures for the receiver's unit tests: test CA, Google key + local JWKS endpoint, events, SQS."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import opstestkit as kit
import pytest
from moto import mock_aws

from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.handler import Receiver
from lambdas.shared.metrics import Metrics
from tests.fixtures.notifications import receiver as receiver_fixtures

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notifications"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def receiver_env(tmp_path: Path, apple_ca: kit.AppleTestCA, jwks_server: kit.JwksServer) -> dict[str, str]:
    root = tmp_path / "test-root.der"
    root.write_bytes(apple_ca.root_der)
    queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/subscription-notifications.fifo"
    return receiver_fixtures.receiver_env(queue_url, root, jwks_server.url)


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    """In-process moto SQS, one per test module (the functional tests use the stack's moto server).

    Module scope keeps moto's start-up cost out of every test; each test still gets its own queue.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queue_url(sqs: Any) -> str:
    url: str = sqs.create_queue(
        QueueName=f"notifications-{uuid.uuid4().hex[:12]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
    )["QueueUrl"]
    return url


@pytest.fixture
def metrics_stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def receiver(receiver_env: dict[str, str], sqs: Any, queue_url: str, metrics_stream: io.StringIO) -> Receiver:
    config = ReceiverConfig.from_env({**receiver_env, "NOTIFICATIONS_QUEUE_URL": queue_url})
    return Receiver(config, sqs_client=sqs, metrics=Metrics(stream=metrics_stream))


@pytest.fixture
def received(sqs: Any, queue_url: str) -> receiver_fixtures.Drain:
    """Drain the queue: each message as {"body": parsed JSON, "attributes": {...}}."""
    return lambda: receiver_fixtures.drain_queue(sqs, queue_url)
