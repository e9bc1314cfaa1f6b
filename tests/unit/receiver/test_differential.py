"""Differential test: the receiver's Apple verification and Apple's own SignedDataVerifier
(app-store-server-library) give the same verdict - accept or refuse - on Apple's vectors and on
thousands of mutations of them, and on tokens our test CA signs and re-signs after a mutation.

Apple's vectors (fixtures/notifications/apple) cannot be re-signed, so their mutations probe the
parsing and the signature check; our CA's tokens are re-signed after each mutation, so they probe
the chain, the algorithm, the dates and the app checks with a valid signature. Apple's library
verifies Apple's test CA only with its strict X.509 mode off (the test CA has no Authority Key
Identifier), as Apple's own tests do; our test CA has key identifiers and is checked in strict mode.

Mutations include characters outside the base64url alphabet and flips of a segment's unused low
bits (decoding to the same bytes): both sides refuse them.
"""

from __future__ import annotations

import base64
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opstestkit as kit
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier, VerificationException

from lambdas.receiver.apple import AppleVerifier
from lambdas.receiver.exceptions import ReceiverError

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "notifications" / "apple"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
MUTATIONS_PER_VECTOR = 400
RESIGNED_CASES = 1200


@dataclass(frozen=True)
class Setup:
    """One trust configuration, verified by both sides."""

    root: bytes
    bundle_id: str
    app_apple_id: int | None
    environment: str
    strict: bool

    def ours(self) -> AppleVerifier:
        return AppleVerifier(
            self.root, bundle_id=self.bundle_id, app_apple_id=self.app_apple_id, environment=self.environment
        )

    def apples(self) -> SignedDataVerifier:
        verifier = SignedDataVerifier(
            [self.root], False, Environment(self.environment), self.bundle_id, self.app_apple_id
        )
        verifier._chain_verifier.enable_strict_checks = self.strict
        return verifier


def _our_verdict(verifier: AppleVerifier, kind: str, token: str) -> bool:
    try:
        if kind == "notification":
            verifier.verify_notification(token)
        elif kind == "transaction":
            verifier.verify_transaction(token)
        else:
            renewal = verifier.verify_jws(token)
            if renewal.get("environment") != verifier.environment:
                return False
    except ReceiverError:
        return False
    return True


def _apples_verdict(verifier: SignedDataVerifier, kind: str, token: str) -> bool:
    """Apple's verdict, composed the way the receiver uses it (nested signed data verified too)."""
    try:
        if kind == "notification":
            decoded = verifier.verify_and_decode_notification(token)
            data = decoded.data
            if data is not None and data.signedTransactionInfo is not None:
                verifier.verify_and_decode_signed_transaction(data.signedTransactionInfo)
            if data is not None and data.signedRenewalInfo is not None:
                verifier.verify_and_decode_renewal_info(data.signedRenewalInfo)
        elif kind == "transaction":
            verifier.verify_and_decode_signed_transaction(token)
        else:
            verifier.verify_and_decode_renewal_info(token)
    except VerificationException:
        return False
    return True


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.disagreements: list[tuple[str, str, bool, bool]] = []

    def report(self, what: str) -> None:
        print(f"\ndifferential ({what}): {dict(self.counts)}, disagreements {len(self.disagreements)}")

    def compare(self, label: str, setup: Setup, kind: str, token: str, verifiers: tuple[Any, Any]) -> None:
        ours, apples = _our_verdict(verifiers[0], kind, token), _apples_verdict(verifiers[1], kind, token)
        self.counts["cases"] += 1
        self.counts["accepted" if ours else "refused"] += 1
        if ours != apples:
            self.disagreements.append((label, token[:60], ours, apples))


