"""Reconciliation against the test kit's fake App Store Server API and fake Play Developer API:
what notifications failed to say, the stores' answers repair, through the same strategies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from opstestkit.fake_app_store import AppleOneTime, AppleSubscription, FakeAppStore
from opstestkit.fake_play import FakePlay, product_purchase, subscription_purchase, voided_purchase

from lambdas.consumer.handler import Consumer
from lambdas.consumer.reconcile import ReconcileOptions, Reconciler
from lambdas.consumer.repository import DueSubscription
from ops.notifications.reconcile import read_passes
from tests.fixtures.notifications.consumer import events as ev
from tests.functional.consumer.conftest import Db, fifo_queue, make_service

OTID = "2000000000000001"
NOW_MS = ev.T0 + ev.DAY


@pytest.fixture
def reconciler(db: Db, fake_play: FakePlay, app_store: FakeAppStore) -> Reconciler:
    return Reconciler(make_service(db, fake_play, app_store))


def deliver(consumer: Consumer, *messages: ev.NotificationMessage) -> list[int]:
    event = ev.sqs_event(list(messages))
    return ev.failed_indexes(consumer.handle(event), event)


def test_a_missed_renewal_is_repaired_from_the_app_store(
    consumer: Consumer, db: Db, app_store: FakeAppStore, reconciler: Reconciler
) -> None:
    bought, first_end = ev.T0 - 31 * ev.DAY, ev.T0 - ev.DAY
    assert (
        deliver(
            consumer,
            ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=bought, purchased=bought, expires=first_end),
        )
        == []
    )
    assert db.premium() == (False, "none")  # the period ended; DID_RENEW never arrived
    app_store.subscriptions[OTID] = AppleSubscription(
        OTID, ev.MONTHLY, ev.ACCOUNT, purchase_ms=first_end, expires_ms=first_end + 30 * ev.DAY, renewals=1
    )
    report = reconciler.run(ReconcileOptions(history_window=dt.timedelta(0)))
    [item] = report.items
    assert (item.reason, item.outcome, item.status_after) == ("expiring", "reconciled", "active")
    assert db.premium() == (True, "subscription")
    assert db.one(
        "SELECT latest_transaction_id, checked_at IS NOT NULL AS checked FROM notification_subscriptions"
    ) == {
        "latest_transaction_id": f"{OTID}0001",
        "checked": True,
    }


def _subscribe_expiring_within_a_day(consumer: Consumer) -> None:
    """A subscription bought at T0 that expires half a day later, delivered without errors."""
    assert (
        deliver(consumer, ev.apple("SUBSCRIBED", "INITIAL_BUY", signed=ev.T0, expires=ev.T0 + ev.DAY // 2))
        == []
    )


def test_a_missed_refund_is_repaired_and_later_stale_notifications_change_nothing(
    consumer: Consumer, db: Db, app_store: FakeAppStore, reconciler: Reconciler
) -> None:
    _subscribe_expiring_within_a_day(consumer)
    app_store.subscriptions[OTID] = AppleSubscription(
        OTID,
        ev.MONTHLY,
        ev.ACCOUNT,
        purchase_ms=ev.T0,
        expires_ms=ev.T0 + ev.DAY // 2,
        revocation_ms=ev.T0 + 1,
    )
    reconciler.run(ReconcileOptions(history_window=dt.timedelta(0)))
    assert (db.status(OTID), db.premium()) == ("refunded", (False, "none"))
    # A renewal notification signed before the reconciliation arrives: older than what the store said.
    assert deliver(consumer, ev.apple("DID_RENEW", signed=ev.T0 + 2)) == []
    assert db.status(OTID) == "refunded"


def test_apple_notification_history_fills_in_notifications_never_delivered(
    db: Db, app_store: FakeAppStore, reconciler: Reconciler
) -> None:
    app_store.subscriptions[OTID] = AppleSubscription(
        OTID, ev.MONTHLY, ev.ACCOUNT, purchase_ms=ev.T0, expires_ms=NOW_MS + 29 * ev.DAY
    )
    app_store.notify("SUBSCRIBED", "INITIAL_BUY", OTID)  # Apple sent it; it never reached the receiver
    report = reconciler.run(ReconcileOptions())
    assert (report.history_fetched, report.history_applied) == (1, 1)
    assert db.premium() == (True, "subscription")
    again = reconciler.run(ReconcileOptions())
    assert (again.history_fetched, again.history_applied) == (1, 0)  # already applied: a duplicate


def test_google_reconciliation_repairs_state_and_acknowledges_in_time(
    consumer: Consumer, db: Db, fake_play: FakePlay, reconciler: Reconciler
) -> None:
    # Bought with a slow payment method: PENDING (Play accepts no acknowledgement yet).
    fake_play.subscriptions["tok"] = subscription_purchase(
        "SUBSCRIPTION_STATE_PENDING", acknowledged=False, account_id=ev.ACCOUNT
    )
    assert deliver(consumer, ev.google_subscription(4, token="tok")) == []
    assert db.one("SELECT status, ack_pending FROM notification_subscriptions") == {
        "status": "pending",
        "ack_pending": True,
    }
    # The payment completes; its notification is lost. Play would refund it after three days.
    fake_play.subscriptions["tok"]["subscriptionState"] = "SUBSCRIPTION_STATE_ACTIVE"
    report = reconciler.run(ReconcileOptions())
    assert [(i.reason, i.status_after) for i in report.items] == [("unacknowledged", "active")]
    assert fake_play.acknowledged == [("subscriptions", "premium_monthly", "tok")]
    assert db.one("SELECT ack_pending FROM notification_subscriptions") == {"ack_pending": False}
    assert db.premium() == (True, "subscription")


def test_google_voided_purchases_are_applied_even_without_their_notification(
    consumer: Consumer, db: Db, fake_play: FakePlay, reconciler: Reconciler
) -> None:
    fake_play.subscriptions["tok"] = subscription_purchase(account_id=ev.ACCOUNT)
    assert deliver(consumer, ev.google_subscription(4, token="tok")) == []
    fake_play.subscriptions["tok"]["subscriptionState"] = "SUBSCRIPTION_STATE_EXPIRED"
    fake_play.voided.append(voided_purchase("tok", "GPA.1234-5678-9012-34567"))
    report = reconciler.run(ReconcileOptions())
    assert (report.voided_fetched, report.voided_applied) == (1, 1)
    assert (db.status("tok", "google"), db.premium()) == ("refunded", (False, "none"))


def test_store_outage_fails_the_row_not_the_run(
    consumer: Consumer, db: Db, app_store: FakeAppStore, reconciler: Reconciler
) -> None:
    _subscribe_expiring_within_a_day(consumer)
    app_store.unavailable = True
    report = reconciler.run(ReconcileOptions(history_window=dt.timedelta(0)))
    assert [(i.outcome, i.status_after) for i in report.items] == [("failed", "active")]
    assert "unavailable" in report.items[0].detail


def test_lifetime_passes_bought_before_the_service_are_imported_after_verification(
    db: Db, fake_play: FakePlay, app_store: FakeAppStore, reconciler: Reconciler, tmp_path: Path
) -> None:
    app_store.one_time["9000000000000001"] = AppleOneTime(
        "9000000000000001", ev.LIFETIME, None, ev.T0 - 400 * ev.DAY
    )
    app_store.one_time["9000000000000002"] = AppleOneTime(
        "9000000000000002", ev.LIFETIME, None, ev.T0 - 400 * ev.DAY, revocation_ms=ev.T0 - 300 * ev.DAY
    )
    fake_play.products[(ev.GOOGLE_LIFETIME, "old-token")] = product_purchase(acknowledged=False)
    csv = tmp_path / "passes.csv"
    csv.write_text(
        "provider,id,product_id,account_id\n"
        f"apple,9000000000000001,{ev.LIFETIME},acct-apple\n"
        f"apple,9000000000000002,{ev.LIFETIME},acct-refunded\n"
        f"apple,9999999999999999,{ev.LIFETIME},acct-unknown\n"
        f"google,old-token,{ev.GOOGLE_LIFETIME},acct-google\n"
    )
    for row in read_passes(csv):
        reconciler.check(
            DueSubscription(row.provider, row.key, "lifetime", row.product_id, "import"), row.account_id
        )
    assert db.premium("account:acct-apple") == (True, "lifetime")
    assert db.premium("account:acct-refunded") == (False, "none")
    assert db.premium("account:acct-unknown") is None  # Apple knows no such transaction
    assert db.premium("account:acct-google") == (True, "lifetime")
    assert fake_play.acknowledged == [("products", ev.GOOGLE_LIFETIME, "old-token")]


def test_reprocess_sends_stored_unknown_types_back_to_the_queue(
    consumer: Consumer, db: Db, unique_name: str
) -> None:
    from lambdas.consumer.config import ConsumerConfig
    from lambdas.shared.messages import NotificationMessage
    from ops import aws
    from ops.notifications.reconcile import reprocess

    unknown = ev.apple("DID_PAUSE", signed=ev.T0)
    assert deliver(consumer, unknown) == []
    sqs = aws.client("sqs")
    url, _arn = fifo_queue(unique_name)
    config = ConsumerConfig.from_env(
        {
            "DATABASE_URL": db.url,
            "GOOGLE_PACKAGE_NAME": ev.PACKAGE,
            "GOOGLE_PLAY_CREDENTIALS_FILE": "/unused.json",
        }
    )
    planned = reprocess(
        config, f"{unique_name}.fifo", outcome="unknown-type", event_type=None, limit=10, dry_run=True
    )
    assert [s.status for s in planned.steps] == ["planned"]
    assert db.one("SELECT count(*) AS n FROM notification_processed") == {"n": 1}
    done = reprocess(
        config, f"{unique_name}.fifo", outcome="unknown-type", event_type="DID_PAUSE", limit=10, dry_run=False
    )
    assert [s.status for s in done.steps] == ["ok"]
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"]).get("Messages", [])
    again = NotificationMessage.from_json(message["Body"])
    assert (again.notification_id, again.payload) == (unknown.notification_id, unknown.payload)
    assert message["Attributes"]["MessageGroupId"] == OTID
    # Its processed id is forgotten, so the consumer applies it once more (now with a strategy).
    assert db.one("SELECT count(*) AS n FROM notification_processed") == {"n": 0}


def test_a_bad_import_file_names_every_problem(tmp_path: Path) -> None:
    from ops.exceptions import ConfigError

    csv = tmp_path / "passes.csv"
    csv.write_text("provider,id,product_id,account_id\namazon,1,x,\napple,,x,\n")
    with pytest.raises(ConfigError, match=r"line 2: .*; line 3: .*Fix the file"):
        read_passes(csv)
