"""A clock for tests: it stands still until the test moves it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ManualClock:
    """Callable like `time.time` or `time.monotonic`: answers `now`, which the test sets or adds to."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now