APPLE_TEST = Setup((VECTORS / "testCA.der").read_bytes(), "com.example", 1234, "Sandbox", strict=False)
APPLE_REAL = Setup(
    (VECTORS / "AppleRootCA-G3.cer").read_bytes(), "com.goodheartapp", None, "Sandbox", strict=True
)
VECTOR_CASES: list[tuple[str, Setup, str]] = [
    ("testNotification.jws", APPLE_TEST, "notification"),
    ("transactionInfo.jws", APPLE_TEST, "transaction"),
    ("renewalInfo.jws", APPLE_TEST, "renewal"),
    ("wrongBundleId.jws", APPLE_TEST, "notification"),
    ("missingX5CHeaderClaim.jws", APPLE_TEST, "notification"),
    ("sandbox-transaction.jws", APPLE_REAL, "transaction"),
]


def _mutate(token: str, rng: random.Random) -> str:
    """One random edit: a character replaced (by one outside the alphabet too), dropped or inserted,
    or segments swapped or cut."""
    choice = rng.randrange(6)
    position = rng.randrange(len(token))
    if choice == 0:
        return token[:position] + rng.choice(ALPHABET + "!*+/=~ ") + token[position + 1 :]
    if choice == 1:
        return token[:position] + token[position + 1 :]
    if choice == 2:
        return token[:position] + rng.choice(ALPHABET) + token[position:]
    parts = token.split(".")
    if choice == 3 and len(parts) == 3:
        i, j = rng.sample(range(3), 2)
        parts[i], parts[j] = parts[j], parts[i]
        return ".".join(parts)
    if choice == 4 and len(parts) == 3:
        index = rng.randrange(3)
        parts[index] = parts[index][: rng.randrange(len(parts[index]) + 1)]
        return ".".join(parts)
    return token[:position]


def test_apples_vectors_get_the_same_verdict_from_both_verifiers() -> None:
    tally = Tally()
    expected = {"testNotification.jws", "transactionInfo.jws", "renewalInfo.jws", "sandbox-transaction.jws"}
    for name, setup, kind in VECTOR_CASES:
        token = (VECTORS / name).read_text().strip()
        ours, apples = _our_verdict(setup.ours(), kind, token), _apples_verdict(setup.apples(), kind, token)
        assert (ours, apples) == ((name in expected),) * 2, name
        tally.counts["cases"] += 1
    assert tally.counts["cases"] == len(VECTOR_CASES)


def test_thousands_of_mutated_vectors_get_the_same_verdict() -> None:
    rng = random.Random(20261206)
    tally = Tally()
    for name, setup, kind in VECTOR_CASES:
        token = (VECTORS / name).read_text().strip()
        verifiers = (setup.ours(), setup.apples())
        made = 0
        while made < MUTATIONS_PER_VECTOR:
            mutated = _mutate(token, rng)
            if mutated == token:
                continue
            made += 1
            tally.compare(name, setup, kind, mutated, verifiers)
    tally.report("Apple's vectors, mutated")
    assert tally.counts["cases"] == MUTATIONS_PER_VECTOR * len(VECTOR_CASES)
    assert tally.disagreements == []


# --- tokens our CA signs, mutated, then re-signed ---------------------------------------------------------


