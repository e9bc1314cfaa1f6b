"""Business logic: apply one notification exactly once, in event-time order, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

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


class NotificationService:
    def __init__(
        self,
        repository: Repository,
        apple: AppleContext,
        google: Callable[[], GoogleContext],
    ) -> None:
        self.repository = repository
        self._apple = apple
        self._google_factory = google

    @cached_property
    def _google(self) -> GoogleContext:
        # Built on the first Google message: Apple-only batches never load Play credentials.
        return self._google_factory()

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
            if current is not None and prepared.event_time < current.last_event_at:
                stale = Decision(
                    event_type=prepared.label, detail={"last_event_at": current.last_event_at.isoformat()}
                )
                repo.record_event(
                    provider=prepared.provider,
                    notification_id=prepared.notification_id,
                    key=prepared.key,
                    event_time=prepared.event_time,
                    decision=stale,
                    outcome="ignored-stale",
                    status_before=current.status,
                    status_after=current.status,
                )
                return "ignored-stale"
            decision = prepared.decide(current)
            outcome: str = decision.outcome
            status_after = current.status if current else None
            if decision.change is not None and prepared.key is not None:
                account_id, couple_id = repo.save(
                    prepared.provider, prepared.key, decision.change, prepared.event_time, stored
                )
                repo.refresh_entitlement(account_id, couple_id)
                outcome, status_after = "applied", decision.change.status
            elif decision.outcome == "applied":
                outcome = "recorded"
            repo.record_event(
                provider=prepared.provider,
                notification_id=prepared.notification_id,
                key=prepared.key,
                event_time=prepared.event_time,
                decision=decision,
                outcome=outcome,
                status_before=current.status if current else None,
                status_after=status_after,
            )
            return outcome

    def prepare(self, message: NotificationMessage) -> Prepared:
        if message.provider == "apple":
            apple = AppleNotification(message.payload)
            label = apple.notification_type + (f"/{apple.subtype}" if apple.subtype else "")
            return Prepared(
                provider="apple",
                notification_id=message.notification_id,
                key=apple.original_transaction_id,
                event_time=apple.signed_date,
                label=label,
                decide=lambda current: apple_strategy(apple).decide(apple, current, self._apple),
            )
        google = GoogleNotification(message.payload)
        return Prepared(
            provider="google",
            notification_id=message.notification_id,
            key=google.purchase_token,
            event_time=google.event_time,
            label=f"{google.kind}:{google.type_code}" if google.type_code is not None else google.kind,
            decide=lambda current: google_strategy(google).decide(google, current, self._google),
        )
