"""Google's OAuth token endpoint and the Play Developer API on 127.0.0.1.

The consumer talks to it exactly as to Google: a service-account JWT assertion is exchanged for an
access token at the service account's `token_uri` (the assertion's RS256 signature is verified with
the key the test made), then the API answers that bearer token. Tests set the purchases it serves,
read the acknowledgements it received, and make it fail (`fail_next`, `unavailable`, with the HTTP
status and `Retry-After` they choose).
"""

from __future__ import annotations

import datetime as dt
import http.server
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from opstestkit.loopback import LoopbackServer, QuietHandler

API_PREFIX = "/androidpublisher/v3/applications/"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
SERVICE_ACCOUNT_EMAIL = "play-consumer@example-project.iam.gserviceaccount.com"
ACK_PENDING = "ACKNOWLEDGEMENT_STATE_PENDING"
ACK_DONE = "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class ServiceAccount:
    """A service-account key made for the test; `info(token_uri)` is the JSON Google would issue."""

    private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    key_id: str = field(default_factory=lambda: secrets.token_hex(20))
    email: str = SERVICE_ACCOUNT_EMAIL

    def info(self, token_uri: str) -> dict[str, Any]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        return {
            "type": "service_account",
            "project_id": "example-project",
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.email,
            "client_id": "100000000000000000001",
            "token_uri": token_uri,
        }


def subscription_purchase(
    state: str = "SUBSCRIPTION_STATE_ACTIVE",
    *,
    product_id: str = "premium_monthly",
    expiry: dt.datetime | None = None,
    acknowledged: bool = True,
    auto_renew: bool = True,
    linked_purchase_token: str | None = None,
    account_id: str | None = None,
    latest_order_id: str = "GPA.1234-5678-9012-34567",
) -> dict[str, Any]:
    """A SubscriptionPurchaseV2 resource as purchases.subscriptionsv2.get returns it."""
    expiry = expiry or dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    purchase: dict[str, Any] = {
        "kind": "androidpublisher#subscriptionPurchaseV2",
        "regionCode": "US",
        "startTime": rfc3339(expiry - dt.timedelta(days=30)),
        "subscriptionState": state,
        "latestOrderId": latest_order_id,
        "acknowledgementState": ACK_DONE if acknowledged else ACK_PENDING,
        "lineItems": [
            {
                "productId": product_id,
                "expiryTime": rfc3339(expiry),
                "autoRenewingPlan": {"autoRenewEnabled": auto_renew},
            }
        ],
    }
    if linked_purchase_token:
        purchase["linkedPurchaseToken"] = linked_purchase_token
    if account_id:
        purchase["externalAccountIdentifiers"] = {"obfuscatedExternalAccountId": account_id}
    return purchase


def product_purchase(
    *, purchase_state: int = 0, acknowledged: bool = False, account_id: str | None = None
) -> dict[str, Any]:
    """A ProductPurchase (purchases.products.get): purchaseState 0 purchased, 1 canceled, 2 pending."""
    purchase: dict[str, Any] = {
        "kind": "androidpublisher#productPurchase",
        "purchaseTimeMillis": str(int(dt.datetime.now(dt.UTC).timestamp() * 1000)),
        "purchaseState": purchase_state,
        "consumptionState": 0,
        "orderId": "GPA.2222-3333-4444-55555",
        "purchaseType": 0,
        "acknowledgementState": 1 if acknowledged else 0,
        "regionCode": "US",
    }
    if account_id:
        purchase["obfuscatedExternalAccountId"] = account_id
    return purchase


def voided_purchase(
    token: str, order_id: str, *, voided_at: dt.datetime | None = None, product_type: int = 1
) -> dict[str, Any]:
    """A VoidedPurchase resource (purchases.voidedpurchases.list); `product_type` is kept for tests."""
    millis = str(int((voided_at or dt.datetime.now(dt.UTC)).timestamp() * 1000))
    return {
        "kind": "androidpublisher#voidedPurchase",
        "purchaseToken": token,
        "orderId": order_id,
        "purchaseTimeMillis": millis,
        "voidedTimeMillis": millis,
        "voidedSource": 0,
        "voidedReason": 1,
        "productType": product_type,
    }


