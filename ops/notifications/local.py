"""Wiring for `ops notifications serve`, the demo and the e2e tests: the real receiver and consumer
in-process, trusting test signing material, on the local stack's SQS and PostgreSQL.

The signing material is saved in a folder so that `ops notifications send` in another shell signs
notifications the running `serve` accepts. It is test material only: the production receiver pins
Apple Root CA - G3 and Google's JWKS and never sees these keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from lambdas.consumer.config import ConsumerConfig
from lambdas.consumer.handler import Consumer
from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.google import JwksCache
from lambdas.receiver.handler import Receiver
from ops import aws
from ops.exceptions import ConfigError
from ops.notifications import signing
from ops.notifications.fake_play import FakePlay
from ops.notifications.pipeline import LocalFront, LocalPipeline, Queues, SqsPoller

LOCAL_JWKS_URL = "http://127.0.0.1:9/oauth2/v3/certs"  # never fetched: the keys are handed over in-process
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class SigningIdentity:
    """The Apple test CA and Google key the local receiver trusts."""

    apple_ca: signing.AppleTestCA
    google: signing.GoogleSigner

    @classmethod
    def create(cls) -> SigningIdentity:
        return cls(apple_ca=signing.make_apple_test_ca(), google=signing.make_google_signer("local-kid"))

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
            raise ConfigError(
                f"no local signing material in {folder}; start `ops notifications serve` first "
                "(it creates it) or pass the same --state folder"
            ) from None
        if not isinstance(leaf_key, ec.EllipticCurvePrivateKey) or not isinstance(
            google_key, rsa.RSAPrivateKey
        ):
            raise ConfigError(
                f"the keys in {folder} are not the expected types; delete the folder and restart serve"
            )
        ca = signing.AppleTestCA(
            root=certs["root"], intermediate=certs["intermediate"], leaf=certs["leaf"], leaf_key=leaf_key
        )
        return cls(apple_ca=ca, google=signing.GoogleSigner(private_key=google_key, kid=kid))


@dataclass(frozen=True)
class LocalOptions:
    database_url: str
    queues: Queues
    state_dir: Path
    batch_size: int = 10
    visibility_timeout: int = 30
    wait_seconds: int = 1
    port: int = 0
    package_name: str = signing.DEFAULT_PACKAGE_NAME
    bundle_id: str = signing.DEFAULT_BUNDLE_ID
    apple_lifetime_product_ids: str = "com.example.couplediary.lifetime"
    google_lifetime_product_ids: str = "lifetime_premium"


def receiver_environment(options: LocalOptions) -> dict[str, str]:
    return {
        "NOTIFICATIONS_QUEUE_URL": options.queues.queue_url,
        "APPLE_BUNDLE_ID": options.bundle_id,
        "APPLE_APP_APPLE_ID": str(signing.DEFAULT_APP_APPLE_ID),
        "APPLE_ENVIRONMENT": "Sandbox",
        "APPLE_ROOT_CA_PATH": str(options.state_dir / "apple-root.der"),
        "GOOGLE_PACKAGE_NAME": options.package_name,
        "GOOGLE_PUBSUB_AUDIENCE": signing.DEFAULT_AUDIENCE,
        "GOOGLE_PUSH_SERVICE_ACCOUNT": signing.DEFAULT_SERVICE_ACCOUNT,
        "GOOGLE_JWKS_URL": LOCAL_JWKS_URL,
    }


def consumer_environment(options: LocalOptions, fake_play: FakePlay) -> dict[str, str]:
    credentials = options.state_dir / "play-service-account.json"
    credentials.write_text(json.dumps(fake_play.credentials_info()), encoding="utf-8")
    credentials.chmod(0o600)
    return {
        "DATABASE_URL": options.database_url,
        "GOOGLE_PACKAGE_NAME": options.package_name,
        "GOOGLE_PLAY_CREDENTIALS_FILE": str(credentials),
        "GOOGLE_PLAY_API_ROOT": fake_play.api_root,
        "APPLE_LIFETIME_PRODUCT_IDS": options.apple_lifetime_product_ids,
        "GOOGLE_LIFETIME_PRODUCT_IDS": options.google_lifetime_product_ids,
    }


def build(
    options: LocalOptions, identity: SigningIdentity, fake_play: FakePlay
) -> tuple[LocalPipeline, Consumer]:
    """The receiver behind a local front and the consumer behind a poller, built from the same
    configuration classes (and so the same validation) the Lambdas use."""
    identity.save(options.state_dir)
    document: dict[str, Any] = identity.google.jwks()
    receiver = Receiver(
        ReceiverConfig.from_env(receiver_environment(options)),
        sqs_client=aws.client("sqs"),
        jwks=JwksCache(LOCAL_JWKS_URL, fetch=lambda _url: document),
    )
    consumer = Consumer.from_config(ConsumerConfig.from_env(consumer_environment(options, fake_play)))
    front = LocalFront(lambda event, _context: receiver.handle(event), port=options.port)
    poller = SqsPoller(
        queue_url=options.queues.queue_url,
        queue_arn=options.queues.queue_arn,
        handler=consumer.handle,
        batch_size=options.batch_size,
        visibility_timeout=options.visibility_timeout,
        wait_seconds=options.wait_seconds,
    )
    return LocalPipeline(front, poller), consumer
