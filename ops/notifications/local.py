"""Wiring for `ops notifications serve`, the demo and the e2e tests: the real receiver and consumer
in-process, on the local stack's SQS and PostgreSQL, trusting what `LocalTrust` names instead of
Apple and Google.

Nothing here is test material: the trust anchors, the JWKS and the store APIs' addresses are
passed in (the dev-only test kit makes them); the production receiver pins Apple Root CA - G3 and
Google's JWKS and never sees them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdas.consumer.config import ConsumerConfig
from lambdas.consumer.handler import Consumer
from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.google import JwksCache
from lambdas.receiver.handler import Receiver
from ops import aws
from ops.notifications.pipeline import LocalFront, LocalPipeline, Queues, SqsPoller
from ops.sandbox.processes import pid_alive

LOCAL_JWKS_URL = "http://127.0.0.1:9/oauth2/v3/certs"  # never fetched: the keys are handed over in-process
LOCAL_BUNDLE_ID = "com.example.couplediary"
LOCAL_APP_APPLE_ID = 1234567890
LOCAL_PACKAGE_NAME = "com.example.couplediary"
LOCAL_AUDIENCE = "https://notifications.example.com/notifications/google"
LOCAL_SERVICE_ACCOUNT = "rtdn-push@example-project.iam.gserviceaccount.com"


@dataclass(frozen=True)
class AppStoreApi:
    """Where the App Store Server API is and the in-app purchase key that calls it."""

    url: str
    key_id: str
    issuer_id: str
    private_key_pem: bytes


@dataclass(frozen=True)
class LocalTrust:
    """What the local pipeline trusts in place of Apple and Google."""

    apple_root_der: bytes
    google_jwks: dict[str, Any]
    play_credentials: dict[str, Any]
    play_api_root: str
    app_store: AppStoreApi | None = None


@dataclass(frozen=True)
class LocalOptions:
    database_url: str
    queues: Queues
    state_dir: Path
    batch_size: int = 10
    visibility_timeout: int = 30
    wait_seconds: int = 1
    port: int = 0
    package_name: str = LOCAL_PACKAGE_NAME
    bundle_id: str = LOCAL_BUNDLE_ID
    apple_lifetime_product_ids: str = "com.example.couplediary.lifetime"
    google_lifetime_product_ids: str = "lifetime_premium"
    consumer_extra: dict[str, str] = field(default_factory=dict)
    # Store outages: retry budget per invocation and the backoff base (seconds; Lambda: 20 and 60).
    store_budget_s: float = 20.0
    store_backoff_base_s: int = 60


def receiver_environment(options: LocalOptions) -> dict[str, str]:
    return {
        "NOTIFICATIONS_QUEUE_URL": options.queues.queue_url,
        "APPLE_BUNDLE_ID": options.bundle_id,
        "APPLE_APP_APPLE_ID": str(LOCAL_APP_APPLE_ID),
        "APPLE_ENVIRONMENT": "Sandbox",
        "APPLE_ROOT_CA_PATH": str(options.state_dir / "apple-root.der"),
        "GOOGLE_PACKAGE_NAME": options.package_name,
        "GOOGLE_PUBSUB_AUDIENCE": LOCAL_AUDIENCE,
        "GOOGLE_PUSH_SERVICE_ACCOUNT": LOCAL_SERVICE_ACCOUNT,
        "GOOGLE_JWKS_URL": LOCAL_JWKS_URL,
    }


def consumer_environment(options: LocalOptions, trust: LocalTrust) -> dict[str, str]:
    """The consumer's (and the reconciler's) environment, secrets as files in the state folder."""
    options.state_dir.mkdir(parents=True, exist_ok=True)
    credentials = _private_file(
        options.state_dir / "play-service-account.json", json.dumps(trust.play_credentials)
    )
    env = {
        "DATABASE_URL": options.database_url,
        "GOOGLE_PACKAGE_NAME": options.package_name,
        "GOOGLE_PLAY_CREDENTIALS_FILE": str(credentials),
        "GOOGLE_PLAY_API_ROOT": trust.play_api_root,
        "APPLE_LIFETIME_PRODUCT_IDS": options.apple_lifetime_product_ids,
        "GOOGLE_LIFETIME_PRODUCT_IDS": options.google_lifetime_product_ids,
    }
    if trust.app_store is not None:
        api = trust.app_store
        key = _private_file(
            options.state_dir / "app-store-key.json",
            json.dumps(
                {
                    "key_id": api.key_id,
                    "issuer_id": api.issuer_id,
                    "private_key": api.private_key_pem.decode(),
                }
            ),
        )
        env.update(
            APPLE_BUNDLE_ID=options.bundle_id,
            APPLE_APP_APPLE_ID=str(LOCAL_APP_APPLE_ID),
            APPLE_ENVIRONMENT="Sandbox",
            APPLE_ROOT_CA_PATH=str(options.state_dir / "apple-root.der"),
            APP_STORE_API_KEY_FILE=str(key),
            APP_STORE_API_URL=api.url,
        )
    env.update(options.consumer_extra)
    return env


def _private_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def build(options: LocalOptions, trust: LocalTrust) -> tuple[LocalPipeline, Consumer]:
    """The receiver behind a local front and the consumer behind a poller, built from the same
    configuration classes (and so the same validation) the Lambdas use."""
    options.state_dir.mkdir(parents=True, exist_ok=True)
    (options.state_dir / "apple-root.der").write_bytes(trust.apple_root_der)
    document = trust.google_jwks
    receiver = Receiver(
        ReceiverConfig.from_env(receiver_environment(options)),
        sqs_client=aws.client("sqs"),
        jwks=JwksCache(LOCAL_JWKS_URL, fetch=lambda _url: document),
    )
    consumer_env = consumer_environment(options, trust)
    # `ops notifications reconcile|import-lifetime|reprocess --state` run against this serve with it.
    _private_file(options.state_dir / "consumer-env.json", json.dumps(consumer_env))
    consumer = Consumer.from_config(ConsumerConfig.from_env(consumer_env), aws.client("sqs"))
    consumer.store_budget_s = options.store_budget_s
    consumer.store_backoff_base_s = options.store_backoff_base_s
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


SERVE_STATE_FILE = "serve.json"
APP_STORE_KEY_FILE = "app-store-key.p8"


def write_serve_state(options: LocalOptions, trust: LocalTrust, receiver_url: str, play_api: str) -> Path:
    """What a running `serve` offers the other commands of the same shell: its addresses, its
    process id, and the App Store Connect key its fake App Store Server API accepts (as a .p8 file,
    the form `ops notifications replay-apple` reads)."""
    state: dict[str, Any] = {"url": receiver_url, "play_api": play_api, "pid": os.getpid()}
    if trust.app_store is not None:
        key = _private_file(options.state_dir / APP_STORE_KEY_FILE, trust.app_store.private_key_pem.decode())
        state.update(
            app_store_api=trust.app_store.url,
            app_store_key_id=trust.app_store.key_id,
            app_store_issuer_id=trust.app_store.issuer_id,
            app_store_key_path=str(key),
            bundle_id=options.bundle_id,
        )
    path = options.state_dir / SERVE_STATE_FILE
    _private_file(path, json.dumps(state))
    return path


def serve_environment(state_dir: Path) -> dict[str, str]:
    """The settings of the `serve` running with `state_dir` under the names the ops commands and the
    consumer read (`terraform output -json ops_environment` and the consumer function give the
    same names on AWS); empty when none runs."""
    try:
        state = json.loads((state_dir / SERVE_STATE_FILE).read_text(encoding="utf-8"))
        consumer = json.loads((state_dir / "consumer-env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not pid_alive(int(state.get("pid", 0))):
        return {}
    env = {k: str(v) for k, v in consumer.items() if k != "DATABASE_URL"}
    env["NOTIFICATIONS_RECEIVER_URL"] = str(state["url"])
    if "app_store_api" in state:
        env.update(
            APP_STORE_API_URL=str(state["app_store_api"]),
            APP_STORE_CONNECT_KEY_ID=str(state["app_store_key_id"]),
            APP_STORE_CONNECT_ISSUER_ID=str(state["app_store_issuer_id"]),
            APP_STORE_CONNECT_PRIVATE_KEY_PATH=str(state["app_store_key_path"]),
            APPLE_BUNDLE_ID=str(state["bundle_id"]),
        )
    return env
