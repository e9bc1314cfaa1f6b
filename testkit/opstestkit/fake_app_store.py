"""The App Store Server API on 127.0.0.1, holding the truth about the app's purchases.

Endpoints (as Apple serves them, JSON, ES256 bearer token from the expected in-app purchase key):
Get All Subscription Statuses `GET /inApps/v1/subscriptions/{id}`, Get Transaction Info
`GET /inApps/v1/transactions/{id}`, Get Notification History `POST /inApps/v1/notifications/history`,
Send Consumption Information `PUT /inApps/v2/transactions/consumption/{id}`.

Tests change the truth (`subscriptions`, `one_time`), advance `clock`, and ask for the notification
Apple would send (`notify`); every notification is kept for the history endpoint whether or not the
test delivers it, as Apple keeps those it failed to deliver. Another process (a local rehearsal's
`ops notifications send apple --missed`) adds a signed notification Apple "sent" while the
receiver was down with `POST /testkit/history` `{"signedPayload": ...}` (not an Apple endpoint).
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from opstestkit.apple_ca import AppleTestCA
from opstestkit.apple_payloads import apple_notification, apple_renewal_info, apple_transaction_info
from opstestkit.defaults import DEFAULT_APP_APPLE_ID, DEFAULT_BUNDLE_ID, now_ms
from opstestkit.loopback import LoopbackServer, QuietHandler

if TYPE_CHECKING:
    from lambdas.consumer.apple.store_api import AppStoreApi

# Apple's subscription status codes (Get All Subscription Statuses).
ACTIVE, EXPIRED, BILLING_RETRY, GRACE, REVOKED = 1, 2, 3, 4, 5
_TRANSACTION_NOT_FOUND = 4040010


@dataclass
class AppleSubscription:
    """One auto-renewable subscription as the App Store knows it."""

    original_transaction_id: str
    product_id: str
    account: str | None
    purchase_ms: int
    expires_ms: int
    auto_renew: bool = True
    billing_retry: bool = False
    grace_expires_ms: int | None = None
    revocation_ms: int | None = None
    revocation_type: str | None = None
    revocation_percentage: int | None = None
    renewals: int = 0

    @property
    def transaction_id(self) -> str:
        return f"{self.original_transaction_id}{self.renewals:04d}"

    def status(self, now: int) -> int:
        if self.revocation_ms is not None:
            return REVOKED
        if self.expires_ms > now:
            return ACTIVE
        if self.billing_retry:
            return GRACE if (self.grace_expires_ms or 0) > now else BILLING_RETRY
        return EXPIRED


@dataclass
class AppleOneTime:
    """A non-consumable (the lifetime pass) or consumable purchase."""

    transaction_id: str
    product_id: str
    account: str | None
    purchase_ms: int
    revocation_ms: int | None = None
    product_type: str = "Non-Consumable"


@dataclass
class KeyCredentials:
    """An App Store Connect in-app purchase key made for the test (what the .p8 file holds)."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    key_id: str = "TESTKEY123"
    issuer_id: str = "57246542-96fe-1a63-e053-0824d011072a"

    @property
    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


