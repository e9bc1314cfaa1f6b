"""POST /purchases/apple|google: what the app posts after a purchase or restore, verified like a
notification and enqueued to the purchase's own FIFO group."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import opstestkit as kit
import pytest

from lambdas.receiver.handler import Receiver
from lambdas.shared.messages import NotificationMessage

Drain = Callable[[], list[dict[str, Any]]]
LIFETIME = "com.example.couplediary.lifetime"


def _transaction(**extra: Any) -> dict[str, Any]:
    return kit.apple_transaction_info(
        original_transaction_id="2000000000777001",
        product_id=LIFETIME,
        product_type="Non-Consumable",
        appAccountToken="7d4e8f1a-0000-4000-8000-000000000077",
        **extra,
    )


def test_a_signed_apple_transaction_is_verified_and_enqueued_in_its_group(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, received: Drain
) -> None:
    transaction = _transaction()
    body = json.dumps({"signedTransaction": apple_ca.sign(transaction)})
    assert receiver.handle(make_event("/purchases/apple", body))["statusCode"] == 200
    [message] = received()
    enqueued = NotificationMessage.from_json(json.dumps(message["body"]))
    assert enqueued.group_id == "2000000000777001"
    assert message["attributes"]["MessageGroupId"] == "2000000000777001"
    assert enqueued.payload["notificationType"] == "CLIENT_PURCHASE"
    assert enqueued.payload["signedDate"] == transaction["signedDate"]
    assert enqueued.payload["data"]["transactionInfo"]["productId"] == LIFETIME
    # Posting the same transaction again (a retry by the app) deduplicates in SQS and in the consumer.
    assert enqueued.notification_id == f"client:2000000000777001:{transaction['signedDate']}"


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda ca: kit.make_apple_test_ca().sign(_transaction()), 401),  # another CA: a forgery
        (lambda ca: ca.sign(_transaction(bundleId="com.example.other")), 403),
        (lambda ca: ca.sign(_transaction(environment="Production")), 403),
        (lambda ca: ca.sign(_transaction())[:-4] + "AAAA", 401),
        (lambda ca: "not-a-jws", 400),
    ],
)
def test_apple_transactions_that_do_not_verify_are_refused(
    *,
    receiver: Receiver,
    make_event: Any,
    apple_ca: kit.AppleTestCA,
    received: Drain,
    mutate: Any,
    status: int,
) -> None:
    body = json.dumps({"signedTransaction": mutate(apple_ca)})
    assert receiver.handle(make_event("/purchases/apple", body))["statusCode"] == status
    assert received() == []


def test_apple_body_without_a_transaction_is_a_400(receiver: Receiver, make_event: Any) -> None:
    assert (
        receiver.handle(make_event("/purchases/apple", json.dumps({"signedPayload": "x"})))["statusCode"]
        == 400
    )


def test_a_google_purchase_token_is_enqueued_for_the_consumer_to_check_with_play(
    receiver: Receiver, make_event: Any, received: Drain
) -> None:
    body = {"purchaseToken": "opaque-token-42", "productId": "lifetime_premium", "productType": "product"}
    assert receiver.handle(make_event("/purchases/google", json.dumps(body)))["statusCode"] == 200
    [message] = received()
    enqueued = NotificationMessage.from_json(json.dumps(message["body"]))
    assert enqueued.provider == "google"
    assert enqueued.group_id == "opaque-token-42"
    assert enqueued.payload["clientPurchase"] == body
    assert enqueued.payload["packageName"] == kit.DEFAULT_PACKAGE_NAME


@pytest.mark.parametrize(
    "body",
    [
        {"purchaseToken": "t" * 5000, "productId": "premium_monthly"},
        {"purchaseToken": "", "productId": "premium_monthly"},
        {"purchaseToken": "t", "productId": "../../etc"},
        {"purchaseToken": "t", "productId": "premium_monthly", "productType": "coins"},
        {"productId": "premium_monthly"},
    ],
)
def test_malformed_google_purchases_are_a_400(
    receiver: Receiver, make_event: Any, received: Drain, body: dict[str, Any]
) -> None:
    assert receiver.handle(make_event("/purchases/google", json.dumps(body)))["statusCode"] == 400
    assert received() == []
