"""What a backfill run is asked to do (`BackfillOptions`), its defaults, and what a resumed run must
share with the run that wrote the checkpoints (`fingerprint`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from ops import aws
from ops.backfill.iterator import DEFAULT_PAGE_ROWS
from ops.exceptions import ConfigError
from ops.settings import Settings

DEFAULT_SEGMENTS = 16
SEGMENTS_PER_WORKER = 4
DEFAULT_CONCURRENCY = 256  # requests in flight: hides DynamoDB's latency; an idle slot costs ~nothing
DEFAULT_PARALLEL_SEGMENTS = 8


@dataclass
class BackfillOptions:
    source_url: str | None = None  # default: V2_DATABASE_URL
    table: str | None = None  # default: Settings.dataset
    target_table: str | None = None  # default: Settings.target_table
    control_table: str | None = None  # default: Settings.control_table
    run_id: str | None = None  # default: the table name
    segments: int | None = None  # default: the stored plan's, else DEFAULT_SEGMENTS
    worker: int = 0
    workers: int = 1
    rate: float | None = None  # rows per second for this worker; None = unlimited
    concurrency: int = DEFAULT_CONCURRENCY
    parallel_segments: int = DEFAULT_PARALLEL_SEGMENTS
    page_rows: int = DEFAULT_PAGE_ROWS
    dry_run: bool = False
    restart: bool = False
    mapping_path: str | None = None
    endpoint: str | None = None  # default: AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL / AWS
    create_target_table: bool = False
    checkpoint_seconds: float = 1.0
    control_poll_seconds: float = 1.0
    metrics: bool = True
    metrics_seconds: float = 10.0
    metrics_namespace: str | None = None  # default: Settings.metrics_namespace

    def with_settings(self, settings: Settings) -> BackfillOptions:
        """These options with what they leave unset taken from the project's settings."""
        return replace(
            self,
            source_url=self.source_url or settings.v2_database_url,
            table=self.table or settings.dataset,
            target_table=self.target_table or settings.target_table,
            control_table=self.control_table or settings.control_table,
            metrics_namespace=self.metrics_namespace or settings.metrics_namespace,
            mapping_path=self.mapping_path or (str(settings.mapping_file) if settings.mapping_file else None),
        )

    def resolved(self) -> BackfillOptions:
        table = self.table
        source = self.source_url
        if not source:
            raise ConfigError(
                "No source database: set V2_DATABASE_URL (the V2 replica) or pass --source-url."
            )
        if not 0 <= self.worker < self.workers:
            raise ConfigError(
                f"--worker {self.worker} is outside 0..{self.workers - 1} (--workers {self.workers})"
            )
        if self.concurrency < 1 or self.parallel_segments < 1 or self.page_rows < 1:
            raise ConfigError("--concurrency, --parallel-segments and --page-rows must be at least 1")
        unset = [name for name in ("table", "target_table", "control_table") if not getattr(self, name)]
        if self.metrics and not self.dry_run and not self.metrics_namespace:
            unset.append("metrics_namespace")
        if unset:
            raise ConfigError(f"backfill options without {', '.join(unset)}: fill them with with_settings()")
        return BackfillOptions(**{**asdict(self), "run_id": self.run_id or table})


def fingerprint(mapping_fingerprint: str, table: str, target_table: str, segments: int) -> str:
    """What a resumed run must share with the run that wrote the checkpoints."""
    doc = {"mapping": mapping_fingerprint, "table": table, "target_table": target_table, "segments": segments}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def dynamodb_endpoint(explicit: str | None = None) -> str:
    return explicit or aws.endpoint_url("dynamodb") or f"https://dynamodb.{aws.region()}.amazonaws.com"
