"""Apple JWS verification: Apple's own vectors, a real sandbox chain, and every negative case."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import opstestkit as kit
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lambdas.receiver.apple import AppleVerifier, apple_group_id
from lambdas.receiver.exceptions import MalformedRequest, NotForThisApp, ReceiverError, VerificationFailed
from lambdas.shared import messages
from tests.fixtures.notifications.receiver import APPLE_WITHOUT_TRANSACTION, apple_verifier

REAL_SIGNED_DATE_MS = 1739161772561


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value).encode())


def _reason(excinfo: pytest.ExceptionInfo[ReceiverError]) -> str:
    return excinfo.value.reason


# --- vectors nobody on this project signed ---------------------------------------------------


@pytest.fixture(scope="module")
def vectors() -> Path:
    return Path(__file__).resolve().parents[2] / "fixtures" / "notifications" / "apple"


@pytest.fixture(scope="module")
def apple_test_verifier(vectors: Path) -> AppleVerifier:
    return AppleVerifier(
        (vectors / "testCA.der").read_bytes(),
        bundle_id="com.example",
        app_apple_id=1234,
        environment="Sandbox",
    )


def test_apples_test_notification_verifies(apple_test_verifier: AppleVerifier, vectors: Path) -> None:
    payload = apple_test_verifier.verify_notification((vectors / "testNotification.jws").read_text().strip())
    assert payload["notificationType"] == "TEST"
    assert payload["notificationUUID"] == "9ad56bd2-0bc6-42e0-af24-fd996d87a1e6"
    assert apple_group_id(payload) == messages.APPLE_TEST_GROUP


@pytest.mark.parametrize("name", ["transactionInfo.jws", "renewalInfo.jws"])
def test_apples_test_transaction_and_renewal_verify(
    apple_test_verifier: AppleVerifier, vectors: Path, name: str
) -> None:
    assert apple_test_verifier.verify_jws((vectors / name).read_text().strip())["environment"] == "Sandbox"


def test_apples_wrong_bundle_vector_is_refused(apple_test_verifier: AppleVerifier, vectors: Path) -> None:
    with pytest.raises(NotForThisApp) as info:
        apple_test_verifier.verify_notification((vectors / "wrongBundleId.jws").read_text().strip())
    assert _reason(info) == "wrong_bundle_id"


def test_apples_missing_x5c_vector_is_refused(apple_test_verifier: AppleVerifier, vectors: Path) -> None:
    with pytest.raises(VerificationFailed) as info:
        apple_test_verifier.verify_notification((vectors / "missingX5CHeaderClaim.jws").read_text().strip())
    assert _reason(info) == "x5c_missing"


def test_real_sandbox_transaction_verifies_at_its_signed_date(vectors: Path) -> None:
    verifier = apple_verifier((vectors / "AppleRootCA-G3.cer").read_bytes(), bundle_id="com.goodheartapp")
    transaction = verifier.verify_jws((vectors / "sandbox-transaction.jws").read_text().strip())
    assert transaction["transactionId"] == "2000000847061981"
    assert transaction["signedDate"] == REAL_SIGNED_DATE_MS


def test_real_sandbox_transaction_is_refused_when_validity_is_checked_now(vectors: Path) -> None:
    # The leaf expired on 2025-10-11: APPLE_ONLINE_CHECKS=true checks validity at "now".
    verifier = apple_verifier(
        (vectors / "AppleRootCA-G3.cer").read_bytes(), bundle_id="com.goodheartapp", validate_at_now=True
    )
    with pytest.raises(VerificationFailed) as info:
        verifier.verify_jws((vectors / "sandbox-transaction.jws").read_text().strip())
    assert _reason(info) == "certificate_expired"


def test_real_root_and_test_root_do_not_cross_verify(
    vectors: Path, apple_test_verifier: AppleVerifier
) -> None:
    real = apple_verifier((vectors / "AppleRootCA-G3.cer").read_bytes(), bundle_id="com.example")
    with pytest.raises(VerificationFailed) as info:
        real.verify_jws((vectors / "testNotification.jws").read_text().strip())
    assert _reason(info) == "chain_untrusted"
    with pytest.raises(VerificationFailed) as info:
        apple_test_verifier.verify_jws((vectors / "sandbox-transaction.jws").read_text().strip())
    assert _reason(info) == "chain_untrusted"


# --- our own test CA: the accepted path --------------------------------------------------------


def test_subscription_notification_verifies_and_decodes_nested_jws(apple_ca: kit.AppleTestCA) -> None:
    verifier = apple_verifier(apple_ca.root_der)
    sent = kit.apple_subscription_notification(apple_ca, "SUBSCRIBED", "INITIAL_BUY")
    payload = verifier.verify_notification(apple_ca.sign(sent))
    data = payload["data"]
    assert data["signedTransactionInfo"] == sent["data"]["signedTransactionInfo"]
    assert data["transactionInfo"]["originalTransactionId"] == "2000000123456789"
    assert data["renewalInfo"]["autoRenewStatus"] == 1
    assert apple_group_id(payload) == "2000000123456789"


@pytest.mark.parametrize(
    ("build", "group"),
    APPLE_WITHOUT_TRANSACTION,
)
def test_notifications_without_a_transaction_get_their_own_group(
    apple_ca: kit.AppleTestCA, build: Any, group: str
) -> None:
    payload = apple_verifier(apple_ca.root_der).verify_notification(apple_ca.sign(build()))
    assert apple_group_id(payload) == group


def test_data_without_transaction_gets_the_no_transaction_group(apple_ca: kit.AppleTestCA) -> None:
    payload = apple_verifier(apple_ca.root_der).verify_notification(
        apple_ca.sign(kit.apple_notification("CONSUMPTION_REQUEST"))
    )
    assert apple_group_id(payload) == messages.APPLE_NO_TRANSACTION_GROUP


def test_production_checks_app_apple_id(apple_ca: kit.AppleTestCA) -> None:
    verifier = apple_verifier(apple_ca.root_der, environment="Production")
    good = kit.apple_test_notification(environment="Production")
    assert verifier.verify_notification(apple_ca.sign(good))["notificationType"] == "TEST"
    other_app = kit.apple_test_notification(environment="Production", app_apple_id=42)
    with pytest.raises(NotForThisApp) as info:
        verifier.verify_notification(apple_ca.sign(other_app))
    assert _reason(info) == "wrong_app_apple_id"


def test_a_payload_outliving_its_leaf_is_accepted_at_signed_date_only(apple_ca: kit.AppleTestCA) -> None:
    ca = kit.make_apple_test_ca(
        root_key=None,
        leaf_not_before=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
        leaf_not_after=dt.datetime(2022, 1, 1, tzinfo=dt.UTC),
    )
    signed_in_2021 = int(dt.datetime(2021, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
    token = ca.sign(kit.apple_test_notification(signed_date=signed_in_2021))
    assert apple_verifier(ca.root_der).verify_notification(token)["signedDate"] == signed_in_2021
    with pytest.raises(VerificationFailed) as info:
        apple_verifier(ca.root_der, validate_at_now=True).verify_notification(token)
    assert _reason(info) == "certificate_expired"


# --- our own test CA: every negative case ------------------------------------------------------


def _refused(ca: kit.AppleTestCA, token: object) -> tuple[type[ReceiverError], str]:
    """Why the test kit app's verifier, trusting `ca`'s root, refuses `token`."""
    with pytest.raises(ReceiverError) as info:
        apple_verifier(ca.root_der).verify_notification(token)
    return type(info.value), info.value.reason


def test_wrong_oid_on_leaf(apple_ca: kit.AppleTestCA) -> None:
    ca = kit.make_apple_test_ca(leaf_oid="1.2.840.113635.100.6.11.2")
    assert _refused(ca, ca.sign(kit.apple_test_notification())) == (VerificationFailed, "leaf_oid_missing")


def test_wrong_oid_on_intermediate() -> None:
    ca = kit.make_apple_test_ca(intermediate_oid=None)
    assert _refused(ca, ca.sign(kit.apple_test_notification())) == (
        VerificationFailed,
        "intermediate_oid_missing",
    )


def test_intermediate_that_is_not_a_ca() -> None:
    ca = kit.make_apple_test_ca(intermediate_is_ca=False)
    assert _refused(ca, ca.sign(kit.apple_test_notification())) == (VerificationFailed, "intermediate_not_ca")


def test_chain_to_another_root(apple_ca: kit.AppleTestCA) -> None:
    # Same root name, different key: only the signature check can tell them apart.
    other = kit.make_apple_test_ca()
    assert other.root.subject == apple_ca.root.subject
    assert _refused(apple_ca, other.sign(kit.apple_test_notification())) == (
        VerificationFailed,
        "chain_untrusted",
    )


def test_the_root_inside_x5c_is_never_trusted(apple_ca: kit.AppleTestCA) -> None:
    # An attacker's chain carrying the genuine root as x5c[2] still does not chain to the pin.
    other = kit.make_apple_test_ca()
    x5c = [*other.x5c()[:2], apple_ca.x5c()[2]]
    token = other.sign(kit.apple_test_notification(), x5c=x5c)
    assert _refused(apple_ca, token) == (VerificationFailed, "chain_untrusted")


def test_expired_at_signed_date() -> None:
    ca = kit.make_apple_test_ca(
        leaf_not_before=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
        leaf_not_after=dt.datetime(2022, 1, 1, tzinfo=dt.UTC),
    )
    assert _refused(ca, ca.sign(kit.apple_test_notification())) == (VerificationFailed, "certificate_expired")


def test_not_yet_valid_at_signed_date(apple_ca: kit.AppleTestCA) -> None:
    signed_2019 = int(dt.datetime(2019, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
    token = apple_ca.sign(kit.apple_test_notification(signed_date=signed_2019))
    assert _refused(apple_ca, token) == (VerificationFailed, "certificate_expired")


@pytest.mark.parametrize("signed_date", ["1700000000000", 1.5e12, -5, True, 10**20])
def test_signed_date_that_is_not_a_sane_integer(apple_ca: kit.AppleTestCA, signed_date: Any) -> None:
    payload = kit.apple_test_notification()
    payload["signedDate"] = signed_date
    assert _refused(apple_ca, apple_ca.sign(payload)) == (VerificationFailed, "signed_date_invalid")


def test_alg_none(apple_ca: kit.AppleTestCA) -> None:
    header = {"alg": "none", "x5c": apple_ca.x5c()}
    token = f"{_segment(header)}.{_segment(kit.apple_test_notification())}."
    assert _refused(apple_ca, token)[1] in {"alg_not_allowed", "malformed_jws"}
    token_with_sig = token + _b64url(b"\0" * 64)
    assert _refused(apple_ca, token_with_sig) == (VerificationFailed, "alg_not_allowed")


def test_hs256_signed_with_the_public_key(apple_ca: kit.AppleTestCA) -> None:
    # The classic algorithm-confusion attack: HMAC keyed with the (public) leaf key bytes.
    public_pem = apple_ca.leaf.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{_segment({'alg': 'HS256', 'x5c': apple_ca.x5c()})}.{_segment(kit.apple_test_notification())}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{_b64url(mac)}"
    assert _refused(apple_ca, token) == (VerificationFailed, "alg_not_allowed")


@pytest.mark.parametrize("alg", ["RS256", "ES384", "PS256", "HS512", "EdDSA", None])
def test_any_alg_other_than_es256(apple_ca: kit.AppleTestCA, alg: str | None) -> None:
    token = kit.es256_sign(
        kit.apple_test_notification(), {"alg": alg, "x5c": apple_ca.x5c()}, apple_ca.leaf_key
    )
    assert _refused(apple_ca, token) == (VerificationFailed, "alg_not_allowed")


def test_tampered_payload(apple_ca: kit.AppleTestCA) -> None:
    header, _, signature = apple_ca.sign(kit.apple_test_notification()).split(".")
    forged = kit.apple_test_notification()
    forged["notificationType"] = "REFUND"
    token = f"{header}.{_segment(forged)}.{signature}"
    assert _refused(apple_ca, token) == (VerificationFailed, "signature_invalid")


def test_signature_by_another_key_under_a_genuine_chain(apple_ca: kit.AppleTestCA) -> None:
    token = kit.es256_sign(
        kit.apple_test_notification(),
        {"alg": "ES256", "x5c": apple_ca.x5c()},
        ec.generate_private_key(ec.SECP256R1()),
    )
    assert _refused(apple_ca, token) == (VerificationFailed, "signature_invalid")


def test_der_encoded_signature_is_not_es256(apple_ca: kit.AppleTestCA) -> None:
    header_payload = apple_ca.sign(kit.apple_test_notification()).rsplit(".", 1)[0]
    token = f"{header_payload}.{_b64url(b'0' * 70)}"
    assert _refused(apple_ca, token) == (VerificationFailed, "signature_invalid")


@pytest.mark.parametrize("count", [0, 1, 2, 4])
def test_x5c_must_hold_exactly_three_certificates(apple_ca: kit.AppleTestCA, count: int) -> None:
    x5c = (apple_ca.x5c() + apple_ca.x5c())[:count]
    token = apple_ca.sign(kit.apple_test_notification(), x5c=x5c)
    assert _refused(apple_ca, token) == (VerificationFailed, "x5c_length")


def test_x5c_with_garbage_base64(apple_ca: kit.AppleTestCA) -> None:
    x5c = ["!!not base64!!", *apple_ca.x5c()[1:]]
    token = apple_ca.sign(kit.apple_test_notification(), x5c=x5c)
    assert _refused(apple_ca, token) == (VerificationFailed, "x5c_not_base64")


def test_x5c_entry_that_is_not_a_certificate(apple_ca: kit.AppleTestCA) -> None:
    x5c = [base64.b64encode(b"hello world").decode(), *apple_ca.x5c()[1:]]
    token = apple_ca.sign(kit.apple_test_notification(), x5c=x5c)
    assert _refused(apple_ca, token) == (VerificationFailed, "x5c_not_certificate")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "%%%.@@@.***",
        "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln",
        f"{_segment({'alg': 'ES256'})}.W10.c2ln",
        "bm90IGpzb24.e30.c2ln",
        12345,
        None,
        "x" * 40_000,
    ],
)
def test_garbage_tokens_are_malformed(apple_ca: kit.AppleTestCA, token: object) -> None:
    assert _refused(apple_ca, token)[0] is MalformedRequest


def test_wrong_bundle(apple_ca: kit.AppleTestCA) -> None:
    token = apple_ca.sign(kit.apple_test_notification(bundle_id="com.example.other"))
    assert _refused(apple_ca, token) == (NotForThisApp, "wrong_bundle_id")


def test_wrong_environment(apple_ca: kit.AppleTestCA) -> None:
    token = apple_ca.sign(kit.apple_test_notification(environment="Production"))
    assert _refused(apple_ca, token) == (NotForThisApp, "wrong_environment")
    external = apple_ca.sign(kit.apple_external_purchase_token(environment="Production"))
    assert _refused(apple_ca, external) == (NotForThisApp, "wrong_environment")


def test_nested_transaction_for_another_bundle(apple_ca: kit.AppleTestCA) -> None:
    sent = kit.apple_subscription_notification(
        apple_ca, transaction=kit.apple_transaction_info(bundle_id="com.example.other")
    )
    assert _refused(apple_ca, apple_ca.sign(sent)) == (NotForThisApp, "wrong_bundle_id")


def test_nested_renewal_for_another_environment(apple_ca: kit.AppleTestCA) -> None:
    sent = kit.apple_subscription_notification(
        apple_ca, renewal=kit.apple_renewal_info(environment="Production")
    )
    assert _refused(apple_ca, apple_ca.sign(sent)) == (NotForThisApp, "wrong_environment")


def test_nested_transaction_signed_by_another_ca(apple_ca: kit.AppleTestCA) -> None:
    sent = kit.apple_subscription_notification(apple_ca)
    sent["data"]["signedTransactionInfo"] = kit.make_apple_test_ca().sign(kit.apple_transaction_info())
    assert _refused(apple_ca, apple_ca.sign(sent)) == (VerificationFailed, "chain_untrusted")


def test_nested_transaction_that_is_not_a_jws(apple_ca: kit.AppleTestCA) -> None:
    sent = kit.apple_subscription_notification(apple_ca)
    sent["data"]["signedTransactionInfo"] = {"originalTransactionId": "1"}
    assert _refused(apple_ca, apple_ca.sign(sent)) == (MalformedRequest, "malformed_jws")


def test_payload_with_two_app_objects_or_none(apple_ca: kit.AppleTestCA) -> None:
    both = kit.apple_test_notification()
    both["summary"] = {"bundleId": kit.DEFAULT_BUNDLE_ID}
    assert _refused(apple_ca, apple_ca.sign(both)) == (MalformedRequest, "app_object")
    neither = kit.apple_test_notification()
    del neither["data"]
    assert _refused(apple_ca, apple_ca.sign(neither)) == (MalformedRequest, "app_object")


def test_missing_notification_uuid(apple_ca: kit.AppleTestCA) -> None:
    payload = kit.apple_test_notification()
    del payload["notificationUUID"]
    assert _refused(apple_ca, apple_ca.sign(payload)) == (MalformedRequest, "notification_uuid")


# --- the chain cache ---------------------------------------------------------------------------


def test_a_known_chain_is_verified_once(apple_ca: kit.AppleTestCA, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = apple_verifier(apple_ca.root_der)
    calls: list[str] = []
    original = verifier._verify_chain

    def counting(leaf: str, intermediate: str) -> Any:
        calls.append(leaf)
        return original(leaf, intermediate)

    monkeypatch.setattr(verifier, "_verify_chain", counting)
    for _ in range(3):
        verifier.verify_notification(apple_ca.sign(kit.apple_subscription_notification(apple_ca)))
    assert len(calls) == 1


def test_failed_chains_are_not_cached_and_the_cache_is_bounded() -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    cas = [kit.make_apple_test_ca(root_key=root_key) for _ in range(3)]
    verifier = apple_verifier(cas[0].root_der, cache_size=2)
    stranger = kit.make_apple_test_ca()
    for _ in range(2):
        with pytest.raises(VerificationFailed):
            verifier.verify_jws(stranger.sign(kit.apple_test_notification()))
    assert len(verifier._chains) == 0
    headers = []
    for ca in cas:
        token = ca.sign(kit.apple_test_notification())
        headers.append(token.split(".")[0])
        verifier.verify_jws(token)
    assert list(verifier._chains) == headers[1:]
