"""API Gateway HTTP API (payload 2.0) handler.

POST /notifications/apple and /notifications/google: the stores' notifications.
POST /purchases/apple (`{"signedTransaction": JWS}`) and /purchases/google (`{"purchaseToken",
"productId", "productType": "subscription" | "product"}`): what the app posts after a purchase or
restore, so first purchases and lifetime passes never depend on a notification arriving. Apple's
JWS is verified by the same code as notifications; a Google token can only be verified by asking
Play, which the consumer does. Both are enqueued to the purchase's own FIFO group.

200 only once the message is on the queue; 400/413 for malformed input, 401/403 for failed
verification, 503 when SQS (or Google's JWKS) is unavailable so the sender retries. The reason
for a refusal goes to the logs and metrics, never into the response body. Routes match exactly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
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
from lambdas.receiver.parsing import json_object
from lambdas.shared.exceptions import MessageFormatError
from lambdas.shared.log import fields, fingerprint, get_logger
from lambdas.shared.messages import MAX_ID_CHARS, NotificationMessage, utc_now_iso
from lambdas.shared.metrics import Metrics

log = get_logger("receiver")

# Exact paths (after a trailing slash is dropped): (provider, what the body is).
ROUTES: dict[str, tuple[str, str]] = {
    "/notifications/apple": ("apple", "notification"),
    "/notifications/google": ("google", "notification"),
    "/purchases/apple": ("apple", "purchase"),
    "/purchases/google": ("google", "purchase"),
}
_PRODUCT_ID = re.compile(r"[A-Za-z0-9._]{1,150}")
_PRODUCT_TYPES = ("subscription", "product")


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
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
            provider, kind, body = self._route(event)
            if kind == "purchase":
                message = self._apple_purchase(body) if provider == "apple" else self._google_purchase(body)
            else:
                message = self._apple(body) if provider == "apple" else self._google(event, body)
            sqs_message_id = self.enqueuer.send(message)
        except MessageFormatError as error:
            # Verified, but not something the queue's contract can carry: the sender must fix it.
            return self._refused(
                provider, request_id, started, MalformedRequest("message_format", str(error)[:200])
            )
        except ReceiverError as error:
            return self._refused(provider, request_id, started, error)
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

    def _refused(
        self, provider: str, request_id: object, started: float, error: ReceiverError
    ) -> dict[str, Any]:
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

    def _route(self, event: Mapping[str, Any]) -> tuple[str, str, bytes]:
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, dict) else None
        method = http.get("method") if isinstance(http, dict) else None
        path = event.get("rawPath") or (http.get("path") if isinstance(http, dict) else None)
        if not isinstance(path, str):
            raise RouteNotFound("no_route", "event has no rawPath")
        stage = context.get("stage") if isinstance(context, dict) else None
        if isinstance(stage, str) and stage != "$default" and path.startswith(f"/{stage}/"):
            # A named stage prefixes rawPath with its name; API Gateway sets `stage`, not the caller.
            path = path[len(stage) + 1 :]
        route = ROUTES.get(path.rstrip("/"))
        if route is None:
            raise RouteNotFound("no_route", path[:100])
        if method != "POST":
            raise MethodNotAllowed("method_not_allowed", str(method)[:10])
        return route[0], route[1], self._body(event)

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
        envelope = json_object(body, "body")
        if not isinstance(envelope.get("signedPayload"), str):
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

    def _apple_purchase(self, body: bytes) -> NotificationMessage:
        """A signed transaction the app posted, as a CLIENT_PURCHASE in the transaction's FIFO group."""
        envelope = json_object(body, "body")
        signed = envelope.get("signedTransaction")
        if not isinstance(signed, str):
            raise MalformedRequest("signed_transaction_missing", "body has no signedTransaction string")
        transaction = self.apple.verify_transaction(signed)
        for name in ("transactionId", "originalTransactionId"):
            if not isinstance(transaction.get(name), str) or not transaction[name]:
                raise MalformedRequest("transaction_id", f"transaction has no {name}")
        signed_date = transaction.get("signedDate")
        if isinstance(signed_date, bool) or not isinstance(signed_date, int) or signed_date <= 0:
            raise MalformedRequest("signed_date", "transaction has no signedDate")
        notification_id = f"client:{transaction['transactionId']}:{signed_date}"
        payload = {
            "notificationType": "CLIENT_PURCHASE",
            "notificationUUID": notification_id,
            "signedDate": signed_date,
            "version": "2.0",
            "data": {
                "bundleId": transaction["bundleId"],
                "environment": transaction["environment"],
                "signedTransactionInfo": signed,
                "transactionInfo": transaction,
            },
        }
        return NotificationMessage(
            provider="apple",
            notification_id=notification_id,
            group_id=transaction["originalTransactionId"],
            received_at=utc_now_iso(),
            payload=payload,
        )

    def _google_purchase(self, body: bytes) -> NotificationMessage:
        """A purchase token the app posted; the consumer asks Play whether (and what) it is."""
        envelope = json_object(body, "body")
        token, product_id, product_type = (
            envelope.get("purchaseToken"),
            envelope.get("productId"),
            envelope.get("productType", "subscription"),
        )
        if not isinstance(token, str) or not token.strip() or len(token) > MAX_ID_CHARS:
            raise MalformedRequest(
                "purchase_token", f"purchaseToken must be a string of 1-{MAX_ID_CHARS} characters"
            )
        if not isinstance(product_id, str) or not _PRODUCT_ID.fullmatch(product_id):
            raise MalformedRequest("product_id", "productId must be a Play product id")
        if product_type not in _PRODUCT_TYPES:
            raise MalformedRequest("product_type", "productType must be subscription or product")
        now_ms = int(self._clock() * 1000)
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
        payload = {
            "version": "1.0",
            "packageName": self.config.google_package_name,
            "eventTimeMillis": str(now_ms),
            "clientPurchase": {"purchaseToken": token, "productId": product_id, "productType": product_type},
        }
        return NotificationMessage(
            provider="google",
            notification_id=f"client:{digest}:{now_ms}",
            group_id=token,
            received_at=utc_now_iso(),
            payload=payload,
        )


def _notification_type(message: NotificationMessage) -> str:
    if message.provider == "apple":
        subtype = message.payload.get("subtype")
        kind = str(message.payload.get("notificationType"))
        return f"{kind}/{subtype}" if subtype else kind
    for key in (
        "subscriptionNotification",
        "oneTimeProductNotification",
        "voidedPurchaseNotification",
        "clientPurchase",
    ):
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
