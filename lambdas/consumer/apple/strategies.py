"""One small class per App Store notification type (or type/subtype); `STRATEGIES` maps them.

Adding a type: write a class with `decide()` and add one line to `STRATEGIES` (docs/notifications.md).
Statuses follow Apple's guide "Responding to App Store Server Notifications": access continues in
grace and until expiry after auto-renew is turned off; it stops in billing retry, on expiry, refund
and revoke. A non-consumable in APPLE_LIFETIME_PRODUCT_IDS is the lifetime pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from lambdas.consumer.apple.notification import AppleNotification
from lambdas.consumer.model import Change, Current, Decision, Status

if TYPE_CHECKING:
    from lambdas.consumer.apple.store_api import AppStoreApi


@dataclass(frozen=True)
class ConsumptionPolicy:
    """How CONSUMPTION_REQUEST is answered: the refund preference sent to Apple (None: no preference)."""

    refund_preference: str | None = None


@dataclass(frozen=True)
class AppleContext:
    lifetime_product_ids: frozenset[str]
    # The App Store Server API, when its key is configured (consumption answers, reconciliation).
    store: AppStoreApi | None = None
    # Answer CONSUMPTION_REQUEST (None: record it only).
    consumption: ConsumptionPolicy | None = None
    # Whether a customer (appTransactionId) rescinded consent to share data with Apple.
    consent_rescinded: Callable[[str], bool] = field(default=lambda _app_transaction_id: False)

    def is_lifetime(self, n: AppleNotification) -> bool:
        return n.product_id in self.lifetime_product_ids


class AppleStrategy:
    """Base: decide what one notification does to the subscription (pure: no I/O)."""

    # False: the type changes no subscription state, so an older one is acted on, never skipped as stale.
    changes_state = True

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        raise NotImplementedError

    @staticmethod
    def set_status(n: AppleNotification, status: Status, *, auto_renew: bool | None = None) -> Decision:
        n.require_transaction()
        change = Change(
            status=status,
            product_id=n.product_id,
            expires_at=n.expires_at,
            auto_renew=n.auto_renew if auto_renew is None else auto_renew,
            account_id=n.account_id,
            grace_until=n.grace_period_expires_at,
            latest_transaction_id=n.transaction_id,
        )
        return Decision(event_type=n.notification_type, subtype=n.subtype, change=change)

    @staticmethod
    def from_snapshot(n: AppleNotification, *, auto_renew: bool | None = None) -> Decision:
        """For types that do not themselves change access: the status the signed transaction and
        renewal info describe at signedDate.

        Deriving it from the notification, never from the stored state, keeps every strategy a
        function of its own event, so applying the newest event gives the same result as replaying
        all of them in order (the consumer ignores older events that arrive late).
        """
        renew = n.auto_renew if auto_renew is None else auto_renew
        status: Status
        if n.revoked:
            status = "refunded"
        elif n.renewal.get("isInBillingRetryPeriod"):
            grace_until = n.grace_period_expires_at
            status = "grace" if grace_until and grace_until > n.signed_date else "billing-retry"
        elif n.expires_at is not None and n.expires_at > n.signed_date:
            status = "canceled-until-expiry" if renew is False else "active"
        else:
            status = "expired"
        return AppleStrategy.set_status(n, status, auto_renew=renew)


class Subscribed(AppleStrategy):
    """SUBSCRIBED (INITIAL_BUY / RESUBSCRIBE): access starts."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return self.set_status(n, "active")


class DidRenew(AppleStrategy):
    """DID_RENEW (also BILLING_RECOVERY): a new period started."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return self.set_status(n, "active")


class DidFailToRenew(AppleStrategy):
    """DID_FAIL_TO_RENEW: billing retry; with subtype GRACE_PERIOD access continues meanwhile."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return self.set_status(n, "grace" if n.subtype == "GRACE_PERIOD" else "billing-retry")


class GracePeriodExpired(AppleStrategy):
    """GRACE_PERIOD_EXPIRED: grace ended unpaid; Apple keeps retrying billing, access stops."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return self.set_status(n, "billing-retry")


class DidChangeRenewalPref(AppleStrategy):
    """DID_CHANGE_RENEWAL_PREF: UPGRADE takes effect now; DOWNGRADE (or none) at the next renewal."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if n.subtype == "UPGRADE":
            return self.set_status(n, "active")
        return self.from_snapshot(n)


