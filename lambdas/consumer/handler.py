"""SQS FIFO event source mapping handler (ReportBatchItemFailures).

Powertools' SqsFifoPartialProcessor with skip_group_on_error=True gives FIFO-correct partial
failures: after a message fails, the rest of ITS message group in this batch is reported failed
(so SQS redelivers them in order), while other groups go on. The whole batch runs in one
PostgreSQL transaction with a savepoint per message: a failed message rolls back only its own
savepoint, and the batch costs one commit instead of one per message.

A store outage (Play or App Store Server API down or throttling after the bounded retries inside
this invocation) must not dead-letter every message in flight: the failed messages (and the rest
of their group) are handed back with ChangeMessageVisibility for `store_backoff(receive count)`
seconds - 60, 120, 240, 480, then 900 - or longer when the store sent Retry-After. With
maxReceiveCount 10 a message survives about 90 minutes of outage before the DLQ (9 waits:
60+120+240+480+5x900 = 5,400 s). Other errors keep the queue's visibility timeout.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.consumer.apple.strategies import AppleContext, ConsumptionPolicy
from lambdas.consumer.config import ConsumerConfig
from lambdas.consumer.exceptions import StoreUnavailable
from lambdas.consumer.google.play import DEFAULT_API_ROOT, PlayClient
from lambdas.consumer.google.strategies import GoogleContext
from lambdas.consumer.repository import Repository
from lambdas.consumer.service import NotificationService
from lambdas.shared.log import fields, get_logger
from lambdas.shared.messages import NotificationMessage
from lambdas.shared.metrics import Metrics

log = get_logger("consumer")

CLEANUP_INTERVAL_S = 3600.0
# Part of the invocation that store retries may use (the rest is for PostgreSQL and the SQS calls).
STORE_BUDGET_SHARE = 0.5
STORE_BUDGET_MAX_S = 20.0
MAX_VISIBILITY_S = 43_200  # SQS's limit


def store_backoff(receive_count: int, retry_after: float | None = None, base: int = 60) -> int:
    """Seconds before a message that failed on a store outage is received again."""
    delay = min(15 * base, base * 2 ** max(0, receive_count - 1))
    if retry_after is not None:
        delay = max(delay, int(retry_after) + 1)
    return min(delay, MAX_VISIBILITY_S)


class Consumer:
    """Everything one container needs, built once at cold start."""

    def __init__(
        self,
        service: NotificationService,
        *,
        idempotency_days: int = 7,
        batch_transaction: bool = True,
        metrics: Metrics | None = None,
        sqs_client: Any = None,
        payload_retention_days: int = 90,
        store_budget_s: float = STORE_BUDGET_MAX_S,
        store_backoff_base_s: int = 60,
    ) -> None:
        self.service = service
        self.idempotency_days = idempotency_days
        self.payload_retention_days = payload_retention_days
        self.batch_transaction = batch_transaction
        self.metrics = metrics or Metrics()
        self._sqs = sqs_client
        # The local stack shortens both so an outage plays out in seconds.
        self.store_budget_s = store_budget_s
        self.store_backoff_base_s = store_backoff_base_s
        self._queue_urls: dict[str, str] = {}
        self._last_cleanup = 0.0
        self._outcomes: Counter[str] = Counter()
        self._failures: dict[str, BaseException] = {}

    @classmethod
    def from_config(cls, config: ConsumerConfig, sqs_client: Any = None) -> Consumer:
        if sqs_client is None:
            import boto3
            from botocore.config import Config

            sqs_client = boto3.client(
                "sqs", config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=5)
            )
        return cls(
            build_service(config),
            idempotency_days=config.idempotency_days,
            payload_retention_days=config.payload_retention_days,
            sqs_client=sqs_client,
        )

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        self._cleanup_if_due()
        self._outcomes.clear()
        self._failures.clear()
        self.service.begin(_store_budget(context, self.store_budget_s))
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A batch whose every message failed is reported like any other partial failure, not raised:
        # the event source mapping then retries exactly the listed messages.
        processor.raise_on_entire_batch_failure = False
        started = time.perf_counter()
        if self.batch_transaction:
            with self.service.repository.batch():
                response = self._process(event, processor, context)
        else:
            response = self._process(event, processor, context)
        failed = len(response.get("batchItemFailures", []))
        if failed:
            self._hand_back(event, {f["itemIdentifier"] for f in response["batchItemFailures"]})
        for outcome, count in self._outcomes.items():
            self.metrics.count("NotificationProcessed", {"Outcome": outcome}, count)
        if failed:
            self.metrics.count("NotificationFailed", {"Function": "consumer"}, failed)
        log.info(
            "batch processed",
            extra=fields(
                records=len(event.get("Records", [])),
                failed=failed,
                outcomes=dict(self._outcomes),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            ),
        )
        return response

    def _process(
        self, event: dict[str, Any], processor: SqsFifoPartialProcessor, context: Any
    ) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event,
                record_handler=self._record,
                processor=processor,
                context=context,
            )
        )

    def _record(self, record: SQSRecord) -> str:
        try:
            message = NotificationMessage.from_json(record.body)
            outcome = self.service.process(message)
        except Exception as exc:
            self._failures[record.message_id] = exc
            log.warning(
                "notification failed; it will be retried, then dead-lettered",
                extra=fields(
                    sqs_message_id=record.message_id,
                    receive_count=record.attributes.approximate_receive_count,
                    error=exc.__class__.__name__,
                ),
            )
            raise
        self._outcomes[outcome] += 1
        return outcome

    def _hand_back(self, event: dict[str, Any], failed: set[str]) -> None:
        """Store outages: make the failed messages visible again after a backoff, not the default timeout.

        The rest of a group failed with its head (never ran), so it waits as long as the head.
        """
        if self._sqs is None:
            return
        delays: dict[str, int] = {}
        entries: dict[str, list[dict[str, Any]]] = {}
        for record in event.get("Records", []):
            if record.get("messageId") not in failed:
                continue
            attributes = record.get("attributes", {})
            group = str(attributes.get("MessageGroupId", ""))
            error = self._failures.get(record["messageId"])
            if isinstance(error, StoreUnavailable):
                count = int(attributes.get("ApproximateReceiveCount", "1") or 1)
                delays[group] = store_backoff(count, error.retry_after, self.store_backoff_base_s)
            elif error is not None:
                delays.pop(group, None)
                continue
            if group not in delays:
                continue
            items = entries.setdefault(record.get("eventSourceARN", ""), [])
            items.append(
                {
                    "Id": str(len(items)),
                    "ReceiptHandle": record["receiptHandle"],
                    "VisibilityTimeout": delays[group],
                }
            )
        for arn, items in entries.items():
            try:
                url = self._queue_url(arn)
                for start in range(0, len(items), 10):
                    self._sqs.change_message_visibility_batch(QueueUrl=url, Entries=items[start : start + 10])
            except Exception as exc:
                # The messages still come back after the queue's own visibility timeout.
                log.warning("could not extend visibility", extra=fields(error=exc.__class__.__name__))
                continue
            self.metrics.count("NotificationDeferred", {"Reason": "StoreUnavailable"}, len(items))

    def _queue_url(self, arn: str) -> str:
        if arn not in self._queue_urls:
            _arn, _aws, _sqs, _region, account, name = arn.split(":", 5)
            self._queue_urls[arn] = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                "QueueUrl"
            ]
        return self._queue_urls[arn]

    def _cleanup_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_cleanup >= CLEANUP_INTERVAL_S:
            self._last_cleanup = now
            repository = self.service.repository
            removed = repository.cleanup_processed(self.idempotency_days)
            payloads = repository.cleanup_payloads(self.payload_retention_days)
            if removed or payloads:
                log.info(
                    "forgot old processed notification ids and payloads",
                    extra=fields(removed=removed, payloads=payloads),
                )


def _store_budget(context: Any, cap: float) -> float:
    """Seconds store retries may take in this invocation: a share of what Lambda leaves, capped."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return cap
    return max(0.0, min(cap, remaining() / 1000 * STORE_BUDGET_SHARE))


def build_service(config: ConsumerConfig) -> NotificationService:
    """The notification service of the consumer and the reconciler: repository and store contexts."""
    repository = Repository(config.database_url)
    store = config.app_store.api() if config.app_store else None
    consumption = (
        ConsumptionPolicy(refund_preference=config.app_store.refund_preference)
        if config.app_store and config.app_store.answer_consumption
        else None
    )

    def google() -> GoogleContext:
        play = PlayClient(config.google_credentials(), config.google_play_api_root or DEFAULT_API_ROOT)
        return GoogleContext(play=play, lifetime_product_ids=config.google_lifetime_product_ids)

    apple = AppleContext(
        lifetime_product_ids=config.apple_lifetime_product_ids,
        store=store,
        consumption=consumption,
        consent_rescinded=repository.consent_rescinded,
    )
    return NotificationService(repository, apple, google, package_name=config.google_package_name)


_consumer: Consumer | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _consumer  # noqa: PLW0603 - one Consumer per container, built on the first (cold) call
    if _consumer is None:
        _consumer = Consumer.from_config(ConsumerConfig.from_env())
    return _consumer.handle(event, context)
