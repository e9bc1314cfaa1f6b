"""The SQS FIFO message the receiver sends and the consumer reads.

One definition for both sides. The body is JSON; `group_id` and `notification_id` are also the
FIFO `MessageGroupId` / `MessageDeduplicationId`, passed through `fifo_id` because SQS limits
those to 128 characters of a fixed alphabet and Google purchase tokens can be longer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

from lambdas.shared.exceptions import MessageFormatError

Provider = Literal["apple", "google"]
PROVIDERS: tuple[str, ...] = get_args(Provider)

# Stable groups for notifications that carry no transaction: each kind is ordered within itself
# and never blocks (or is blocked by) a subscription's own group.
APPLE_TEST_GROUP = "apple:test"
APPLE_SUMMARY_GROUP = "apple:renewal-extension-summary"
APPLE_CONSENT_GROUP = "apple:app-data"
APPLE_EXTERNAL_PURCHASE_GROUP = "apple:external-purchase"
APPLE_NO_TRANSACTION_GROUP = "apple:no-transaction"
GOOGLE_TEST_GROUP = "google:test"

_FIFO_ID_MAX = 128
_FIFO_ID_ALLOWED = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
MAX_ID_CHARS = 4096


def fifo_id(value: str) -> str:
    """`value` as a valid SQS MessageGroupId/MessageDeduplicationId: itself when allowed, else a digest.

    The digest is stable, so every message of one purchase token still lands in the same group.
    """
    if len(value) <= _FIFO_ID_MAX and _FIFO_ID_ALLOWED.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def utc_now_iso() -> str:
    """Current time as ISO-8601 UTC with milliseconds, the `received_at` format."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None or parsed.utcoffset() != UTC.utcoffset(None):
        raise ValueError("not UTC")
    return parsed


@dataclass(frozen=True)
class NotificationMessage:
    provider: Provider
    notification_id: str  # Apple notificationUUID / Pub/Sub messageId (also the dedup id)
    group_id: str  # originalTransactionId / purchaseToken / a stable group for no-transaction types
    received_at: str  # ISO-8601 UTC
    payload: dict[str, Any] = field(default_factory=dict)  # verified, decoded payload

    def __post_init__(self) -> None:
        problems = _problems(
            {
                "provider": self.provider,
                "notification_id": self.notification_id,
                "group_id": self.group_id,
                "received_at": self.received_at,
                "payload": self.payload,
            }
        )
        if problems:
            raise MessageFormatError(
                "invalid NotificationMessage: " + "; ".join(problems) + ". Build it from a verified "
                "notification (see lambdas/shared/messages.py for the contract)."
            )

    @property
    def message_group_id(self) -> str:
        return fifo_id(self.group_id)

    @property
    def deduplication_id(self) -> str:
        return fifo_id(self.notification_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "provider": self.provider,
                "notification_id": self.notification_id,
                "group_id": self.group_id,
                "received_at": self.received_at,
                "payload": self.payload,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, body: str) -> NotificationMessage:
        """Parse an SQS body; raises MessageFormatError naming every problem found."""
        try:
            raw = json.loads(body)
        except (TypeError, ValueError) as exc:
            raise MessageFormatError(
                f"SQS message body is not JSON ({exc.__class__.__name__}); it was not sent by the "
                "receiver: inspect it in the DLQ and drop or re-drive it by hand."
            ) from None
        if not isinstance(raw, dict):
            raise MessageFormatError(
                f"SQS message body is JSON {type(raw).__name__}, expected an object with provider, "
                "notification_id, group_id, received_at and payload; inspect it in the DLQ."
            )
        problems = _problems(raw)
        unknown = sorted(set(raw) - {"provider", "notification_id", "group_id", "received_at", "payload"})
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)}")
        if problems:
            raise MessageFormatError(
                "SQS message body does not follow the NotificationMessage contract: "
                + "; ".join(problems)
                + ". Inspect it in the DLQ; the receiver and consumer versions may disagree."
            )
        return cls(
            provider=cast(Provider, raw["provider"]),
            notification_id=raw["notification_id"],
            group_id=raw["group_id"],
            received_at=raw["received_at"],
            payload=raw["payload"],
        )


def _problems(raw: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if raw.get("provider") not in PROVIDERS:
        problems.append(f"provider must be one of {', '.join(PROVIDERS)}")
    for name in ("notification_id", "group_id"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{name} must be a non-empty string")
        elif len(value) > MAX_ID_CHARS:
            problems.append(f"{name} is longer than {MAX_ID_CHARS} characters")
    received_at = raw.get("received_at")
    if not isinstance(received_at, str):
        problems.append("received_at must be an ISO-8601 UTC string")
    else:
        try:
            _parse_iso_utc(received_at)
        except ValueError:
            problems.append(f"received_at {received_at[:40]!r} is not ISO-8601 UTC")
    if not isinstance(raw.get("payload"), dict):
        problems.append("payload must be an object")
    return problems