class DidChangeRenewalStatus(AppleStrategy):
    """DID_CHANGE_RENEWAL_STATUS: auto-renew on/off; access runs to expiry either way."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return self.from_snapshot(n, auto_renew=n.subtype == "AUTO_RENEW_ENABLED")


class OfferRedeemed(AppleStrategy):
    """OFFER_REDEEMED: a new or upgraded offer starts now; DOWNGRADE applies at the next renewal."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if n.subtype == "DOWNGRADE":
            return self.from_snapshot(n)
        return self.set_status(n, "active")


class Expired(AppleStrategy):
    """EXPIRED (VOLUNTARY / BILLING_RETRY / PRICE_INCREASE / PRODUCT_NOT_FOR_SALE): access ends."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return self.set_status(n, "expired")


class RecordOnly(AppleStrategy):
    """Informational types: stored in the history, no change of access."""

    changes_state = False

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return Decision.record(n.notification_type, n.subtype)


class PriceIncrease(AppleStrategy):
    """PRICE_INCREASE (PENDING / ACCEPTED): nothing changes until renewal; refresh the signed data."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if not n.transaction:
            return Decision.record(n.notification_type, n.subtype)
        return self.from_snapshot(n)


def _past_period(n: AppleNotification, current: Current | None) -> bool:
    """The notification's transaction is an earlier period than the one stored (a past renewal)."""
    if current is None or current.kind != "subscription" or current.expires_at is None:
        return False
    ends = n.transaction.get("expiresDate")
    return isinstance(ends, int) and ends < int(current.expires_at.timestamp() * 1000)


class Refund(AppleStrategy):
    """REFUND: access bought by the refunded transaction ends; for the lifetime pass, the pass.

    The refunded transaction may be a past renewal: then the current period runs on. A prorated
    refund (revocationType REFUND_PRORATED) keeps access for the part of the period not refunded.
    """

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if ctx.is_lifetime(n):
            return _lifetime(n, "refunded")
        n.require_transaction()
        detail = {
            "transaction_id": n.transaction_id,
            "revocation_type": n.transaction.get("revocationType"),
            "revocation_percentage": n.transaction.get("revocationPercentage"),
        }
        if _past_period(n, current):
            return Decision.record(n.notification_type, n.subtype, past_period=True, **detail)
        if n.prorated and n.expires_at is not None and n.expires_at > n.signed_date:
            return _with_detail(
                self.set_status(n, "active" if n.auto_renew is not False else "canceled-until-expiry"), detail
            )
        return _with_detail(self.set_status(n, "refunded"), detail)


class RefundReversed(AppleStrategy):
    """REFUND_REVERSED: the refund was reversed; access returns if the period is still running."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if ctx.is_lifetime(n):
            return _lifetime(n, "active")
        if _past_period(n, current):
            return Decision.record(
                n.notification_type, n.subtype, past_period=True, transaction_id=n.transaction_id
            )
        running = n.expires_at is not None and n.expires_at > n.signed_date
        return self.set_status(n, "active" if running else "expired")


class Revoke(AppleStrategy):
    """REVOKE: Family Sharing no longer gives access."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if ctx.is_lifetime(n):
            return _lifetime(n, "revoked")
        return self.set_status(n, "revoked")


