"""Google Pub/Sub push verification: OIDC token checks against a JWKS served on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import opstestkit as kit
import pytest

from lambdas.receiver.exceptions import (
    MalformedRequest,
    NotForThisApp,
    ReceiverError,
    UpstreamUnavailable,
    VerificationFailed,
)
from lambdas.receiver.google import GoogleVerifier, JwksCache, fetch_jwks, google_group_id
from lambdas.shared import messages

Load = Callable[[str], dict[str, Any]]


@pytest.fixture
def verifier(jwks_server: kit.JwksServer) -> GoogleVerifier:
    return GoogleVerifier(
        JwksCache(jwks_server.url),
        package_name=kit.DEFAULT_PACKAGE_NAME,
        audience=kit.DEFAULT_AUDIENCE,
        service_account=kit.DEFAULT_SERVICE_ACCOUNT,
    )


def _body(notification: dict[str, Any] | bytes, **kwargs: Any) -> bytes:
    return json.dumps(kit.pubsub_push_body(notification, **kwargs)).encode()


def _refused(
    verifier: GoogleVerifier, authorization: str | None, body: bytes
) -> tuple[type[ReceiverError], str]:
    with pytest.raises(ReceiverError) as info:
        verifier.verify_push(authorization, body)
    return type(info.value), info.value.reason


def _token_refused(verifier: GoogleVerifier, token: str, load: Load) -> tuple[type[ReceiverError], str]:
    """Why a test notification pushed with `token` as its bearer token is refused."""
    return _refused(verifier, f"Bearer {token}", _body(load("test_notification")))


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("subscription_renewed", None),
        ("one_time_product_purchased", None),
        ("voided_purchase", None),
        ("test_notification", messages.GOOGLE_TEST_GROUP),
    ],
)
def test_each_notification_kind_is_accepted(
    verifier: GoogleVerifier,
    google_signer: kit.GoogleSigner,
    google_notification: Load,
    name: str,
    group: str | None,
) -> None:
    sent = google_notification(name)
    body = _body(sent, message_id="1234567890", subscription="projects/p/subscriptions/s")
    notification = verifier.verify_push(f"Bearer {google_signer.oidc_token()}", body)
    assert notification["packageName"] == kit.DEFAULT_PACKAGE_NAME
    assert notification["pubsub"]["messageId"] == "1234567890"
    assert notification["pubsub"]["subscription"] == "projects/p/subscriptions/s"
    assert notification["pubsub"]["publishTime"]
    kind = next(k for k in sent if k.endswith("Notification"))
    assert notification[kind] == sent[kind]
    expected = group or sent[kind]["purchaseToken"]
    assert google_group_id(notification) == expected


def test_bare_issuer_form_is_accepted(verifier: GoogleVerifier, google_signer: kit.GoogleSigner) -> None:
    token = google_signer.oidc_token(issuer="accounts.google.com")
    assert verifier.verify_token(f"Bearer {token}")["iss"] == "accounts.google.com"


@pytest.mark.parametrize(
    ("token_options", "expected"),
    [
        ({"audience": "https://someone-else.example.com"}, (VerificationFailed, "wrong_audience")),
        ({"issuer": "https://evil.example.com"}, (VerificationFailed, "wrong_issuer")),
        (
            {"issued_at": int(time.time()) - 7200, "lifetime_seconds": 3600},
            (VerificationFailed, "token_expired"),
        ),
        ({"email": "someone@example.iam.gserviceaccount.com"}, (NotForThisApp, "wrong_service_account")),
        ({"email_verified": False}, (NotForThisApp, "email_not_verified")),
        ({"extra_claims": {"email_verified": "true"}}, (NotForThisApp, "email_not_verified")),
        ({"kid": "not-in-the-jwks"}, (VerificationFailed, "unknown_kid")),
    ],
)
def test_token_claims_are_checked(
    verifier: GoogleVerifier,
    google_signer: kit.GoogleSigner,
    google_notification: Load,
    token_options: dict[str, Any],
    expected: tuple[type[ReceiverError], str],
) -> None:
    token = google_signer.oidc_token(**token_options)
    assert _token_refused(verifier, token, google_notification) == expected


def test_token_signed_by_another_key_with_a_known_kid(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner, google_notification: Load
) -> None:
    impostor = kit.make_google_signer(google_signer.kid)
    token = impostor.oidc_token()
    assert _token_refused(verifier, token, google_notification) == (VerificationFailed, "signature_invalid")


def test_hs256_token_keyed_with_the_public_jwk(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner, google_notification: Load
) -> None:
    # Built by hand: PyJWT itself refuses to HMAC with JWK-shaped secrets.
    secret = json.dumps(google_signer.jwk()).encode()
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": google_signer.kid}).encode())
    claims = {"aud": kit.DEFAULT_AUDIENCE, "iss": kit.GOOGLE_ISSUER, "exp": int(time.time()) + 60}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode())
    signing_input = header.rstrip(b"=") + b"." + payload.rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    token = (signing_input + b"." + mac).decode()
    assert _token_refused(verifier, token, google_notification) == (VerificationFailed, "alg_not_allowed")


def test_unsigned_token(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner, google_notification: Load
) -> None:
    token = jwt.encode(
        {"aud": kit.DEFAULT_AUDIENCE},
        None,  # type: ignore[arg-type]
        algorithm="none",
        headers={"kid": google_signer.kid},
    )
    assert _token_refused(verifier, token, google_notification) == (VerificationFailed, "alg_not_allowed")


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing_bearer"),
        ("", "missing_bearer"),
        ("Basic dXNlcjpwYXNz", "missing_bearer"),
        ("Bearer ", "malformed_token"),
        ("Bearer not.a.jwt", "malformed_token"),
        ("Bearer " + "a" * 9000, "malformed_token"),
    ],
)
def test_missing_or_garbage_authorization(
    verifier: GoogleVerifier, google_notification: Load, authorization: str | None, reason: str
) -> None:
    assert _refused(verifier, authorization, _body(google_notification("test_notification"))) == (
        VerificationFailed,
        reason,
    )


def test_token_without_kid(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner, google_notification: Load
) -> None:
    token = jwt.encode({"aud": kit.DEFAULT_AUDIENCE}, google_signer.private_key, algorithm="RS256")
    assert _token_refused(verifier, token, google_notification) == (VerificationFailed, "kid_missing")


def test_wrong_package(verifier: GoogleVerifier, google_signer: kit.GoogleSigner) -> None:
    body = _body(kit.google_subscription_notification(package_name="com.example.other"))
    assert _refused(verifier, f"Bearer {google_signer.oidc_token()}", body) == (
        NotForThisApp,
        "wrong_package",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", (MalformedRequest, "malformed_json")),
        (b"[]", (MalformedRequest, "malformed_json")),
        (b'{"subscription": "s"}', (MalformedRequest, "pubsub_message")),
        (b'{"message": {"data": "e30="}}', (MalformedRequest, "pubsub_message_id")),
        (b'{"message": {"messageId": "1"}}', (MalformedRequest, "pubsub_data")),
        (b'{"message": {"messageId": "1", "data": "%%%"}}', (MalformedRequest, "pubsub_data")),
        (b'{"message": {"messageId": "1", "data": "bm90IGpzb24="}}', (MalformedRequest, "malformed_json")),
    ],
)
def test_malformed_push_bodies(
    verifier: GoogleVerifier,
    google_signer: kit.GoogleSigner,
    body: bytes,
    expected: tuple[type[ReceiverError], str],
) -> None:
    assert _refused(verifier, f"Bearer {google_signer.oidc_token()}", body) == expected


def test_unknown_or_ambiguous_notification_kind(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner
) -> None:
    auth = f"Bearer {google_signer.oidc_token()}"
    unknown = {"version": "1.0", "packageName": kit.DEFAULT_PACKAGE_NAME, "somethingNew": {}}
    assert _refused(verifier, auth, _body(unknown)) == (MalformedRequest, "notification_kind")
    both = {**kit.google_subscription_notification(), **kit.google_test_notification()}
    assert _refused(verifier, auth, _body(both)) == (MalformedRequest, "notification_kind")


def test_purchase_notification_without_token(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner
) -> None:
    notification = kit.google_one_time_product_notification()
    del notification["oneTimeProductNotification"]["purchaseToken"]
    assert _refused(verifier, f"Bearer {google_signer.oidc_token()}", _body(notification)) == (
        MalformedRequest,
        "purchase_token",
    )


def test_token_is_checked_before_the_body(verifier: GoogleVerifier) -> None:
    assert _refused(verifier, None, b"not json") == (VerificationFailed, "missing_bearer")


# --- JWKS cache ---------------------------------------------------------------------------------


def _warm_cache(
    jwks_server: kit.JwksServer, signer: kit.GoogleSigner, **options: Any
) -> tuple[JwksCache, kit.ManualClock]:
    """A JWKS cache on a manual clock (at 1000 s) that has fetched the document once, for
    `signer`'s key; and that clock."""
    clock = kit.ManualClock(1000.0)
    cache = JwksCache(jwks_server.url, clock=clock, **options)
    cache.key(signer.kid)
    return cache, clock


