"""The notification pipeline on one machine: the receiver behind a local HTTP front, and an SQS
poller that feeds the consumer the way Lambda's event source mapping does.

Event source mapping behaviour reproduced here: up to `batch_size` (<= 10 for FIFO) messages per
invocation, each received with the queue's visibility timeout; messages listed in
`batchItemFailures` (or the whole batch when the handler raises) are NOT deleted, so they become
visible again after the timeout; the others are deleted. Dead-lettering is SQS's own: the main
queue carries a RedrivePolicy (maxReceiveCount -> the FIFO DLQ), and moto's server moves a
message to the DLQ on the receive after its count is exhausted, like SQS.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ops import aws
from ops.exceptions import OpsError
from ops.loopback import LoopbackServer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

MAX_FIFO_BATCH = 10


@dataclass(frozen=True)
class Queues:
    queue_url: str
    dlq_url: str
    queue_arn: str
    dlq_arn: str


def ensure_queues(
    queue_name: str, dlq_name: str, *, visibility_timeout: int = 30, max_receive_count: int = 5
) -> Queues:
    """Create (or update) the FIFO queue and its FIFO DLQ with a RedrivePolicy, as Terraform does."""
    if not (queue_name.endswith(".fifo") and dlq_name.endswith(".fifo")):
        raise OpsError(f"both queues must be FIFO (*.fifo): got {queue_name} and {dlq_name}")
    sqs = aws.client("sqs")
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes={**fifo, "MessageRetentionPeriod": "1209600"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {
        "VisibilityTimeout": str(visibility_timeout),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
    }
    queue_url = sqs.create_queue(QueueName=queue_name, Attributes=fifo)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Queues(queue_url=queue_url, dlq_url=dlq_url, queue_arn=queue_arn, dlq_arn=dlq_arn)


# --- HTTP front (API Gateway HTTP API, payload format 2.0) ----------------------------------------


class LocalFront(LoopbackServer):
    """POST /notifications/apple|google on 127.0.0.1 -> the receiver handler -> its HTTP response."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self._handler = handler
        self.requests = 0
        super().__init__(port, thread_name="local-front")

    @property
    def url(self) -> str:
        return self.base_url

    def event(self, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        parts = urlsplit(path)
        return {
            "version": "2.0",
            "routeKey": f"{method} {parts.path}",
            "rawPath": parts.path,
            "rawQueryString": parts.query,
            "headers": {k.lower(): v for k, v in headers.items()},
            "requestContext": {
                "http": {
                    "method": method,
                    "path": parts.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                },
                "requestId": f"local-{time.time_ns()}",
                "stage": "$default",
                "timeEpoch": int(time.time() * 1000),
            },
            "body": body.decode("utf-8", errors="surrogateescape"),
            "isBase64Encoded": False,
        }

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                front.requests += 1
                result = front._handler(
                    front.event(method, self.path, dict(self.headers.items()), body), None
                )
                data = str(result.get("body") or "").encode("utf-8")
                self.send_response(int(result.get("statusCode", 500)))
                for name, value in (result.get("headers") or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                self._serve("GET")

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


# --- SQS poller (the event source mapping) -------------------------------------------------------


@dataclass
class PollStats:
    batches: int = 0
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    handler_errors: int = 0


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to the function."""
    attributes = {k: str(v) for k, v in message.get("Attributes", {}).items()}
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class SqsPoller:
    """Receive -> handler -> delete the successes; failures come back after the visibility timeout."""

    queue_url: str
    queue_arn: str
    handler: Handler
    batch_size: int = MAX_FIFO_BATCH
    visibility_timeout: int = 30
    wait_seconds: int = 1
    stats: PollStats = field(default_factory=PollStats)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_FIFO_BATCH:
            raise OpsError(f"batch size must be 1..{MAX_FIFO_BATCH} for a FIFO queue, got {self.batch_size}")
        self._sqs = aws.client("sqs")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """One receive and one invocation; returns how many messages were received."""
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            VisibilityTimeout=self.visibility_timeout,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        records = [lambda_record(m, self.queue_arn, aws.region()) for m in messages]
        self.stats.batches += 1
        self.stats.received += len(records)
        try:
            result = self.handler({"Records": records}, None)
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            # A function error: Lambda retries the whole batch after the visibility timeout.
            self.stats.handler_errors += 1
            failed = {r["messageId"] for r in records}
        done = [r for r in records if r["messageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)],
            )
        self.stats.succeeded += len(done)
        self.stats.failed += len(failed)
        return len(records)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # The queue is unreachable for a moment (e.g. moto restarting): back off, keep going.
                self._stop.wait(1.0)

    def start(self) -> SqsPoller:
        self._thread = threading.Thread(target=self.run, name="sqs-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 10)

    def queue_depth(self) -> tuple[int, int]:
        """(visible, in flight) messages on the queue, as SQS approximates them."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def wait_until_drained(self, timeout: float = 30.0) -> None:
        """Block until the queue holds nothing visible or in flight; OpsError after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue_depth() == (0, 0):
                return
            time.sleep(0.1)
        raise OpsError(
            f"queue still has messages after {timeout:.0f}s: (visible, in flight) = {self.queue_depth()}"
        )


class LocalPipeline:
    """Front + poller, started and stopped together."""

    def __init__(self, front: LocalFront, poller: SqsPoller) -> None:
        self.front = front
        self.poller = poller

    def __enter__(self) -> LocalPipeline:
        self.front.start()
        self.poller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.poller.stop()
        self.front.stop()