def _resigned_cases(rng: random.Random) -> list[tuple[str, str, str, Setup]]:
    """(label, kind, token, setup): mutations that keep the signature valid, so the checks behind it
    (chain, OIDs, dates, algorithm, app identity) decide."""
    ca = kit.make_apple_test_ca()
    variants: dict[str, kit.AppleTestCA] = {
        "no leaf OID": kit.make_apple_test_ca(root_key=ca.root_key, leaf_oid=None),
        "no intermediate OID": kit.make_apple_test_ca(root_key=ca.root_key, intermediate_oid=None),
        "another root": kit.make_apple_test_ca(),
    }
    setups = {
        "sandbox": Setup(
            ca.root_der, kit.DEFAULT_BUNDLE_ID, kit.DEFAULT_APP_APPLE_ID, "Sandbox", strict=True
        ),
        "production": Setup(
            ca.root_der, kit.DEFAULT_BUNDLE_ID, kit.DEFAULT_APP_APPLE_ID, "Production", strict=True
        ),
    }
    cases: list[tuple[str, str, str, Setup]] = []
    for _ in range(RESIGNED_CASES):
        setup_name = rng.choice(sorted(setups))
        setup = setups[setup_name]
        # Each property is right most of the time, so both verdicts are common.
        environment = rng.choice([setup.environment] * 12 + ["Sandbox", "Production", "Xcode"])
        bundle = rng.choice([kit.DEFAULT_BUNDLE_ID] * 12 + ["com.example.other"])
        app_id = rng.choice([kit.DEFAULT_APP_APPLE_ID] * 12 + [1, None])
        signed = rng.choice([kit.now_ms()] * 9 + [kit.now_ms() - 86_400_000 * 400, 1, 4_102_444_800_000])
        signer = rng.choice([ca] * 12 + list(variants.values()))
        kind = rng.choice(["notification", "transaction", "renewal"])
        transaction = kit.apple_transaction_info(
            bundle_id=bundle, environment=environment, signed_date=signed
        )
        renewal = kit.apple_renewal_info(environment=environment, signed_date=signed)
        if kind == "transaction":
            payload: dict[str, Any] = transaction
        elif kind == "renewal":
            payload = renewal
        else:
            payload = kit.apple_subscription_notification(
                signer,
                bundle_id=bundle,
                app_apple_id=app_id,
                environment=environment,
                signed_date=signed,
                transaction=transaction,
                renewal=renewal,
            )
        x5c = signer.x5c()
        header_edit = rng.choice([0] * 10 + [1, 2, 3, 4, 5])
        if header_edit == 1:
            x5c = x5c[:2]
        elif header_edit == 2:
            x5c = [x5c[1], x5c[0], x5c[2]]
        elif header_edit == 3:
            x5c = [*x5c, x5c[2]]
        header: dict[str, Any] = {"alg": "ES256", "x5c": x5c}
        if header_edit == 4:
            del header["x5c"]
        token = kit.es256_sign(payload, header, signer.leaf_key)
        if header_edit == 5:
            # A signature by a key the chain does not certify.
            token = kit.es256_sign(payload, header, kit.make_apple_test_ca().leaf_key)
        label = f"{setup_name}/{kind}/{environment}/{bundle}/{app_id}/{signed}/edit{header_edit}"
        cases.append((label, kind, token, setup))
    return cases


def test_thousands_of_re_signed_mutations_get_the_same_verdict() -> None:
    rng = random.Random(6122026)
    tally = Tally()
    verifiers: dict[Setup, tuple[Any, Any]] = {}
    for label, kind, token, setup in _resigned_cases(rng):
        if setup not in verifiers:
            verifiers[setup] = (setup.ours(), setup.apples())
        tally.compare(label, setup, kind, token, verifiers[setup])
    tally.report("re-signed mutations")
    assert tally.counts["cases"] == RESIGNED_CASES
    # Both verdicts occur, so agreement is not a constant.
    assert tally.counts["accepted"] > 50 and tally.counts["refused"] > 50
    assert tally.disagreements == [], tally.disagreements[:5]


def test_unused_bits_and_foreign_characters_are_refused_by_both() -> None:
    token = (VECTORS / "transactionInfo.jws").read_text().strip()
    header, payload, signature = token.split(".")
    # 64 signature bytes take 86 characters: the last one carries 4 unused bits.
    flipped = ALPHABET[ALPHABET.index(signature[-1]) ^ 1]
    same_bytes = f"{header}.{payload}.{signature[:-1]}{flipped}"
    assert base64.urlsafe_b64decode(signature[:-1] + flipped + "==") == base64.urlsafe_b64decode(
        signature + "=="
    )
    foreign = f"{header}.{payload[:10]}!{payload[11:]}.{signature}"
    verifiers = (APPLE_TEST.ours(), APPLE_TEST.apples())
    for mutated in (same_bytes, foreign):
        assert (
            _our_verdict(verifiers[0], "transaction", mutated),
            _apples_verdict(verifiers[1], "transaction", mutated),
        ) == (False, False)
