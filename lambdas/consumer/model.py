"""What a strategy decides, independent of the provider and of the database.

A strategy reads one notification (and the subscription's current state) and returns a Decision;
the service applies it with the idempotency and ordering rules. Keeping strategies pure makes each
one testable without PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from lambdas.consumer.exceptions import InvalidNotification

Status = Literal[
    "active",
    "grace",
    "billing-retry",
    "on-hold",
    "paused",
    "canceled-until-expiry",
    "expired",
    "revoked",
    "refunded",
    "replaced",
    "pending",
]
Kind = Literal["subscription", "lifetime"]
Plan = Literal["monthly", "annual", "lifetime", "unknown"]

# Statuses in which the store still grants access (Apple and Google agree on these).
ENTITLED_STATUSES: frozenset[str] = frozenset({"active", "grace", "canceled-until-expiry"})
LIFETIME_ENTITLED_STATUSES: frozenset[str] = frozenset({"active"})


def is_entitled(kind: str, status: str) -> bool:
    return status in (LIFETIME_ENTITLED_STATUSES if kind == "lifetime" else ENTITLED_STATUSES)


def ms_to_datetime(value: Any) -> datetime | None:
    """Apple/Google millisecond timestamps (int or numeric string) as aware UTC datetimes."""
    if value is None or value == "":
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def text_or_none(value: Any) -> str | None:
    """A store's field as text; None when it is absent or empty."""
    return str(value) if value else None


def ordering_time(payload: dict[str, Any], name: str, store: str) -> datetime:
    """The millisecond timestamp `name` of a `store` notification, which orders it among the
    others; a notification without one is invalid (it goes to the DLQ)."""
    value = ms_to_datetime(payload.get(name))
    if value is None:
        raise InvalidNotification(
            f"{store} notification has no {name}; it cannot be ordered. Inspect it in the DLQ."
        )
    return value


def rfc3339_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def plan_of(product_id: str | None) -> Plan:
    """Monthly or annual from the product id's wording; the stores carry no plan field."""
    name = (product_id or "").lower()
    if "annual" in name or "yearly" in name or "year" in name:
        return "annual"
    if "month" in name:
        return "monthly"
    return "unknown"


@dataclass(frozen=True)
class Current:
    """The stored state of one subscription (None when never seen)."""

    kind: Kind
    status: Status
    expires_at: datetime | None
    auto_renew: bool | None
    product_id: str | None
    last_event_at: datetime
    grace_until: datetime | None = None
    latest_transaction_id: str | None = None


@dataclass(frozen=True)
class Change:
    """Set a subscription (or lifetime pass) to a new state."""

    status: Status
    kind: Kind = "subscription"
    product_id: str | None = None
    expires_at: datetime | None = None
    auto_renew: bool | None = None
    account_id: str | None = None
    # Google plan change: the old purchase token whose entitlement moves to this one.
    replaces_key: str | None = None
    grace_until: datetime | None = None
    latest_transaction_id: str | None = None
    # Google: still unacknowledged after this event (None: unchanged).
    ack_pending: bool | None = None
    # Ask reconciliation to confirm this row soon (a client-posted purchase, an unknown state).
    flag: str | None = None
    # The store was asked for the truth (not only told by a notification): sets checked_at.
    checked: bool = False


@dataclass(frozen=True)
class Decision:
    """A strategy's result: a change to apply, or nothing but a history entry."""

    event_type: str
    subtype: str | None = None
    change: Change | None = None
    outcome: Literal["applied", "recorded", "unknown-type", "not-found"] = "applied"
    detail: dict[str, Any] = field(default_factory=dict)
    # Apple RESCIND_CONSENT: the appTransactionId whose consent to share data is withdrawn.
    rescind_consent: str | None = None

    @classmethod
    def record(cls, event_type: str, subtype: str | None = None, **detail: Any) -> Decision:
        return cls(event_type=event_type, subtype=subtype, outcome="recorded", detail=detail)


@dataclass(frozen=True)
class Event:
    """A decoded notification, normalised for the service."""

    provider: Literal["apple", "google"]
    notification_id: str
    subscription_key: str | None  # None for notifications about no subscription (TEST, summaries)
    event_time: datetime
    payload: dict[str, Any]
