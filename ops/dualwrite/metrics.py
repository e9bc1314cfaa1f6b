"""Counters of the dual-write layer: in-process, and sent to CloudWatch in batches.

The application must never wait on (or fail because of) metrics: `add()` only aggregates; a
flush happens at most every `interval_seconds` from the caller's thread, or on `flush()`, and a
failed flush is logged and dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ops import aws

log = logging.getLogger(__name__)

# PutMetricData accepts up to 1000 datums per request; we send one aggregated datum per name.
_MAX_DATUMS = 1000


class Metrics:
    def __init__(
        self,
        namespace: str,
        *,
        dimensions: dict[str, str] | None = None,
        cloudwatch: Any = None,
        interval_seconds: float = 10.0,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace = namespace
        self.dimensions = [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()]
        self._cloudwatch = cloudwatch
        self.interval_seconds = interval_seconds
        self.enabled = enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._gauges: dict[str, tuple[float, str]] = {}
        self.totals: Counter[str] = Counter()
        self.gauges: dict[str, float] = {}
        self._last_flush = clock()
        self.flush_failures = 0
        self.flushed_requests = 0

    def add(self, name: str, value: int = 1) -> None:
        with self._lock:
            self.totals[name] += value
            self._pending[name] += value
            due = self._clock() - self._last_flush >= self.interval_seconds
        if due:
            self.flush()

    def gauge(self, name: str, value: float, unit: str = "None") -> None:
        """A level rather than a count (e.g. the oldest outbox row's age): the last value is sent."""
        with self._lock:
            self.gauges[name] = value
            self._gauges[name] = (value, unit)
            due = self._clock() - self._last_flush >= self.interval_seconds
        if due:
            self.flush()

    def count(self, name: str) -> int:
        with self._lock:
            return self.totals[name]

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            gauges, self._gauges = self._gauges, {}
            self._last_flush = self._clock()
        if not (pending or gauges) or not self.enabled:
            return
        datums = [
            {"MetricName": name, "Value": float(value), "Unit": "Count", "Dimensions": self.dimensions}
            for name, value in sorted(pending.items())
        ] + [
            {"MetricName": name, "Value": float(value), "Unit": unit, "Dimensions": self.dimensions}
            for name, (value, unit) in sorted(gauges.items())
        ]
        try:
            if self._cloudwatch is None:
                self._cloudwatch = aws.client("cloudwatch")
            for start in range(0, len(datums), _MAX_DATUMS):
                self._cloudwatch.put_metric_data(
                    Namespace=self.namespace, MetricData=datums[start : start + _MAX_DATUMS]
                )
                self.flushed_requests += 1
        except Exception as exc:
            self.flush_failures += 1
            log.warning("could not send %d dual-write metrics to CloudWatch: %s", len(datums), exc)