class FakePlay(LoopbackServer):
    """Token endpoint at /token and the Play Developer API under /androidpublisher/v3/."""

    def __init__(self, service_account: ServiceAccount | None = None) -> None:
        self.service_account = service_account or ServiceAccount()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.products: dict[tuple[str, str], dict[str, Any]] = {}
        self.voided: list[dict[str, Any]] = []
        self.acknowledged: list[tuple[str, str, str]] = []  # (kind, product id, token)
        self.requests: list[tuple[str, str]] = []
        self.tokens_issued = 0
        self.fail_next = 0  # answer this many API calls with `fail_status`
        self.unavailable = False  # answer every API call with `fail_status` (an outage)
        self.fail_status = 503
        self.retry_after: str | None = None  # the Retry-After header of failed answers
        self._access_tokens: set[str] = set()
        self._lock = threading.Lock()
        super().__init__()

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    @property
    def api_root(self) -> str:
        """The API endpoint (the root the discovery document's paths are relative to)."""
        return self.base_url + "/"

    def credentials_info(self) -> dict[str, Any]:
        return self.service_account.info(self.token_uri)

    # --- request handling --------------------------------------------------------------------

    def _issue_token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        assertion = (form.get("assertion") or [""])[0]
        if (form.get("grant_type") or [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(
                assertion,
                self.service_account.private_key.public_key(),
                algorithms=["RS256"],
                # google-auth always addresses its assertion to Google's endpoint, whatever token_uri is.
                audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri],
            )
        except jwt.PyJWTError as exc:
            return 400, {"error": "invalid_grant", "error_description": exc.__class__.__name__}
        if claims.get("iss") != self.service_account.email or "androidpublisher" not in claims.get(
            "scope", ""
        ):
            return 400, {"error": "invalid_scope"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens.add(token)
            self.tokens_issued += 1
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _api(self, method: str, url: str, authorization: str | None) -> tuple[int, dict[str, Any]]:  # noqa: PLR0911
        bearer = (authorization or "").removeprefix("Bearer ")
        if bearer not in self._access_tokens:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        parts_url = urlsplit(url)
        path = parts_url.path
        with self._lock:
            self.requests.append((method, path))
            if self.unavailable or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                return self.fail_status, {"error": {"code": self.fail_status, "status": "UNAVAILABLE"}}
        parts = [unquote(p) for p in path[len(API_PREFIX) :].split("/")]
        # <package>/purchases/<collection>/...
        if len(parts) == 3 and parts[1:] == ["purchases", "voidedpurchases"] and method == "GET":
            return 200, self._voided_page(parse_qs(parts_url.query))
        if len(parts) == 5 and parts[1:3] == ["purchases", "subscriptionsv2"] and method == "GET":
            purchase = self.subscriptions.get(parts[4])
            return (200, purchase) if purchase else (404, {"error": {"code": 404}})
        if len(parts) == 6 and parts[1] == "purchases" and parts[2] in ("subscriptions", "products"):
            product_id, token = parts[3], parts[5]
            if method == "POST" and token.endswith(":acknowledge"):
                return self._acknowledge(parts[2], product_id, token.removesuffix(":acknowledge"))
            if method == "GET" and parts[2] == "products":
                purchase = self.products.get((product_id, token))
                return (200, purchase) if purchase else (404, {"error": {"code": 404}})
        return 404, {"error": {"code": 404, "message": f"no route {method} {path}"}}

    def _voided_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        start = int((query.get("startTime") or ["0"])[0])
        kind = int((query.get("type") or ["0"])[0])
        wanted = [
            {k: v for k, v in v.items() if k != "productType"}
            for v in self.voided
            if int(v["voidedTimeMillis"]) >= start and (kind == 1 or v.get("productType") == 2)
        ]
        return {"voidedPurchases": wanted} if wanted else {}

    def _acknowledge(self, collection: str, product_id: str, token: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if collection == "subscriptions":
                purchase = self.subscriptions.get(token)
                if purchase is None:
                    return 404, {"error": {"code": 404}}
                purchase["acknowledgementState"] = ACK_DONE
            else:
                product = self.products.get((product_id, token))
                if product is None:
                    return 404, {"error": {"code": 404}}
                product["acknowledgementState"] = 1
            self.acknowledged.append((collection, product_id, token))
        return 200, {}

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                retry = {"Retry-After": fake.retry_after} if status >= 429 and fake.retry_after else None
                self.reply_json(status, body, retry)

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                body = self.read_body()
                if path == "/token":
                    self._answer(*fake._issue_token(parse_qs(body.decode("utf-8"))))
                elif path.startswith(API_PREFIX):
                    self._answer(*fake._api("POST", self.path, self.headers.get("Authorization")))
                else:
                    self._answer(404, {"error": "not found"})

            def do_GET(self) -> None:
                if urlsplit(self.path).path.startswith(API_PREFIX):
                    self._answer(*fake._api("GET", self.path, self.headers.get("Authorization")))
                else:
                    self._answer(404, {"error": "not found"})

        return Handler
