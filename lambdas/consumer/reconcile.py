"""Reconciliation: ask the stores for the truth and repair entitlements through the same strategies.

Notifications are late, lost, duplicated and sometimes misleading; the stores' APIs are the truth.
One run:
1. Apple Get Notification History for the last `history_window`: every notification Apple sent (or
   failed to send) is verified with Apple's SignedDataVerifier and applied (already applied ones
   are duplicates by notificationUUID).
2. Google Voided Purchases since `voided_window`: each void is applied as a voided-purchase
   notification (the strategy re-reads the purchase from Play).
3. The subscriptions that are due (`Repository.due_subscriptions`: flagged, unacknowledged,
   expiring or recently expired, in flux, or stale): Apple Get All Subscription Statuses / Get
   Transaction Info, Google purchases.subscriptionsv2.get / products.get, each answer applied as a
   RECONCILE message.

Everything goes through `NotificationService.process`: the same idempotency, event-time ordering
(a reconciliation reads the state *now*, so older notifications arriving later are stale), history
and raw-payload storage as a notification. The consumer Lambda and the scheduled reconciler can
run at the same time: the row lock and the processed-id claim serialise them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.consumer.exceptions import ConsumerError
from lambdas.consumer.repository import DueSubscription
from lambdas.consumer.service import NotificationService
from lambdas.shared.exceptions import LambdaError
from lambdas.shared.log import fields, fingerprint, get_logger
from lambdas.shared.messages import NotificationMessage

log = get_logger("reconcile")


@dataclass(frozen=True)
class ReconcileOptions:
    lookback: timedelta = timedelta(days=7)
    horizon: timedelta = timedelta(days=1)
    stale_after: timedelta = timedelta(days=30)
    limit: int = 500
    every: bool = False
    history_window: timedelta = timedelta(hours=2)
    voided_window: timedelta = timedelta(days=2)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ReconcileOptions:
        """The scheduled rule's input (all optional): `{"every": true}` for the weekly full sweep."""

        def hours(name: str, default: timedelta) -> timedelta:
            value = event.get(name)
            return timedelta(hours=float(value)) if isinstance(value, int | float) else default

        return cls(
            lookback=hours("lookback_hours", cls.lookback),
            horizon=hours("horizon_hours", cls.horizon),
            stale_after=hours("stale_hours", cls.stale_after),
            limit=int(event.get("limit", cls.limit)),
            every=bool(event.get("every", False)),
            history_window=hours("history_hours", cls.history_window),
            voided_window=hours("voided_hours", cls.voided_window),
        )


@dataclass(frozen=True)
class Reconciled:
    """One subscription checked: its state before and after, and what happened."""

    provider: str
    key: str
    reason: str
    outcome: str  # reconciled, recorded, not-found, duplicate, ignored-stale, failed
    status_before: str | None
    status_after: str | None
    detail: str = ""
    # The end of access the row gave before and gives after.
    until_before: datetime | None = None
    until_after: datetime | None = None

    @property
    def repaired(self) -> bool:
        """The store's answer changed the state or the end of access."""
        changed = (self.status_before, self.until_before) != (self.status_after, self.until_after)
        return self.outcome == "reconciled" and changed


