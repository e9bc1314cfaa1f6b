"""The consumer on real PostgreSQL: idempotency, ordering, lifetime pass, FIFO-correct failures."""

from __future__ import annotations

import psycopg

from lambdas.consumer.handler import Consumer
from tests.fixtures.notifications.consumer import events as ev
from tests.functional.consumer.conftest import Db

OTID = "2000000000000001"


def test_subscription_lifecycle_sets_status_and_premium(consumer: Consumer, db: Db) -> None:
    steps = [
        (ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=ev.T0), "active", True),
        (ev.apple("DID_FAIL_TO_RENEW", "GRACE_PERIOD", signed=ev.T0 + 1000), "grace", True),
        (ev.apple("GRACE_PERIOD_EXPIRED", signed=ev.T0 + 2000), "billing-retry", False),
        (ev.apple("DID_RENEW", "BILLING_RECOVERY", signed=ev.T0 + 3000), "active", True),
        (ev.apple("EXPIRED", "VOLUNTARY", signed=ev.T0 + 4000), "expired", False),
    ]
    for message, status, premium in steps:
        assert consumer.handle(ev.sqs_event([message])) == {"batchItemFailures": []}
        assert db.status(OTID) == status
        assert db.premium() == (premium, "subscription" if premium else "none")
    row = db.one("SELECT plan, product_id, auto_renew FROM notification_subscriptions")
    assert row == {"plan": "monthly", "product_id": ev.MONTHLY, "auto_renew": True}


def test_duplicates_apply_once_within_a_batch_and_across_batches(consumer: Consumer, db: Db) -> None:
    renew = ev.apple("DID_RENEW", signed=ev.T0)
    assert consumer.handle(ev.sqs_event([renew, renew, renew])) == {"batchItemFailures": []}
    assert consumer.handle(ev.sqs_event([renew])) == {"batchItemFailures": []}
    assert db.outcomes(OTID) == [("DID_RENEW", "applied")]
    processed = db.one("SELECT count(*) AS n FROM notification_processed")
    assert processed == {"n": 1}


def test_late_did_renew_after_refund_does_not_reactivate(consumer: Consumer, db: Db) -> None:
    renew = ev.apple("DID_RENEW", signed=ev.T0 + 1000)
    refund = ev.apple("REFUND", signed=ev.T0 + 2000)
    consumer.handle(ev.sqs_event([refund]))
    consumer.handle(ev.sqs_event([renew]))
    assert db.status(OTID) == "refunded"
    assert db.premium() == (False, "none")
    assert db.outcomes(OTID) == [("REFUND", "applied"), ("DID_RENEW", "ignored-stale")]
    last = db.one("SELECT last_event_at FROM notification_subscriptions")
    assert last is not None and int(last["last_event_at"].timestamp() * 1000) == ev.T0 + 2000


def test_lifetime_holder_keeps_premium_until_the_pass_is_refunded(consumer: Consumer, db: Db) -> None:
    consumer.handle(ev.sqs_event([ev.apple_lifetime("ONE_TIME_CHARGE", signed=ev.T0)]))
    assert db.premium() == (True, "lifetime")
    consumer.handle(ev.sqs_event([ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=ev.T0 + 1000)]))
    consumer.handle(ev.sqs_event([ev.apple("REFUND", signed=ev.T0 + 2000)]))
    assert db.premium() == (True, "lifetime")
    consumer.handle(ev.sqs_event([ev.apple("SUBSCRIBED", "RESUBSCRIBE", signed=ev.T0 + 3000)]))
    consumer.handle(ev.sqs_event([ev.apple_lifetime("REFUND", signed=ev.T0 + 4000)]))
    # The pass is gone; the running subscription still gives premium.
    assert db.premium() == (True, "subscription")
    consumer.handle(ev.sqs_event([ev.apple("EXPIRED", "VOLUNTARY", signed=ev.T0 + 5000)]))
    assert db.premium() == (False, "none")
    assert db.status("2000000000000900") == "refunded"


