"""Google notifications through the consumer: state from the (fake) Play Developer API over OAuth."""

from __future__ import annotations

import datetime as dt

import pytest
from opstestkit.defaults import SUBSCRIPTION_NOTIFICATION_TYPES as CODES
from opstestkit.fake_play import FakePlay, ServiceAccount, product_purchase, subscription_purchase

from lambdas.consumer.exceptions import PlayApiError
from lambdas.consumer.google.play import PlayClient
from lambdas.consumer.handler import Consumer
from tests.fixtures.notifications.consumer import events as ev
from tests.functional.consumer.conftest import Db

TOKEN = "google-token-0001"


def deliver(consumer: Consumer, *messages: ev.NotificationMessage) -> list[int]:
    event = ev.sqs_event(list(messages))
    return ev.failed_indexes(consumer.handle(event), event)


def test_purchase_is_acknowledged_and_grants_premium(consumer: Consumer, db: Db, fake_play: FakePlay) -> None:
    fake_play.subscriptions[TOKEN] = subscription_purchase(acknowledged=False, account_id=ev.ACCOUNT)
    assert deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_PURCHASED"])) == []
    assert fake_play.acknowledged == [("subscriptions", "premium_monthly", TOKEN)]
    assert fake_play.tokens_issued == 1
    assert db.status(TOKEN, "google") == "active"
    assert db.premium() == (True, "subscription")
    # Already acknowledged: a renewal does not acknowledge again.
    assert deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_RENEWED"], event=ev.T0 + 1)) == []
    assert len(fake_play.acknowledged) == 1


@pytest.mark.parametrize(
    ("state", "status", "premium"),
    [
        ("SUBSCRIPTION_STATE_ACTIVE", "active", True),
        ("SUBSCRIPTION_STATE_IN_GRACE_PERIOD", "grace", True),
        ("SUBSCRIPTION_STATE_ON_HOLD", "on-hold", False),
        ("SUBSCRIPTION_STATE_PAUSED", "paused", False),
        ("SUBSCRIPTION_STATE_CANCELED", "canceled-until-expiry", True),
        ("SUBSCRIPTION_STATE_EXPIRED", "expired", False),
        ("SUBSCRIPTION_STATE_PENDING", "pending", False),
    ],
)
def test_state_strategy_follows_the_play_state(
    consumer: Consumer, db: Db, fake_play: FakePlay, *, state: str, status: str, premium: bool
) -> None:
    fake_play.subscriptions[TOKEN] = subscription_purchase(
        state, account_id=ev.ACCOUNT, product_id="premium_annual"
    )
    assert deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_RENEWED"])) == []
    assert db.status(TOKEN, "google") == status
    assert db.premium() == (premium, "subscription" if premium else "none")
    row = db.one("SELECT plan FROM notification_subscriptions")
    assert row == {"plan": "annual"}


