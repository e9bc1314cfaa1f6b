"""What an adversary can send the receiver: deep JSON, over-long ids, junk chains, a dead JWKS endpoint.

Each test fails on the receiver before these protections: RecursionError / MessageFormatError gave a
500 (retried by Pub/Sub and Apple for days), junk headers evicted the real Apple chain from the
cache, and stale Google keys verified tokens forever while Google's JWKS endpoint was down.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import opstestkit as kit
import pytest

from lambdas.receiver.exceptions import UpstreamUnavailable, VerificationFailed
from lambdas.receiver.google import JwksCache
from lambdas.receiver.handler import Receiver
from tests.fixtures.notifications.receiver import apple_verifier

APPLE = "/notifications/apple"
GOOGLE = "/notifications/google"
Drain = Callable[[], list[dict[str, Any]]]


def _google_headers(signer: kit.GoogleSigner) -> dict[str, str]:
    return {"authorization": f"Bearer {signer.oidc_token()}"}


@pytest.mark.parametrize("depth", [1_000, 60_000])
def test_deeply_nested_apple_body_is_a_400_not_a_500(
    receiver: Receiver, make_event: Any, received: Drain, depth: int
) -> None:
    body = '{"signedPayload": ' + "[" * depth + "]" * depth + "}"
    response = receiver.handle(make_event(APPLE, body[:60_000]))
    assert response["statusCode"] == 400
    assert received() == []


def test_deeply_nested_google_notification_is_a_400(
    receiver: Receiver, make_event: Any, google_signer: kit.GoogleSigner, received: Drain
) -> None:
    nested = "[" * 20_000 + "]" * 20_000  # 40 KB: under the body limit, past Python's parser's stack
    push = {"message": {"data": base64.b64encode(nested.encode()).decode(), "messageId": "1"}}
    response = receiver.handle(make_event(GOOGLE, json.dumps(push), headers=_google_headers(google_signer)))
    assert response["statusCode"] == 400
    assert received() == []


def test_moderately_nested_but_too_deep_json_is_refused(
    receiver: Receiver, make_event: Any, received: Drain
) -> None:
    # Parses fine, but deeper than any Apple or Google payload: refused before it reaches the queue.
    body = json.dumps({"signedPayload": "x", "deep": json.loads("[" * 40 + "]" * 40)})
    assert receiver.handle(make_event(APPLE, body))["statusCode"] == 400


@pytest.mark.parametrize("field", ["messageId", "purchaseToken"])
def test_google_ids_longer_than_the_queue_contract_are_a_400(
    receiver: Receiver, make_event: Any, google_signer: kit.GoogleSigner, received: Drain, field: str
) -> None:
    long = "x" * 5000
    notification = kit.google_subscription_notification(
        purchase_token=long if field == "purchaseToken" else "token-1"
    )
    body = kit.pubsub_push_body(notification, message_id=long if field == "messageId" else None)
    response = receiver.handle(make_event(GOOGLE, json.dumps(body), headers=_google_headers(google_signer)))
    assert response["statusCode"] == 400
    assert received() == []


def test_junk_headers_with_apples_chain_do_not_evict_the_trusted_chain(apple_ca: kit.AppleTestCA) -> None:
    verifier = apple_verifier(apple_ca.root_der, app_apple_id=None, cache_size=4)
    chain_checks = 0
    original = verifier._verify_chain

    def counting(leaf: str, intermediate: str) -> Any:
        nonlocal chain_checks
        chain_checks += 1
        return original(leaf, intermediate)

    verifier._verify_chain = counting  # type: ignore[method-assign]
    genuine = apple_ca.sign({"signedDate": kit.now_ms(), "n": 1})
    verifier.verify_jws(genuine)
    assert chain_checks == 1
    # The public chain copied into 20 different headers, each with a signature nobody made.
    for i in range(20):
        header = {"alg": "ES256", "x5c": apple_ca.x5c(), "junk": i}
        segment = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
        forged = ".".join([segment, genuine.split(".")[1], genuine.split(".")[2]])
        with pytest.raises(VerificationFailed):
            verifier.verify_jws(forged)
    checks_before = chain_checks
    verifier.verify_jws(apple_ca.sign({"signedDate": kit.now_ms(), "n": 2}))
    assert chain_checks == checks_before, "the genuine chain was evicted by junk and verified again"


def test_stale_google_keys_stop_verifying_after_max_stale(google_signer: kit.GoogleSigner) -> None:
    now = [0.0]
    up = [True]

    def fetch(_url: str) -> dict[str, Any]:
        if not up[0]:
            raise OSError("JWKS endpoint down")
        return google_signer.jwks()

    cache = JwksCache(
        "https://example.invalid/certs",
        ttl_seconds=3600,
        max_stale_seconds=6 * 3600,
        fetch=fetch,
        clock=lambda: now[0],
    )
    assert cache.key(google_signer.kid) is not None
    up[0] = False
    now[0] = 3600 + 5 * 3600  # past the TTL, within max_stale: the keys we have still verify
    assert cache.key(google_signer.kid) is not None
    now[0] = 3600 + 6 * 3600 + 1
    with pytest.raises(UpstreamUnavailable):
        cache.key(google_signer.kid)
    up[0] = True
    now[0] += 61  # the endpoint is back: the next refresh (rate-limited) trusts fresh keys again
    assert cache.key(google_signer.kid) is not None


def test_a_failed_refresh_is_retried_after_the_minimum_interval_not_after_a_full_ttl(
    google_signer: kit.GoogleSigner,
) -> None:
    now = [0.0]
    calls: list[float] = []
    up = [True]

    def fetch(_url: str) -> dict[str, Any]:
        calls.append(now[0])
        if not up[0]:
            raise OSError("down")
        return google_signer.jwks()

    cache = JwksCache("https://example.invalid/certs", ttl_seconds=3600, fetch=fetch, clock=lambda: now[0])
    cache.key(google_signer.kid)
    up[0] = False
    now[0] = 3601
    cache.key(google_signer.kid)
    now[0] = 3601 + 61
    cache.key(google_signer.kid)
    assert len(calls) == 3


def test_a_certificate_with_a_corrupt_version_field_is_a_401_not_a_500(apple_ca: kit.AppleTestCA) -> None:
    # DER version [0] INTEGER 2 -> 0x10: cryptography raises InvalidVersion, which is not a ValueError.
    verifier = apple_verifier(apple_ca.root_der, app_apple_id=None)
    x5c = apple_ca.x5c()
    leaf = bytearray(base64.b64decode(x5c[0]))
    version_at = leaf.index(b"\xa0\x03\x02\x01\x02") + 4
    leaf[version_at] = 0x10
    x5c[0] = base64.b64encode(bytes(leaf)).decode()
    with pytest.raises(VerificationFailed):
        verifier.verify_jws(apple_ca.sign({"signedDate": kit.now_ms()}, x5c=x5c))
