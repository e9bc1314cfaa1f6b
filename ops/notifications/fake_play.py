"""A local stand-in for Google's OAuth token endpoint and the Play Developer API, on 127.0.0.1.

The consumer's PlayClient talks to it exactly as to Google: a service-account JWT assertion is
exchanged for an access token at the service account's `token_uri` (the assertion's RS256
signature is verified with the key the test made), then the API answers with that bearer token.
Tests set the purchases it serves and read the acknowledgements it received.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import secrets
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

API_PREFIX = "/androidpublisher/v3/applications/"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
SERVICE_ACCOUNT_EMAIL = "play-consumer@example-project.iam.gserviceaccount.com"


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
) -> dict[str, Any]:
    """A SubscriptionPurchaseV2 resource as purchases.subscriptionsv2.get returns it."""
    expiry = expiry or dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    purchase: dict[str, Any] = {
        "kind": "androidpublisher#subscriptionPurchaseV2",
        "regionCode": "US",
        "startTime": (expiry - dt.timedelta(days=30)).isoformat().replace("+00:00", "Z"),
        "subscriptionState": state,
        "latestOrderId": "GPA.1234-5678-9012-34567",
        "acknowledgementState": "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
        if acknowledged
        else "ACKNOWLEDGEMENT_STATE_PENDING",
        "lineItems": [
            {
                "productId": product_id,
                "expiryTime": expiry.isoformat().replace("+00:00", "Z"),
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


class FakePlay:
    """Token endpoint at /token and the Play Developer API under /androidpublisher/v3/."""

    def __init__(self, service_account: ServiceAccount | None = None) -> None:
        self.service_account = service_account or ServiceAccount()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.products: dict[tuple[str, str], dict[str, Any]] = {}
        self.acknowledged: list[tuple[str, str, str]] = []  # (kind, product id, token)
        self.requests: list[tuple[str, str]] = []
        self.tokens_issued = 0
        self.fail_next = 0  # answer this many API calls with 503
        self._access_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    @property
    def api_root(self) -> str:
        return self.base_url + "/androidpublisher/v3/"

    def credentials_info(self) -> dict[str, Any]:
        return self.service_account.info(self.token_uri)

    def start(self) -> FakePlay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakePlay:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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

    def _api(self, method: str, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        bearer = (authorization or "").removeprefix("Bearer ")
        if bearer not in self._access_tokens:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        with self._lock:
            self.requests.append((method, path))
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"error": {"code": 503, "status": "UNAVAILABLE"}}
        parts = [unquote(p) for p in path[len(API_PREFIX) :].split("/")]
        # <package>/purchases/<collection>/...
        if len(parts) == 5 and parts[1:3] == ["purchases", "subscriptionsv2"] and method == "GET":
            purchase = self.subscriptions.get(parts[4])
            return (200, purchase) if purchase else (404, {"error": {"code": 404}})
        if len(parts) == 6 and parts[1] == "purchases" and parts[2] in ("subscriptions", "products"):
            product_id, token = parts[3], parts[5]
            if method == "POST" and token.endswith(":acknowledge"):
                token = token.removesuffix(":acknowledge")
                return self._acknowledge(parts[2], product_id, token)
            if method == "GET" and parts[2] == "products":
                purchase = self.products.get((product_id, token))
                return (200, purchase) if purchase else (404, {"error": {"code": 404}})
        return 404, {"error": {"code": 404, "message": f"no route {method} {path}"}}

    def _acknowledge(self, collection: str, product_id: str, token: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if collection == "subscriptions":
                purchase = self.subscriptions.get(token)
                if purchase is None:
                    return 404, {"error": {"code": 404}}
                purchase["acknowledgementState"] = "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
            else:
                product = self.products.get((product_id, token))
                if product is None:
                    return 404, {"error": {"code": 404}}
                product["acknowledgementState"] = 1
            self.acknowledged.append((collection, product_id, token))
        return 200, {}

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                body = self._body()
                if path == "/token":
                    self._reply(*fake._issue_token(parse_qs(body.decode("utf-8"))))
                elif path.startswith(API_PREFIX):
                    self._reply(*fake._api("POST", path, self.headers.get("Authorization")))
                else:
                    self._reply(404, {"error": "not found"})

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path.startswith(API_PREFIX):
                    self._reply(*fake._api("GET", path, self.headers.get("Authorization")))
                else:
                    self._reply(404, {"error": "not found"})

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
