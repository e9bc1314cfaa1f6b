"""Apple's OCSP responders on 127.0.0.1, for one AppleTestCA: answers for its leaf and intermediate."""

from __future__ import annotations

import datetime as dt
import http.server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from opstestkit.apple_ca import NOT_AFTER, NOT_BEFORE, AppleTestCA, certificate, name
from opstestkit.loopback import LoopbackServer, QuietHandler


class OcspResponder(LoopbackServer):
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
        super().__init__()

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                server.requests += 1
                request = self.read_body()
                if server.fail or server._ca is None:
                    self.send_error(503)
                    return
                self.reply(200, server._answer(request), "application/ocsp-response")

        return Handler

    @property
    def url(self) -> str:
        return f"{self.base_url}/ocsp"

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
                .subject_name(name("Test OCSP Responder"))
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
            responder_cert = certificate(
                subject=issuer.subject,
                issuer=issuer.subject,
                public_key=signer.public_key(),
                signing_key=signer,
                not_before=NOT_BEFORE,
                not_after=NOT_AFTER,
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
