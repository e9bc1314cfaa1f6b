"""API Gateway HTTP API (payload 2.0) handler: POST /notifications/apple and /notifications/google.

200 only once the message is on the queue; 400/413 for malformed input, 401/403 for failed
verification, 503 when SQS (or Google's JWKS) is unavailable so the sender retries. The reason
for a refusal goes to the logs and metrics, never into the response body.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from typing import Any

from lambdas.receiver.apple import AppleVerifier, apple_group_id
from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.enqueue import Enqueuer
from lambdas.receiver.exceptions import (
    MalformedRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    ReceiverError,
    RouteNotFound,
)
from lambdas.receiver.google import GoogleVerifier, JwksCache, google_group_id
from lambdas.receiver.ocsp import OcspChecker
from lambdas.shared.log import fields, fingerprint, get_logger
from lambdas.shared.messages import NotificationMessage, utc_now_iso
from lambdas.shared.metrics import Metrics

log = get_logger("receiver")


def _response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _header(event: Mapping[str, Any], name: str) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None


class Receiver:
    """Everything one container needs, built once at cold start."""

    def __init__(
        self,
        config: ReceiverConfig,
        *,
        sqs_client: Any,
        jwks: JwksCache | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.apple = AppleVerifier(
            config.apple_root_ca_der,
            bundle_id=config.apple_bundle_id,
            app_apple_id=config.apple_app_apple_id,
            environment=config.apple_environment,
            validate_at_now=config.apple_online_checks,
            revocation=OcspChecker() if config.apple_online_checks else None,
        )
        self.google = GoogleVerifier(
            jwks or JwksCache(config.google_jwks_url),
            package_name=config.google_package_name,
            audience=config.google_audience,
            service_account=config.google_service_account,
        )
        self.enqueuer = Enqueuer(sqs_client, config.queue_url)
        self.metrics = metrics or Metrics()

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        provider = "unknown"
        context = event.get("requestContext")
        request_id = context.get("requestId") if isinstance(context, dict) else None
        try:
            provider, body = self._route(event)
            message = self._apple(body) if provider == "apple" else self._google(event, body)
            sqs_message_id = self.enqueuer.send(message)
        except ReceiverError as error:
            self.metrics.count("NotificationRejected", {"Provider": provider, "Reason": error.reason})
            log.log(
                30 if error.status < 500 else 40,
                "notification refused",
                extra=fields(
                    provider=provider,
                    request_id=request_id,
                    status=error.status,
                    reason=error.reason,
                    detail=error.detail,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                ),
            )
            return _response(error.status, {"message": error.public_message})
        except Exception:
            self.metrics.count("NotificationRejected", {"Provider": provider, "Reason": "internal_error"})
            log.exception(
                "notification handling failed", extra=fields(provider=provider, request_id=request_id)
            )
            return _response(500, {"message": "internal error, retry later"})
        self.metrics.count("NotificationVerified", {"Provider": provider})
        log.info(
            "notification enqueued",
            extra=fields(
                provider=provider,
                request_id=request_id,
                notification_id=message.notification_id,
                group=fingerprint(message.group_id),
                notification_type=_notification_type(message),
                sqs_message_id=sqs_message_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            ),
        )
        return _response(200, {"message": "accepted"})

    def _route(self, event: Mapping[str, Any]) -> tuple[str, bytes]:
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, dict) else None
        method = http.get("method") if isinstance(http, dict) else None
        path = event.get("rawPath") or (http.get("path") if isinstance(http, dict) else None)
        if not isinstance(path, str):
            raise RouteNotFound("no_route", "event has no rawPath")
        path = path.rstrip("/")
        if path.endswith("/notifications/apple"):
            provider = "apple"
        elif path.endswith("/notifications/google"):
            provider = "google"
        else:
            raise RouteNotFound("no_route", path[:100])
        if method != "POST":
            raise MethodNotAllowed("method_not_allowed", str(method)[:10])
        return provider, self._body(event)

    def _body(self, event: Mapping[str, Any]) -> bytes:
        raw = event.get("body")
        if raw is None:
            raise MalformedRequest("empty_body", "request has no body")
        if not isinstance(raw, str):
            raise MalformedRequest("malformed_body", "body is not a string")
        limit = self.config.max_body_bytes
        # Checked before decoding too, so an oversized body costs no base64 work.
        if len(raw) > limit * 4 // 3 + 4:
            raise PayloadTooLarge("body_too_large", f"{len(raw)} characters")
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedRequest("malformed_body", "isBase64Encoded body is not base64") from None
        else:
            body = raw.encode("utf-8", errors="surrogatepass")
        if len(body) > limit:
            raise PayloadTooLarge("body_too_large", f"{len(body)} bytes")
        return body

    def _apple(self, body: bytes) -> NotificationMessage:
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedRequest("malformed_json", "body is not JSON") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("signedPayload"), str):
            raise MalformedRequest("signed_payload_missing", "body has no signedPayload string")
        payload = self.apple.verify_notification(envelope["signedPayload"])
        return NotificationMessage(
            provider="apple",
            notification_id=payload["notificationUUID"],
            group_id=apple_group_id(payload),
            received_at=utc_now_iso(),
            payload=payload,
        )

    def _google(self, event: Mapping[str, Any], body: bytes) -> NotificationMessage:
        notification = self.google.verify_push(_header(event, "authorization"), body)
        return NotificationMessage(
            provider="google",
            notification_id=notification["pubsub"]["messageId"],
            group_id=google_group_id(notification),
            received_at=utc_now_iso(),
            payload=notification,
        )


def _notification_type(message: NotificationMessage) -> str:
    if message.provider == "apple":
        subtype = message.payload.get("subtype")
        kind = str(message.payload.get("notificationType"))
        return f"{kind}/{subtype}" if subtype else kind
    for key in ("subscriptionNotification", "oneTimeProductNotification", "voidedPurchaseNotification"):
        if isinstance(message.payload.get(key), dict):
            return f"{key}:{message.payload[key].get('notificationType', '-')}"
    return "testNotification"


_receiver: Receiver | None = None


def _build() -> Receiver:
    import boto3
    from botocore.config import Config

    config = ReceiverConfig.from_env()
    sqs = boto3.client(
        "sqs",
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5),
    )
    return Receiver(config, sqs_client=sqs)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _receiver  # noqa: PLW0603 - one Receiver per container, built on the first (cold) call
    if _receiver is None:
        _receiver = _build()
    return _receiver.handle(event)
