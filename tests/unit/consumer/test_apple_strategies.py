"""Each Apple strategy, as a pure function of the notification and the stored state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdas.consumer.apple.notification import AppleNotification
from lambdas.consumer.apple.strategies import STRATEGIES, AppleContext, Unknown, strategy_for
from lambdas.consumer.exceptions import InvalidNotification
from lambdas.consumer.model import Current, Decision
from tests.fixtures.notifications.consumer import events as ev
from tests.fixtures.notifications.consumer.events import NotificationMessage

CTX = AppleContext(lifetime_product_ids=frozenset({ev.LIFETIME}))
ISSUE_TYPES = [
    "SUBSCRIBED",
    "DID_RENEW",
    "DID_FAIL_TO_RENEW",
    "GRACE_PERIOD_EXPIRED",
    "DID_CHANGE_RENEWAL_PREF",
    "DID_CHANGE_RENEWAL_STATUS",
    "OFFER_REDEEMED",
    "EXPIRED",
    "PRICE_INCREASE",
    "REFUND",
    "REFUND_DECLINED",
    "REFUND_REVERSED",
    "REVOKE",
    "CONSUMPTION_REQUEST",
    "RENEWAL_EXTENDED",
    "RENEWAL_EXTENSION",
    "ONE_TIME_CHARGE",
    "EXTERNAL_PURCHASE_TOKEN",
    "RESCIND_CONSENT",
    "TEST",
]


def decide(message: object, current: Current | None = None) -> Decision:
    n = AppleNotification(message.payload)  # type: ignore[attr-defined]
    return strategy_for(n).decide(n, current, CTX)


def current(status: str, kind: str = "subscription") -> Current:
    return Current(
        kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        expires_at=None,
        auto_renew=True,
        product_id=ev.MONTHLY,
        last_event_at=datetime(2025, 12, 1, tzinfo=UTC),
    )


def test_registry_covers_every_type_the_issue_lists() -> None:
    assert set(ISSUE_TYPES) <= set(STRATEGIES)


@pytest.mark.parametrize(
    ("notification_type", "subtype", "status"),
    [
        ("SUBSCRIBED", "INITIAL_BUY", "active"),
        ("SUBSCRIBED", "RESUBSCRIBE", "active"),
        ("DID_RENEW", None, "active"),
        ("DID_RENEW", "BILLING_RECOVERY", "active"),
        ("DID_FAIL_TO_RENEW", None, "billing-retry"),
        ("DID_FAIL_TO_RENEW", "GRACE_PERIOD", "grace"),
        ("GRACE_PERIOD_EXPIRED", None, "billing-retry"),
        ("DID_CHANGE_RENEWAL_PREF", "UPGRADE", "active"),
        ("OFFER_REDEEMED", "UPGRADE", "active"),
        ("OFFER_REDEEMED", None, "active"),
        ("EXPIRED", "VOLUNTARY", "expired"),
        ("EXPIRED", "BILLING_RETRY", "expired"),
        ("REFUND", None, "refunded"),
        ("REVOKE", None, "revoked"),
        ("RENEWAL_EXTENDED", None, "active"),
        ("REFUND_REVERSED", None, "active"),
    ],
)
def test_status_changing_types(notification_type: str, subtype: str | None, status: str) -> None:
    decision = decide(ev.apple(notification_type, subtype), current("active"))
    assert decision.change is not None
    assert decision.change.status == status
    assert decision.change.kind == "subscription"
    assert decision.change.product_id == ev.MONTHLY
    assert decision.change.account_id == ev.ACCOUNT
    assert decision.change.expires_at == datetime.fromtimestamp((ev.T0 + 30 * ev.DAY) / 1000, UTC)


def test_refund_reversed_after_the_period_ended_restores_an_expired_subscription() -> None:
    decision = decide(ev.apple("REFUND_REVERSED", expires=ev.T0 - ev.DAY))
    assert decision.change is not None and decision.change.status == "expired"


def snapshot(message: NotificationMessage, **renewal: object) -> NotificationMessage:
    message.payload["data"]["renewalInfo"].update(renewal)
    return message


@pytest.mark.parametrize(
    ("renewal", "expires", "status"),
    [
        ({}, ev.T0 + ev.DAY, "active"),
        ({"autoRenewStatus": 0}, ev.T0 + ev.DAY, "canceled-until-expiry"),
        ({}, ev.T0 - ev.DAY, "expired"),
        ({"isInBillingRetryPeriod": True}, ev.T0 - ev.DAY, "billing-retry"),
        ({"isInBillingRetryPeriod": True, "gracePeriodExpiresDate": ev.T0 + ev.DAY}, ev.T0 - ev.DAY, "grace"),
    ],
)
def test_types_that_do_not_change_access_take_the_status_their_signed_data_describes(
    renewal: dict[str, object], expires: int, status: str
) -> None:
    for notification_type, subtype in (
        ("DID_CHANGE_RENEWAL_PREF", "DOWNGRADE"),
        ("DID_CHANGE_RENEWAL_PREF", None),
        ("OFFER_REDEEMED", "DOWNGRADE"),
        ("PRICE_INCREASE", "PENDING"),
        ("PRICE_INCREASE", "ACCEPTED"),
    ):
        message = snapshot(ev.apple(notification_type, subtype, expires=expires), **renewal)
        # The stored state plays no part: the newest event alone decides.
        decision = decide(message, current("refunded"))
        assert decision.change is not None and decision.change.status == status, notification_type


def test_renewal_status_turns_access_into_until_expiry_and_back() -> None:
    off = decide(ev.apple("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_DISABLED", auto_renew=False))
    assert off.change is not None
    assert (off.change.status, off.change.auto_renew) == ("canceled-until-expiry", False)
    on = decide(ev.apple("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_ENABLED"))
    assert on.change is not None
    assert (on.change.status, on.change.auto_renew) == ("active", True)


def test_renewal_status_does_not_revive_a_subscription_in_billing_retry() -> None:
    message = snapshot(
        ev.apple("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_ENABLED", expires=ev.T0 - ev.DAY),
        isInBillingRetryPeriod=True,
    )
    decision = decide(message)
    assert decision.change is not None
    assert (decision.change.status, decision.change.auto_renew) == ("billing-retry", True)


@pytest.mark.parametrize("notification_type", ["REFUND_DECLINED", "CONSUMPTION_REQUEST", "RENEWAL_EXTENSION"])
def test_informational_types_are_recorded_without_a_change(notification_type: str) -> None:
    decision = decide(ev.apple(notification_type), current("active"))
    assert decision.change is None
    assert decision.outcome == "recorded"


@pytest.mark.parametrize("fixture", ["apple_test.json", "apple_renewal_extension_summary.json"])
def test_notifications_about_no_subscription_are_recorded(fixture: str) -> None:
    message = ev.apple_without_subscription(fixture)
    n = AppleNotification(message.payload)
    assert n.original_transaction_id is None
    decision = strategy_for(n).decide(n, None, CTX)
    assert (decision.change, decision.outcome) == (None, "recorded")


def test_external_purchase_token_and_rescind_consent_are_recorded() -> None:
    import opstestkit as kit

    for payload in (kit.apple_external_purchase_token(), kit.apple_rescind_consent()):
        n = AppleNotification(payload)
        decision = strategy_for(n).decide(n, None, CTX)
        assert (decision.change, decision.outcome) == (None, "recorded")


def test_lifetime_pass_purchase_refund_revoke_and_reversal() -> None:
    granted = decide(ev.apple_lifetime("ONE_TIME_CHARGE"))
    assert granted.change is not None
    assert (granted.change.kind, granted.change.status) == ("lifetime", "active")
    for kind, status in (("REFUND", "refunded"), ("REVOKE", "revoked"), ("REFUND_REVERSED", "active")):
        decision = decide(ev.apple_lifetime(kind), current("active", "lifetime"))
        assert decision.change is not None
        assert (decision.change.kind, decision.change.status) == ("lifetime", status)


def test_one_time_charge_of_another_product_is_only_recorded() -> None:
    decision = decide(ev.apple_lifetime("ONE_TIME_CHARGE", product_id="com.example.couplediary.stickers"))
    assert (decision.change, decision.outcome) == (None, "recorded")


def test_unknown_type_is_recorded_as_unknown() -> None:
    n = AppleNotification(ev.apple("SOMETHING_NEW_IN_2027").payload)
    strategy = strategy_for(n)
    assert isinstance(strategy, Unknown)
    decision = strategy.decide(n, None, CTX)
    assert (decision.change, decision.outcome, decision.event_type) == (
        None,
        "unknown-type",
        "SOMETHING_NEW_IN_2027",
    )


def test_status_type_without_transaction_info_is_an_error_that_names_the_field() -> None:
    payload = ev.apple("DID_RENEW").payload
    del payload["data"]["transactionInfo"]
    del payload["data"]["renewalInfo"]
    n = AppleNotification(payload)
    with pytest.raises(InvalidNotification, match="transactionInfo"):
        strategy_for(n).decide(n, None, CTX)
