"""Signing material for tests, the demo and `ops notifications`: nothing here touches the network.

Apple: a three-level ES256 test CA shaped like Apple's (root -> intermediate carrying
1.2.840.113635.100.6.2.1 -> leaf carrying 1.2.840.113635.100.6.11.1) and JWS signing with an
`x5c` header, so the receiver can be exercised with payloads nobody but this CA signed — the
production receiver pins Apple Root CA - G3 and will never accept them.

Google: an RSA key with its JWKS document and Pub/Sub push OIDC tokens, plus Pub/Sub push
bodies around Real-time Developer Notifications.

The payload builders produce the field names and shapes of App Store Server Notifications V2
and Google RTDN, with realistic defaults that each test overrides where it matters.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

APPLE_LEAF_OID = "1.2.840.113635.100.6.11.1"
APPLE_INTERMEDIATE_OID = "1.2.840.113635.100.6.2.1"

GOOGLE_ISSUER = "https://accounts.google.com"

DEFAULT_BUNDLE_ID = "com.example.couplediary"
DEFAULT_APP_APPLE_ID = 1234567890
DEFAULT_PACKAGE_NAME = "com.example.couplediary"
DEFAULT_AUDIENCE = "https://notifications.example.com/notifications/google"
DEFAULT_SERVICE_ACCOUNT = "rtdn-push@example-project.iam.gserviceaccount.com"
DEFAULT_SUBSCRIPTION = "projects/example-project/subscriptions/play-rtdn-push"
# Purchase tokens are opaque strings from Play; these are stand-ins, not credentials.
SAMPLE_SUBSCRIPTION_PURCHASE = "opaque-purchase-token-subscription-0001"
SAMPLE_ONE_TIME_PURCHASE = "opaque-purchase-token-one-time-0001"

_NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)

# Google RTDN codes (developer.android.com/google/play/billing/rtdn-reference).
SUBSCRIPTION_NOTIFICATION_TYPES: dict[str, int] = {
    "SUBSCRIPTION_RECOVERED": 1,
    "SUBSCRIPTION_RENEWED": 2,
    "SUBSCRIPTION_CANCELED": 3,
    "SUBSCRIPTION_PURCHASED": 4,
    "SUBSCRIPTION_ON_HOLD": 5,
    "SUBSCRIPTION_IN_GRACE_PERIOD": 6,
    "SUBSCRIPTION_RESTARTED": 7,
    "SUBSCRIPTION_PRICE_CHANGE_CONFIRMED": 8,
    "SUBSCRIPTION_DEFERRED": 9,
    "SUBSCRIPTION_PAUSED": 10,
    "SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED": 11,
    "SUBSCRIPTION_REVOKED": 12,
    "SUBSCRIPTION_EXPIRED": 13,
    "SUBSCRIPTION_ITEMS_CHANGED": 17,
    "SUBSCRIPTION_CANCELLATION_SCHEDULED": 18,
    "SUBSCRIPTION_PRICE_CHANGE_UPDATED": 19,
    "SUBSCRIPTION_PENDING_PURCHASE_CANCELED": 20,
    "SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED": 22,
}
ONE_TIME_PRODUCT_NOTIFICATION_TYPES: dict[str, int] = {
    "ONE_TIME_PRODUCT_PURCHASED": 1,
    "ONE_TIME_PRODUCT_CANCELED": 2,
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_segment(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def now_ms() -> int:
    return int(time.time() * 1000)


def es256_sign(payload: Mapping[str, Any], header: Mapping[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    """A compact JWS whose signature is ES256 (raw r||s, as RFC 7518 requires) over `header.payload`."""
    signing_input = f"{_json_segment(header)}.{_json_segment(payload)}"
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


# --- Apple test CA ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AppleTestCA:
    """Root, intermediate and leaf of a test CA shaped like Apple's, with the leaf's signing key."""

    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey
    # Only needed to answer OCSP requests for this CA (see OcspResponder).
    intermediate_key: ec.EllipticCurvePrivateKey | None = None
    root_key: ec.EllipticCurvePrivateKey | None = None

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)

    def x5c(self) -> list[str]:
        """The `x5c` header: standard base64 DER of leaf, intermediate and root, in that order."""
        return [
            base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for cert in (self.leaf, self.intermediate, self.root)
        ]

    def sign(self, payload: Mapping[str, Any], *, x5c: list[str] | None = None) -> str:
        """An ES256 JWS over `payload` with this CA's chain in `x5c` (or the one given)."""
        return es256_sign(payload, {"alg": "ES256", "x5c": self.x5c() if x5c is None else x5c}, self.leaf_key)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Platform Ops Test CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Test Only"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )


def _marker(oid: str) -> x509.UnrecognizedExtension:
    # Apple's marker extensions hold an ASN.1 NULL.
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00")


def _certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool,
    path_length: int | None,
    marker_oid: str | None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if marker_oid:
        builder = builder.add_extension(_marker(marker_oid), critical=False)
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def make_apple_test_ca(
    *,
    root_key: ec.EllipticCurvePrivateKey | None = None,
    root_common_name: str = "Test Root CA - G3",
    not_before: dt.datetime = _NOT_BEFORE,
    not_after: dt.datetime = _NOT_AFTER,
    leaf_not_before: dt.datetime | None = None,
    leaf_not_after: dt.datetime | None = None,
    leaf_oid: str | None = APPLE_LEAF_OID,
    intermediate_oid: str | None = APPLE_INTERMEDIATE_OID,
    intermediate_is_ca: bool = True,
    ocsp_url: str | None = None,
) -> AppleTestCA:
    """A fresh three-level ES256/P-256 CA; the keyword arguments make the broken variants tests need.

    `leaf_oid` / `intermediate_oid` = None (or another OID) drop Apple's markers; leaf validity can
    be narrowed to make a leaf that is expired at a given `signedDate`; `ocsp_url` names an OCSP
    responder (an `OcspResponder`) in the leaf's and intermediate's AIA extension.
    """
    root_key = root_key or ec.generate_private_key(ec.SECP256R1())
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(root_common_name)
    intermediate_name = _name("Test Worldwide Developer Relations Certification Authority")
    root = _certificate(
        subject=root_name,
        issuer=root_name,
        public_key=root_key.public_key(),
        signing_key=root_key,
        not_before=not_before,
        not_after=not_after,
        ca=True,
        path_length=None,
        marker_oid=None,
    )
    intermediate = _certificate(
        subject=intermediate_name,
        issuer=root_name,
        public_key=intermediate_key.public_key(),
        signing_key=root_key,
        not_before=not_before,
        not_after=not_after,
        ca=intermediate_is_ca,
        path_length=0,
        marker_oid=intermediate_oid,
        ocsp_url=ocsp_url,
    )
    leaf = _certificate(
        subject=_name("Test ECC Mac App Store and iTunes Store Receipt Signing"),
        issuer=intermediate_name,
        public_key=leaf_key.public_key(),
        signing_key=intermediate_key,
        not_before=leaf_not_before or not_before,
        not_after=leaf_not_after or not_after,
        ca=False,
        path_length=None,
        marker_oid=leaf_oid,
        ocsp_url=ocsp_url,
    )
    return AppleTestCA(
        root=root,
        intermediate=intermediate,
        leaf=leaf,
        leaf_key=leaf_key,
        intermediate_key=intermediate_key,
        root_key=root_key,
    )


# --- Apple payloads ----------------------------------------------------------------------------


