"""Entitlements that stay right when notifications are late, missing or misleading.

One test (or a few) per way the consumer used to go wrong; each fails against the consumer before
these fixes: premium that never expired, purchases left unacknowledged, plan changes that took paid
access away or came back, refunds of a past renewal that ended the current one, voids applied
without asking Play, unknown types stored without their payload.
"""

from __future__ import annotations

import datetime as dt

from opstestkit.defaults import SUBSCRIPTION_NOTIFICATION_TYPES as CODES
from opstestkit.fake_play import FakePlay, subscription_purchase

from lambdas.consumer.handler import Consumer
from lambdas.consumer.repository import Repository
from tests.fixtures.notifications.consumer import events as ev
from tests.functional.consumer.conftest import Db

OTID = "2000000000000001"
OWNER = f"account:{ev.ACCOUNT}"


def deliver(consumer: Consumer, *messages: ev.NotificationMessage) -> list[int]:
    event = ev.sqs_event(list(messages))
    return ev.failed_indexes(consumer.handle(event), event)


def rtdn(code: str, token: str, event: int = ev.T0) -> ev.NotificationMessage:
    """A Google subscription notification `code` (e.g. SUBSCRIPTION_PURCHASED) for `token`."""
    return ev.google_subscription(CODES[code], token=token, event=event)


def premium_now(db: Db) -> bool:
    """What the application reads: Repository.entitlement (premium at read time)."""
    repository = Repository(db.url)
    try:
        row = repository.entitlement(OWNER)
    finally:
        repository.close()
    return bool(row and row["premium"])


# --- 1. premium follows time ------------------------------------------------------------------------


def test_premium_ends_at_expiry_even_if_no_notification_ever_says_so(consumer: Consumer, db: Db) -> None:
    signed = ev.T0 - 70 * ev.DAY
    assert (
        deliver(consumer, ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=signed, expires=signed + 30 * ev.DAY))
        == []
    )
    assert db.status(OTID) == "active"  # the last thing a notification said
    assert premium_now(db) is False  # 40 days past expiresDate: no premium, EXPIRED or not


def test_grace_period_access_runs_to_the_grace_end_then_stops(consumer: Consumer, db: Db) -> None:
    expired = ev.T0 - 2 * ev.DAY
    grace_ends = ev.T0 + 5 * ev.DAY
    failed = ev.apple(
        "DID_FAIL_TO_RENEW",
        "GRACE_PERIOD",
        signed=ev.T0,
        purchased=expired - 30 * ev.DAY,
        expires=expired,
        renewal_fields={"isInBillingRetryPeriod": True, "gracePeriodExpiresDate": grace_ends},
    )
    assert deliver(consumer, failed) == []
    assert (db.status(OTID), premium_now(db)) == ("grace", True)
    assert db.entitled_until() == dt.datetime.fromtimestamp(grace_ends / 1000, dt.UTC)
    # The same notification for a grace period that ended yesterday gives nothing now.
    ended = ev.apple(
        "DID_FAIL_TO_RENEW",
        "GRACE_PERIOD",
        original_transaction_id="2000000000000002",
        account="7d4e8f1a-0000-4000-8000-000000000002",
        signed=ev.T0 - 10 * ev.DAY,
        purchased=expired - 30 * ev.DAY,
        expires=ev.T0 - 10 * ev.DAY,
        renewal_fields={"isInBillingRetryPeriod": True, "gracePeriodExpiresDate": ev.T0 - ev.DAY + 1},
    )
    assert deliver(consumer, ended) == []
    assert db.status("2000000000000002") == "grace"
    assert db.premium("account:7d4e8f1a-0000-4000-8000-000000000002") == (False, "none")


# --- 2. acknowledgement in every state Play accepts it --------------------------------------------------


