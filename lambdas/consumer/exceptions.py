"""Errors the consumer raises on purpose. Any exception fails its message (and the rest of its group
in that batch); SQS retries it and dead-letters it after maxReceiveCount."""

from __future__ import annotations

from lambdas.shared.exceptions import LambdaError


class ConsumerError(LambdaError):
    """Base class of the consumer's own errors."""


class InvalidNotification(ConsumerError):
    """A verified notification lacks a field the strategy needs; it will reach the DLQ for inspection."""


class StoreUnavailable(ConsumerError):
    """A store API (Play Developer API, App Store Server API) is down or throttling after the retries
    made inside this invocation. The message comes back when the store should be up again
    (`retry_after` seconds, when the store said so), not after the default visibility timeout."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PlayApiError(StoreUnavailable):
    """The Play Developer API failed in a way worth retrying (network, 429, 5xx, token refresh)."""


class AppStoreUnavailable(StoreUnavailable):
    """The App Store Server API failed in a way worth retrying (network, 429, 5xx)."""


class StoreApiError(ConsumerError):
    """A store API refused the call (401/403/400): the credentials or the configuration need fixing."""


class StoreDataInvalid(ConsumerError):
    """Signed data a store API returned did not verify; never applied."""


class PlayPurchaseNotFound(ConsumerError):
    """Play answered 404/410 for a purchase token: recorded, not retried."""
