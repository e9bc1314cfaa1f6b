"""Typed access to a decoded Google Play DeveloperNotification (see messages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.consumer.model import ordering_time, text_or_none

KINDS: tuple[str, ...] = (
    "subscriptionNotification",
    "oneTimeProductNotification",
    "voidedPurchaseNotification",
    "testNotification",
    # Made by this service, not by Play: a purchase token the app posted, a reconciliation check.
    "clientPurchase",
    "reconcile",
)


@dataclass(frozen=True)
class GoogleNotification:
    payload: dict[str, Any]

    @property
    def kind(self) -> str:
        for kind in KINDS:
            if isinstance(self.payload.get(kind), dict):
                return kind
        return "unknown"

    @property
    def body(self) -> dict[str, Any]:
        value = self.payload.get(self.kind)
        return value if isinstance(value, dict) else {}

    @property
    def package_name(self) -> str:
        return str(self.payload.get("packageName") or "")

    @property
    def event_time(self) -> datetime:
        return ordering_time(self.payload, "eventTimeMillis", "Google")

    @property
    def purchase_token(self) -> str | None:
        token = self.body.get("purchaseToken")
        return text_or_none(token)

    @property
    def type_code(self) -> int | None:
        code = self.body.get("notificationType")
        return int(code) if code is not None else None
