"""Thresholds and names of the cutover gates, from the environment (overridable per command).

Every threshold has an `OPS_*` variable so an environment (or the demo) can tune it without code:
the demo shortens the soak with `OPS_SOAK_SECONDS=5`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ops.exceptions import ConfigError
from ops.settings import Settings

DAY = 86400


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to a number or unset it") from None


def _env_list(name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _reader_ttl() -> float:
    from ops.flags import DEFAULT_READER_TTL_SECONDS

    return DEFAULT_READER_TTL_SECONDS


@dataclass(frozen=True)
class MigrateConfig:
    settings: Settings
    # soak: 14 days by default; OPS_SOAK_SECONDS (or --soak-days on the command) shortens it.
    soak_seconds: float = 14 * DAY
    verify_max_age_hours: float = 24.0
    replica_max_lag_seconds: float = 30.0
    # dual-write: the outbox may hold rows being delivered right now, but none older than this
    # (the drainer of every app instance delivers leftovers within a few seconds).
    outbox_max_age_seconds: float = 10.0
    # stop-pg-writes: how long the outbox may take to drain before the pause, and the longest the
    # pause may hold writes (its deadline; a crashed cutover cannot hold them longer).
    drain_timeout_seconds: float = 120.0
    pause_max_seconds: float = 30.0
    # The rollback from dynamodb: how long reverse replication may take to reach the stream's tip
    # while writes are paused (the Lambda driver answers a CloudWatch period late: use 180 there).
    reverse_catchup_seconds: float = 30.0
    # shadow reads: mismatches allowed (0) over this trailing window before reads switch.
    shadow_window_seconds: float = 900.0
    shadow_max_mismatches: int = 0
    # How long the app's FlagReader may take to see a new mode (its cache TTL plus margin).
    flag_propagation_seconds: float = 15.0
    # The app's FlagReader cache TTL; the propagation check reads through a reader with this TTL.
    flag_reader_ttl_seconds: float = 5.0
    # CloudWatch alarms: every alarm whose name starts with a prefix must exist (preflight) and be
    # OK (switch-reads); the error alarms must stay quiet through the soak.
    alarm_prefixes: tuple[str, ...] = ("platform-ops-",)
    error_alarm_prefixes: tuple[str, ...] = ("platform-ops-",)
    required_alarms: tuple[str, ...] = ()
    replica_driver: str = "logical"
    replica_task_arn: str | None = None
    # Logical replication: publication/subscription (and slot) name; slot names are per server.
    replica_name: str = "platform_ops"
    # Preflight on the source: the role the replica connects as (default: the DMS source
    # endpoint's user, or PROD_DATABASE_URL's role for logical replication), the production RDS
    # instance whose FreeStorageSpace is read, the free share of its storage required, and the
    # WAL an inactive replication slot may hold.
    replication_user: str | None = None
    source_rds_instance: str | None = None
    source_min_free_percent: float = 20.0
    max_slot_wal_mb: float = 1024.0
    # Preflight LOB check: "sample" reads at most lob_sample_mb of each table's heap, "exact"
    # every row; the DMS LOB limit must exceed the largest value by lob_margin_percent.
    lob_scan: str = "sample"
    lob_sample_mb: float = 512.0
    lob_margin_percent: float = 25.0
    # RDS instance of the V2 replica on AWS; None on the local stack (pg_dump instead).
    v2_rds_instance: str | None = None
    snapshot_dir: Path = Path(".sandbox/snapshots")
    # DynamoDB Local has no backups API, so PITR cannot be measured there. Only an explicit
    # OPS_PITR_UNSUPPORTED=accept (the local stack) lets preflight pass without measuring it.
    accept_unmeasurable_pitr: bool = False
    accept_backfill_failures: bool = False

    @classmethod
    def from_env(cls, settings: Settings, **overrides: Any) -> MigrateConfig:
        """The thresholds from their `OPS_*` variables, with the project's settings (read by the
        caller, the CLI) and per-command overrides (None keeps the variable's value)."""
        base = cls(
            settings=settings,
            soak_seconds=_env_float("OPS_SOAK_SECONDS", 14 * DAY),
            verify_max_age_hours=_env_float("OPS_VERIFY_MAX_AGE_HOURS", 24.0),
            replica_max_lag_seconds=_env_float("OPS_REPLICA_MAX_LAG_SECONDS", 30.0),
            outbox_max_age_seconds=_env_float("OPS_OUTBOX_MAX_AGE_SECONDS", 10.0),
            drain_timeout_seconds=_env_float("OPS_DRAIN_TIMEOUT_SECONDS", 120.0),
            pause_max_seconds=_env_float("OPS_PAUSE_MAX_SECONDS", 30.0),
            reverse_catchup_seconds=_env_float("OPS_REVERSE_CATCHUP_SECONDS", 30.0),
            shadow_window_seconds=_env_float("OPS_SHADOW_WINDOW_SECONDS", 900.0),
            shadow_max_mismatches=int(_env_float("OPS_SHADOW_MAX_MISMATCHES", 0)),
            flag_propagation_seconds=_env_float("OPS_FLAG_PROPAGATION_SECONDS", 15.0),
            flag_reader_ttl_seconds=_env_float("OPS_FLAG_READER_TTL_SECONDS", _reader_ttl()),
            alarm_prefixes=_env_list("OPS_ALARM_PREFIXES", ("platform-ops-",)),
            error_alarm_prefixes=_env_list("OPS_ERROR_ALARM_PREFIXES", ("platform-ops-",)),
            required_alarms=_env_list("OPS_REQUIRED_ALARMS"),
            replica_driver=os.environ.get("OPS_REPLICA_DRIVER", "logical"),
            replica_task_arn=os.environ.get("OPS_DMS_TASK_ARN") or None,
            replica_name=os.environ.get("OPS_REPLICA_NAME", "platform_ops"),
            replication_user=os.environ.get("OPS_REPLICATION_USER") or None,
            source_rds_instance=os.environ.get("OPS_SOURCE_RDS_INSTANCE") or None,
            source_min_free_percent=_env_float("OPS_SOURCE_MIN_FREE_PERCENT", 20.0),
            max_slot_wal_mb=_env_float("OPS_MAX_SLOT_WAL_MB", 1024.0),
            lob_scan=os.environ.get("OPS_LOB_SCAN") or "sample",
            lob_sample_mb=_env_float("OPS_LOB_SAMPLE_MB", 512.0),
            lob_margin_percent=_env_float("OPS_LOB_MARGIN_PERCENT", 25.0),
            v2_rds_instance=os.environ.get("OPS_V2_RDS_INSTANCE") or None,
            snapshot_dir=Path(os.environ.get("OPS_SNAPSHOT_DIR", ".sandbox/snapshots")),
            accept_unmeasurable_pitr=os.environ.get("OPS_PITR_UNSUPPORTED") == "accept",
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def dataset(self) -> str:
        return self.settings.dataset
