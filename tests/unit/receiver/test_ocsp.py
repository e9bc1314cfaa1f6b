"""APPLE_ONLINE_CHECKS: OCSP revocation checks against a responder on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import opstestkit as kit
import pytest

from lambdas.receiver.apple import AppleVerifier
from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.exceptions import UpstreamUnavailable, VerificationFailed
from lambdas.receiver.handler import Receiver
from lambdas.receiver.ocsp import OcspChecker
from tests.fixtures.notifications.receiver import apple_verifier


@pytest.fixture
def responder() -> Iterator[kit.OcspResponder]:
    with kit.OcspResponder() as server:
        yield server


@pytest.fixture
def ca(responder: kit.OcspResponder) -> kit.AppleTestCA:
    ca = kit.make_apple_test_ca(ocsp_url=responder.url)
    responder.serve(ca)
    return ca


def _online(ca: kit.AppleTestCA, checker: OcspChecker | None = None) -> AppleVerifier:
    return apple_verifier(ca.root_der, validate_at_now=True, revocation=checker or OcspChecker())


def test_good_certificates_are_accepted_and_the_answer_cached(
    ca: kit.AppleTestCA, responder: kit.OcspResponder
) -> None:
    verifier = _online(ca)
    for _ in range(3):
        payload = verifier.verify_notification(ca.sign(kit.apple_subscription_notification(ca)))
        assert payload["data"]["transactionInfo"]["originalTransactionId"]
    assert responder.requests == 2  # leaf and intermediate, once each


def test_answers_expire_from_the_cache(ca: kit.AppleTestCA, responder: kit.OcspResponder) -> None:
    # The responder dates its answers by the wall clock, so the checker's clock starts there.
    now = [time.time()]
    verifier = _online(ca, OcspChecker(clock=lambda: now[0], max_cache_seconds=600))
    verifier.verify_jws(ca.sign(kit.apple_test_notification()))
    now[0] += 601
    verifier.verify_jws(ca.sign(kit.apple_test_notification()))
    assert responder.requests == 4


@pytest.mark.parametrize(("delegate", "by_key_hash"), [(True, False), (False, True), (True, True)])
def test_delegated_responders_and_key_hash_ids_are_understood(
    ca: kit.AppleTestCA, responder: kit.OcspResponder, delegate: bool, by_key_hash: bool
) -> None:
    responder.delegate, responder.by_key_hash = delegate, by_key_hash
    assert _online(ca).verify_jws(ca.sign(kit.apple_test_notification()))["notificationType"] == "TEST"
    responder.statuses[ca.leaf.serial_number] = "revoked"
    with pytest.raises(VerificationFailed, match="certificate_revoked"):
        _online(ca).verify_jws(ca.sign(kit.apple_test_notification()))


@pytest.mark.parametrize("which", ["leaf", "intermediate"])
def test_a_revoked_certificate_is_refused(
    ca: kit.AppleTestCA, responder: kit.OcspResponder, which: str
) -> None:
    cert: Any = getattr(ca, which)
    responder.statuses[cert.serial_number] = "revoked"
    with pytest.raises(VerificationFailed) as info:
        _online(ca).verify_notification(ca.sign(kit.apple_test_notification()))
    assert info.value.reason == "certificate_revoked"


def test_an_unknown_certificate_is_refused(ca: kit.AppleTestCA, responder: kit.OcspResponder) -> None:
    responder.statuses[ca.leaf.serial_number] = "unknown"
    with pytest.raises(VerificationFailed) as info:
        _online(ca).verify_notification(ca.sign(kit.apple_test_notification()))
    assert info.value.reason == "certificate_status_unknown"


def test_an_unreachable_responder_is_retryable(ca: kit.AppleTestCA, responder: kit.OcspResponder) -> None:
    responder.fail = True
    with pytest.raises(UpstreamUnavailable) as info:
        _online(ca).verify_notification(ca.sign(kit.apple_test_notification()))
    assert info.value.status == 503


def test_a_forged_answer_is_not_trusted(ca: kit.AppleTestCA, responder: kit.OcspResponder) -> None:
    responder.forge = True
    with pytest.raises(UpstreamUnavailable) as info:
        _online(ca).verify_notification(ca.sign(kit.apple_test_notification()))
    assert info.value.detail == "response signature does not verify"


def test_a_certificate_without_a_responder_is_refused() -> None:
    ca = kit.make_apple_test_ca()
    with pytest.raises(VerificationFailed) as info:
        _online(ca).verify_notification(ca.sign(kit.apple_test_notification()))
    assert info.value.reason == "ocsp_no_responder"


def test_the_setting_turns_on_revocation_checks(
    receiver_env: dict[str, str], ca: kit.AppleTestCA, responder: kit.OcspResponder, tmp_path: Any
) -> None:
    root = tmp_path / "ocsp-root.der"
    root.write_bytes(ca.root_der)
    env = {**receiver_env, "APPLE_ROOT_CA_PATH": str(root), "APPLE_ONLINE_CHECKS": "true"}
    receiver = Receiver(ReceiverConfig.from_env(env), sqs_client=None)
    responder.statuses[ca.leaf.serial_number] = "revoked"
    with pytest.raises(VerificationFailed, match="certificate_revoked"):
        receiver.apple.verify_notification(ca.sign(kit.apple_test_notification()))