class FakeAppStore(LoopbackServer):
    def __init__(
        self,
        ca: AppleTestCA,
        *,
        key: KeyCredentials | None = None,
        bundle_id: str = DEFAULT_BUNDLE_ID,
        app_apple_id: int = DEFAULT_APP_APPLE_ID,
        environment: str = "Sandbox",
        clock: Callable[[], int] = now_ms,
        page_size: int = 20,
    ) -> None:
        self.ca = ca
        self.key = key or KeyCredentials()
        self.bundle_id = bundle_id
        self.app_apple_id = app_apple_id
        self.environment = environment
        self.clock = clock
        self.page_size = page_size
        self.subscriptions: dict[str, AppleSubscription] = {}
        self.one_time: dict[str, AppleOneTime] = {}
        self.history: list[tuple[int, str]] = []  # (signedDate, signedPayload)
        self.consumption: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[tuple[str, str]] = []
        self.unavailable = False
        self._lock = threading.Lock()
        super().__init__()

    def api_client(self, key: KeyCredentials | None = None, **options: Any) -> AppStoreApi:
        """The consumer's App Store Server API client (Apple's library) pointed at this fake and
        verifying with its CA; `key` (default: the one the fake accepts) and `options` override."""
        from lambdas.consumer.apple.store_api import AppStoreApi, AppStoreKey

        key = key or self.key
        settings: dict[str, Any] = {
            "bundle_id": self.bundle_id,
            "app_apple_id": self.app_apple_id,
            "environment": self.environment,
            "root_certificates": [self.ca.root_der],
            "base_url": self.base_url,
            **options,
        }
        return AppStoreApi(AppStoreKey(key.key_id, key.issuer_id, key.private_key_pem), **settings)

    # --- the signed data Apple would return ------------------------------------------------------

    def transaction(self, sub: AppleSubscription) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if sub.account:
            extra["appAccountToken"] = sub.account
        if sub.revocation_ms is not None:
            extra.update(revocationDate=sub.revocation_ms, revocationReason=0)
            if sub.revocation_type:
                extra["revocationType"] = sub.revocation_type
            if sub.revocation_percentage is not None:
                extra["revocationPercentage"] = sub.revocation_percentage
        return apple_transaction_info(
            original_transaction_id=sub.original_transaction_id,
            transaction_id=sub.transaction_id,
            bundle_id=self.bundle_id,
            environment=self.environment,
            product_id=sub.product_id,
            purchase_date=sub.purchase_ms,
            expires_date=sub.expires_ms,
            signed_date=self.clock(),
            **extra,
        )

    def renewal(self, sub: AppleSubscription) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if sub.billing_retry:
            extra["isInBillingRetryPeriod"] = True
            if sub.grace_expires_ms:
                extra["gracePeriodExpiresDate"] = sub.grace_expires_ms
        return apple_renewal_info(
            original_transaction_id=sub.original_transaction_id,
            environment=self.environment,
            product_id=sub.product_id,
            auto_renew_status=1 if sub.auto_renew else 0,
            signed_date=self.clock(),
            **extra,
        )

    def one_time_transaction(self, item: AppleOneTime) -> dict[str, Any]:
        extra: dict[str, Any] = {"appAccountToken": item.account} if item.account else {}
        if item.revocation_ms is not None:
            extra.update(revocationDate=item.revocation_ms, revocationReason=0)
        return apple_transaction_info(
            original_transaction_id=item.transaction_id,
            bundle_id=self.bundle_id,
            environment=self.environment,
            product_id=item.product_id,
            product_type=item.product_type,
            purchase_date=item.purchase_ms,
            signed_date=self.clock(),
            **extra,
        )

    def signed_transaction(self, transaction_id: str) -> str | None:
        """What the app gets from StoreKit (and posts to the purchase route) for a transaction id."""
        for sub in self.subscriptions.values():
            if transaction_id in (sub.original_transaction_id, sub.transaction_id):
                return self.ca.sign(self.transaction(sub))
        item = self.one_time.get(transaction_id)
        return self.ca.sign(self.one_time_transaction(item)) if item else None

    def notify(self, notification_type: str, subtype: str | None, key: str) -> str:
        """The signedPayload Apple sends now about subscription or one-time purchase `key` (kept in
        the history whether or not the test delivers it)."""
        if key in self.subscriptions:
            sub = self.subscriptions[key]
            transaction, renewal = self.transaction(sub), self.renewal(sub)
        else:
            transaction, renewal = self.one_time_transaction(self.one_time[key]), None
        payload = apple_notification(
            notification_type,
            subtype,
            bundle_id=self.bundle_id,
            app_apple_id=self.app_apple_id,
            environment=self.environment,
            signed_transaction_info=self.ca.sign(transaction),
            signed_renewal_info=self.ca.sign(renewal) if renewal else None,
            notification_uuid=str(uuid.uuid4()),
            signed_date=self.clock(),
        )
        signed = self.ca.sign(payload)
        with self._lock:
            self.history.append((payload["signedDate"], signed))
        return signed

    # --- the API ------------------------------------------------------------------------------------

    def _authorised(self, authorization: str | None) -> bool:
        token = (authorization or "").removeprefix("Bearer ")
        try:
            if jwt.get_unverified_header(token).get("kid") != self.key.key_id:
                return False
            claims = jwt.decode(
                token, self.key.private_key.public_key(), algorithms=["ES256"], audience="appstoreconnect-v1"
            )
        except jwt.PyJWTError:
            return False
        return bool(claims.get("iss") == self.key.issuer_id and claims.get("bid") == self.bundle_id)

    def _answer(self, method: str, url: str, body: bytes) -> tuple[int, dict[str, Any] | None]:  # noqa: PLR0911
        parts = urlsplit(url)
        path = [unquote(p) for p in parts.path.strip("/").split("/")]
        with self._lock:
            self.requests.append((method, parts.path))
        if self.unavailable:
            return 503, {"errorCode": 5000001, "errorMessage": "unavailable"}
        if path[:3] == ["inApps", "v1", "subscriptions"] and len(path) == 4 and method == "GET":
            return self._statuses(path[3])
        if path[:3] == ["inApps", "v1", "transactions"] and len(path) == 4 and method == "GET":
            signed = self.signed_transaction(path[3])
            if signed is None:
                return 404, {"errorCode": _TRANSACTION_NOT_FOUND, "errorMessage": "Transaction id not found."}
            return 200, {"signedTransactionInfo": signed}
        if path == ["inApps", "v1", "notifications", "history"] and method == "POST":
            return self._history(json.loads(body or b"{}"), parse_qs(parts.query))
        if path[:4] == ["inApps", "v2", "transactions", "consumption"] and len(path) == 5 and method == "PUT":
            with self._lock:
                self.consumption.append((path[4], json.loads(body or b"{}")))
            return 202, None
        return 404, {"errorCode": 4040000, "errorMessage": "not found"}

    def _statuses(self, transaction_id: str) -> tuple[int, dict[str, Any]]:
        sub = next(
            (
                s
                for s in self.subscriptions.values()
                if transaction_id in (s.original_transaction_id, s.transaction_id)
            ),
            None,
        )
        if sub is None:
            return 404, {"errorCode": _TRANSACTION_NOT_FOUND, "errorMessage": "Transaction id not found."}
        item = {
            "originalTransactionId": sub.original_transaction_id,
            "status": sub.status(self.clock()),
            "signedTransactionInfo": self.ca.sign(self.transaction(sub)),
            "signedRenewalInfo": self.ca.sign(self.renewal(sub)),
        }
        return 200, {
            "environment": self.environment,
            "bundleId": self.bundle_id,
            "appAppleId": self.app_apple_id,
            "data": [{"subscriptionGroupIdentifier": "21000001", "lastTransactions": [item]}],
        }

    def _history(self, request: dict[str, Any], query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if "startDate" not in request or "endDate" not in request:
            return 400, {"errorCode": 4000000, "errorMessage": "startDate and endDate are required"}
        matching = [p for at, p in self.history if request["startDate"] <= at <= request["endDate"]]
        start = int((query.get("paginationToken") or ["0"])[0])
        page = matching[start : start + self.page_size]
        more = start + self.page_size < len(matching)
        reply: dict[str, Any] = {
            "notificationHistory": [{"signedPayload": p, "sendAttemptResults": []} for p in page],
            "hasMore": more,
        }
        if more:
            reply["paginationToken"] = str(start + self.page_size)
        return 200, reply

    def keep(self, signed_payload: str) -> None:
        """Keep a notification signed elsewhere in the history, as one Apple failed to deliver."""
        signed = jwt.decode(signed_payload, options={"verify_signature": False})["signedDate"]
        with self._lock:
            self.history.append((int(signed), signed_payload))

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        store = self

        class Handler(QuietHandler):
            def _serve(self, method: str) -> None:
                body = self.read_body()
                if method == "POST" and self.path == "/testkit/history":
                    store.keep(json.loads(body or b"{}")["signedPayload"])
                    self.reply_json(201, {"kept": True})
                    return
                if not store._authorised(self.headers.get("Authorization")):
                    self.reply_json(401, {"errorCode": 4010000, "errorMessage": "unauthorized"})
                    return
                status, answer = store._answer(method, self.path, body)
                if answer is None:
                    self.reply(status, b"", "application/json")
                else:
                    self.reply_json(status, answer)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

        return Handler