def test_jwks_is_fetched_once_and_cached(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner, jwks_server: kit.JwksServer
) -> None:
    for _ in range(3):
        verifier.verify_token(f"Bearer {google_signer.oidc_token()}")
    assert jwks_server.requests == 1


def test_unknown_kid_refreshes_so_rotated_keys_verify(
    google_signer: kit.GoogleSigner, jwks_server: kit.JwksServer
) -> None:
    cache, clock = _warm_cache(jwks_server, google_signer, min_refresh_interval_seconds=30)
    rotated = kit.make_google_signer("rotated-kid")
    jwks_server.set_document(kit.jwks_document([google_signer, rotated]))
    clock.now += 31
    assert cache.key("rotated-kid") is not None
    assert jwks_server.requests == 2


def test_unknown_kid_refresh_is_rate_limited(
    google_signer: kit.GoogleSigner, jwks_server: kit.JwksServer
) -> None:
    cache, clock = _warm_cache(jwks_server, google_signer, min_refresh_interval_seconds=30)
    for i in range(20):
        with pytest.raises(VerificationFailed, match="unknown_kid"):
            cache.key(f"forged-{i}")
    assert jwks_server.requests == 1
    clock.now += 31
    with pytest.raises(VerificationFailed):
        cache.key("forged-again")
    assert jwks_server.requests == 2


