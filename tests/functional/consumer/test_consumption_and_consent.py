"""CONSUMPTION_REQUEST is answered (Send Consumption Information, through Apple's library) when
configured; RESCIND_CONSENT stops the answers for that customer; neither is skipped as stale."""

from __future__ import annotations

from collections.abc import Iterator

import opstestkit as kit
import pytest
from opstestkit.fake_app_store import FakeAppStore
from opstestkit.fake_play import FakePlay

from lambdas.consumer.apple.strategies import ConsumptionPolicy
from lambdas.consumer.handler import Consumer
from tests.fixtures.notifications.consumer import events as ev
from tests.functional.consumer.conftest import Db, make_service

OTID = "2000000000000001"
APP_TRANSACTION = "704172913021650000"


@pytest.fixture
def answering(db: Db, fake_play: FakePlay, app_store: FakeAppStore) -> Iterator[Consumer]:
    service = make_service(db, fake_play, app_store, ConsumptionPolicy(refund_preference="DECLINE"))
    yield Consumer(service)
    service.repository.close()


def deliver(consumer: Consumer, *messages: ev.NotificationMessage) -> list[int]:
    event = ev.sqs_event(list(messages))
    return ev.failed_indexes(consumer.handle(event), event)


def consumption_request(signed: int) -> ev.NotificationMessage:
    return ev.apple("CONSUMPTION_REQUEST", "", signed=signed, tx_fields={"appTransactionId": APP_TRANSACTION})


def rescind_consent() -> ev.NotificationMessage:
    payload = kit.apple_rescind_consent(signed_date=ev.T0 + 5000)
    payload["appData"]["appTransactionInfo"] = {"appTransactionId": APP_TRANSACTION, "bundleId": ev.PACKAGE}
    return ev.message("apple", payload["notificationUUID"], "apple:app-data", payload)


def test_consumption_request_is_answered_then_not_after_consent_is_rescinded(
    answering: Consumer, db: Db, app_store: FakeAppStore
) -> None:
    assert deliver(answering, ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=ev.T0 + 10_000)) == []
    # Signed before the subscription's last event: still answered (Apple waits 12 hours at most).
    assert deliver(answering, consumption_request(ev.T0 + 1000)) == []
    [(transaction_id, body)] = app_store.consumption
    assert transaction_id == f"{OTID}000"
    assert body == {
        "customerConsented": True,
        "sampleContentProvided": False,
        "deliveryStatus": "DELIVERED",
        "refundPreference": "DECLINE",
    }
    assert deliver(answering, rescind_consent()) == []
    assert db.one("SELECT app_transaction_id FROM notification_consent_rescinded") == {
        "app_transaction_id": APP_TRANSACTION
    }
    assert deliver(answering, consumption_request(ev.T0 + 20_000)) == []
    assert len(app_store.consumption) == 1
    details = db.all(
        "SELECT detail FROM notification_events WHERE event_type = 'CONSUMPTION_REQUEST' ORDER BY id"
    )
    assert [d["detail"]["answered"] for d in details] == [True, False]
    assert details[1]["detail"]["reason"] == "consent rescinded"


def test_without_configuration_the_request_is_recorded_not_answered(
    consumer: Consumer, db: Db, app_store: FakeAppStore
) -> None:
    assert deliver(consumer, consumption_request(ev.T0)) == []
    assert app_store.consumption == []
    assert db.outcomes(OTID) == [("CONSUMPTION_REQUEST", "recorded")]


def test_an_app_store_outage_fails_the_request_for_a_retry(
    answering: Consumer, app_store: FakeAppStore
) -> None:
    app_store.unavailable = True
    request = consumption_request(ev.T0)
    assert deliver(answering, request) == [0]
    app_store.unavailable = False
    assert deliver(answering, request) == []
    assert len(app_store.consumption) == 1  # the same notification: answered once, after the outage
