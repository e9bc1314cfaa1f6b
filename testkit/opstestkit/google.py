"""Google's side of RTDN: an OIDC signing key with its JWKS, Pub/Sub push bodies, RTDN payloads."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from opstestkit.defaults import (
    DEFAULT_AUDIENCE,
    DEFAULT_PACKAGE_NAME,
    DEFAULT_SERVICE_ACCOUNT,
    DEFAULT_SUBSCRIPTION,
    GOOGLE_ISSUER,
    ONE_TIME_PRODUCT_NOTIFICATION_TYPES,
    SAMPLE_ONE_TIME_PURCHASE,
    SAMPLE_SUBSCRIPTION_PURCHASE,
    SUBSCRIPTION_NOTIFICATION_TYPES,
    now_ms,
)


@dataclass(frozen=True)
class GoogleSigner:
    """An RSA key standing in for one of Google's OIDC signing keys."""

    private_key: rsa.RSAPrivateKey
    kid: str

    def jwk(self) -> dict[str, Any]:
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**key, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return jwks_document([self])

    def oidc_token(
        self,
        *,
        audience: str = DEFAULT_AUDIENCE,
        email: str = DEFAULT_SERVICE_ACCOUNT,
        issuer: str = GOOGLE_ISSUER,
        email_verified: bool = True,
        issued_at: int | None = None,
        lifetime_seconds: int = 3600,
        kid: str | None = None,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A token shaped like the one Pub/Sub puts in a push request's `Authorization: Bearer`."""
        iat = int(time.time()) if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "aud": audience,
            "azp": "113774264463038321964",
            "email": email,
            "email_verified": email_verified,
            "exp": iat + lifetime_seconds,
            "iat": iat,
            "iss": issuer,
            "sub": "113774264463038321964",
        }
        claims.update(extra_claims or {})
        return jwt.encode(
            claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid, "typ": "JWT"}
        )


def make_google_signer(kid: str | None = None) -> GoogleSigner:
    return GoogleSigner(
        private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        kid=kid or uuid.uuid4().hex,
    )


def jwks_document(signers: Iterable[GoogleSigner]) -> dict[str, Any]:
    """The JWKS document Google serves at https://www.googleapis.com/oauth2/v3/certs."""
    return {"keys": [signer.jwk() for signer in signers]}


def _developer_notification(package_name: str, event_time_millis: int | None, **body: Any) -> dict[str, Any]:
    return {
        "version": "1.0",
        "packageName": package_name,
        "eventTimeMillis": str(event_time_millis or now_ms()),
        **body,
    }


def google_subscription_notification(
    *,
    purchase_token: str = SAMPLE_SUBSCRIPTION_PURCHASE,
    notification_type: int = SUBSCRIPTION_NOTIFICATION_TYPES["SUBSCRIPTION_RENEWED"],
    subscription_id: str = "premium_monthly",
    package_name: str = DEFAULT_PACKAGE_NAME,
    event_time_millis: int | None = None,
) -> dict[str, Any]:
    return _developer_notification(
        package_name,
        event_time_millis,
        subscriptionNotification={
            "version": "1.0",
            "notificationType": notification_type,
            "purchaseToken": purchase_token,
            "subscriptionId": subscription_id,
        },
    )


def google_one_time_product_notification(
    *,
    purchase_token: str = SAMPLE_ONE_TIME_PURCHASE,
    notification_type: int = ONE_TIME_PRODUCT_NOTIFICATION_TYPES["ONE_TIME_PRODUCT_PURCHASED"],
    sku: str = "lifetime_premium",
    package_name: str = DEFAULT_PACKAGE_NAME,
    event_time_millis: int | None = None,
) -> dict[str, Any]:
    return _developer_notification(
        package_name,
        event_time_millis,
        oneTimeProductNotification={
            "version": "1.0",
            "notificationType": notification_type,
            "purchaseToken": purchase_token,
            "sku": sku,
        },
    )


def google_voided_purchase_notification(
    *,
    purchase_token: str = SAMPLE_SUBSCRIPTION_PURCHASE,
    order_id: str = "GPA.3333-4444-5555-66666",
    product_type: int = 1,
    refund_type: int = 1,
    package_name: str = DEFAULT_PACKAGE_NAME,
    event_time_millis: int | None = None,
) -> dict[str, Any]:
    """productType 1 = subscription, 2 = one-time; refundType 1 = full, 2 = quantity-based partial."""
    return _developer_notification(
        package_name,
        event_time_millis,
        voidedPurchaseNotification={
            "purchaseToken": purchase_token,
            "orderId": order_id,
            "productType": product_type,
            "refundType": refund_type,
        },
    )


def google_test_notification(
    *, package_name: str = DEFAULT_PACKAGE_NAME, event_time_millis: int | None = None
) -> dict[str, Any]:
    return _developer_notification(package_name, event_time_millis, testNotification={"version": "1.0"})


def pubsub_push_body(
    notification: Mapping[str, Any] | bytes,
    *,
    message_id: str | None = None,
    subscription: str = DEFAULT_SUBSCRIPTION,
    publish_time: str | None = None,
    attributes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body a Pub/Sub push subscription POSTs (`message.data` is standard base64)."""
    raw = notification if isinstance(notification, bytes) else json.dumps(notification).encode("utf-8")
    mid = message_id or str(uuid.uuid4().int % 10**16)
    published = publish_time or dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    message: dict[str, Any] = {
        "data": base64.b64encode(raw).decode("ascii"),
        "messageId": mid,
        "message_id": mid,
        "publishTime": published,
        "publish_time": published,
    }
    if attributes:
        message["attributes"] = dict(attributes)
    return {"message": message, "subscription": subscription}
