"""The outbox drainer every Repository runs in the background: nothing waits for an operator.

A dual-write whose DynamoDB put failed leaves its outbox row behind. Every `interval_seconds` the
drainer delivers the rows of its table that are older than `min_age_seconds` (younger ones are
still being delivered by the write that made them) through `drain_outbox`, which several
application instances can run at once (rows are claimed with SKIP LOCKED). While DynamoDB keeps
failing it backs off exponentially up to `max_backoff_seconds`. Each pass publishes
`OutboxPending` and `OutboxOldestAgeSeconds`, which the `outbox-age` alarm watches.

It only drains while PostgreSQL is the source (`active()`, from the repository's flag): once the
mode is `dynamodb` the outbox was drained to 0 before the flip, nothing writes it, and a copy of a
PostgreSQL row over DynamoDB is what `ops repair outbox` refuses there too (after cleanup the
tables it would read are gone).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ops.dualwrite.metrics import Metrics
from ops.dualwrite.repair import RepairResult, drain_outbox, outbox_backlog
from ops.mapping import TableMapping
from ops.settings import DEFAULT_TOMBSTONE_TTL_SECONDS

log = logging.getLogger(__name__)


class OutboxDrainer:
    def __init__(
        self,
        tm: TableMapping,
        pool: Any,
        ddb: Any,
        target_table: str,
        *,
        metrics: Metrics,
        interval_seconds: float = 2.0,
        min_age_seconds: float = 2.0,
        max_backoff_seconds: float = 60.0,
        tombstone_ttl_seconds: int = DEFAULT_TOMBSTONE_TTL_SECONDS,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self.tm = tm
        self.active = active
        self.pool = pool
        self.ddb = ddb
        self.target_table = target_table
        self.metrics = metrics
        self.interval_seconds = interval_seconds
        self.min_age_seconds = min_age_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.tombstone_ttl_seconds = tombstone_ttl_seconds
        self.passes = 0
        self.delivered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"outbox-drainer-{tm.table}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def drain_once(self) -> RepairResult:
        result = drain_outbox(
            [self.tm],
            self.pool,
            self.ddb,
            self.target_table,
            workers=4,
            min_age_seconds=self.min_age_seconds,
            tombstone_ttl_seconds=self.tombstone_ttl_seconds,
        )
        self.passes += 1
        self.delivered += result.drained
        pending, oldest = outbox_backlog(self.pool, self.tm.table)
        self.metrics.gauge("OutboxPending", pending, "Count")
        self.metrics.gauge("OutboxOldestAgeSeconds", oldest or 0.0, "Seconds")
        if result.failed:
            raise RuntimeError(f"{result.failed} outbox row(s) not delivered: {result.errors[0]}")
        return result

    def _run(self) -> None:
        delay = self.interval_seconds
        while not self._stop.wait(delay):
            if getattr(self.pool, "closed", False):
                return  # the application closed its pool without closing the repository
            try:
                if not self.active():
                    continue
                self.drain_once()
                delay = self.interval_seconds
            except Exception as exc:
                delay = min(self.max_backoff_seconds, max(delay * 2, self.interval_seconds))
                log.warning("outbox drainer (%s): %s; next pass in %.0f s", self.tm.table, exc, delay)