@dataclass
class ReconcileReport:
    started_at: str
    history_fetched: int = 0
    history_applied: int = 0
    voided_fetched: int = 0
    voided_applied: int = 0
    items: list[Reconciled] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return len(self.items)

    @property
    def repaired(self) -> int:
        return sum(1 for item in self.items if item.repaired)

    @property
    def failed(self) -> int:
        return sum(1 for item in self.items if item.outcome == "failed") + len(self.errors)

    def summary(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "history_fetched": self.history_fetched,
            "history_applied": self.history_applied,
            "voided_fetched": self.voided_fetched,
            "voided_applied": self.voided_applied,
            "checked": self.checked,
            "repaired": self.repaired,
            "failed": self.failed,
        }


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Reconciler:
    def __init__(self, service: NotificationService, *, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.repository = service.repository
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def due(self, options: ReconcileOptions) -> list[DueSubscription]:
        """What a run would check (the dry-run plan)."""
        return self.repository.due_subscriptions(
            lookback=options.lookback,
            horizon=options.horizon,
            stale_after=options.stale_after,
            limit=options.limit,
            every=options.every,
        )

    def run(
        self, options: ReconcileOptions, progress: Callable[[Reconciled], None] | None = None
    ) -> ReconcileReport:
        now = self._now()
        report = ReconcileReport(started_at=_iso(now))
        self._apple_history(now - options.history_window, now, report)
        self._google_voided(now - options.voided_window, report)
        for row in self.due(options):
            item = self.check(row)
            report.items.append(item)
            if progress:
                progress(item)
        log.info("reconciliation finished", extra=fields(**report.summary()))
        return report

    # --- one subscription ---------------------------------------------------------------------

    def check(self, row: DueSubscription, account_id: str | None = None) -> Reconciled:
        """Ask the store about one row (or a purchase to import) and apply the answer."""
        status, until = self.repository.status_of(row.provider, row.key)
        unchanged: dict[str, Any] = {
            "status_before": status,
            "status_after": status,
            "until_before": until,
            "until_after": until,
        }
        try:
            message = (
                self._apple_message(row, account_id)
                if row.provider == "apple"
                else self._google_message(row, account_id)
            )
            if message is None:
                self.repository.flag(row.provider, row.key, "not-found-in-store")
                return Reconciled(row.provider, row.key, row.reason, "not-found", **unchanged)
            outcome = self.service.process(message)
        except LambdaError as exc:
            log.warning(
                "reconciliation of one subscription failed",
                extra=fields(provider=row.provider, key=fingerprint(row.key), error=exc.__class__.__name__),
            )
            return Reconciled(row.provider, row.key, row.reason, "failed", detail=str(exc)[:200], **unchanged)
        status_after, until_after = self.repository.status_of(row.provider, row.key)
        return Reconciled(
            row.provider,
            row.key,
            row.reason,
            outcome,
            status_before=status,
            status_after=status_after,
            until_before=until,
            until_after=until_after,
        )

    def _apple_message(self, row: DueSubscription, account_id: str | None) -> NotificationMessage | None:
        store = self.service.apple.store
        if store is None:
            raise _NotConfigured("the App Store Server API key is not configured (APP_STORE_API_KEY_*)")
        data: dict[str, Any]
        if row.kind == "lifetime" or row.product_id in self.service.apple.lifetime_product_ids:
            transaction = store.transaction(row.key)
            if transaction is None:
                return None
            data = {"transactionInfo": transaction}
            signed = int(transaction.get("signedDate") or self._clock() * 1000)
        else:
            statuses = store.subscription_statuses(row.key)
            found = next((s for s in statuses or [] if s.original_transaction_id == row.key), None)
            if found is None:
                return None
            data = {
                "status": found.status,
                "transactionInfo": found.transaction,
                "renewalInfo": found.renewal,
            }
            signed = max(
                int(found.transaction.get("signedDate") or 0), int(found.renewal.get("signedDate") or 0)
            )
        transaction = data["transactionInfo"]
        payload: dict[str, Any] = {
            "notificationType": "RECONCILE",
            "notificationUUID": f"reconcile:{uuid.uuid4()}",
            "signedDate": signed,
            "version": "2.0",
            "data": {
                "bundleId": transaction.get("bundleId"),
                "environment": transaction.get("environment"),
                **data,
            },
        }
        if account_id:
            payload["accountId"] = account_id
        return self._message("apple", payload["notificationUUID"], row.key, payload)

    def _google_message(self, row: DueSubscription, account_id: str | None) -> NotificationMessage:
        body: dict[str, Any] = {
            "purchaseToken": row.key,
            "productId": row.product_id or "",
            "productType": "product" if row.kind == "lifetime" else "subscription",
        }
        if account_id:
            body["accountId"] = account_id
        payload = {
            "version": "1.0",
            "packageName": self.service.package_name,
            "eventTimeMillis": str(int(self._clock() * 1000)),
            "reconcile": body,
        }
        return self._message("google", f"reconcile:{uuid.uuid4()}", row.key, payload)

    def _message(
        self, provider: str, notification_id: str, group: str, payload: dict[str, Any]
    ) -> NotificationMessage:
        return NotificationMessage(
            provider=provider,  # type: ignore[arg-type]
            notification_id=notification_id,
            group_id=group,
            received_at=_iso(self._now()),
            payload=payload,
        )

    # --- missed notifications -----------------------------------------------------------------

    def _apple_history(self, start: datetime, end: datetime, report: ReconcileReport) -> None:
        store = self.service.apple.store
        if store is None or end <= start:
            return
        try:
            for signed in store.notification_history(start, end):
                report.history_fetched += 1
                payload = store.verify_notification(signed)
                group = _apple_group(payload)
                message = self._message("apple", str(payload.get("notificationUUID")), group, payload)
                if self.service.process(message) != "duplicate":
                    report.history_applied += 1
        except LambdaError as exc:
            report.errors.append(f"Apple notification history: {exc}")

    def _google_voided(self, start: datetime, report: ReconcileReport) -> None:
        if not self.service.package_name:
            return
        try:
            voided = self.service.google.play.voided_purchases(
                self.service.package_name, int(start.timestamp() * 1000)
            )
            report.voided_fetched = len(voided)
            for item in _voided_messages(voided, self.service.package_name):
                message = self._message("google", item[0], item[1], item[2])
                if self.service.process(message) not in ("duplicate",):
                    report.voided_applied += 1
        except LambdaError as exc:
            report.errors.append(f"Google voided purchases: {exc}")


class _NotConfigured(ConsumerError):
    """A store API the row needs is not configured."""


def _apple_group(payload: dict[str, Any]) -> str:
    data = payload.get("data")
    for name in ("transactionInfo", "renewalInfo"):
        info = data.get(name) if isinstance(data, dict) else None
        if isinstance(info, dict) and info.get("originalTransactionId"):
            return str(info["originalTransactionId"])
    return "apple:no-transaction"


def _voided_messages(
    voided: Iterable[dict[str, Any]], package: str
) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(notification id, group, payload) of a voided-purchase notification for each VoidedPurchase."""
    for item in voided:
        token, order = item.get("purchaseToken"), item.get("orderId")
        if not isinstance(token, str) or not token or not isinstance(order, str):
            continue
        payload = {
            "version": "1.0",
            "packageName": package,
            "eventTimeMillis": str(item.get("voidedTimeMillis") or int(time.time() * 1000)),
            "voidedPurchaseNotification": {
                "purchaseToken": token,
                "orderId": order,
                "productType": int(item.get("productType") or 0),
                "refundType": int(item.get("refundType") or 1),
            },
        }
        # One id per voided order: the real-time notification of the same void may also arrive.
        yield f"voided:{order}", token, payload
