"""Live controls: pause, resume and rate changes for a running copy, through the control table.

`ops backfill pause|resume|set-rate` write `BACKFILL#<run>/CONTROL`; every running worker polls it
(every `POLL_SECONDS`) and applies the change to its throttler, so any host can steer the run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from ops.backfill.throttle import Throttle
from ops.control import ControlTable

POLL_SECONDS = 1.0
CONTROL_SK = "CONTROL"


def run_pk(run_id: str) -> str:
    return f"BACKFILL#{run_id}"


@dataclass(frozen=True)
class ControlState:
    paused: bool = False
    rate: float | None = None  # rows per second, 0 = unlimited; None = never set (the run's own rate)
    changed_at: float = 0.0

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> ControlState:
        if not item:
            return cls()
        rate = item.get("rate")
        return cls(
            bool(item.get("paused", False)),
            None if rate is None else float(rate),
            float(item.get("changed_at", 0)),
        )


class LiveControls:
    def __init__(self, control: ControlTable, run_id: str) -> None:
        self.control = control
        self.run_id = run_id

    def read(self) -> ControlState:
        return ControlState.from_item(self.control.get(run_pk(self.run_id), CONTROL_SK))

    def _set(self, **attrs: Any) -> ControlState:
        item = self.control.update(run_pk(self.run_id), CONTROL_SK, set_={**attrs, "changed_at": time.time()})
        return ControlState.from_item(item)

    def pause(self) -> ControlState:
        return self._set(paused=True)

    def resume(self) -> ControlState:
        return self._set(paused=False)

    def set_rate(self, rate: float | None) -> ControlState:
        """Rows per second for every worker of the run; 0 or None removes the limit."""
        return self._set(rate=rate or 0)

    def clear(self) -> None:
        self.control.delete(run_pk(self.run_id), CONTROL_SK)


class ControlPoller:
    """Applies the control item to a throttler; runs as a task beside the copy."""

    def __init__(self, controls: LiveControls, throttle: Throttle, interval: float = POLL_SECONDS) -> None:
        self.controls = controls
        self.throttle = throttle
        self.interval = interval
        self.state = ControlState()

    def apply(self, state: ControlState) -> None:
        if state.paused:
            self.throttle.pause()
        else:
            self.throttle.resume()
        if state.rate is not None and (state.rate, state.changed_at) != (
            self.state.rate,
            self.state.changed_at,
        ):
            self.throttle.set_rate(state.rate or None)
        self.state = state

    async def run(self) -> None:
        while True:
            try:
                state = await asyncio.to_thread(self.controls.read)
            except Exception:
                state = self.state
            else:
                self.apply(state)
            await asyncio.sleep(self.interval)
