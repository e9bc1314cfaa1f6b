"""Verify App Store Server Notifications V2 (and the JWS nested in them) against a pinned root.

The chain is leaf -> intermediate -> the pinned Apple Root CA - G3; the root inside `x5c` is
never trusted. The path check is done here, certificate by certificate (issuer/subject match,
signature by the issuer's key, CA basic constraint on the intermediate, Apple's marker OIDs,
validity), instead of with a strict X.509 policy verifier: Apple's test-CA certificates carry
no Authority Key Identifier, which RFC 5280 policy verifiers refuse, and Apple's own library
verifies them with its strict mode off. The Apple-specific checks are the ones that matter.

A verified chain is cached by the JWS header that carries it (the x5c bytes), so a notification
from a known chain costs payload decoding plus one P-256 signature check per JWS. A chain enters
the cache only once a JWS signed by its leaf has verified: anyone can copy Apple's public chain
into junk headers, but only Apple can sign with it, so junk never evicts the real chain.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from lambdas.receiver.exceptions import MalformedRequest, NotForThisApp, VerificationFailed
from lambdas.receiver.ocsp import OcspChecker
from lambdas.receiver.parsing import json_object
from lambdas.shared.messages import (
    APPLE_CONSENT_GROUP,
    APPLE_EXTERNAL_PURCHASE_GROUP,
    APPLE_NO_TRANSACTION_GROUP,
    APPLE_SUMMARY_GROUP,
    APPLE_TEST_GROUP,
)

LEAF_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.11.1")
INTERMEDIATE_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.2.1")

_MAX_JWS_CHARS = 32_768
_ES256 = ec.ECDSA(hashes.SHA256())
_APP_OBJECTS = ("data", "summary", "externalPurchaseToken", "appData")


@dataclass(frozen=True)
class _TrustedChain:
    leaf: x509.Certificate
    intermediate: x509.Certificate
    leaf_key: ec.EllipticCurvePublicKey
    # The intersection of the three certificates' validity periods.
    not_before: datetime
    not_after: datetime


def _b64url_decode(segment: str) -> bytes:
    if not segment:
        raise MalformedRequest("malformed_jws", "empty segment")
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise MalformedRequest("malformed_jws", "segment is not base64url") from None
    # Only the canonical encoding. The decoder skips characters outside the alphabet and ignores
    # a segment's unused low bits; re-encoding catches both, so a modified token never decodes
    # to the bytes a genuine signature covers.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != segment:
        raise MalformedRequest("malformed_jws", "segment is not canonical base64url")
    return decoded


def _split(token: object) -> tuple[str, str, str]:
    if not isinstance(token, str) or not token or len(token) > _MAX_JWS_CHARS:
        raise MalformedRequest("malformed_jws", "not a compact JWS string")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedRequest("malformed_jws", f"{len(parts)} segments, expected 3")
    return parts[0], parts[1], parts[2]


def _has_extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bool:
    try:
        cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return False
    return True


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


class AppleVerifier:
    """Verifies Apple-signed JWS and whole notifications for one app and environment."""

    def __init__(
        self,
        root_der: bytes,
        *,
        bundle_id: str,
        app_apple_id: int | None,
        environment: str,
        validate_at_now: bool = False,
        revocation: OcspChecker | None = None,
        cache_size: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._root = x509.load_der_x509_certificate(root_der)
        self.bundle_id = bundle_id
        self.app_apple_id = app_apple_id
        self.environment = environment
        # Apple's library checks validity at signedDate unless online checks are on. Payloads
        # legitimately outlive their leaf (a transaction signed last year, resent today), so
        # checking at "now" is opt-in.
        self.validate_at_now = validate_at_now
        self._revocation = revocation
        self._chains: OrderedDict[str, _TrustedChain] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_size = cache_size
        self._clock = clock

    # -- one JWS ------------------------------------------------------------------------------

    def verify_jws(self, token: object) -> dict[str, Any]:
        """Verify a JWS signed by the App Store; returns its payload or raises."""
        header_segment, payload_segment, signature_segment = _split(token)
        # Every JWS from one chain carries the same header (alg + x5c), so a hit here skips
        # decoding ~2 KB of certificates as well as the chain check.
        chain = self._chains.get(header_segment)
        header = None if chain else json_object(_b64url_decode(header_segment), "header", "malformed_jws")
        payload = json_object(_b64url_decode(payload_segment), "payload", "malformed_jws")
        signature = _b64url_decode(signature_segment)
        cached = chain is not None
        if chain is None:
            chain = self._trust(header or {})
        else:
            self._touch(header_segment)
        at = self._effective_time(payload)
        if not chain.not_before <= at <= chain.not_after:
            raise VerificationFailed("certificate_expired", f"chain not valid at {at.isoformat()}")
        if self._revocation is not None:
            self._revocation.check(chain.leaf, chain.intermediate)
            self._revocation.check(chain.intermediate, self._root)
        if len(signature) != 64:
            raise VerificationFailed("signature_invalid", "ES256 signature must be 64 bytes")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            chain.leaf_key.verify(der, f"{header_segment}.{payload_segment}".encode("ascii"), _ES256)
        except InvalidSignature:
            raise VerificationFailed("signature_invalid", "signature does not match the leaf key") from None
        if not cached:
            self._remember(header_segment, chain)
        return payload

    def _remember(self, header_segment: str, chain: _TrustedChain) -> None:
        if self._cache_size > 0:
            with self._lock:
                self._chains[header_segment] = chain
                if len(self._chains) > self._cache_size:
                    self._chains.popitem(last=False)

    def _trust(self, header: dict[str, Any]) -> _TrustedChain:
        """Check the header and its chain (cached by the caller once a signature verified with it)."""
        if header.get("alg") != "ES256":
            raise VerificationFailed("alg_not_allowed", f"alg {str(header.get('alg'))[:20]!r}")
        if "crit" in header:
            raise VerificationFailed("crit_header", "critical header extensions are not supported")
        x5c = header.get("x5c")
        if not isinstance(x5c, list) or not all(isinstance(c, str) for c in x5c):
            raise VerificationFailed("x5c_missing", "header has no x5c certificate list")
        if len(x5c) != 3:
            raise VerificationFailed("x5c_length", f"x5c holds {len(x5c)} certificates, expected 3")
        return self._verify_chain(x5c[0], x5c[1])

    def _touch(self, header_segment: str) -> None:
        # The local front serves requests from threads; another may have evicted the entry.
        with self._lock:
            if header_segment in self._chains:
                self._chains.move_to_end(header_segment)

    def _effective_time(self, payload: dict[str, Any]) -> datetime:
        signed_date = payload.get("signedDate")
        if self.validate_at_now or signed_date is None:
            return datetime.fromtimestamp(self._clock(), UTC)
        if isinstance(signed_date, bool) or not isinstance(signed_date, int) or signed_date <= 0:
            raise VerificationFailed("signed_date_invalid", "signedDate is not a positive integer")
        try:
            return datetime.fromtimestamp(signed_date / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise VerificationFailed("signed_date_invalid", "signedDate is out of range") from None

    def _verify_chain(self, leaf_b64: str, intermediate_b64: str) -> _TrustedChain:
        leaf = self._load_certificate(leaf_b64)
        intermediate = self._load_certificate(intermediate_b64)
        if not _issued_by(intermediate, self._root):
            raise VerificationFailed("chain_untrusted", "intermediate is not issued by the pinned root")
        if not _is_ca(intermediate):
            raise VerificationFailed("intermediate_not_ca", "intermediate lacks the CA basic constraint")
        if not _has_extension(intermediate, INTERMEDIATE_OID):
            raise VerificationFailed(
                "intermediate_oid_missing", f"intermediate lacks {INTERMEDIATE_OID.dotted_string}"
            )
        if not _issued_by(leaf, intermediate):
            raise VerificationFailed("chain_untrusted", "leaf is not issued by the intermediate")
        if not _has_extension(leaf, LEAF_OID):
            raise VerificationFailed("leaf_oid_missing", f"leaf lacks {LEAF_OID.dotted_string}")
        leaf_key = leaf.public_key()
        if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or leaf_key.curve.name != "secp256r1":
            raise VerificationFailed("leaf_key_type", "leaf key is not P-256 as ES256 requires")
        certs = (leaf, intermediate, self._root)
        return _TrustedChain(
            leaf=leaf,
            intermediate=intermediate,
            leaf_key=leaf_key,
            not_before=max(c.not_valid_before_utc for c in certs),
            not_after=min(c.not_valid_after_utc for c in certs),
        )

    @staticmethod
    def _load_certificate(b64: str) -> x509.Certificate:
        try:
            der = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise VerificationFailed("x5c_not_base64", "x5c entry is not base64") from None
        try:
            return x509.load_der_x509_certificate(der)
        except (ValueError, x509.InvalidVersion):
            # InvalidVersion is not a ValueError: one flipped byte in the version field raised it as a 500.
            raise VerificationFailed("x5c_not_certificate", "x5c entry is not a DER certificate") from None

    # -- a whole notification -----------------------------------------------------------------

    def verify_notification(self, signed_payload: object) -> dict[str, Any]:
        """Verify `signedPayload` and its nested JWS; returns the decoded payload.

        `data.signedTransactionInfo` / `data.signedRenewalInfo` stay as sent and are added decoded
        as `data.transactionInfo` / `data.renewalInfo`.
        """
        payload = self.verify_jws(signed_payload)
        present = [name for name in _APP_OBJECTS if isinstance(payload.get(name), dict)]
        if len(present) != 1:
            raise MalformedRequest("app_object", f"expected one of {', '.join(_APP_OBJECTS)}, got {present}")
        kind = present[0]
        app: dict[str, Any] = payload[kind]
        self._check_app(app, kind)
        uuid = payload.get("notificationUUID")
        if not isinstance(uuid, str) or not uuid.strip():
            raise MalformedRequest("notification_uuid", "notificationUUID is missing")
        if not isinstance(payload.get("notificationType"), str):
            raise MalformedRequest("notification_type", "notificationType is missing")
        if kind == "data":
            self._verify_nested(app)
        elif kind == "appData" and "signedAppTransactionInfo" in app:
            app_transaction = self.verify_jws(app["signedAppTransactionInfo"])
            if app_transaction.get("bundleId") != self.bundle_id:
                raise NotForThisApp("wrong_bundle_id", "app transaction bundleId differs")
            app["appTransactionInfo"] = app_transaction
        return payload

    def _check_app(self, app: dict[str, Any], kind: str) -> None:
        if app.get("bundleId") != self.bundle_id:
            raise NotForThisApp("wrong_bundle_id", f"bundleId {str(app.get('bundleId'))[:80]!r}")
        if kind == "externalPurchaseToken":
            # This object has no environment field; Apple marks sandbox tokens by id prefix.
            purchase_id = str(app.get("externalPurchaseId", ""))
            environment: object = "Sandbox" if purchase_id.startswith("SANDBOX") else "Production"
        else:
            environment = app.get("environment")
        if environment != self.environment:
            raise NotForThisApp("wrong_environment", f"environment {str(environment)[:20]!r}")
        if self.environment == "Production" and app.get("appAppleId") != self.app_apple_id:
            raise NotForThisApp("wrong_app_apple_id", f"appAppleId {str(app.get('appAppleId'))[:20]!r}")

    def verify_transaction(self, signed_transaction: object) -> dict[str, Any]:
        """A signed transaction (from a notification, or posted by the app after a purchase or
        restore): verified, and for this app and environment."""
        transaction = self.verify_jws(signed_transaction)
        if transaction.get("bundleId") != self.bundle_id:
            raise NotForThisApp("wrong_bundle_id", "transaction bundleId differs")
        if transaction.get("environment") != self.environment:
            raise NotForThisApp("wrong_environment", "transaction environment differs")
        return transaction

    def _verify_nested(self, data: dict[str, Any]) -> None:
        if "signedTransactionInfo" in data:
            data["transactionInfo"] = self.verify_transaction(data["signedTransactionInfo"])
        if "signedRenewalInfo" in data:
            renewal = self.verify_jws(data["signedRenewalInfo"])
            if renewal.get("environment") != self.environment:
                raise NotForThisApp("wrong_environment", "renewal environment differs")
            data["renewalInfo"] = renewal


def apple_group_id(payload: dict[str, Any]) -> str:
    """The FIFO group: the subscription's originalTransactionId, else a stable no-transaction group."""
    data = payload.get("data")
    if isinstance(data, dict):
        for name in ("transactionInfo", "renewalInfo"):
            info = data.get(name)
            if isinstance(info, dict):
                original = info.get("originalTransactionId")
                if isinstance(original, str) and original:
                    return original
        return APPLE_TEST_GROUP if payload.get("notificationType") == "TEST" else APPLE_NO_TRANSACTION_GROUP
    if "summary" in payload:
        return APPLE_SUMMARY_GROUP
    if "externalPurchaseToken" in payload:
        return APPLE_EXTERNAL_PURCHASE_GROUP
    return APPLE_CONSENT_GROUP
