"""The signing material `ops notifications serve` trusts, saved in a folder so that `send` in another
shell signs notifications the running `serve` accepts. Test material only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from opstestkit.apple_ca import AppleTestCA, make_apple_test_ca
from opstestkit.google import GoogleSigner, make_google_signer

_PEM = serialization.Encoding.PEM


class IdentityMissing(Exception):
    """No usable signing material in the folder; the message says how to make it."""


@dataclass(frozen=True)
class SigningIdentity:
    """The Apple test CA and Google key the local receiver trusts."""

    apple_ca: AppleTestCA
    google: GoogleSigner

    @classmethod
    def create(cls) -> SigningIdentity:
        return cls(apple_ca=make_apple_test_ca(), google=make_google_signer("local-kid"))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        ca = self.apple_ca
        for name, cert in (("root", ca.root), ("intermediate", ca.intermediate), ("leaf", ca.leaf)):
            (folder / f"apple-{name}.pem").write_bytes(cert.public_bytes(_PEM))
        for name, key in (("apple-leaf-key.pem", ca.leaf_key), ("google-key.pem", self.google.private_key)):
            path = folder / name
            path.write_bytes(
                key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            )
            path.chmod(0o600)
        (folder / "google-kid").write_text(self.google.kid, encoding="utf-8")
        (folder / "apple-root.der").write_bytes(ca.root_der)

    @classmethod
    def load(cls, folder: Path) -> SigningIdentity:
        try:
            certs = {
                name: x509.load_pem_x509_certificate((folder / f"apple-{name}.pem").read_bytes())
                for name in ("root", "intermediate", "leaf")
            }
            leaf_key = serialization.load_pem_private_key((folder / "apple-leaf-key.pem").read_bytes(), None)
            google_key = serialization.load_pem_private_key((folder / "google-key.pem").read_bytes(), None)
            kid = (folder / "google-kid").read_text(encoding="utf-8").strip()
        except OSError:
            raise IdentityMissing(
                f"no local signing material in {folder}; start `ops notifications serve` first "
                "(it creates it) or pass the same --state folder"
            ) from None
        if not isinstance(leaf_key, ec.EllipticCurvePrivateKey) or not isinstance(
            google_key, rsa.RSAPrivateKey
        ):
            raise IdentityMissing(
                f"the keys in {folder} are not the expected types; delete the folder and restart serve"
            )
        ca = AppleTestCA(
            root=certs["root"], intermediate=certs["intermediate"], leaf=certs["leaf"], leaf_key=leaf_key
        )
        return cls(apple_ca=ca, google=GoogleSigner(private_key=google_key, kid=kid))
