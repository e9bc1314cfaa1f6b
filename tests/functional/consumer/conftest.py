"""Fixtures for the consumer's functional tests: a migrated database on the real PostgreSQL of the
local stack, the local fake Play Developer API, and a Consumer wired to both."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import opstestkit as kit
import psycopg
import pytest
from opstestkit.fake_app_store import FakeAppStore
from opstestkit.fake_play import FakePlay

from lambdas.consumer.apple.store_api import AppStoreApi
from lambdas.consumer.apple.strategies import AppleContext, ConsumptionPolicy
from lambdas.consumer.google.play import PlayClient
from lambdas.consumer.google.strategies import GoogleContext
from lambdas.consumer.handler import Consumer
from lambdas.consumer.repository import Repository, apply_migrations
from lambdas.consumer.service import NotificationService
from lambdas.shared.metrics import Metrics
from ops import aws
from tests.fixtures.notifications.consumer import events as ev


class Db:
    """Read helpers over the consumer's tables, for assertions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row)

    def one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        return self.conn.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return self.conn.execute(sql, args).fetchall()

    def status(self, key: str, provider: str = "apple") -> str | None:
        row = self.one(
            "SELECT status FROM notification_subscriptions WHERE provider = %s AND subscription_key = %s",
            provider,
            key,
        )
        return row["status"] if row else None

    def entitled_until(self, owner: str = f"account:{ev.ACCOUNT}") -> Any:
        row = self.one("SELECT entitled_until FROM notification_entitlements_now WHERE owner_key = %s", owner)
        return row["entitled_until"] if row else None

    def premium(self, owner: str = f"account:{ev.ACCOUNT}") -> tuple[bool, str] | None:
        row = self.one(
            "SELECT premium, source FROM notification_entitlements_now WHERE owner_key = %s", owner
        )
        return (row["premium"], row["source"]) if row else None

    def outcomes(self, key: str) -> list[tuple[str, str]]:
        rows = self.all(
            "SELECT event_type || coalesce('/' || subtype, '') AS event_type, outcome "
            "FROM notification_events WHERE subscription_key = %s ORDER BY id",
            key,
        )
        return [(r["event_type"], r["outcome"]) for r in rows]


@pytest.fixture
def db(prod_db: str) -> Iterator[Db]:
    apply_migrations(prod_db)
    db = Db(prod_db)
    yield db
    db.conn.close()


@pytest.fixture
def fake_play() -> Iterator[FakePlay]:
    with FakePlay() as fake:
        yield fake


@pytest.fixture
def app_store() -> Iterator[FakeAppStore]:
    with FakeAppStore(kit.make_apple_test_ca()) as fake:
        yield fake


def store_api(app_store: FakeAppStore) -> AppStoreApi:
    """The App Store Server API client (Apple's library) pointed at the fake, verifying with its CA."""
    return app_store.api_client(sleep=lambda _s: None)


def fifo_queue(name: str) -> tuple[str, str]:
    """A FIFO queue `name`.fifo on the stack's SQS (no redrive): its URL and ARN."""
    sqs = aws.client("sqs")
    url: str = sqs.create_queue(
        QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    )["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def make_service(
    db: Db, fake_play: FakePlay, app_store: FakeAppStore, consumption: ConsumptionPolicy | None = None
) -> NotificationService:
    repository = Repository(db.url)
    return NotificationService(
        repository,
        AppleContext(
            lifetime_product_ids=frozenset({ev.LIFETIME}),
            store=store_api(app_store),
            consumption=consumption,
            consent_rescinded=repository.consent_rescinded,
        ),
        lambda: GoogleContext(
            play=PlayClient(fake_play.credentials_info(), fake_play.api_root),
            lifetime_product_ids=frozenset({ev.GOOGLE_LIFETIME}),
        ),
        package_name=ev.PACKAGE,
    )


@pytest.fixture
def consumer(db: Db, fake_play: FakePlay, app_store: FakeAppStore) -> Iterator[Consumer]:
    service = make_service(db, fake_play, app_store)
    consumer = Consumer(service, metrics=Metrics(stream=io.StringIO()))
    yield consumer
    service.repository.close()
