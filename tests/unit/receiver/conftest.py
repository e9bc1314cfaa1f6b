"""Fixtures for the receiver's unit tests: test CA, Google key + local JWKS endpoint, events, SQS."""

from __future__ import annotations

import base64
import copy
import io
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import opstestkit as kit
import pytest
from moto import mock_aws

from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.handler import Receiver
from lambdas.shared.metrics import Metrics

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notifications"

EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def apple_ca() -> kit.AppleTestCA:
    return kit.make_apple_test_ca()


@pytest.fixture(scope="session")
def google_signer() -> kit.GoogleSigner:
    return kit.make_google_signer("test-kid-1")


@pytest.fixture
def jwks_server(google_signer: kit.GoogleSigner) -> Iterator[kit.JwksServer]:
    with kit.JwksServer(google_signer.jwks()) as server:
        yield server


@pytest.fixture
def receiver_env(tmp_path: Path, apple_ca: kit.AppleTestCA, jwks_server: kit.JwksServer) -> dict[str, str]:
    root = tmp_path / "test-root.der"
    root.write_bytes(apple_ca.root_der)
    return {
        "NOTIFICATIONS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/subscription-notifications.fifo",
        "APPLE_BUNDLE_ID": kit.DEFAULT_BUNDLE_ID,
        "APPLE_APP_APPLE_ID": str(kit.DEFAULT_APP_APPLE_ID),
        "APPLE_ENVIRONMENT": "Sandbox",
        "APPLE_ROOT_CA_PATH": str(root),
        "GOOGLE_PACKAGE_NAME": kit.DEFAULT_PACKAGE_NAME,
        "GOOGLE_PUBSUB_AUDIENCE": kit.DEFAULT_AUDIENCE,
        "GOOGLE_PUSH_SERVICE_ACCOUNT": kit.DEFAULT_SERVICE_ACCOUNT,
        "GOOGLE_JWKS_URL": jwks_server.url,
    }


@pytest.fixture
def make_event() -> EventFactory:
    """An API Gateway HTTP API 2.0 event from the fixture file, for `path` with `body`."""
    template = json.loads((FIXTURES / "apigw_http_v2_event.json").read_text())

    def build(
        path: str,
        body: str | bytes | None,
        *,
        headers: dict[str, str] | None = None,
        method: str = "POST",
        base64_encoded: bool = False,
    ) -> dict[str, Any]:
        event = copy.deepcopy(template)
        event["rawPath"] = path
        event["routeKey"] = f"{method} {path}"
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["path"] = path
        event["headers"].update(headers or {})
        if isinstance(body, bytes) or base64_encoded:
            raw = body if isinstance(body, bytes) else (body or "").encode()
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = body
        return event

    return build


@pytest.fixture
def google_notification() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        notification: dict[str, Any] = json.loads((FIXTURES / "google" / f"{name}.json").read_text())
        return notification

    return load


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
def received(sqs: Any, queue_url: str) -> Callable[[], list[dict[str, Any]]]:
    """Drain the queue: each message as {"body": parsed JSON, "attributes": {...}}."""

    def drain() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append({"body": json.loads(message["Body"]), "attributes": message["Attributes"]})
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return drain
