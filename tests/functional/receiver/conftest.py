"""Fixtures for the receiver's functional tests: a FIFO queue + DLQ on the stack's moto server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import opstestkit as kit
import pytest

from lambdas.receiver import handler as handler_module
from ops import aws
from tests.fixtures.notifications import receiver as receiver_fixtures


@pytest.fixture
def queues(stack: Any, unique_name: str) -> Iterator[dict[str, str]]:
    """A FIFO queue whose redrive policy dead-letters to a FIFO DLQ, as Terraform creates them."""
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{unique_name}-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=f"{unique_name}.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    yield {"url": url, "dlq_url": dlq_url}
    for queue_url in (url, dlq_url):
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=queue_url)


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    queues: dict[str, str],
    apple_ca: kit.AppleTestCA,
    jwks_server: kit.JwksServer,
) -> dict[str, str]:
    """The receiver's environment as Terraform would set it, and a cold container."""
    root = tmp_path / "test-root.der"
    root.write_bytes(apple_ca.root_der)
    env = receiver_fixtures.receiver_env(queues["url"], root, jwks_server.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler_module, "_receiver", None)
    return env


@pytest.fixture
def drain(queues: dict[str, str]) -> Callable[[], list[dict[str, Any]]]:
    """Receive and delete everything on the queue, in delivery order."""
    sqs = aws.client("sqs")
    return lambda: receiver_fixtures.drain_queue(sqs, queues["url"])
