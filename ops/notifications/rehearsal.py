"""What the on-call runbook needs to find on a local stack: a message in the DLQ, and a notification
Apple kept in its history that never reached the receiver.

Rule: each is made the way production makes it, through the real queue and the real consumer, so
`ops notifications dlq list|show|redrive` and `replay-apple` run end to end against it. The
unreadable message is what a receiver of another version would write (the NotificationMessage
contract with a field this consumer does not know): the consumer fails it on every receive and SQS
moves it to the DLQ after `maxReceiveCount` receives, never dropped.
"""

from __future__ import annotations

import json
import time

import requests

from lambdas.shared.messages import utc_now_iso
from ops import aws
from ops.exceptions import OpsError
from ops.notifications.dlq import DeadLetterQueue

UNREADABLE_GROUP = "local:unreadable"
_POLL_SECONDS = 1.0


def send_unreadable(queue_name: str, dlq_name: str, notification_id: str, wait_seconds: float) -> float:
    """Send the unreadable message and wait until it is in the DLQ; returns the seconds it took."""
    sqs = aws.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    body = {
        "provider": "apple",
        "notification_id": notification_id,
        "group_id": UNREADABLE_GROUP,
        "received_at": utc_now_iso(),
        "payload": {"notificationType": "TEST"},
        "schema": 2,
    }
    started = time.monotonic()
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(body),
        MessageGroupId=UNREADABLE_GROUP,
        MessageDeduplicationId=notification_id,
    )
    dlq = DeadLetterQueue.from_names(queue_name, dlq_name)
    while time.monotonic() - started < wait_seconds:
        if any(m.notification_id == notification_id for m in dlq.list_messages()):
            return time.monotonic() - started
        time.sleep(_POLL_SECONDS)
    raise OpsError(
        f"{notification_id} is not in {dlq_name} after {wait_seconds:.0f} s: is `ops notifications serve` "
        "running (its consumer fails the message; SQS moves it after --max-receive-count receives)?"
    )


def keep_in_history(app_store_api: str, signed_payload: str) -> None:
    """Hand a signed notification to the local App Store Server API's history only: Apple sent it,
    the receiver never got it (`replay-apple` fetches it from there)."""
    response = requests.post(
        f"{app_store_api.rstrip('/')}/testkit/history", json={"signedPayload": signed_payload}, timeout=10
    )
    if response.status_code != 201:
        raise OpsError(
            f"the local App Store Server API refused the notification: HTTP {response.status_code}"
        )
