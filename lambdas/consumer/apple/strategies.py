"""One small class per App Store notification type (or type/subtype); `STRATEGIES` maps them.

Adding a type: write a class with `decide()` and add one line to `STRATEGIES` (docs/notifications.md).
Statuses follow Apple's guide "Responding to App Store Server Notifications": access continues in
grace and until expiry after auto-renew is turned off; it stops in billing retry, on expiry, refund
and revoke. A non-consumable in APPLE_LIFETIME_PRODUCT_IDS is the lifetime pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.consumer.apple.notification import AppleNotification
from lambdas.consumer.model import Change, Current, Decision, Status


@dataclass(frozen=True)
class AppleContext:
    lifetime_product_ids: frozenset[str]

    def is_lifetime(self, n: AppleNotification) -> bool:
        return n.product_id in self.lifetime_product_ids


class AppleStrategy:
    """Base: decide what one notification does to the subscription (pure: no I/O)."""

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
        if n.renewal.get("isInBillingRetryPeriod"):
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

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        return Decision.record(n.notification_type, n.subtype)


class PriceIncrease(AppleStrategy):
    """PRICE_INCREASE (PENDING / ACCEPTED): nothing changes until renewal; refresh the signed data."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if not n.transaction:
            return Decision.record(n.notification_type, n.subtype)
        return self.from_snapshot(n)


class Refund(AppleStrategy):
    """REFUND: access to the refunded purchase ends; for the lifetime pass, the lifetime entitlement."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if ctx.is_lifetime(n):
            return _lifetime(n, "refunded")
        return self.set_status(n, "refunded")


class RefundReversed(AppleStrategy):
    """REFUND_REVERSED: the refund was reversed; access returns if the period is still running."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if ctx.is_lifetime(n):
            return _lifetime(n, "active")
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


class OneTimeCharge(AppleStrategy):
    """ONE_TIME_CHARGE: a consumable or non-consumable purchase; the lifetime pass grants premium."""

    def decide(self, n: AppleNotification, current: Current | None, ctx: AppleContext) -> Decision:
        if ctx.is_lifetime(n):
            return _lifetime(n, "active")
        return Decision.record(n.notification_type, n.subtype, product_id=n.product_id)


def _lifetime(n: AppleNotification, status: Status) -> Decision:
    n.require_transaction()
    change = Change(
        status=status, kind="lifetime", product_id=n.product_id, account_id=n.account_id, auto_renew=False
    )
    return Decision(event_type=n.notification_type, subtype=n.subtype, change=change)


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
    "CONSUMPTION_REQUEST": RecordOnly,
    "RENEWAL_EXTENDED": RenewalExtended,
    "RENEWAL_EXTENSION": RecordOnly,
    "ONE_TIME_CHARGE": OneTimeCharge,
    "EXTERNAL_PURCHASE_TOKEN": RecordOnly,
    "RESCIND_CONSENT": RecordOnly,
    "TEST": RecordOnly,
}

_INSTANCES: dict[type[AppleStrategy], AppleStrategy] = {}


def strategy_for(n: AppleNotification) -> AppleStrategy:
    """The strategy for a type/subtype, else for the type, else Unknown."""
    cls = (
        STRATEGIES.get(f"{n.notification_type}/{n.subtype}") or STRATEGIES.get(n.notification_type) or Unknown
    )
    return _INSTANCES.setdefault(cls, cls())
