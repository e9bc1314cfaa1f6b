"""Verify Google Play Real-time Developer Notifications delivered by a Pub/Sub push subscription.

The push request carries an OIDC token signed by Google (RS256, keys from Google's JWKS) whose
audience we configured on the subscription and whose `email` is the push service account. Only
after that is the body trusted: `message.data` is the base64 DeveloperNotification.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from lambdas.receiver.exceptions import (
    MalformedRequest,
    NotForThisApp,
    UpstreamUnavailable,
    VerificationFailed,
)
from lambdas.receiver.parsing import json_object
from lambdas.shared.messages import GOOGLE_TEST_GROUP, MAX_ID_CHARS

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
NOTIFICATION_KINDS = (
    "subscriptionNotification",
    "oneTimeProductNotification",
    "voidedPurchaseNotification",
    "testNotification",
)
_MAX_TOKEN_CHARS = 8192
_MAX_JWKS_BYTES = 262_144
_LEEWAY_SECONDS = 30


def fetch_jwks(url: str, timeout: float = 3.0) -> dict[str, Any]:
    """GET the JWKS document; the URL was validated (https, or http on loopback) at cold start."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        document = json.loads(response.read(_MAX_JWKS_BYTES))
    if not isinstance(document, dict):
        raise ValueError("JWKS is not a JSON object")
    return document


