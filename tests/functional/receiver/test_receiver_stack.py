"""The receiver Lambda in-process against the local stack's SQS FIFO queue (moto server over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import opstestkit as kit
import pytest

from lambdas.receiver.handler import handler
from lambdas.shared import messages
from lambdas.shared.messages import NotificationMessage
from ops import aws
from tests.fixtures.notifications.receiver import GOOGLE_NOTIFICATIONS, Drain

pytestmark = pytest.mark.stack

APPLE = "/notifications/apple"
GOOGLE = "/notifications/google"
MakeEvent = Callable[..., dict[str, Any]]


def _apple(make_event: MakeEvent, ca: kit.AppleTestCA, payload: dict[str, Any]) -> dict[str, Any]:
    return make_event(APPLE, kit.apple_request_body(ca.sign(payload)))


@pytest.mark.usefixtures("lambda_env")
def test_apple_notification_lands_on_the_fifo_queue(
    make_event: MakeEvent, apple_ca: kit.AppleTestCA, drain: Drain
) -> None:
    sent = kit.apple_subscription_notification(apple_ca, "SUBSCRIBED", "INITIAL_BUY")
    response = handler(_apple(make_event, apple_ca, sent), None)
    assert response["statusCode"] == 200
    [message] = drain()
    parsed = NotificationMessage.from_json(json.dumps(message["body"]))
    assert parsed.group_id == "2000000123456789"
    assert parsed.notification_id == sent["notificationUUID"]
    assert parsed.payload["data"]["transactionInfo"]["productId"] == "com.example.couplediary.premium.monthly"
    assert message["attributes"]["MessageGroupId"] == "2000000123456789"
    assert message["attributes"]["MessageDeduplicationId"] == sent["notificationUUID"]


@pytest.mark.usefixtures("lambda_env")
def test_order_is_kept_within_a_subscription_and_redeliveries_are_dropped(
    make_event: MakeEvent, apple_ca: kit.AppleTestCA, drain: Drain
) -> None:
    events = [
        kit.apple_subscription_notification(
            apple_ca, "SUBSCRIBED", "INITIAL_BUY", original_transaction_id="A1"
        ),
        kit.apple_subscription_notification(apple_ca, "DID_RENEW", original_transaction_id="B2"),
        kit.apple_subscription_notification(apple_ca, "DID_RENEW", original_transaction_id="A1"),
        kit.apple_subscription_notification(apple_ca, "EXPIRED", "VOLUNTARY", original_transaction_id="A1"),
    ]
    for payload in [*events, events[2]]:
        assert handler(_apple(make_event, apple_ca, payload), None)["statusCode"] == 200
    received = drain()
    assert len(received) == 4
    a1 = [m["body"]["payload"]["notificationType"] for m in received if m["body"]["group_id"] == "A1"]
    assert a1 == ["SUBSCRIBED", "DID_RENEW", "EXPIRED"]


@pytest.mark.usefixtures("lambda_env")
@pytest.mark.parametrize("name", GOOGLE_NOTIFICATIONS)
def test_google_notification_lands_on_the_fifo_queue(
    make_event: MakeEvent,
    google_signer: kit.GoogleSigner,
    google_notification: Callable[[str], dict[str, Any]],
    drain: Drain,
    name: str,
) -> None:
    sent = google_notification(name)
    body = json.dumps(kit.pubsub_push_body(sent, message_id="4242"))
    event = make_event(GOOGLE, body, {"authorization": f"Bearer {google_signer.oidc_token()}"})
    assert handler(event, None)["statusCode"] == 200
    [message] = drain()
    parsed = NotificationMessage.from_json(json.dumps(message["body"]))
    kind = next(k for k in sent if k.endswith("Notification"))
    group = messages.GOOGLE_TEST_GROUP if kind == "testNotification" else sent[kind]["purchaseToken"]
    assert parsed.group_id == group
    assert parsed.payload[kind] == sent[kind]
    assert message["attributes"]["MessageGroupId"] == messages.fifo_id(group)
    assert message["attributes"]["MessageDeduplicationId"] == "4242"


@pytest.mark.usefixtures("lambda_env")
def test_refused_notifications_never_reach_the_queue(
    make_event: MakeEvent, apple_ca: kit.AppleTestCA, google_signer: kit.GoogleSigner, drain: Drain
) -> None:
    stranger = kit.make_apple_test_ca()
    assert handler(_apple(make_event, stranger, kit.apple_test_notification()), None)["statusCode"] == 401
    wrong_env = kit.apple_test_notification(environment="Production")
    assert handler(_apple(make_event, apple_ca, wrong_env), None)["statusCode"] == 403
    token = google_signer.oidc_token(audience="https://elsewhere.example.com")
    body = json.dumps(kit.pubsub_push_body(kit.google_test_notification()))
    assert handler(make_event(GOOGLE, body, {"authorization": f"Bearer {token}"}), None)["statusCode"] == 401
    assert drain() == []


def test_sqs_failure_is_a_5xx_so_the_sender_retries(
    lambda_env: dict[str, str], queues: dict[str, str], make_event: MakeEvent, apple_ca: kit.AppleTestCA
) -> None:
    aws.client("sqs").delete_queue(QueueUrl=queues["url"])
    response = handler(_apple(make_event, apple_ca, kit.apple_test_notification()), None)
    assert response["statusCode"] == 503
    assert lambda_env["NOTIFICATIONS_QUEUE_URL"] == queues["url"]
