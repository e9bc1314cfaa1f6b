"""CloudWatch metrics for a running copy, published from a background thread in batches.

The copy only bumps in-memory counters; every `interval` seconds the publisher reads them and
sends the deltas (rows written / already present / failed, bytes, Mbps, throttle events) in one
PutMetricData call. A failed publish is dropped and counted, never retried on the write path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ops import aws

COUNTERS = {
    "rows_read": "RowsRead",
    "rows_written": "RowsWritten",
    "rows_present": "RowsAlreadyPresent",
    "rows_failed": "RowsFailed",
    "throttle_events": "ThrottleEvents",
}


class MetricsPublisher:
    def __init__(
        self,
        namespace: str,
        dimensions: dict[str, str],
        snapshot: Callable[[], dict[str, int]],
        interval: float = 10.0,
        client: Any = None,
    ) -> None:
        self.namespace = namespace
        self.dimensions = [{"Name": k, "Value": v} for k, v in dimensions.items()]
        self.snapshot = snapshot
        self.interval = interval
        self._client = client
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="backfill-metrics", daemon=True)
        self._last: dict[str, int] = {}
        self._last_at = time.monotonic()
        self.published = 0
        self.errors = 0

    def start(self) -> None:
        self._last = dict(self.snapshot())
        self._last_at = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Stop and publish what accumulated since the last batch."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def metric_data(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        current = dict(self.snapshot())
        elapsed = max(1e-6, now - self._last_at)
        data: list[dict[str, Any]] = [
            {
                "MetricName": name,
                "Dimensions": self.dimensions,
                "Value": float(current.get(key, 0) - self._last.get(key, 0)),
                "Unit": "Count",
            }
            for key, name in COUNTERS.items()
        ]
        sent_bytes = current.get("bytes_written", 0) - self._last.get("bytes_written", 0)
        data.append(
            {
                "MetricName": "WriteMbps",
                "Dimensions": self.dimensions,
                "Value": sent_bytes * 8 / 1_000_000 / elapsed,
                "Unit": "Megabits/Second",
            }
        )
        self._last, self._last_at = current, now
        return data

    def flush(self) -> None:
        data = self.metric_data()
        try:
            if self._client is None:
                self._client = aws.client("cloudwatch")
            self._client.put_metric_data(Namespace=self.namespace, MetricData=data)
            self.published += 1
        except Exception:
            self.errors += 1
