"""Online revocation checks (APPLE_ONLINE_CHECKS=true): OCSP for the leaf and the intermediate.

Off by default, as in Apple's own library: a notification is then trusted on its chain and
its signature at `signedDate`. When on, each certificate's status is asked of the OCSP
responder named in its Authority Information Access extension, the answer's signature is
checked against the issuer (or a responder it delegated to), and a good answer is cached
until its nextUpdate (at most an hour). A responder that cannot be reached or answers
nonsense is a 503, so Apple retries later; a revoked or unknown certificate is a 401.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from lambdas.receiver.exceptions import UpstreamUnavailable, VerificationFailed

_MAX_RESPONSE_BYTES = 65_536
_CLOCK_SKEW = timedelta(minutes=5)


def post_ocsp(url: str, request_der: bytes, timeout: float = 3.0) -> bytes:
    """POST an OCSP request (RFC 6960 appendix A.1); the URL comes from a verified certificate."""
    if not url.startswith(("http://", "https://")):
        raise OSError(f"OCSP URL scheme not supported: {url[:40]}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=request_der, headers={"Content-Type": "application/ocsp-request"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        body: bytes = response.read(_MAX_RESPONSE_BYTES)
        return body


def _ocsp_url(cert: x509.Certificate) -> str | None:
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in access:
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            description.access_location, x509.UniformResourceIdentifier
        ):
            return description.access_location.value
    return None


def _signature_ok(signer: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _responder_matches(cert: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key = cert.public_key()
    # RFC 6960 ResponderID byKey: SHA-1 of the subjectPublicKey BIT STRING's contents.
    if isinstance(key, ec.EllipticCurvePublicKey):
        key_bits = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    elif isinstance(key, rsa.RSAPublicKey):
        key_bits = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    else:
        return False
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303
    digest.update(key_bits)
    return response.responder_key_hash == digest.finalize()


def _is_delegated_responder(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in usages


class OcspChecker:
    def __init__(
        self,
        *,
        fetch: Callable[[str, bytes], bytes] = post_ocsp,
        clock: Callable[[], float] = time.time,
        max_cache_seconds: float = 3600.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._max_cache = timedelta(seconds=max_cache_seconds)
        self._good_until: dict[tuple[int, bytes], datetime] = {}

    def check(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        """Raise unless the responder says `cert` (issued by `issuer`) is good right now."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        key = (cert.serial_number, issuer.subject.public_bytes())
        cached = self._good_until.get(key)
        if cached is not None and now < cached:
            return
        url = _ocsp_url(cert)
        if url is None:
            raise VerificationFailed("ocsp_no_responder", "certificate names no OCSP responder")
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
        try:
            raw = self._fetch(url, request.public_bytes(serialization.Encoding.DER))
            response = ocsp.load_der_ocsp_response(raw)
        except (OSError, ValueError) as exc:
            raise UpstreamUnavailable("ocsp_unavailable", exc.__class__.__name__) from None
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise UpstreamUnavailable("ocsp_unavailable", response.response_status.name)
        self._check_signer(response, issuer)
        if response.serial_number != cert.serial_number:
            raise UpstreamUnavailable("ocsp_unavailable", "response is for another certificate")
        if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            raise VerificationFailed("certificate_revoked", f"serial {cert.serial_number:x}")
        if response.certificate_status != ocsp.OCSPCertStatus.GOOD:
            raise VerificationFailed("certificate_status_unknown", f"serial {cert.serial_number:x}")
        next_update = response.next_update_utc
        if response.this_update_utc > now + _CLOCK_SKEW or (next_update is not None and next_update < now):
            raise UpstreamUnavailable("ocsp_stale", "response is outside its validity window")
        limit = now + self._max_cache
        self._good_until[key] = min(next_update, limit) if next_update is not None else limit

    @staticmethod
    def _check_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
        if _responder_matches(issuer, response):
            signer = issuer
        else:
            delegated = [
                c
                for c in response.certificates
                if _responder_matches(c, response) and _is_delegated_responder(c, issuer)
            ]
            if not delegated:
                raise UpstreamUnavailable("ocsp_unavailable", "responder is not authorised by the issuer")
            signer = delegated[0]
        if not _signature_ok(signer, response):
            raise UpstreamUnavailable("ocsp_unavailable", "response signature does not verify")
