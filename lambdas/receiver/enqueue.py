"""SendMessage to the notifications FIFO queue: one message per verified notification."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.receiver.exceptions import UpstreamUnavailable
from lambdas.shared.messages import NotificationMessage


class Enqueuer:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def send(self, message: NotificationMessage) -> str:
        """Enqueue `message`; returns the SQS MessageId. SQS failures become a retryable 503."""
        try:
            response = self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=message.to_json(),
                MessageGroupId=message.message_group_id,
                MessageDeduplicationId=message.deduplication_id,
                MessageAttributes={"provider": {"DataType": "String", "StringValue": message.provider}},
            )
        except (BotoCoreError, ClientError) as exc:
            code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
            raise UpstreamUnavailable("sqs_send_failed", code or exc.__class__.__name__) from None
        return str(response["MessageId"])
