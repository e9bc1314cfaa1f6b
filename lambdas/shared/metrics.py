"""CloudWatch metrics through the Embedded Metric Format: one JSON line per data point on stdout.

CloudWatch Logs turns these lines into metrics without an API call, so emitting one costs a
print, not a network round trip.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

NAMESPACE = "PlatformOps/Notifications"


class Metrics:
    def __init__(self, namespace: str = NAMESPACE, stream: TextIO | None = None) -> None:
        self.namespace = namespace
        self._stream = stream

    def count(self, name: str, dimensions: dict[str, str], value: float = 1.0) -> None:
        self.emit(name, dimensions, value, "Count")

    def emit(self, name: str, dimensions: dict[str, str], value: float, unit: str) -> None:
        """One data point of `name` in `unit` (a CloudWatch unit: Count, Seconds, ...)."""
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [sorted(dimensions)],
                        "Metrics": [{"Name": name, "Unit": unit}],
                    }
                ],
            },
            **dimensions,
            name: value,
        }
        stream = self._stream or sys.stdout
        stream.write(json.dumps(document, separators=(",", ":")) + "\n")
