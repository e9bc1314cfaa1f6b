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


class RefusingClient:
    """A boto3 client that refuses one operation (`method`, e.g. "put_item") with the ClientError
    `code` while `refusing()` (by default: while `down`); every other call goes to the real client.

    The chaos harness's faults and the functional tests' outages are this one client."""

    def __init__(self, real: Any, method: str, code: str, *, down: bool = True) -> None:
        self.real = real
        self.method = method
        self.code = code
        self.down = down
        self.refused = 0

    def refusing(self) -> bool:
        return self.down

    def check(self) -> None:
        """Raise the injected error, before anything is sent, while the fault is on."""
        if self.refusing():
            self.refused += 1
            operation = "".join(part.title() for part in self.method.split("_"))
            raise ClientError({"Error": {"Code": self.code, "Message": "injected fault"}}, operation)

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.real, name)
        if name != self.method:
            return call

        def refuse_or_call(**kwargs: Any) -> Any:
            self.check()
            return call(**kwargs)

        return refuse_or_call


class FaultyDynamoDB(RefusingClient):
    def __init__(self, real: Any, rng: random.Random, *, outage: Window, max_delay: float = 0.0) -> None:
        super().__init__(real, "put_item", "ServiceUnavailable")
        self.rng = rng
        self.outage = outage
        self.max_delay = max_delay
        self._lock = threading.Lock()

    def refusing(self) -> bool:
        return self.outage.active

    def put_item(self, **kwargs: Any) -> Any:
        self.check()
        if self.max_delay:
            with self._lock:
                delay = self.rng.uniform(0, self.max_delay)
            time.sleep(delay)
        return self.real.put_item(**kwargs)


class FaultySSM(RefusingClient):
    def __init__(self, real: Any, outage: Window) -> None:
        super().__init__(real, "get_parameter", "InternalServerError")
        self.outage = outage

    def refusing(self) -> bool:
        return self.outage.active