def test_plan_change_moves_the_entitlement_to_the_new_token(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    fake_play.subscriptions["old-token"] = subscription_purchase(account_id=ev.ACCOUNT)
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_PURCHASED"], token="old-token"))
    # The upgrade: a new token linked to the old one; the app does not resend the account id.
    fake_play.subscriptions["new-token"] = subscription_purchase(
        product_id="premium_annual", linked_purchase_token="old-token"
    )
    assert (
        deliver(
            consumer,
            ev.google_subscription(CODES["SUBSCRIPTION_PURCHASED"], token="new-token", event=ev.T0 + 1),
        )
        == []
    )
    assert db.status("old-token", "google") == "replaced"
    assert db.status("new-token", "google") == "active"
    entitlement = db.one(
        "SELECT e.premium, s.subscription_key FROM notification_entitlements e "
        "JOIN notification_subscriptions s ON s.id = e.subscription_id WHERE e.owner_key = %s",
        f"account:{ev.ACCOUNT}",
    )
    assert entitlement == {"premium": True, "subscription_key": "new-token"}
    # The old token's own late notifications cannot bring it back into use.
    fake_play.subscriptions["old-token"] = subscription_purchase("SUBSCRIPTION_STATE_EXPIRED")
    deliver(
        consumer, ev.google_subscription(CODES["SUBSCRIPTION_EXPIRED"], token="old-token", event=ev.T0 + 2)
    )
    assert db.premium() == (True, "subscription")


def test_revoked_and_voided_subscriptions_lose_premium(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    fake_play.subscriptions[TOKEN] = subscription_purchase(account_id=ev.ACCOUNT)
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_PURCHASED"]))
    fake_play.subscriptions[TOKEN] = subscription_purchase(
        "SUBSCRIPTION_STATE_EXPIRED", account_id=ev.ACCOUNT
    )
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_REVOKED"], event=ev.T0 + 1))
    assert db.status(TOKEN, "google") == "revoked"
    assert db.premium() == (False, "none")
    fake_play.subscriptions["t2"] = subscription_purchase(account_id=ev.ACCOUNT)
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_PURCHASED"], token="t2"))
    # Play revoked the subscription for this refund: its state says so.
    fake_play.subscriptions["t2"] = subscription_purchase("SUBSCRIPTION_STATE_EXPIRED", account_id=ev.ACCOUNT)
    assert deliver(consumer, ev.google_voided("t2", product_type=1, event=ev.T0 + 1)) == []
    assert db.status("t2", "google") == "refunded"
    assert db.premium() == (False, "none")


def test_lifetime_one_time_product_is_acknowledged_and_its_voiding_removes_it(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    token = "google-lifetime-0001"
    fake_play.products[(ev.GOOGLE_LIFETIME, token)] = product_purchase(account_id=ev.ACCOUNT)
    assert deliver(consumer, ev.google_one_time(1, token=token)) == []
    assert fake_play.acknowledged == [("products", ev.GOOGLE_LIFETIME, token)]
    assert db.premium() == (True, "lifetime")
    # Subscriptions come and go; the pass holds premium.
    fake_play.subscriptions[TOKEN] = subscription_purchase(
        "SUBSCRIPTION_STATE_EXPIRED", account_id=ev.ACCOUNT
    )
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_EXPIRED"]))
    assert db.premium() == (True, "lifetime")
    fake_play.products[(ev.GOOGLE_LIFETIME, token)] = product_purchase(
        purchase_state=1, account_id=ev.ACCOUNT
    )
    assert deliver(consumer, ev.google_voided(token, product_type=2, event=ev.T0 + 1)) == []
    assert db.status(token, "google") == "refunded"
    assert db.premium() == (False, "none")


def test_other_one_time_products_and_tests_are_recorded(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    assert deliver(consumer, ev.google_one_time(1, token="coins", sku="coins_100"), ev.google_test()) == []
    outcomes = db.all("SELECT event_type, outcome FROM notification_events ORDER BY id")
    assert [(r["event_type"], r["outcome"]) for r in outcomes] == [
        ("ONE_TIME_PRODUCT_PURCHASED", "recorded"),
        ("TEST_NOTIFICATION", "recorded"),
    ]
    assert fake_play.requests == []


def test_play_outage_fails_the_message_for_a_retry(consumer: Consumer, db: Db, fake_play: FakePlay) -> None:
    fake_play.subscriptions[TOKEN] = subscription_purchase(account_id=ev.ACCOUNT)
    fake_play.unavailable = True
    consumer.store_budget_s = 0.2
    renewed = ev.google_subscription(CODES["SUBSCRIPTION_RENEWED"])
    assert deliver(consumer, renewed) == [0]
    assert db.status(TOKEN, "google") is None
    fake_play.unavailable = False
    assert deliver(consumer, renewed) == []
    assert db.status(TOKEN, "google") == "active"


def test_a_brief_play_failure_is_retried_inside_the_invocation(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    fake_play.subscriptions[TOKEN] = subscription_purchase(account_id=ev.ACCOUNT)
    fake_play.fail_next = 2
    assert deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_RENEWED"])) == []
    assert db.status(TOKEN, "google") == "active"
    assert [m for m, _p in fake_play.requests] == ["GET", "GET", "GET"]


def test_unknown_purchase_and_stale_event_are_recorded(
    consumer: Consumer, db: Db, fake_play: FakePlay
) -> None:
    assert deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_RENEWED"], token="gone")) == []
    assert db.outcomes("gone") == [("SUBSCRIPTION_RENEWED", "not-found")]
    fake_play.subscriptions[TOKEN] = subscription_purchase("SUBSCRIPTION_STATE_EXPIRED")
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_EXPIRED"], event=ev.T0 + 10))
    fake_play.subscriptions[TOKEN] = subscription_purchase()
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_RENEWED"], event=ev.T0 + 5))
    assert db.status(TOKEN, "google") == "expired"
    assert db.outcomes(TOKEN)[-1] == ("subscriptionNotification:2", "ignored-stale")


def test_client_refuses_a_token_it_was_not_issued(fake_play: FakePlay) -> None:
    # Another key than the one the fake trusts: its assertion does not verify.
    info = ServiceAccount().info(fake_play.token_uri)
    with pytest.raises(PlayApiError):
        PlayClient(info, fake_play.api_root).subscription_v2(ev.PACKAGE, TOKEN)


def test_expiry_from_play_is_stored(consumer: Consumer, db: Db, fake_play: FakePlay) -> None:
    expiry = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=20)
    fake_play.subscriptions[TOKEN] = subscription_purchase(expiry=expiry, auto_renew=False)
    deliver(consumer, ev.google_subscription(CODES["SUBSCRIPTION_CANCELED"]))
    row = db.one("SELECT expires_at, auto_renew FROM notification_subscriptions")
    assert row == {"expires_at": expiry, "auto_renew": False}
