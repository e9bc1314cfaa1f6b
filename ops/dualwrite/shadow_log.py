"""The shadow-read log in the control table: every counted mismatch with its key, and the counts.

Rule: what the switch-reads gate judges is exactly what the application recorded, with the time
of each read. Items live under `SHADOW#<dataset>`, sorted by the time they were written:

- `<time>#MISMATCH#<instance>#<n>`: one per counted mismatch (key, reason, versions, field diff,
  when it was read). An instance records at most `max_records_per_interval` of them per interval
  and counts the rest as `unrecorded`, so a systematic fault cannot flood the control table.
- `<time>#COUNTS#<instance>#<n>`: one per instance per interval with reads: reads compared,
  transient differences, keys not copied yet (with the first and last such read and a few keys),
  keys whose write was still in the outbox, unrecorded mismatches, comparison errors.

Writing never raises into the application: a failed put is logged and counted
(`ShadowLogFailures`); the gate then sees fewer comparisons and says so. Items expire after
`RETENTION_SECONDS` (the table's TTL attribute).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ops.control import ControlTable
from ops.dualwrite.metrics import Metrics

log = logging.getLogger(__name__)

PREFIX = "SHADOW#"
MISMATCH = "MISMATCH"
COUNTS = "COUNTS"
RETENTION_SECONDS = 35 * 24 * 3600
DEFAULT_INTERVAL_SECONDS = 10.0
DEFAULT_MAX_RECORDS_PER_INTERVAL = 100
_KEY_SAMPLE = 10
_DIFF_TEXT_LIMIT = 8000


def partition(dataset: str) -> str:
    return f"{PREFIX}{dataset}"


def stamp(moment: float) -> str:
    """Sortable UTC time with microseconds (the sort key's first part)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")


def _instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Mismatch:
    """One counted mismatch: the key, why it counts, and what differs (expected, actual)."""

    table: str
    key: dict[str, Any]
    item: str
    reason: str
    read_at: str
    postgres_version: int | None
    dynamodb_version: int | None
    diff: dict[str, Any]


@dataclass
class _Counts:
    compared: int = 0
    transient: int = 0
    not_copied: int = 0
    in_flight: int = 0
    unrecorded: int = 0
    errors: int = 0
    first_read_at: str | None = None
    last_read_at: str | None = None
    not_copied_first_read_at: str | None = None
    not_copied_last_read_at: str | None = None
    not_copied_keys: list[dict[str, Any]] = field(default_factory=list)
    recorded: int = 0

    def empty(self) -> bool:
        return not (
            self.compared
            or self.transient
            or self.not_copied
            or self.in_flight
            or self.unrecorded
            or self.errors
        )


class ShadowLog:
    """The application side: counts aggregated per interval, mismatches written one by one."""

    def __init__(
        self,
        dataset: str,
        control: ControlTable,
        *,
        metrics: Metrics | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        max_records_per_interval: int = DEFAULT_MAX_RECORDS_PER_INTERVAL,
        clock: Callable[[], float] = time.time,
        instance: str | None = None,
    ) -> None:
        self.dataset = dataset
        self._control = control
        self.metrics = metrics
        self.interval_seconds = interval_seconds
        self.max_records = max_records_per_interval
        self.clock = clock
        self.instance = instance or _instance()
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._started = clock()
        self._sequence = 0

    @property
    def control(self) -> ControlTable:
        return self._control

    # ------------------------------------------------------------ what the comparisons report

    def compared(self, read_at: float) -> None:
        self._count(read_at, compared=1)

    def transient(self, read_at: float) -> None:
        self._count(read_at, transient=1)

    def in_flight(self, read_at: float) -> None:
        self._count(read_at, in_flight=1)

    def error(self, read_at: float) -> None:
        self._count(read_at, errors=1)

    def not_copied(self, read_at: float, key: dict[str, Any]) -> None:
        when = stamp(read_at)
        with self._lock:
            c = self._counts
            c.not_copied += 1
            c.not_copied_first_read_at = min(filter(None, (c.not_copied_first_read_at, when)))
            c.not_copied_last_read_at = max(filter(None, (c.not_copied_last_read_at, when)))
            if len(c.not_copied_keys) < _KEY_SAMPLE:
                c.not_copied_keys.append(key)
        self._flush_if_due()

    def mismatch(self, found: Mismatch) -> None:
        """Record one counted mismatch now (off the request path: the re-check calls it)."""
        with self._lock:
            record = self._counts.recorded < self.max_records
            if record:
                self._counts.recorded += 1
            else:
                self._counts.unrecorded += 1
            self._sequence += 1
            sequence = self._sequence
        if record:
            now = self.clock()
            self._put(
                f"{stamp(now)}#{MISMATCH}#{self.instance}#{sequence:08d}",
                {
                    "kind": MISMATCH,
                    "at": stamp(now),
                    "read_at": found.read_at,
                    "table": found.table,
                    "key": found.key,
                    "item": found.item,
                    "reason": found.reason,
                    "postgres_version": found.postgres_version,
                    "dynamodb_version": found.dynamodb_version,
                    "diff": _diff_text(found.diff),
                    "instance": self.instance,
                },
                now,
            )
        self._flush_if_due()

    def _count(self, read_at: float, **increments: int) -> None:
        when = stamp(read_at)
        with self._lock:
            c = self._counts
            for name, value in increments.items():
                setattr(c, name, getattr(c, name) + value)
            c.first_read_at = min(filter(None, (c.first_read_at, when)))
            c.last_read_at = max(filter(None, (c.last_read_at, when)))
        self._flush_if_due()

    # ------------------------------------------------------------ writing

    def _flush_if_due(self) -> None:
        if self.clock() - self._started >= self.interval_seconds:
            self.flush()

    def flush(self) -> None:
        """Write this interval's counts (if any) and start the next interval."""
        with self._lock:
            counts, self._counts = self._counts, _Counts()
            self._started = self.clock()
            self._sequence += 1
            sequence = self._sequence
        if counts.empty():
            return
        now = self.clock()
        attrs = {
            "kind": COUNTS,
            "at": stamp(now),
            "instance": self.instance,
            **{k: v for k, v in vars(counts).items() if k != "recorded" and v not in (None, [])},
        }
        self._put(f"{stamp(now)}#{COUNTS}#{self.instance}#{sequence:08d}", attrs, now)

    def _put(self, sk: str, attrs: dict[str, Any], now: float) -> None:
        try:
            self.control.put(partition(self.dataset), sk, {**attrs, "_ttl": int(now + RETENTION_SECONDS)})
        except Exception as exc:
            if self.metrics is not None:
                self.metrics.add("ShadowLogFailures")
            log.warning("could not record shadow reads in the control table: %s", exc)


def _diff_text(diff: dict[str, Any]) -> str:
    text = json.dumps(diff, default=str, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _DIFF_TEXT_LIMIT else text[: _DIFF_TEXT_LIMIT - 1] + "…"


# ------------------------------------------------------------------ the reading side (gate, CLI)


@dataclass
class ShadowWindow:
    """What the application recorded between `since` and `until`."""

    since: str
    until: str
    compared: int = 0
    transient: int = 0
    in_flight: int = 0
    errors: int = 0
    unrecorded: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    not_copied_counts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mismatch_count(self) -> int:
        return len(self.mismatches) + self.unrecorded

    @property
    def not_copied(self) -> int:
        return sum(int(c.get("not_copied", 0)) for c in self.not_copied_counts)

    def not_copied_since(self, moment: str) -> int:
        """Reads of keys not copied yet that may have happened at or after `moment` (an interval
        that straddles it counts whole)."""
        return sum(
            int(c.get("not_copied", 0))
            for c in self.not_copied_counts
            if _after(c.get("not_copied_last_read_at"), moment)
        )

    def not_copied_keys(self) -> list[dict[str, Any]]:
        return [k for c in self.not_copied_counts for k in c.get("not_copied_keys", [])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "compared": self.compared,
            "transient": self.transient,
            "in_flight": self.in_flight,
            "errors": self.errors,
            "not_copied": self.not_copied,
            "mismatches": self.mismatch_count,
            "unrecorded": self.unrecorded,
            "mismatch_records": self.mismatches,
        }


def _after(value: str | None, moment: str) -> bool:
    return value is not None and datetime.fromisoformat(value) >= datetime.fromisoformat(moment)


def read_window(
    control: ControlTable, dataset: str, since: float, until: float | None = None
) -> ShadowWindow:
    """Every SHADOW# item written between `since` and `until` (epoch seconds; default now)."""
    start, end = stamp(since), stamp(until if until is not None else time.time())
    window = ShadowWindow(start, end)
    for item in control.query(partition(dataset), sk_between=(start, end + "~")):
        if item.get("kind") == MISMATCH:
            item["diff"] = json.loads(item["diff"]) if isinstance(item.get("diff"), str) else item.get("diff")
            window.mismatches.append(item)
            continue
        window.compared += int(item.get("compared", 0))
        window.transient += int(item.get("transient", 0))
        window.in_flight += int(item.get("in_flight", 0))
        window.errors += int(item.get("errors", 0))
        window.unrecorded += int(item.get("unrecorded", 0))
        if item.get("not_copied"):
            window.not_copied_counts.append(item)
    return window
