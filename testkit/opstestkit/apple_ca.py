"""A three-level ES256 test CA shaped like Apple's, and JWS signing with an `x5c` header.

root -> intermediate carrying 1.2.840.113635.100.6.2.1 -> leaf carrying 1.2.840.113635.100.6.11.1,
each with subject/authority key identifiers as Apple's own certificates have (so Apple's library
verifies the chain in its strict X.509 mode too). Payloads nobody but this CA signed exercise the
receiver; the production receiver pins Apple Root CA - G3 and never accepts them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from opstestkit.defaults import APPLE_INTERMEDIATE_OID, APPLE_LEAF_OID

NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_segment(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def es256_sign(payload: Mapping[str, Any], header: Mapping[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    """A compact JWS whose signature is ES256 (raw r||s, as RFC 7518 requires) over `header.payload`."""
    signing_input = f"{_json_segment(header)}.{_json_segment(payload)}"
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


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


def name(common_name: str) -> x509.Name:
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


def certificate(
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
    issuer_key: ec.EllipticCurvePublicKey | None = None,
) -> x509.Certificate:
    """One certificate; `issuer_key` (the issuer's public key, default: self-signed) names the authority."""
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
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key or public_key), critical=False
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
    not_before: dt.datetime = NOT_BEFORE,
    not_after: dt.datetime = NOT_AFTER,
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
    root_name = name(root_common_name)
    intermediate_name = name("Test Worldwide Developer Relations Certification Authority")
    root = certificate(
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
    intermediate = certificate(
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
        issuer_key=root_key.public_key(),
    )
    leaf = certificate(
        subject=name("Test ECC Mac App Store and iTunes Store Receipt Signing"),
        issuer=intermediate_name,
        public_key=leaf_key.public_key(),
        signing_key=intermediate_key,
        not_before=leaf_not_before or not_before,
        not_after=leaf_not_after or not_after,
        ca=False,
        path_length=None,
        marker_oid=leaf_oid,
        ocsp_url=ocsp_url,
        issuer_key=intermediate_key.public_key(),
    )
    return AppleTestCA(
        root=root,
        intermediate=intermediate,
        leaf=leaf,
        leaf_key=leaf_key,
        intermediate_key=intermediate_key,
        root_key=root_key,
    )