class RenewalExtended(AppleStrategy):
    """RENEWAL_EXTENDED: the expiry date moved later (customer-service extension)."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        running = n.expires_at is not None and n.expires_at > n.signed_date
        return self.set_status(n, "active" if running else "expired")


_STATUS_CODES: dict[int, Status] = {2: "expired", 3: "billing-retry", 4: "grace", 5: "revoked"}


class StoreSnapshot(AppleStrategy):
    """RECONCILE (what Get All Subscription Statuses / Get Transaction Info answered) and
    CLIENT_PURCHASE (a signed transaction the app posted after a purchase or restore): the state the
    signed data describes, for a subscription or the lifetime pass.

    Not notification types Apple sends: the reconciler and the purchase route make them, so the
    App Store's answers go through the same ordering, idempotency and history as notifications.
    """

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        checked = n.notification_type == "RECONCILE"
        if ctx.is_lifetime(n):
            decision = _lifetime(n, "refunded" if n.transaction.get("revocationDate") else "active")
        elif n.status in _STATUS_CODES:
            status = _STATUS_CODES[n.status]
            if status == "revoked" and n.transaction.get("revocationDate") is not None:
                status = "refunded"
            decision = self.set_status(n, status)
        elif n.status == 1:
            decision = self.from_snapshot(n)
        elif n.transaction.get("expiresDate") is None:
            # A non-lifetime one-time purchase: nothing to grant.
            return Decision.record(n.notification_type, n.subtype, product_id=n.product_id)
        else:
            decision = self.from_snapshot(n)
        assert decision.change is not None
        # The app posts a transaction without its renewal info: reconciliation fills that in.
        change = replace(decision.change, checked=checked, flag=None if checked else "client-purchase")
        return replace(decision, change=change)


class ConsumptionRequest(AppleStrategy):
    """CONSUMPTION_REQUEST: answer Send Consumption Information when configured and the customer has
    not rescinded consent; otherwise record it (Apple then decides the refund without our data)."""

    changes_state = False

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        transaction_id = n.transaction_id
        if ctx.consumption is None or ctx.store is None or not transaction_id:
            return Decision.record(n.notification_type, n.subtype, answered=False, reason="not configured")
        app_transaction = n.app_transaction_id
        if app_transaction and ctx.consent_rescinded(app_transaction):
            return Decision.record(n.notification_type, n.subtype, answered=False, reason="consent rescinded")
        ctx.store.send_consumption(
            transaction_id, customer_consented=True, refund_preference=ctx.consumption.refund_preference
        )
        return Decision.record(
            n.notification_type,
            n.subtype,
            answered=True,
            transaction_id=transaction_id,
            refund_preference=ctx.consumption.refund_preference,
        )


class RescindConsent(AppleStrategy):
    """RESCIND_CONSENT: the customer withdrew consent to share their data with Apple; no consumption
    information is sent for their transactions from now on."""

    changes_state = False

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        app_transaction = n.app_transaction_id
        if not app_transaction:
            return Decision.record(n.notification_type, n.subtype, reason="no appTransactionId to act on")
        return Decision(event_type=n.notification_type, outcome="recorded", rescind_consent=app_transaction)


class OneTimeCharge(AppleStrategy):
    """ONE_TIME_CHARGE: a consumable or non-consumable purchase; the lifetime pass grants premium."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if ctx.is_lifetime(n):
            return _lifetime(n, "active")
        return Decision.record(n.notification_type, n.subtype, product_id=n.product_id)


def _lifetime(n: AppleNotification, status: Status) -> Decision:
    n.require_transaction()
    change = Change(
        status=status,
        kind="lifetime",
        product_id=n.product_id,
        account_id=n.account_id,
        auto_renew=False,
        latest_transaction_id=n.transaction_id,
    )
    return Decision(event_type=n.notification_type, subtype=n.subtype, change=change)


def _with_detail(decision: Decision, detail: dict[str, object]) -> Decision:
    return replace(decision, detail={**decision.detail, **detail})


class Unknown(AppleStrategy):
    """A type this code does not know yet: recorded and acknowledged so the batch goes on."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return Decision(event_type=n.notification_type or "(none)", subtype=n.subtype, outcome="unknown-type")


# Key: notificationType, or "notificationType/subtype" where the subtype changes the strategy.
STRATEGIES: dict[str, type[AppleStrategy]] = {
    "SUBSCRIBED": Subscribed,
    "DID_RENEW": DidRenew,
    "DID_FAIL_TO_RENEW": DidFailToRenew,
    "GRACE_PERIOD_EXPIRED": GracePeriodExpired,
    "DID_CHANGE_RENEWAL_PREF": DidChangeRenewalPref,
    "DID_CHANGE_RENEWAL_STATUS": DidChangeRenewalStatus,
    "OFFER_REDEEMED": OfferRedeemed,
    "EXPIRED": Expired,
    "PRICE_INCREASE": PriceIncrease,
    "REFUND": Refund,
    "REFUND_DECLINED": RecordOnly,
    "REFUND_REVERSED": RefundReversed,
    "REVOKE": Revoke,
    "CONSUMPTION_REQUEST": ConsumptionRequest,
    "RENEWAL_EXTENDED": RenewalExtended,
    "RENEWAL_EXTENSION": RecordOnly,
    "ONE_TIME_CHARGE": OneTimeCharge,
    "EXTERNAL_PURCHASE_TOKEN": RecordOnly,
    "RESCIND_CONSENT": RescindConsent,
    "TEST": RecordOnly,
    "RECONCILE": StoreSnapshot,
    "CLIENT_PURCHASE": StoreSnapshot,
}

_INSTANCES: dict[type[AppleStrategy], AppleStrategy] = {}


def strategy_for(n: AppleNotification) -> AppleStrategy:
    """The strategy for a type/subtype, else for the type, else Unknown."""
    cls = (
        STRATEGIES.get(f"{n.notification_type}/{n.subtype}") or STRATEGIES.get(n.notification_type) or Unknown
    )
    return _INSTANCES.setdefault(cls, cls())
