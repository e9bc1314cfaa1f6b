"""Faults an application instance meets: a DynamoDB outage, a slow instance, an SSM outage.

Each wraps the real boto3 client of one instance. A refused call raises before anything is sent,
so the write it belonged to is certainly not applied; the delay is a pause before the put is sent,
which is what a slow or descheduled instance looks like to everyone else.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from botocore.exceptions import ClientError


class Window:
    """A stretch of time during which a fault is on (shared by every instance it applies to)."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()
        self.opened = 0

    def open(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)
            self.opened += 1

    @property
    def active(self) -> bool:
        return time.monotonic() < self._until


class FaultyDynamoDB:
    def __init__(self, real: Any, rng: random.Random, *, outage: Window, max_delay: float = 0.0) -> None:
        self.real = real
        self.rng = rng
        self.outage = outage
        self.max_delay = max_delay
        self.refused = 0
        self._lock = threading.Lock()

    def put_item(self, **kwargs: Any) -> Any:
        if self.outage.active:
            self.refused += 1
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "injected outage"}}, "PutItem"
            )
        if self.max_delay:
            with self._lock:
                delay = self.rng.uniform(0, self.max_delay)
            time.sleep(delay)
        return self.real.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class FaultySSM:
    def __init__(self, real: Any, outage: Window) -> None:
        self.real = real
        self.outage = outage

    def get_parameter(self, **kwargs: Any) -> Any:
        if self.outage.active:
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}}, "GetParameter"
            )
        return self.real.get_parameter(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)
