"""Writer: one conditional PutItem (`attribute_not_exists(pk)`) per row, with retries. Never BatchWriteItem.

Outcomes: written; already present (ConditionalCheckFailed — dual-write or an earlier run got
there first, including tombstones, and the item is left alone); failed for this row (DynamoDB
rejected the item: validation, too large), which goes to the failure log. Throttling, 5xx and
connection errors are retried with full-jitter exponential backoff and slow the throttler; if
they persist past `max_attempts`, the run stops (its checkpoints keep everything done so far).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from enum import Enum

from ops.backfill.dynamo_http import Connection, DynamoHttpClient, Response
from ops.backfill.throttle import Throttle
from ops.exceptions import OpsError

THROTTLING = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)
RETRYABLE = frozenset({"InternalServerError", "InternalFailure", "ServiceUnavailable", "RequestTimeout"})
CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    }
)
ROW_ERRORS = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})


class Outcome(Enum):
    WRITTEN = "written"
    PRESENT = "present"
    FAILED = "failed"


@dataclass(frozen=True)
class PutResult:
    outcome: Outcome
    kind: str = ""
    reason: str = ""


WRITTEN = PutResult(Outcome.WRITTEN)
PRESENT = PutResult(Outcome.PRESENT)


class WriteStopped(OpsError):
    """DynamoDB keeps failing (or refuses the configuration); the run stops, checkpoints intact."""


class PutWriter:
    def __init__(
        self,
        client: DynamoHttpClient,
        throttle: Throttle,
        max_attempts: int = 12,
        base_delay: float = 0.05,
        max_delay: float = 5.0,
    ) -> None:
        self.client = client
        self.throttle = throttle
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retries = 0

    async def _backoff(self, attempt: int) -> None:
        self.retries += 1
        await asyncio.sleep(random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt)))  # noqa: S311

    async def put(  # noqa: PLR0912 - one branch per kind of DynamoDB answer
        self, connection: Connection, body: bytes, first: Response | BaseException | None = None
    ) -> PutResult:
        """Put one item, retrying as needed. `first`: the outcome of an attempt already made."""
        last = ""
        refreshed = False
        for attempt in range(self.max_attempts):
            outcome: Response | BaseException
            if first is not None:
                outcome, first = first, None
            else:
                if not self.throttle.free():
                    await self.throttle.acquire()
                try:
                    outcome = await connection.send(self.client.request(body))
                except (OSError, TimeoutError, ConnectionError) as exc:
                    outcome = exc
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, OSError | TimeoutError | ConnectionError):
                    raise outcome
                last = f"{type(outcome).__name__}: {outcome}"
                self.throttle.on_throttled()
                await self._backoff(attempt)
                continue
            response = outcome
            if response.status == 200:
                return WRITTEN
            error = response.error_type
            if error == "ConditionalCheckFailedException":
                return PRESENT
            if error in THROTTLING or error in RETRYABLE or response.status >= 500:
                last = f"{error}: {response.message}"
                self.throttle.on_throttled()
                await self._backoff(attempt)
                continue
            if error in ROW_ERRORS:
                message = response.message
                kind = (
                    "too_large" if "size" in message.lower() and "exceed" in message.lower() else "validation"
                )
                return PutResult(Outcome.FAILED, kind, f"DynamoDB {error}: {message}")
            if error in CREDENTIALS and not refreshed:
                refreshed = True
                self.client.signer.refresh()
                continue
            if error == "ResourceNotFoundException":
                raise WriteStopped(
                    f"DynamoDB table {self.client.table!r} does not exist at {self.client.host_header}: "
                    f"{response.message}. Create it (`ops backfill run` creates it when --create-table "
                    "is given) or pass the right --target-table."
                )
            raise WriteStopped(
                f"DynamoDB refused PutItem with {error or response.status}: {response.message}. "
                "Fix the cause (credentials, permissions, endpoint), then run again to resume."
            )
        raise WriteStopped(
            f"DynamoDB kept failing after {self.max_attempts} attempts (last: {last}). The copy stopped; "
            "checkpoints are saved, so `ops backfill run` resumes where it stopped once DynamoDB recovers."
        )
