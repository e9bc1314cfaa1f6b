"""Business logic: apply one notification exactly once, in event-time order, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from lambdas.consumer.apple.notification import AppleNotification
from lambdas.consumer.apple.strategies import AppleContext
from lambdas.consumer.apple.strategies import strategy_for as apple_strategy
from lambdas.consumer.google.notification import GoogleNotification
from lambdas.consumer.google.strategies import GoogleContext
from lambdas.consumer.google.strategies import strategy_for as google_strategy
from lambdas.consumer.model import Current, Decision
from lambdas.consumer.repository import Repository
from lambdas.shared.messages import NotificationMessage


@dataclass(frozen=True)
class Prepared:
    """A message decoded far enough to check idempotency and ordering before running its strategy."""

    provider: str
    notification_id: str
    key: str | None
    event_time: datetime
    label: str
    decide: Callable[[Current | None], Decision]
    payload: dict[str, Any]
    received_at: datetime
    # False for types that change no state (CONSUMPTION_REQUEST, RESCIND_CONSENT, TEST...): an
    # older one is still acted on.
    ordered: bool = True


class NotificationService:
    def __init__(
        self,
        repository: Repository,
        apple: AppleContext,
        google: Callable[[], GoogleContext],
        *,
        package_name: str = "",
    ) -> None:
        self.repository = repository
        self.package_name = package_name
        self._apple = apple
        self._google_factory = google
        self._store_budget = 20.0

    @property
    def apple(self) -> AppleContext:
        return self._apple

    @cached_property
    def _google(self) -> GoogleContext:
        # Built on the first Google message: Apple-only batches never load Play credentials.
        context = self._google_factory()
        context.play.deadline(self._store_budget)
        return context

    @property
    def google(self) -> GoogleContext:
        return self._google

    def begin(self, store_budget_seconds: float) -> None:
        """A new invocation: store retries may take `store_budget_seconds` from now, all calls together."""
        self._store_budget = store_budget_seconds
        if "_google" in self.__dict__:
            self._google.play.deadline(store_budget_seconds)

    def process(self, message: NotificationMessage) -> str:
        """Apply `message`; returns the outcome (applied, ignored-stale, recorded, duplicate, ...).

        Raises on any failure, which rolls back its transaction (or savepoint) so a retry starts clean.
        """
        prepared = self.prepare(message)
        repo = self.repository
        # Only worth a round trip when the strategy would call the Play API for a duplicate; the
        # claim inside the transaction is what guarantees "once".
        if prepared.provider == "google" and repo.is_processed(prepared.provider, prepared.notification_id):
            return "duplicate"
        with repo.transaction():
            claimed, stored = repo.claim(prepared.provider, prepared.notification_id, prepared.key)
            if not claimed:
                return "duplicate"
            current = stored.current if stored else None
            if current is not None and prepared.ordered and prepared.event_time < current.last_event_at:
                stale = Decision(
                    event_type=prepared.label, detail={"last_event_at": current.last_event_at.isoformat()}
                )
                self._record(prepared, stale, "ignored-stale", current.status, current.status)
                return "ignored-stale"
            decision = _keep_replaced(prepared.decide(current), current)
            outcome: str = decision.outcome
            status_after = current.status if current else None
            if decision.change is not None and prepared.key is not None:
                account_id, couple_id = repo.save(
                    prepared.provider, prepared.key, decision.change, prepared.event_time, stored
                )
                repo.refresh_entitlement(account_id, couple_id)
                outcome, status_after = "applied", decision.change.status
                if decision.event_type == "RECONCILE":
                    outcome = "reconciled"
            elif decision.outcome == "applied":
                outcome = "recorded"
            if decision.rescind_consent:
                repo.rescind_consent(decision.rescind_consent, prepared.event_time)
            self._record(prepared, decision, outcome, current.status if current else None, status_after)
            return outcome

    def _record(
        self,
        prepared: Prepared,
        decision: Decision,
        outcome: str,
        status_before: str | None,
        status_after: str | None,
    ) -> None:
        self.repository.record_event(
            provider=prepared.provider,
            notification_id=prepared.notification_id,
            key=prepared.key,
            event_time=prepared.event_time,
            decision=decision,
            outcome=outcome,
            status_before=status_before,
            status_after=status_after,
            payload=prepared.payload,
            received_at=prepared.received_at,
        )

    def prepare(self, message: NotificationMessage) -> Prepared:
        received = datetime.fromisoformat(message.received_at.replace("Z", "+00:00"))
        if message.provider == "apple":
            apple = AppleNotification(message.payload)
            strategy = apple_strategy(apple)
            label = apple.notification_type + (f"/{apple.subtype}" if apple.subtype else "")
            return Prepared(
                provider="apple",
                notification_id=message.notification_id,
                key=apple.original_transaction_id,
                event_time=apple.signed_date,
                label=label,
                decide=lambda current: strategy.decide(apple, current, self._apple),
                payload=message.payload,
                received_at=received,
                ordered=strategy.changes_state,
            )
        google = GoogleNotification(message.payload)
        return Prepared(
            provider="google",
            notification_id=message.notification_id,
            key=google.purchase_token,
            event_time=google.event_time,
            label=f"{google.kind}:{google.type_code}" if google.type_code is not None else google.kind,
            decide=lambda current: google_strategy(google).decide(google, current, self._google),
            payload=message.payload,
            received_at=received,
        )


def _keep_replaced(decision: Decision, current: Current | None) -> Decision:
    """A purchase token another one replaced (a paid plan change) never comes back into use: a late
    event on it, from its own message group, is recorded and changes nothing."""
    if current is None or current.status != "replaced" or decision.change is None:
        return decision
    if decision.change.status == "replaced":
        return decision
    return replace(
        decision,
        change=None,
        outcome="recorded",
        detail={
            **decision.detail,
            "ignored": "replaced by a newer purchase",
            "store_status": decision.change.status,
        },
    )
