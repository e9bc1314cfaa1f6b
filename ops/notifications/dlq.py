"""Inspect and re-drive the notifications FIFO dead-letter queue.

SQS has no "peek": listing receives every message with a short visibility timeout, keeps them
all in flight while it reads (a FIFO queue hides the rest of a group whose messages are in
flight), then makes them visible again. Re-drive sends each message back to the main queue in
the group order it was received in, with its original group id and a new deduplication id
(the original is still inside SQS's 5-minute window after a quick failure), then deletes it from
the DLQ. The consumer's own idempotency (notification id in PostgreSQL) makes a repeated re-drive
harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ops import aws
from ops.exceptions import OpsError

_HOLD_SECONDS = 60
_EMPTY_RECEIVES = 2


@dataclass(frozen=True)
class DlqMessage:
    message_id: str
    group_id: str
    receive_count: int
    sent_at: str
    provider: str
    notification_id: str
    notification_type: str
    body: str
    receipt_handle: str = field(repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "group_id": self.group_id,
            "provider": self.provider,
            "notification_id": self.notification_id,
            "type": self.notification_type,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at,
        }


@dataclass
class RedriveResult:
    moved: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    dry_run: bool = False


def describe_message(body: str) -> tuple[str, str, str]:
    """(provider, notification id, type) from a NotificationMessage body; '?' where it is not one."""
    try:
        raw = json.loads(body)
        payload = raw.get("payload") or {}
        provider = str(raw.get("provider", "?"))
        if provider == "apple":
            kind = str(payload.get("notificationType", "?"))
            if payload.get("subtype"):
                kind += f"/{payload['subtype']}"
        else:
            kind = next(
                (
                    f"{k}:{payload[k].get('notificationType', '-')}"
                    for k in (
                        "subscriptionNotification",
                        "oneTimeProductNotification",
                        "voidedPurchaseNotification",
                    )
                    if isinstance(payload.get(k), dict)
                ),
                "testNotification" if "testNotification" in payload else "?",
            )
        return provider, str(raw.get("notification_id", "?")), kind
    except (ValueError, AttributeError):
        return "?", "?", "(not a NotificationMessage)"


class DeadLetterQueue:
    def __init__(self, dlq_url: str, queue_url: str | None = None) -> None:
        self.dlq_url = dlq_url
        self.queue_url = queue_url
        self._sqs = aws.client("sqs")

    @classmethod
    def from_names(cls, queue_name: str, dlq_name: str) -> DeadLetterQueue:
        sqs = aws.client("sqs")
        try:
            dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
            queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            raise OpsError(
                f"queue {dlq_name} or {queue_name} does not exist at {aws.endpoint_url('sqs') or 'AWS'}; "
                "set OPS_NOTIFICATIONS_QUEUE / OPS_NOTIFICATIONS_DLQ or start `ops notifications serve`"
            ) from None
        return cls(dlq_url, queue_url)

    def _hold_all(self, limit: int) -> list[DlqMessage]:
        held: list[DlqMessage] = []
        empty = 0
        while len(held) < limit and empty < _EMPTY_RECEIVES:
            response = self._sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=min(10, limit - len(held)),
                VisibilityTimeout=_HOLD_SECONDS,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            empty = 0 if messages else empty + 1
            for m in messages:
                attributes = m.get("Attributes", {})
                provider, notification_id, kind = describe_message(m["Body"])
                sent = datetime.fromtimestamp(int(attributes.get("SentTimestamp", "0")) / 1000, UTC)
                held.append(
                    DlqMessage(
                        message_id=m["MessageId"],
                        group_id=attributes.get("MessageGroupId", ""),
                        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
                        sent_at=sent.isoformat(timespec="seconds"),
                        provider=provider,
                        notification_id=notification_id,
                        notification_type=kind,
                        body=m["Body"],
                        receipt_handle=m["ReceiptHandle"],
                    )
                )
        return held

    def _release(self, messages: list[DlqMessage]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )

    def list_messages(self, limit: int = 100) -> list[DlqMessage]:
        messages = self._hold_all(limit)
        self._release(messages)
        return messages

    def show(self, message_id: str) -> DlqMessage:
        for message in self.list_messages(limit=1000):
            if message_id in (message.message_id, message.notification_id):
                return message
        raise OpsError(
            f"no message {message_id} in the DLQ; `ops notifications dlq list` shows what is there"
        )

    def redrive(self, message_ids: list[str] | None = None, *, dry_run: bool = False) -> RedriveResult:
        """Move the selected messages (all when None) back to the main queue, in group order."""
        if self.queue_url is None:
            raise OpsError("re-drive needs the main queue URL")
        held = self._hold_all(10_000)
        wanted = set(message_ids or [])
        selected = [m for m in held if not wanted or m.message_id in wanted or m.notification_id in wanted]
        result = RedriveResult(dry_run=dry_run, kept=[m.message_id for m in held if m not in selected])
        if dry_run:
            self._release(held)
            result.moved = [m.message_id for m in selected]
            return result
        self._release([m for m in held if m not in selected])
        for message in selected:
            self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=message.body,
                MessageGroupId=message.group_id or "redriven",
                MessageDeduplicationId=f"redrive-{message.message_id}",
                MessageAttributes={"provider": {"DataType": "String", "StringValue": message.provider}},
            )
            self._sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=message.receipt_handle)
            result.moved.append(message.message_id)
        return result
