"""Options and results of a verification run (what the CLI, the cutover and the demo exchange)."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

# Kinds of difference, as reported in samples.
MISMATCHED = "mismatched"
MISSING = "missing"
STALE_TOMBSTONE = "stale_tombstone"  # counted as missing: the row exists, DynamoDB says deleted
EXTRA = "extra"
UNENCODABLE = "unencodable"  # the row cannot become an item (RowError): backfill's failure log


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class VerifyOptions:
    """Everything a run depends on. Defaults: V2 replica, dataset table, the target table."""

    source_url: str | None = None  # default: V2_DATABASE_URL
    # The production database: a difference seen on a replica is confirmed there before it counts
    # or is repaired (the replica may simply lag). Default: PROD_DATABASE_URL.
    primary_url: str | None = None
    dataset: str | None = None  # default: Settings.dataset
    table: str | None = None  # PostgreSQL table; default: the dataset name
    target_table: str | None = None  # default: Settings.target_table
    segments: int = 8
    threads: int | None = None  # per process; default: one per segment
    # A fleet: worker i of N (hosts x processes) shares the run's segments with the others.
    worker: int = 0
    workers: int = 1
    sample_percent: float | None = None  # None: every row; else 0 < P <= 100
    recheck_delay: float = 5.0
    recheck_rounds: int = 3
    batch_size: int = 500
    repair: bool = False
    dry_run: bool = False
    extras: bool = True  # scan DynamoDB for items without a row
    run_id: str | None = None
    resume: bool = False
    max_samples: int = 20
    progress: bool = True
    # --repair while reads come from DynamoDB overwrites what the application serves: only with
    # a reason, which the evidence (and the ledger, from the CLI) records.
    force_repair_reason: str | None = None

    def fingerprint_fields(self) -> dict[str, Any]:
        """Options that must not change between a run and its resumption."""
        return {
            "table": self.table,
            "target_table": self.target_table,
            "segments": self.segments,
            "sample_percent": self.sample_percent,
            "extras": self.extras,
        }


@dataclass
class VerifyResult:
    run_id: str
    dataset: str
    table: str
    started_at: str
    finished_at: str = ""
    rows_compared: int = 0
    matching: int = 0
    mismatched: int = 0
    missing: int = 0
    extra: int = 0
    stale_tombstones: int = 0
    errors: int = 0
    transient: int = 0
    items_scanned: int = 0
    repaired: int = 0
    repair_skipped: int = 0
    segments: int = 1
    sample_percent: float | None = None
    dry_run: bool = False
    repair: bool = False
    # What the run covered, for the gate: every planned segment read to its end, the Scan for
    # extra items done (or skipped), the source and its position.
    extras: bool = True
    segments_planned: int = 0
    segments_done: int = 0
    scan_segments_planned: int = 0
    scan_segments_done: int = 0
    source: str = ""
    position: dict[str, Any] = field(default_factory=dict)
    lagging: int = 0  # differences the primary showed to be replica lag, not differences
    mode: str = ""  # the migration mode when the run started
    forced_repair_reason: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    repair_actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return self.mismatched + self.missing + self.extra + self.errors

    @property
    def clean(self) -> bool:
        return self.differences == 0

    @property
    def complete(self) -> bool:
        """Every planned segment (and Scan segment, when extras were scanned) finished."""
        rows = self.segments_planned > 0 and self.segments_done == self.segments_planned
        scan = not self.extras or self.scan_segments_done == self.scan_segments_planned > 0
        return rows and scan

    @property
    def full(self) -> bool:
        """Covered every row and every item: what a gate may rely on."""
        return self.complete and self.extras and self.sample_percent is None

    @property
    def ok(self) -> bool:
        return self.clean

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean, "complete": self.complete, "full": self.full}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def wire_jsonable(value: Any) -> Any:
    """A DynamoDB wire value (or canonical scalar) as JSON: bytes become base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {k: wire_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [wire_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
