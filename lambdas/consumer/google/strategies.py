"""Google strategies: by notification kind, then by subscription notificationType code, then (for
subscriptions) by the `subscriptionState` that purchases.subscriptionsv2.get reports.

The notification only says that something happened; the Play Developer API says what the
subscription is now, so state strategies read that resource, never the notification type alone.
Adding a type or state: one class and one line in the matching registry (docs/notifications.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lambdas.consumer.exceptions import InvalidNotification, PlayPurchaseNotFound
from lambdas.consumer.google.notification import GoogleNotification
from lambdas.consumer.google.play import PlayClient
from lambdas.consumer.model import Change, Current, Decision, Status, rfc3339_to_datetime

ACK_PENDING = "ACKNOWLEDGEMENT_STATE_PENDING"


@dataclass(frozen=True)
class GoogleContext:
    play: PlayClient
    lifetime_product_ids: frozenset[str]


class GoogleStrategy:
    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        raise NotImplementedError


# --- subscription state strategies (subscriptionsv2 `subscriptionState`) ----------------------------


class StateStrategy:
    """Maps a SubscriptionPurchaseV2 in one state to a Change, acknowledging the purchase when Play
    still waits for it (Play refunds a purchase not acknowledged within three days, whatever state
    it has reached meanwhile)."""

    status: Status = "active"
    # PENDING: the payment has not gone through; Play accepts no acknowledgement yet.
    acknowledgeable = True
    # A plan change only takes the old token's place once the new one is paid for.
    replaces_linked = True

    def change(self, purchase: dict[str, Any], n: GoogleNotification, ctx: GoogleContext) -> Change:
        item = _line_item(purchase)
        plan = item.get("autoRenewingPlan")
        auto_renew = bool(plan.get("autoRenewEnabled")) if isinstance(plan, dict) else None
        account = purchase.get("externalAccountIdentifiers") or {}
        product_id = item.get("productId")
        ack_pending = purchase.get("acknowledgementState") == ACK_PENDING
        token = n.purchase_token
        if ack_pending and self.acknowledgeable and product_id and token:
            ctx.play.acknowledge_subscription(n.package_name, product_id, token)
            ack_pending = False
        return Change(
            status=self.status,
            product_id=product_id,
            expires_at=rfc3339_to_datetime(item.get("expiryTime")),
            auto_renew=auto_renew,
            account_id=account.get("obfuscatedExternalAccountId") or None,
            replaces_key=(purchase.get("linkedPurchaseToken") or None) if self.replaces_linked else None,
            latest_transaction_id=purchase.get("latestOrderId") or None,
            ack_pending=ack_pending,
            checked=True,
        )


class ActiveState(StateStrategy):
    status = "active"


class GraceState(StateStrategy):
    status = "grace"


class OnHoldState(StateStrategy):
    status = "on-hold"


class PausedState(StateStrategy):
    status = "paused"


class CanceledState(StateStrategy):
    """CANCELED: auto-renew off, access until expiryTime (Play sends EXPIRED when it ends)."""

    status = "canceled-until-expiry"


class ExpiredState(StateStrategy):
    status = "expired"


class PendingState(StateStrategy):
    """PENDING / PENDING_PURCHASE_CANCELED: the payment has not gone through; no access, and a pending
    plan change leaves the old token (still paid for) in use."""

    status = "pending"
    acknowledgeable = False
    replaces_linked = False


STATE_STRATEGIES: dict[str, type[StateStrategy]] = {
    "SUBSCRIPTION_STATE_ACTIVE": ActiveState,
    "SUBSCRIPTION_STATE_IN_GRACE_PERIOD": GraceState,
    "SUBSCRIPTION_STATE_ON_HOLD": OnHoldState,
    "SUBSCRIPTION_STATE_PAUSED": PausedState,
    "SUBSCRIPTION_STATE_CANCELED": CanceledState,
    "SUBSCRIPTION_STATE_EXPIRED": ExpiredState,
    "SUBSCRIPTION_STATE_PENDING": PendingState,
    "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED": PendingState,
}


# --- subscription notification types ------------------------------------------------------------------


class SyncFromPlay(GoogleStrategy):
    """Most types: read the subscription from Play and apply the state strategy for its state."""

    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        return sync_subscription(n, _type_name(n), ctx)


def sync_subscription(n: GoogleNotification, event_type: str, ctx: GoogleContext) -> Decision:
    """The subscription as Play reports it now, through the strategy for its state."""
    try:
        purchase = ctx.play.subscription_v2(n.package_name, _token(n))
    except PlayPurchaseNotFound:
        return Decision(event_type=event_type, outcome="not-found")
    state = str(purchase.get("subscriptionState") or "")
    state_strategy = STATE_STRATEGIES.get(state)
    if state_strategy is None:
        return Decision(event_type=event_type, outcome="unknown-type", detail={"state": state})
    return Decision(
        event_type=event_type, change=state_strategy().change(purchase, n, ctx), detail={"state": state}
    )


class Revoked(SyncFromPlay):
    """SUBSCRIPTION_REVOKED (12): refunded or revoked before expiry; access ends now."""

    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        decision = super().decide(n, current, ctx)
        base = decision.change or Change(status="revoked")
        change = Change(**{**base.__dict__, "status": "revoked", "replaces_key": None})
        return Decision(event_type=decision.event_type, change=change, detail=decision.detail)


# Codes from developer.android.com/google/play/billing/rtdn-reference.
SUBSCRIPTION_TYPE_NAMES: dict[int, str] = {
    1: "SUBSCRIPTION_RECOVERED",
    2: "SUBSCRIPTION_RENEWED",
    3: "SUBSCRIPTION_CANCELED",
    4: "SUBSCRIPTION_PURCHASED",
    5: "SUBSCRIPTION_ON_HOLD",
    6: "SUBSCRIPTION_IN_GRACE_PERIOD",
    7: "SUBSCRIPTION_RESTARTED",
    8: "SUBSCRIPTION_PRICE_CHANGE_CONFIRMED",
    9: "SUBSCRIPTION_DEFERRED",
    10: "SUBSCRIPTION_PAUSED",
    11: "SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED",
    12: "SUBSCRIPTION_REVOKED",
    13: "SUBSCRIPTION_EXPIRED",
    17: "SUBSCRIPTION_ITEMS_CHANGED",
    18: "SUBSCRIPTION_CANCELLATION_SCHEDULED",
    19: "SUBSCRIPTION_PRICE_CHANGE_UPDATED",
    20: "SUBSCRIPTION_PENDING_PURCHASE_CANCELED",
    22: "SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED",
}
SUBSCRIPTION_STRATEGIES: dict[int, type[GoogleStrategy]] = {
    **{code: SyncFromPlay for code in SUBSCRIPTION_TYPE_NAMES},
    12: Revoked,
}


class SubscriptionNotification(GoogleStrategy):
    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        strategy = SUBSCRIPTION_STRATEGIES.get(n.type_code or -1)
        if strategy is None:
            return Decision(event_type=_type_name(n), outcome="unknown-type")
        return strategy().decide(n, current, ctx)


# --- one-time products, voided purchases, tests --------------------------------------------------------


class OneTimeProductNotification(GoogleStrategy):
    """ONE_TIME_PRODUCT_PURCHASED (1) grants the lifetime pass; CANCELED (2) is a pending purchase that
    never completed. Other products are recorded."""

    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        sku = str(n.body.get("sku") or "")
        name = {1: "ONE_TIME_PRODUCT_PURCHASED", 2: "ONE_TIME_PRODUCT_CANCELED"}.get(n.type_code or 0)
        if name is None:
            return Decision(event_type=f"ONE_TIME_PRODUCT_{n.type_code}", outcome="unknown-type")
        if sku not in ctx.lifetime_product_ids or name == "ONE_TIME_PRODUCT_CANCELED":
            # A canceled pending purchase never granted anything, so there is nothing to take back.
            return Decision.record(name, sku=sku)
        return sync_lifetime(n, name, sku, ctx)


def sync_lifetime(n: GoogleNotification, event_type: str, sku: str, ctx: GoogleContext) -> Decision:
    """The lifetime pass as Play reports it now: purchased (acknowledged here if need be), else refunded."""
    token = _token(n)
    try:
        purchase = ctx.play.product_purchase(n.package_name, sku, token)
    except PlayPurchaseNotFound:
        return Decision(event_type=event_type, outcome="not-found")
    state = purchase.get("purchaseState")
    if state == 2:
        return Decision.record(event_type, sku=sku, purchase_state=state)
    if state == 0 and purchase.get("acknowledgementState") == 0:
        ctx.play.acknowledge_product(n.package_name, sku, token)
    change = Change(
        status="active" if state == 0 else "refunded",
        kind="lifetime",
        product_id=sku,
        auto_renew=False,
        account_id=purchase.get("obfuscatedExternalAccountId") or n.body.get("accountId") or None,
        latest_transaction_id=purchase.get("orderId") or None,
        checked=True,
    )
    return Decision(event_type=event_type, change=change, detail={"purchase_state": state})


class VoidedPurchase(GoogleStrategy):
    """A refund, chargeback or revocation (productType 1 subscription, 2 one-time): Play is asked what
    the purchase is now, since a voided order can be one past renewal of a subscription that runs on
    (Google's guidance: call the Developer API after every notification)."""

    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        product_type = int(n.body.get("productType") or 0)
        name = "VOIDED_PURCHASE"
        detail: dict[str, Any] = {"order_id": n.body.get("orderId"), "product_type": product_type}
        if current is None:
            return Decision(
                event_type=name, outcome="recorded", detail={**detail, "reason": "purchase not known here"}
            )
        if product_type == 2 or current.kind == "lifetime":
            decision = sync_lifetime(n, name, current.product_id or "", ctx)
            if decision.outcome == "not-found":
                # Play no longer serves a voided one-time purchase: the pass is gone.
                change = Change(status="refunded", kind="lifetime", checked=True)
                return Decision(event_type=name, change=change, detail=detail)
        else:
            decision = sync_subscription(n, name, ctx)
            if decision.change is not None and decision.change.status in ("expired", "revoked"):
                # Play ended it because of this void: say why in the state.
                decision = replace(decision, change=replace(decision.change, status="refunded"))
        return replace(decision, detail={**decision.detail, **detail})


class ReadFromPlay(GoogleStrategy):
    """`clientPurchase` (a purchase token the app posted) and `reconcile` (the reconciler's check):
    the purchase as Play reports it, subscription or one-time product."""

    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        event_type = "CLIENT_PURCHASE" if n.kind == "clientPurchase" else "RECONCILE"
        product_id = str(n.body.get("productId") or (current.product_id if current else "") or "")
        lifetime = (
            current is not None and current.kind == "lifetime"
        ) or product_id in ctx.lifetime_product_ids
        if n.body.get("productType") == "product" or lifetime:
            if product_id not in ctx.lifetime_product_ids:
                return Decision.record(event_type, sku=product_id)
            return sync_lifetime(n, event_type, product_id, ctx)
        return sync_subscription(n, event_type, ctx)


class TestNotification(GoogleStrategy):
    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        return Decision.record("TEST_NOTIFICATION")


class UnknownKind(GoogleStrategy):
    def decide(self, n: GoogleNotification, current: Current | None, ctx: GoogleContext) -> Decision:
        return Decision(event_type="UNKNOWN_DEVELOPER_NOTIFICATION", outcome="unknown-type")


KIND_STRATEGIES: dict[str, type[GoogleStrategy]] = {
    "subscriptionNotification": SubscriptionNotification,
    "oneTimeProductNotification": OneTimeProductNotification,
    "voidedPurchaseNotification": VoidedPurchase,
    "testNotification": TestNotification,
    "clientPurchase": ReadFromPlay,
    "reconcile": ReadFromPlay,
}


def strategy_for(n: GoogleNotification) -> GoogleStrategy:
    return KIND_STRATEGIES.get(n.kind, UnknownKind)()


def _line_item(purchase: dict[str, Any]) -> dict[str, Any]:
    items = purchase.get("lineItems")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def _token(n: GoogleNotification) -> str:
    token = n.purchase_token
    if not token:
        raise InvalidNotification(f"Google {n.kind} has no purchaseToken; inspect it in the DLQ.")
    return token


def _type_name(n: GoogleNotification) -> str:
    code = n.type_code
    return SUBSCRIPTION_TYPE_NAMES.get(code or -1, f"SUBSCRIPTION_{code}")
