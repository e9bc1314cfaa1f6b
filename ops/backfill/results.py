"""What a backfill run reports: per segment and for the whole run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ops.backfill.checkpoint import Counters


@dataclass
class SegmentResult:
    index: int
    state: str
    rows_expected: int
    counters: Counters
    seconds: float = 0.0


@dataclass
class BackfillResult:
    run_id: str
    table: str
    target_table: str
    dry_run: bool
    worker: int
    workers: int
    segments_total: int
    segments_owned: int
    segments_complete: int
    rows_expected: int
    counters: Counters = field(default_factory=Counters)
    duration_seconds: float = 0.0
    throttle_events: int = 0
    retries: int = 0
    cost: dict[str, float] = field(default_factory=dict)
    segments: list[SegmentResult] = field(default_factory=list)
    failure_samples: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        done = self.counters.rows_written + self.counters.rows_present + self.counters.rows_failed
        return done / self.duration_seconds if self.duration_seconds else 0.0

    @property
    def mbps(self) -> float:
        return (
            self.counters.bytes_written * 8 / 1_000_000 / self.duration_seconds
            if self.duration_seconds
            else 0.0
        )

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["rows_per_second"] = self.rows_per_second
        doc["mbps"] = self.mbps
        return doc