class JwksCache:
    """Google's signing keys by `kid`: cached for `ttl`, refreshed early on an unknown kid.

    Refreshes for unknown kids are rate-limited so a stream of forged tokens with random kids
    cannot turn into a stream of requests to Google. While Google's JWKS endpoint is down, the keys
    last fetched keep verifying for at most `max_stale_seconds` past their TTL (Google rotates
    with overlap, so a key that old may already be retired - or leaked); after that every
    request is a 503 until the endpoint answers, and Pub/Sub redelivers.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 3600.0,
        min_refresh_interval_seconds: float = 60.0,
        max_stale_seconds: float = 6 * 3600.0,
        fetch: Callable[[str], dict[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.ttl_seconds = ttl_seconds
        self.min_refresh_interval_seconds = min_refresh_interval_seconds
        self.max_stale_seconds = max_stale_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # the last successful fetch
        self._tried_at: float | None = None  # the last attempt, successful or not
        self.fetch_count = 0
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any:
        with self._lock:
            now = self._clock()
            age = float("inf") if self._fetched_at is None else now - self._fetched_at
            since_try = float("inf") if self._tried_at is None else now - self._tried_at
            unknown_kid = kid not in self._keys
            due = age >= self.ttl_seconds or unknown_kid
            if due and since_try >= self.min_refresh_interval_seconds:
                self._refresh(now)
                age = now - self._fetched_at if self._fetched_at is not None else float("inf")
            if age >= self.ttl_seconds + self.max_stale_seconds:
                raise UpstreamUnavailable(
                    "jwks_stale",
                    f"Google's JWKS could not be refreshed for {age:.0f}s; keys too old to trust",
                )
            try:
                return self._keys[kid]
            except KeyError:
                raise VerificationFailed("unknown_kid", "token kid is not in Google's JWKS") from None

    def _refresh(self, now: float) -> None:
        self.fetch_count += 1
        self._tried_at = now
        try:
            document = self._fetch(self.url)
            keys = {
                jwk.key_id: jwk.key
                for jwk in jwt.PyJWKSet.from_dict(document).keys
                if jwk.key_id and jwk.key_type == "RSA"
            }
        except Exception as exc:
            if self._keys:
                # Keep verifying with the keys we have (within max_stale); Google rotates with overlap.
                return
            raise UpstreamUnavailable("jwks_unavailable", exc.__class__.__name__) from None
        self._keys = keys
        self._fetched_at = now


class GoogleVerifier:
    """Verifies Pub/Sub push requests for one package, audience and push service account."""

    def __init__(self, jwks: JwksCache, *, package_name: str, audience: str, service_account: str) -> None:
        self.jwks = jwks
        self.package_name = package_name
        self.audience = audience
        self.service_account = service_account

    def verify_token(self, authorization: str | None) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Bearer "):
            raise VerificationFailed("missing_bearer", "no Authorization: Bearer header")
        token = authorization[len("Bearer ") :].strip()
        if not token or len(token) > _MAX_TOKEN_CHARS:
            raise VerificationFailed("malformed_token", "empty or oversized token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise VerificationFailed("malformed_token", "token header does not decode") from None
        if header.get("alg") != "RS256":
            raise VerificationFailed("alg_not_allowed", f"alg {str(header.get('alg'))[:20]!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise VerificationFailed("kid_missing", "token has no kid")
        key = self.jwks.key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=ISSUERS,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise VerificationFailed("token_expired") from None
        except jwt.InvalidAudienceError:
            raise VerificationFailed("wrong_audience") from None
        except jwt.InvalidIssuerError:
            raise VerificationFailed("wrong_issuer") from None
        except jwt.InvalidSignatureError:
            raise VerificationFailed("signature_invalid") from None
        except jwt.InvalidTokenError as exc:
            raise VerificationFailed("token_invalid", exc.__class__.__name__) from None
        if claims.get("email") != self.service_account:
            raise NotForThisApp("wrong_service_account", "token email is not the push service account")
        if claims.get("email_verified") is not True:
            raise NotForThisApp("email_not_verified", "token email_verified is not true")
        return claims

    def verify_push(self, authorization: str | None, body: bytes) -> dict[str, Any]:
        """Verify the token, then decode the push body into a DeveloperNotification plus `pubsub`."""
        self.verify_token(authorization)
        envelope = json_object(body, "body")
        message = envelope.get("message")
        if not isinstance(message, dict):
            raise MalformedRequest("pubsub_message", "body has no message object")
        message_id = message.get("messageId") or message.get("message_id")
        if not isinstance(message_id, str) or not message_id.strip():
            raise MalformedRequest("pubsub_message_id", "message.messageId is missing")
        if len(message_id) > MAX_ID_CHARS:
            raise MalformedRequest("pubsub_message_id", f"message.messageId is longer than {MAX_ID_CHARS}")
        data = message.get("data")
        if not isinstance(data, str) or not data:
            raise MalformedRequest("pubsub_data", "message.data is missing")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedRequest("pubsub_data", "message.data is not base64") from None
        notification = json_object(raw, "message.data")
        if notification.get("packageName") != self.package_name:
            raise NotForThisApp("wrong_package", f"packageName {str(notification.get('packageName'))[:80]!r}")
        kinds = [k for k in NOTIFICATION_KINDS if isinstance(notification.get(k), dict)]
        if len(kinds) != 1:
            raise MalformedRequest("notification_kind", f"expected one of {', '.join(NOTIFICATION_KINDS)}")
        if kinds[0] != "testNotification":
            token = notification[kinds[0]].get("purchaseToken")
            if not isinstance(token, str) or not token.strip():
                raise MalformedRequest("purchase_token", f"{kinds[0]}.purchaseToken is missing")
            if len(token) > MAX_ID_CHARS:
                raise MalformedRequest(
                    "purchase_token", f"{kinds[0]}.purchaseToken is longer than {MAX_ID_CHARS}"
                )
        publish_time = message.get("publishTime") or message.get("publish_time")
        subscription = envelope.get("subscription")
        notification["pubsub"] = {
            "messageId": message_id,
            "publishTime": publish_time if isinstance(publish_time, str) else None,
            "subscription": subscription if isinstance(subscription, str) else None,
        }
        return notification


def google_group_id(notification: Mapping[str, Any]) -> str:
    """The FIFO group: the purchase token, or the test group for test notifications."""
    for kind in NOTIFICATION_KINDS[:3]:
        body = notification.get(kind)
        if isinstance(body, dict):
            return str(body["purchaseToken"])
    return GOOGLE_TEST_GROUP
