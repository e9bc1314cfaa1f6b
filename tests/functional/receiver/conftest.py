"""Fixtures for the receiver's functional tests: a FIFO queue + DLQ on the stack's moto server."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import opstestkit as kit
import pytest

from lambdas.receiver import handler as handler_module
from ops import aws

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notifications"


@pytest.fixture(scope="session")
def apple_ca() -> kit.AppleTestCA:
    return kit.make_apple_test_ca()


@pytest.fixture(scope="session")
def google_signer() -> kit.GoogleSigner:
    return kit.make_google_signer("functional-kid")


@pytest.fixture
def jwks_server(google_signer: kit.GoogleSigner) -> Iterator[kit.JwksServer]:
    with kit.JwksServer(google_signer.jwks()) as server:
        yield server


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
    env = {
        "NOTIFICATIONS_QUEUE_URL": queues["url"],
        "APPLE_BUNDLE_ID": kit.DEFAULT_BUNDLE_ID,
        "APPLE_APP_APPLE_ID": str(kit.DEFAULT_APP_APPLE_ID),
        "APPLE_ENVIRONMENT": "Sandbox",
        "APPLE_ROOT_CA_PATH": str(root),
        "GOOGLE_PACKAGE_NAME": kit.DEFAULT_PACKAGE_NAME,
        "GOOGLE_PUBSUB_AUDIENCE": kit.DEFAULT_AUDIENCE,
        "GOOGLE_PUSH_SERVICE_ACCOUNT": kit.DEFAULT_SERVICE_ACCOUNT,
        "GOOGLE_JWKS_URL": jwks_server.url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler_module, "_receiver", None)
    return env


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    template = json.loads((FIXTURES / "apigw_http_v2_event.json").read_text())

    def build(path: str, body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        event = copy.deepcopy(template)
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
        event["headers"].update(headers or {})
        event["body"] = body
        return event

    return build


@pytest.fixture
def google_notification() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        notification: dict[str, Any] = json.loads((FIXTURES / "google" / f"{name}.json").read_text())
        return notification

    return load


@pytest.fixture
def drain(queues: dict[str, str]) -> Callable[[], list[dict[str, Any]]]:
    """Receive and delete everything on the queue, in delivery order."""
    sqs = aws.client("sqs")

    def receive() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=queues["url"], MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append({"body": json.loads(message["Body"]), "attributes": message["Attributes"]})
                sqs.delete_message(QueueUrl=queues["url"], ReceiptHandle=message["ReceiptHandle"])

    return receive
