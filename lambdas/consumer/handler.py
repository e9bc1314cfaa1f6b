"""SQS FIFO event source mapping handler (ReportBatchItemFailures).

Powertools' SqsFifoPartialProcessor with skip_group_on_error=True gives FIFO-correct partial
failures: after a message fails, the rest of ITS message group in this batch is reported failed
(so SQS redelivers them in order), while other groups go on. The whole batch runs in one
PostgreSQL transaction with a savepoint per message: a failed message rolls back only its own
savepoint, and the batch costs one commit instead of one per message.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.consumer.apple.strategies import AppleContext
from lambdas.consumer.config import ConsumerConfig
from lambdas.consumer.google.play import DEFAULT_API_ROOT, PlayClient
from lambdas.consumer.google.strategies import GoogleContext
from lambdas.consumer.repository import Repository
from lambdas.consumer.service import NotificationService
from lambdas.shared.log import fields, get_logger
from lambdas.shared.messages import NotificationMessage
from lambdas.shared.metrics import Metrics

log = get_logger("consumer")

CLEANUP_INTERVAL_S = 3600.0


class Consumer:
    """Everything one container needs, built once at cold start."""

    def __init__(
        self,
        service: NotificationService,
        *,
        idempotency_days: int = 7,
        batch_transaction: bool = True,
        metrics: Metrics | None = None,
    ) -> None:
        self.service = service
        self.idempotency_days = idempotency_days
        self.batch_transaction = batch_transaction
        self.metrics = metrics or Metrics()
        self._last_cleanup = 0.0
        self._outcomes: Counter[str] = Counter()

    @classmethod
    def from_config(cls, config: ConsumerConfig) -> Consumer:
        repository = Repository(config.database_url)

        def google() -> GoogleContext:
            play = PlayClient(config.google_credentials(), config.google_play_api_root or DEFAULT_API_ROOT)
            return GoogleContext(play=play, lifetime_product_ids=config.google_lifetime_product_ids)

        service = NotificationService(
            repository, AppleContext(lifetime_product_ids=config.apple_lifetime_product_ids), google
        )
        return cls(service, idempotency_days=config.idempotency_days)

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        self._cleanup_if_due()
        self._outcomes.clear()
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

    def _cleanup_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_cleanup >= CLEANUP_INTERVAL_S:
            self._last_cleanup = now
            removed = self.service.repository.cleanup_processed(self.idempotency_days)
            if removed:
                log.info("forgot old processed notification ids", extra=fields(removed=removed))


_consumer: Consumer | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _consumer  # noqa: PLW0603 - one Consumer per container, built on the first (cold) call
    if _consumer is None:
        _consumer = Consumer.from_config(ConsumerConfig.from_env())
    return _consumer.handle(event, context)
