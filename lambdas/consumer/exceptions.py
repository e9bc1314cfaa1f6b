"""Errors the consumer raises on purpose. Any exception fails its message (and the rest of its group
in that batch); SQS retries it and dead-letters it after maxReceiveCount."""

from __future__ import annotations

from lambdas.shared.exceptions import LambdaError


class ConsumerError(LambdaError):
    """Base class of the consumer's own errors."""


class InvalidNotification(ConsumerError):
    """A verified notification lacks a field the strategy needs; it will reach the DLQ for inspection."""


class PlayApiError(ConsumerError):
    """The Play Developer API failed in a way worth retrying (network, 429, 5xx, token refresh)."""


class PlayPurchaseNotFound(ConsumerError):
    """Play answered 404/410 for a purchase token: recorded, not retried."""