def test_failure_in_the_middle_of_a_group_fails_the_rest_of_that_group_only(
    consumer: Consumer, db: Db
) -> None:
    a1 = ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=ev.T0)
    a2 = ev.apple("DID_RENEW", signed=ev.T0 + 1000)
    del a2.payload["data"]["transactionInfo"]  # the strategy cannot apply it: InvalidNotification
    a3 = ev.apple("EXPIRED", "VOLUNTARY", signed=ev.T0 + 2000)
    b1 = ev.apple("SUBSCRIBED", "INITIAL_BUY", original_transaction_id="2000000000000002", account="b")
    b2 = ev.apple("DID_RENEW", original_transaction_id="2000000000000002", account="b", signed=ev.T0 + 1)
    event = ev.sqs_event([a1, b1, a2, b2, a3])
    response = consumer.handle(event)
    assert ev.failed_indexes(response, event) == [2, 4]
    assert db.status(OTID) == "active"  # a1 applied, a3 not (it would have expired it)
    assert db.outcomes("2000000000000002") == [
        ("SUBSCRIBED/INITIAL_BUY", "applied"),
        ("DID_RENEW", "applied"),
    ]
    assert db.outcomes(OTID) == [("SUBSCRIBED/INITIAL_BUY", "applied")]
    # a2's savepoint rolled back its processed-id row, so the redelivery is not mistaken for a duplicate;
    # once it is fixed upstream (here: restored) the group proceeds in order.
    a2_fixed = ev.apple("DID_RENEW", signed=ev.T0 + 1000, notification_id=a2.notification_id)
    assert consumer.handle(ev.sqs_event([a2_fixed, a3])) == {"batchItemFailures": []}
    assert db.outcomes(OTID)[1:] == [("DID_RENEW", "applied"), ("EXPIRED/VOLUNTARY", "applied")]


def test_malformed_body_and_unknown_type_do_not_crash_the_batch(consumer: Consumer, db: Db) -> None:
    unknown = ev.apple("SOMETHING_NEW_IN_2027", signed=ev.T0)
    test = ev.apple_without_subscription("apple_test.json")
    event = ev.sqs_event(["{not json", unknown, test])
    response = consumer.handle(event)
    assert ev.failed_indexes(response, event) == [0]
    assert db.outcomes(OTID) == [("SOMETHING_NEW_IN_2027", "unknown-type")]
    assert db.one("SELECT outcome FROM notification_events WHERE event_type = 'TEST'") == {
        "outcome": "recorded"
    }


def test_whole_batch_failure_is_reported_not_raised(consumer: Consumer) -> None:
    event = ev.sqs_event(["[]", "{}"])
    assert ev.failed_indexes(consumer.handle(event), event) == [0, 1]


def test_entitlement_belongs_to_the_couple_when_the_user_is_known(consumer: Consumer, db: Db) -> None:
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, couple_id bigint, external_id uuid UNIQUE)")
        conn.execute(
            "INSERT INTO users VALUES (1, 42, %s), (2, 42, %s)",
            (ev.ACCOUNT, "7d4e8f1a-0000-4000-8000-000000000002"),
        )
    consumer.handle(ev.sqs_event([ev.apple("SUBSCRIBED", "INITIAL_BUY")]))
    assert db.premium("couple:42") == (True, "subscription")
    # The partner's lifetime pass counts for the same couple.
    partner = ev.apple_lifetime(account="7d4e8f1a-0000-4000-8000-000000000002", signed=ev.T0 + 1)
    consumer.handle(ev.sqs_event([partner, ev.apple("EXPIRED", "VOLUNTARY", signed=ev.T0 + 2)]))
    assert db.premium("couple:42") == (True, "lifetime")


def test_cleanup_forgets_processed_ids_older_than_the_retention(consumer: Consumer, db: Db) -> None:
    consumer.handle(ev.sqs_event([ev.apple("DID_RENEW"), ev.apple("DID_RENEW", signed=ev.T0 + 1)]))
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE notification_processed SET processed_at = now() - interval '8 days' "
            "WHERE notification_id = (SELECT min(notification_id) FROM notification_processed)"
        )
    assert consumer.service.repository.cleanup_processed(7) == 1
    assert db.one("SELECT count(*) AS n FROM notification_processed") == {"n": 1}