def test_purchase_is_acknowledged_whatever_state_it_reached_meanwhile(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    for index, state in enumerate(
        ["SUBSCRIPTION_STATE_CANCELED", "SUBSCRIPTION_STATE_IN_GRACE_PERIOD", "SUBSCRIPTION_STATE_ON_HOLD"]
    ):
        token = f"ack-{index}"
        fake_play.subscriptions[token] = subscription_purchase(
            state, acknowledged=False, account_id=ev.ACCOUNT
        )
        assert deliver(consumer, rtdn("SUBSCRIPTION_PURCHASED", token)) == []
    assert [t for _kind, _product, t in fake_play.acknowledged] == ["ack-0", "ack-1", "ack-2"]
    rows = db.all("SELECT ack_pending FROM notification_subscriptions ORDER BY subscription_key")
    assert rows == [{"ack_pending": False}] * 3


def test_a_pending_payment_is_not_acknowledged_but_remembered(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    fake_play.subscriptions["pending"] = subscription_purchase(
        "SUBSCRIPTION_STATE_PENDING", acknowledged=False
    )
    assert deliver(consumer, rtdn("SUBSCRIPTION_PURCHASED", "pending")) == []
    assert fake_play.acknowledged == []
    assert db.one("SELECT ack_pending FROM notification_subscriptions") == {"ack_pending": True}


# --- 3 and 4. plan changes -------------------------------------------------------------------------------


def _old_token_active(consumer: Consumer, fake_play: FakePlay) -> None:
    fake_play.subscriptions["old"] = subscription_purchase(account_id=ev.ACCOUNT)
    assert deliver(consumer, rtdn("SUBSCRIPTION_PURCHASED", "old")) == []


def test_a_pending_plan_change_leaves_the_paid_token_in_use(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    _old_token_active(consumer, fake_play)
    fake_play.subscriptions["new"] = subscription_purchase(
        "SUBSCRIPTION_STATE_PENDING", product_id="premium_annual", linked_purchase_token="old"
    )
    assert deliver(consumer, rtdn("SUBSCRIPTION_PURCHASED", "new", ev.T0 + 1)) == []
    assert (db.status("old", "google"), db.status("new", "google")) == ("active", "pending")
    assert premium_now(db) is True
    # The customer's payment never completes: code 20, and the old token still pays for access.
    fake_play.subscriptions["new"]["subscriptionState"] = "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED"
    assert deliver(consumer, rtdn("SUBSCRIPTION_PENDING_PURCHASE_CANCELED", "new", ev.T0 + 2)) == []
    assert (db.status("old", "google"), premium_now(db)) == ("active", True)


def test_a_replaced_token_never_comes_back_into_use(consumer: Consumer, db: Db, fake_play: FakePlay) -> None:
    _old_token_active(consumer, fake_play)
    fake_play.subscriptions["new"] = subscription_purchase(
        product_id="premium_annual", linked_purchase_token="old"
    )
    assert deliver(consumer, rtdn("SUBSCRIPTION_PURCHASED", "new", ev.T0 + 10)) == []
    assert db.status("old", "google") == "replaced"
    # A late event of the old token (its own FIFO group), signed between its purchase and the change.
    fake_play.subscriptions["old"] = subscription_purchase(
        "SUBSCRIPTION_STATE_CANCELED", account_id=ev.ACCOUNT
    )
    assert deliver(consumer, rtdn("SUBSCRIPTION_CANCELED", "old", ev.T0 + 5)) == []
    assert db.status("old", "google") == "replaced"
    # The new token is refunded: nothing gives premium any more.
    fake_play.subscriptions["new"]["subscriptionState"] = "SUBSCRIPTION_STATE_EXPIRED"
    assert deliver(consumer, rtdn("SUBSCRIPTION_REVOKED", "new", ev.T0 + 20)) == []
    assert (db.status("old", "google"), db.status("new", "google")) == ("replaced", "revoked")
    assert premium_now(db) is False


# --- 5. Apple refunds are per transaction -----------------------------------------------------------------


def test_refund_of_a_past_renewal_does_not_end_the_current_period(consumer: Consumer, db: Db) -> None:
    first_ends, second_ends = ev.T0 - 5 * ev.DAY, ev.T0 + 25 * ev.DAY
    renewed = ev.apple(
        "DID_RENEW",
        signed=ev.T0 - 5 * ev.DAY,
        purchased=first_ends,
        expires=second_ends,
        tx_fields={"transactionId": "second"},
    )
    assert deliver(consumer, renewed) == []
    refund = ev.apple(
        "REFUND",
        signed=ev.T0,
        purchased=first_ends - 30 * ev.DAY,
        expires=first_ends,
        tx_fields={"transactionId": "first", "revocationDate": ev.T0, "revocationReason": 0},
    )
    assert deliver(consumer, refund) == []
    assert (db.status(OTID), premium_now(db)) == ("active", True)
    assert db.entitled_until() == dt.datetime.fromtimestamp(second_ends / 1000, dt.UTC)
    assert db.outcomes(OTID)[-1] == ("REFUND", "recorded")


def test_refund_of_the_current_period_ends_access(consumer: Consumer, db: Db) -> None:
    assert deliver(consumer, ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=ev.T0)) == []
    refund = ev.apple(
        "REFUND",
        signed=ev.T0 + 1000,
        tx_fields={"revocationDate": ev.T0 + 1000, "revocationType": "REFUND_FULL"},
    )
    assert deliver(consumer, refund) == []
    assert (db.status(OTID), premium_now(db)) == ("refunded", False)


def test_a_prorated_refund_keeps_access_for_the_part_not_refunded(consumer: Consumer, db: Db) -> None:
    bought, ends = ev.T0 - 10 * ev.DAY, ev.T0 + 20 * ev.DAY
    assert (
        deliver(
            consumer, ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=bought, purchased=bought, expires=ends)
        )
        == []
    )
    # 50 % of the 30-day period refunded: access for its first 15 days, i.e. until T0 + 5 days.
    refund = ev.apple(
        "REFUND",
        signed=ev.T0,
        purchased=bought,
        expires=ends,
        tx_fields={
            "revocationDate": ev.T0,
            "revocationType": "REFUND_PRORATED",
            "revocationPercentage": 50_000,
        },
    )
    assert deliver(consumer, refund) == []
    assert premium_now(db) is True
    assert db.entitled_until() == dt.datetime.fromtimestamp((bought + 15 * ev.DAY) / 1000, dt.UTC)
    detail = db.one("SELECT detail FROM notification_events ORDER BY id DESC LIMIT 1")
    assert detail == {
        "detail": {
            "transaction_id": f"{OTID}000",
            "revocation_type": "REFUND_PRORATED",
            "revocation_percentage": 50_000,
        }
    }


# --- 6. voided purchases are checked with Play ---------------------------------------------------------


def test_a_voided_past_renewal_leaves_a_running_subscription_running(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    fake_play.subscriptions["tok"] = subscription_purchase(account_id=ev.ACCOUNT, latest_order_id="GPA.1..1")
    assert deliver(consumer, rtdn("SUBSCRIPTION_PURCHASED", "tok")) == []
    # The voided order is renewal ..0; Play still reports the subscription active.
    assert deliver(consumer, ev.google_voided("tok", product_type=1, event=ev.T0 + 1)) == []
    assert (db.status("tok", "google"), premium_now(db)) == ("active", True)
    assert [m for m, p in fake_play.requests if p.endswith("/tokens/tok")] == ["GET", "GET"]


# --- 7. every payload is kept for replay ---------------------------------------------------------------


def test_unknown_types_are_stored_with_their_payload_for_replay(consumer: Consumer, db: Db) -> None:
    unknown_apple = ev.apple("DID_PAUSE", signed=ev.T0)
    unknown_google = ev.google_subscription(99, token="tok-99")
    assert deliver(consumer, unknown_apple, unknown_google) == []
    rows = db.all(
        "SELECT provider, event_type, outcome, payload FROM notification_payloads ORDER BY provider"
    )
    assert [(r["provider"], r["event_type"], r["outcome"]) for r in rows] == [
        ("apple", "DID_PAUSE", "unknown-type"),
        ("google", "SUBSCRIPTION_99", "unknown-type"),
    ]
    assert rows[0]["payload"] == unknown_apple.payload
    assert rows[1]["payload"] == unknown_google.payload