def apple_transaction_info(
    *,
    original_transaction_id: str = "2000000123456789",
    transaction_id: str | None = None,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    environment: str = "Sandbox",
    product_id: str = "com.example.couplediary.premium.monthly",
    product_type: str = "Auto-Renewable Subscription",
    purchase_date: int | None = None,
    expires_date: int | None = None,
    signed_date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A decoded JWSTransactionDecodedPayload."""
    signed = signed_date or now_ms()
    purchased = purchase_date or signed - 60_000
    info: dict[str, Any] = {
        "transactionId": transaction_id or original_transaction_id,
        "originalTransactionId": original_transaction_id,
        "bundleId": bundle_id,
        "productId": product_id,
        "purchaseDate": purchased,
        "originalPurchaseDate": purchased,
        "quantity": 1,
        "type": product_type,
        "inAppOwnershipType": "PURCHASED",
        "signedDate": signed,
        "environment": environment,
        "transactionReason": "PURCHASE",
        "storefront": "USA",
        "storefrontId": "143441",
        "price": 4990,
        "currency": "USD",
    }
    if product_type == "Auto-Renewable Subscription":
        info["webOrderLineItemId"] = f"{original_transaction_id}1"
        info["subscriptionGroupIdentifier"] = "21000001"
        info["expiresDate"] = expires_date or purchased + 30 * 86_400_000
    info.update(extra)
    return info


def apple_renewal_info(
    *,
    original_transaction_id: str = "2000000123456789",
    environment: str = "Sandbox",
    product_id: str = "com.example.couplediary.premium.monthly",
    auto_renew_status: int = 1,
    signed_date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A decoded JWSRenewalInfoDecodedPayload."""
    signed = signed_date or now_ms()
    info: dict[str, Any] = {
        "originalTransactionId": original_transaction_id,
        "autoRenewProductId": product_id,
        "productId": product_id,
        "autoRenewStatus": auto_renew_status,
        "signedDate": signed,
        "environment": environment,
        "recentSubscriptionStartDate": signed - 60_000,
        "renewalDate": signed + 30 * 86_400_000,
    }
    info.update(extra)
    return info


def apple_notification(
    notification_type: str,
    subtype: str | None = None,
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    signed_transaction_info: str | None = None,
    signed_renewal_info: str | None = None,
    status: int | None = None,
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """A decoded responseBodyV2DecodedPayload with a `data` object."""
    data: dict[str, Any] = {"bundleId": bundle_id, "bundleVersion": "42", "environment": environment}
    if app_apple_id is not None:
        data["appAppleId"] = app_apple_id
    if signed_transaction_info is not None:
        data["signedTransactionInfo"] = signed_transaction_info
    if signed_renewal_info is not None:
        data["signedRenewalInfo"] = signed_renewal_info
    if status is not None:
        data["status"] = status
    payload: dict[str, Any] = {
        "notificationType": notification_type,
        "notificationUUID": notification_uuid or str(uuid.uuid4()),
        "data": data,
        "version": "2.0",
        "signedDate": signed_date or now_ms(),
    }
    if subtype is not None:
        payload["subtype"] = subtype
    return payload


def apple_subscription_notification(
    ca: AppleTestCA,
    notification_type: str = "DID_RENEW",
    subtype: str | None = None,
    *,
    original_transaction_id: str = "2000000123456789",
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
    transaction: Mapping[str, Any] | None = None,
    renewal: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A notification whose signedTransactionInfo and signedRenewalInfo are signed by `ca` too."""
    signed = signed_date or now_ms()
    transaction_payload = dict(
        transaction
        or apple_transaction_info(
            original_transaction_id=original_transaction_id,
            bundle_id=bundle_id,
            environment=environment,
            signed_date=signed,
        )
    )
    renewal_payload = dict(
        renewal
        or apple_renewal_info(
            original_transaction_id=original_transaction_id, environment=environment, signed_date=signed
        )
    )
    return apple_notification(
        notification_type,
        subtype,
        bundle_id=bundle_id,
        app_apple_id=app_apple_id,
        environment=environment,
        signed_transaction_info=ca.sign(transaction_payload),
        signed_renewal_info=ca.sign(renewal_payload),
        status=1,
        notification_uuid=notification_uuid,
        signed_date=signed,
    )


def apple_test_notification(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    return apple_notification(
        "TEST",
        bundle_id=bundle_id,
        app_apple_id=app_apple_id,
        environment=environment,
        notification_uuid=notification_uuid,
        signed_date=signed_date,
    )


def apple_renewal_extension_summary(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """RENEWAL_EXTENSION / SUMMARY: a `summary` object instead of `data`."""
    summary: dict[str, Any] = {
        "requestIdentifier": str(uuid.uuid4()),
        "environment": environment,
        "bundleId": bundle_id,
        "productId": "com.example.couplediary.premium.monthly",
        "storefrontCountryCodes": ["USA", "CAN"],
        "succeededCount": 5,
        "failedCount": 0,
    }
    if app_apple_id is not None:
        summary["appAppleId"] = app_apple_id
    return {
        "notificationType": "RENEWAL_EXTENSION",
        "subtype": "SUMMARY",
        "notificationUUID": notification_uuid or str(uuid.uuid4()),
        "version": "2.0",
        "signedDate": signed_date or now_ms(),
        "summary": summary,
    }


def apple_external_purchase_token(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """EXTERNAL_PURCHASE_TOKEN / UNREPORTED: an `externalPurchaseToken` object.

    It has no environment field; Apple marks sandbox tokens with a `SANDBOX` externalPurchaseId prefix.
    """
    signed = signed_date or now_ms()
    prefix = "SANDBOX_" if environment == "Sandbox" else ""
    token: dict[str, Any] = {
        "externalPurchaseId": f"{prefix}{uuid.uuid4()}",
        "tokenCreationDate": signed - 1000,
        "bundleId": bundle_id,
    }
    if app_apple_id is not None:
        token["appAppleId"] = app_apple_id
    return {
        "notificationType": "EXTERNAL_PURCHASE_TOKEN",
        "subtype": "UNREPORTED",
        "notificationUUID": notification_uuid or str(uuid.uuid4()),
        "version": "2.0",
        "signedDate": signed,
        "externalPurchaseToken": token,
    }


def apple_rescind_consent(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """RESCIND_CONSENT: an `appData` object (app metadata, no transaction)."""
    app_data: dict[str, Any] = {"bundleId": bundle_id, "environment": environment}
    if app_apple_id is not None:
        app_data["appAppleId"] = app_apple_id
    return {
        "notificationType": "RESCIND_CONSENT",
        "notificationUUID": notification_uuid or str(uuid.uuid4()),
        "version": "2.0",
        "signedDate": signed_date or now_ms(),
        "appData": app_data,
    }


def apple_request_body(signed_payload: str) -> str:
    """The POST body App Store Server Notifications V2 sends."""
    return json.dumps({"signedPayload": signed_payload})


# --- Google ------------------------------------------------------------------------------------


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


class JwksServer:
    """Serves a JWKS document on 127.0.0.1, standing in for Google's certs endpoint locally.

    The document can be swapped while running (key rotation) and requests are counted, so tests
    can see the receiver's cache and refresh behaviour.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._body = json.dumps(document).encode("utf-8")
        self.requests = 0
        self.fail = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.fail:
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server._body)))
                self.end_headers()
                self.wfile.write(server._body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown (once per test) fast.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/oauth2/v3/certs"

    def set_document(self, document: Mapping[str, Any]) -> None:
        self._body = json.dumps(document).encode("utf-8")

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class OcspResponder:
    """An OCSP responder on 127.0.0.1 for one AppleTestCA: answers for its leaf and intermediate.

    `statuses` maps a certificate serial number to "good" (the default), "revoked" or "unknown";
    `fail` makes it answer HTTP 503, `forge` signs answers with a key the CA never certified,
    `delegate` signs through a responder certificate the issuer delegated to (as Apple's do) and
    `by_key_hash` identifies the responder by key hash instead of name.
    Start it before making the CA (the URL goes into the certificates), then `serve(ca)`.
    """

    def __init__(self) -> None:
        self.statuses: dict[int, str] = {}
        self.requests = 0
        self.fail = False
        self.forge = False
        self.delegate = False
        self.by_key_hash = False
        self._ca: AppleTestCA | None = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.requests += 1
                length = int(self.headers.get("Content-Length", "0"))
                request = self.rfile.read(length)
                if server.fail or server._ca is None:
                    self.send_error(503)
                    return
                body = server._answer(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/ocsp"

    def serve(self, ca: AppleTestCA) -> None:
        if ca.intermediate_key is None or ca.root_key is None:
            raise ValueError("the CA was built without its issuer keys; use make_apple_test_ca()")
        self._ca = ca

    def _answer(self, request_der: bytes) -> bytes:
        ca = self._ca
        assert ca is not None and ca.intermediate_key is not None and ca.root_key is not None
        request = ocsp.load_der_ocsp_request(request_der)
        key: ec.EllipticCurvePrivateKey
        if request.serial_number == ca.leaf.serial_number:
            cert, issuer, key = ca.leaf, ca.intermediate, ca.intermediate_key
        elif request.serial_number == ca.intermediate.serial_number:
            cert, issuer, key = ca.intermediate, ca.root, ca.root_key
        else:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(serialization.Encoding.DER)
        status = {
            "good": ocsp.OCSPCertStatus.GOOD,
            "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN,
        }[self.statuses.get(cert.serial_number, "good")]
        now = dt.datetime.now(dt.UTC)
        responder_cert, signer = issuer, key
        extra_certs: list[x509.Certificate] = []
        if self.delegate:
            signer = ec.generate_private_key(ec.SECP256R1())
            responder_cert = (
                x509.CertificateBuilder()
                .subject_name(_name("Test OCSP Responder"))
                .issuer_name(issuer.subject)
                .public_key(signer.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
                .sign(key, hashes.SHA256())
            )
            extra_certs.append(responder_cert)
        if self.forge:
            # Same name as the issuer, another key: only the signature check can catch it.
            signer = ec.generate_private_key(ec.SECP256R1())
            responder_cert = _certificate(
                subject=issuer.subject,
                issuer=issuer.subject,
                public_key=signer.public_key(),
                signing_key=signer,
                not_before=_NOT_BEFORE,
                not_after=_NOT_AFTER,
                ca=True,
                path_length=None,
                marker_oid=None,
            )
        revoked = status == ocsp.OCSPCertStatus.REVOKED
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=cert,
                issuer=issuer,
                algorithm=hashes.SHA256(),
                cert_status=status,
                this_update=now - dt.timedelta(minutes=1),
                next_update=now + dt.timedelta(hours=1),
                revocation_time=now - dt.timedelta(days=1) if revoked else None,
                revocation_reason=None,
            )
            .responder_id(
                ocsp.OCSPResponderEncoding.HASH if self.by_key_hash else ocsp.OCSPResponderEncoding.NAME,
                responder_cert,
            )
        )
        if extra_certs:
            builder = builder.certificates(extra_certs)
        return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def __enter__(self) -> OcspResponder:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
