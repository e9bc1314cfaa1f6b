"""The receiver handler end to end in-process, with moto's in-process SQS FIFO queue."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import opstestkit as kit
import pytest

from lambdas.receiver import handler as handler_module
from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.handler import Receiver
from lambdas.shared import messages
from lambdas.shared.exceptions import ConfigurationError
from lambdas.shared.messages import NotificationMessage
from lambdas.shared.metrics import Metrics
from tests.fixtures.notifications.receiver import APPLE_WITHOUT_TRANSACTION, GOOGLE_NOTIFICATIONS, Drain

APPLE = "/notifications/apple"
GOOGLE = "/notifications/google"


def _apple_body(ca: kit.AppleTestCA, payload: dict[str, Any]) -> str:
    return kit.apple_request_body(ca.sign(payload))


def _google_headers(signer: kit.GoogleSigner) -> dict[str, str]:
    return {"authorization": f"Bearer {signer.oidc_token()}"}


def test_apple_subscription_notification_is_enqueued(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, received: Drain
) -> None:
    sent = kit.apple_subscription_notification(apple_ca, "DID_RENEW", original_transaction_id="2000000999")
    response = receiver.handle(make_event(APPLE, _apple_body(apple_ca, sent)))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": "accepted"}
    [message] = received()
    body = NotificationMessage.from_json(json.dumps(message["body"]))
    assert body.provider == "apple"
    assert body.notification_id == sent["notificationUUID"]
    assert body.group_id == "2000000999"
    assert body.payload["data"]["transactionInfo"]["originalTransactionId"] == "2000000999"
    assert body.payload["data"]["renewalInfo"]["autoRenewStatus"] == 1
    assert message["attributes"]["MessageGroupId"] == "2000000999"
    assert message["attributes"]["MessageDeduplicationId"] == sent["notificationUUID"]


@pytest.mark.parametrize(
    ("build", "group"),
    APPLE_WITHOUT_TRANSACTION,
)
def test_apple_notifications_without_a_transaction(
    *,
    receiver: Receiver,
    make_event: Any,
    apple_ca: kit.AppleTestCA,
    received: Drain,
    build: Callable[[], dict[str, Any]],
    group: str,
) -> None:
    response = receiver.handle(make_event(APPLE, _apple_body(apple_ca, build())))
    assert response["statusCode"] == 200
    [message] = received()
    assert message["attributes"]["MessageGroupId"] == group


@pytest.mark.parametrize("name", GOOGLE_NOTIFICATIONS)
def test_google_notifications_are_enqueued(
    *,
    receiver: Receiver,
    make_event: Any,
    google_signer: kit.GoogleSigner,
    google_notification: Callable[[str], dict[str, Any]],
    received: Drain,
    name: str,
) -> None:
    sent = google_notification(name)
    body = json.dumps(kit.pubsub_push_body(sent, message_id="778899"))
    response = receiver.handle(make_event(GOOGLE, body, headers=_google_headers(google_signer)))
    assert response["statusCode"] == 200
    [message] = received()
    parsed = NotificationMessage.from_json(json.dumps(message["body"]))
    assert parsed.provider == "google"
    assert parsed.notification_id == "778899"
    assert parsed.payload["pubsub"]["messageId"] == "778899"
    kind = next(k for k in sent if k.endswith("Notification"))
    expected_group = messages.GOOGLE_TEST_GROUP if kind == "testNotification" else sent[kind]["purchaseToken"]
    assert parsed.group_id == expected_group
    # Long purchase tokens exceed SQS's 128-character group id: the group is their digest.
    assert message["attributes"]["MessageGroupId"] == messages.fifo_id(expected_group)
    assert message["attributes"]["MessageDeduplicationId"] == "778899"


def test_a_redelivered_notification_is_enqueued_once(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, received: Drain
) -> None:
    body = _apple_body(apple_ca, kit.apple_subscription_notification(apple_ca))
    assert [receiver.handle(make_event(APPLE, body))["statusCode"] for _ in range(3)] == [200, 200, 200]
    assert len(received()) == 1


def test_base64_encoded_bodies_are_decoded(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, received: Drain
) -> None:
    body = _apple_body(apple_ca, kit.apple_test_notification())
    assert receiver.handle(make_event(APPLE, body, base64_encoded=True))["statusCode"] == 200
    assert len(received()) == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (None, 400, "empty_body"),
        ("not json", 400, "malformed_json"),
        ('{"signedPayload": 5}', 400, "signed_payload_missing"),
        ('{"signedPayload": "garbage!!.garbage.garbage"}', 400, "malformed_jws"),
        (json.dumps({"signedPayload": "x" * 70_000}), 413, "body_too_large"),
    ],
)
def test_apple_bad_requests(
    *,
    receiver: Receiver,
    make_event: Any,
    received: Drain,
    capsys: pytest.CaptureFixture[str],
    body: str | None,
    status: int,
    reason: str,
) -> None:
    response = receiver.handle(make_event(APPLE, body))
    assert response["statusCode"] == status
    assert reason not in response["body"]
    assert received() == []
    log_line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log_line["reason"] == reason
    assert log_line["status"] == status
    assert log_line["request_id"] == "JKJaXmPLvHcESHA="


def test_apple_verification_failures_are_401_and_403(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, received: Drain
) -> None:
    stranger = kit.make_apple_test_ca()
    untrusted = receiver.handle(make_event(APPLE, _apple_body(stranger, kit.apple_test_notification())))
    assert untrusted["statusCode"] == 401
    other_bundle = kit.apple_test_notification(bundle_id="com.example.other")
    assert receiver.handle(make_event(APPLE, _apple_body(apple_ca, other_bundle)))["statusCode"] == 403
    assert received() == []


def test_google_without_a_valid_token_is_401(
    receiver: Receiver,
    make_event: Any,
    google_notification: Callable[[str], dict[str, Any]],
    received: Drain,
) -> None:
    body = json.dumps(kit.pubsub_push_body(google_notification("subscription_renewed")))
    assert receiver.handle(make_event(GOOGLE, body))["statusCode"] == 401
    impostor = kit.make_google_signer("test-kid-1")
    assert receiver.handle(make_event(GOOGLE, body, headers=_google_headers(impostor)))["statusCode"] == 401
    assert received() == []


def test_unknown_route_and_method(receiver: Receiver, make_event: Any) -> None:
    assert receiver.handle(make_event("/notifications/amazon", "{}"))["statusCode"] == 404
    assert receiver.handle(make_event(APPLE, "{}", method="GET"))["statusCode"] == 405
    assert receiver.handle({})["statusCode"] == 404


def test_stage_prefixed_paths_route(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, received: Drain
) -> None:
    body = _apple_body(apple_ca, kit.apple_test_notification())
    event = make_event("/prod/notifications/apple/", body)
    event["requestContext"]["stage"] = "prod"
    assert receiver.handle(event)["statusCode"] == 200
    assert len(received()) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/evil/notifications/apple",
        "/notifications/apple/../google",
        "/x/purchases/apple",
        "/prod/notifications/apple",
    ],
)
def test_routes_match_exactly_not_by_suffix(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, received: Drain, path: str
) -> None:
    # Any prefix other than the stage API Gateway names is a different route: 404, nothing enqueued.
    body = _apple_body(apple_ca, kit.apple_test_notification())
    assert receiver.handle(make_event(path, body))["statusCode"] == 404
    assert received() == []


def test_sqs_failure_is_503_so_the_sender_retries(
    receiver_env: dict[str, str], sqs: Any, make_event: Any, apple_ca: kit.AppleTestCA
) -> None:
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/does-not-exist.fifo"
    config = ReceiverConfig.from_env({**receiver_env, "NOTIFICATIONS_QUEUE_URL": missing})
    receiver = Receiver(config, sqs_client=sqs, metrics=Metrics(stream=io.StringIO()))
    response = receiver.handle(make_event(APPLE, _apple_body(apple_ca, kit.apple_test_notification())))
    assert response["statusCode"] == 503


def test_logs_carry_no_tokens_and_metrics_carry_reasons(
    *,
    receiver: Receiver,
    make_event: Any,
    google_signer: kit.GoogleSigner,
    google_notification: Callable[[str], dict[str, Any]],
    metrics_stream: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sent = google_notification("subscription_renewed")
    token = google_signer.oidc_token()
    body = json.dumps(kit.pubsub_push_body(sent))
    assert (
        receiver.handle(make_event(GOOGLE, body, headers={"authorization": f"Bearer {token}"}))["statusCode"]
        == 200
    )
    wrong = kit.google_subscription_notification(package_name="com.example.other")
    bad = json.dumps(kit.pubsub_push_body(wrong))
    assert (
        receiver.handle(make_event(GOOGLE, bad, headers={"authorization": f"Bearer {token}"}))["statusCode"]
        == 403
    )
    logs = capsys.readouterr().out
    purchase_token = sent["subscriptionNotification"]["purchaseToken"]
    assert purchase_token not in logs
    assert token not in logs and token.split(".")[1] not in logs
    lines = [json.loads(line) for line in logs.strip().splitlines()]
    assert lines[0]["message"] == "notification enqueued"
    assert lines[0]["notification_type"] == "subscriptionNotification:2"
    assert lines[1]["reason"] == "wrong_package"
    points = [json.loads(line) for line in metrics_stream.getvalue().splitlines()]
    assert [(p.get("NotificationVerified"), p.get("Reason")) for p in points] == [
        (1.0, None),
        (None, "wrong_package"),
    ]
    assert points[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Provider", "Reason"]]


def test_lambda_entry_point_builds_once_from_the_environment(
    *,
    receiver_env: dict[str, str],
    sqs: Any,
    queue_url: str,
    make_event: Any,
    apple_ca: kit.AppleTestCA,
    received: Drain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**receiver_env, "NOTIFICATIONS_QUEUE_URL": queue_url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler_module, "_receiver", None)
    event = make_event(APPLE, _apple_body(apple_ca, kit.apple_test_notification()))
    assert handler_module.handler(event, None)["statusCode"] == 200
    first = handler_module._receiver
    assert handler_module.handler(event, None)["statusCode"] == 200
    assert handler_module._receiver is first
    assert len(received()) == 1


def test_lambda_entry_point_fails_cold_start_on_bad_config(
    monkeypatch: pytest.MonkeyPatch, make_event: Any
) -> None:
    for name in ("NOTIFICATIONS_QUEUE_URL", "APPLE_BUNDLE_ID", "APPLE_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(handler_module, "_receiver", None)
    with pytest.raises(ConfigurationError, match="NOTIFICATIONS_QUEUE_URL is required"):
        handler_module.handler(make_event(APPLE, "{}"), None)


def test_unexpected_errors_are_500_without_detail(
    receiver: Receiver, make_event: Any, apple_ca: kit.AppleTestCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_: Any) -> str:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(receiver.enqueuer, "send", boom)
    response = receiver.handle(make_event(APPLE, _apple_body(apple_ca, kit.apple_test_notification())))
    assert response["statusCode"] == 500
    assert "secret" not in response["body"]


def test_a_base64_flagged_body_that_is_not_base64(receiver: Receiver, make_event: Any) -> None:
    event = make_event(APPLE, "{}")
    event["isBase64Encoded"] = True
    event["body"] = "%%% not base64 %%%"
    assert receiver.handle(event)["statusCode"] == 400