def test_jwks_expires_after_its_ttl(google_signer: kit.GoogleSigner, jwks_server: kit.JwksServer) -> None:
    cache, clock = _warm_cache(jwks_server, google_signer, ttl_seconds=3600)
    clock.now += 3601
    cache.key(google_signer.kid)
    assert jwks_server.requests == 2


def test_jwks_outage_without_cached_keys_is_retryable(jwks_server: kit.JwksServer) -> None:
    jwks_server.fail = True
    with pytest.raises(UpstreamUnavailable) as info:
        JwksCache(jwks_server.url).key("any")
    assert info.value.status == 503
    assert info.value.reason == "jwks_unavailable"


def test_jwks_outage_keeps_the_cached_keys(
    google_signer: kit.GoogleSigner, jwks_server: kit.JwksServer
) -> None:
    cache, clock = _warm_cache(jwks_server, google_signer, ttl_seconds=60)
    jwks_server.fail = True
    clock.now += 61
    assert cache.key(google_signer.kid) is not None
    assert jwks_server.requests == 2


def test_fetch_jwks_reads_the_document(jwks_server: kit.JwksServer, google_signer: kit.GoogleSigner) -> None:
    assert fetch_jwks(jwks_server.url)["keys"][0]["kid"] == google_signer.kid


def test_base64_data_must_be_standard_base64(
    verifier: GoogleVerifier, google_signer: kit.GoogleSigner
) -> None:
    raw = json.dumps(kit.google_test_notification()).encode()
    body = json.dumps({"message": {"messageId": "9", "data": base64.b64encode(raw).decode() + "!"}}).encode()
    assert _refused(verifier, f"Bearer {google_signer.oidc_token()}", body) == (
        MalformedRequest,
        "pubsub_data",
    )
