"""The cutover's only contact points with the rest of the system: databases, AWS services, and the
functions of the flag, replica, backfill and verify packages.

Gates and phases call these; keeping them in one module means an interface change elsewhere is
one edit here, and every call is in one place to read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from ops import aws
from ops.exceptions import ConfigError, OpsError
from ops.flags import FlagReader, FlagState, FlagStore, Mode
from ops.migrate.config import MigrateConfig
from ops.results import GateResult

if TYPE_CHECKING:  # the packages behind the facade load when a phase first needs them
    from ops.backfill import BackfillResult
    from ops.control import ControlTable
    from ops.dualwrite.repair import RepairResult
    from ops.dualwrite.shadow_log import ShadowWindow
    from ops.replica.base import ReplicaDriver
    from ops.replica.dms import DmsReplicaDriver
    from ops.replica.source import RoleGrants, SourceFacts
    from ops.reverse.state import ReverseStatus
    from ops.settings import Settings
    from ops.verify import VerifyResult

AwsError = (BotoCoreError, ClientError)
PITR_UNSUPPORTED = "UNSUPPORTED"


def require_url(url: str | None, variable: str) -> str:
    if not url:
        raise ConfigError(f'{variable} is not set; export it (local stack: eval "$(ops sandbox env)")')
    return url


# ------------------------------------------------------------------ PostgreSQL


@dataclass(frozen=True)
class OutboxStats:
    rows: int
    oldest_age_seconds: float | None


def outbox_stats(prod_url: str) -> OutboxStats:
    with psycopg.connect(prod_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM outbox"
        ).fetchone()
    assert row is not None
    return OutboxStats(int(row[0]), float(row[1]) if row[1] is not None else None)


def outbox_stats_now(cfg: MigrateConfig) -> tuple[int, float | None]:
    stats = outbox_stats(require_url(cfg.settings.prod_database_url, "PROD_DATABASE_URL"))
    return stats.rows, stats.oldest_age_seconds


def drain_outbox_now(cfg: MigrateConfig) -> RepairResult:
    """One pass of the outbox drain over every mapped table, as `ops repair outbox` runs it."""
    from ops.dualwrite import drain_outbox, make_pool
    from ops.mapping import load_mapping

    pool = make_pool(require_url(cfg.settings.prod_database_url, "PROD_DATABASE_URL"), max_size=4)
    try:
        return drain_outbox(
            load_mapping(cfg.settings.mapping_file),
            pool,
            aws.client("dynamodb"),
            cfg.settings.target_table,
            tombstone_ttl_seconds=cfg.settings.tombstone_ttl_seconds,
        )
    finally:
        pool.close()


def table_privileges(url: str, tables: list[str], privileges: tuple[str, ...]) -> dict[str, list[str]]:
    """Privileges the connecting role lacks, per table ({} when it has them all)."""
    missing: dict[str, list[str]] = {}
    with psycopg.connect(url, connect_timeout=5) as conn:
        for table in tables:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if not exists or not exists[0]:
                missing[table] = ["table does not exist"]
                continue
            lacking = [
                p
                for p in privileges
                if not conn.execute("SELECT has_table_privilege(%s, %s)", (table, p)).fetchone()[0]  # type: ignore[index]
            ]
            if lacking:
                missing[table] = lacking
    return missing


def existing_tables(url: str, tables: list[str]) -> list[str]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return [
            t
            for t in tables
            if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (t,)).fetchone()[0]  # type: ignore[index]
        ]


def table_counts(url: str, tables: list[str]) -> dict[str, int]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}  # type: ignore[index]


def drop_tables(url: str, tables: list[str]) -> None:
    """Drop `tables` in one statement (their foreign keys to each other do not block it).

    No CASCADE: a table outside the list that still references one of them stops the drop,
    which is the operator's cue that something still depends on the data.
    """
    if not tables:
        return
    names = ", ".join(f'"{t}"' for t in tables)
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {names}")


def mapped_tables(settings: Settings) -> list[str]:
    from ops.mapping import load_mapping

    return list(load_mapping(settings.mapping_file).tables)


# ------------------------------------------------------------------ AWS


def describe_target(table: str) -> dict[str, Any]:
    """Status and point-in-time-recovery state of the target table."""
    ddb = aws.client("dynamodb")
    status = ddb.describe_table(TableName=table)["Table"]["TableStatus"]
    try:
        backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    except ClientError as exc:
        # DynamoDB Local implements no backups API at all.
        if exc.response.get("Error", {}).get("Code") == "UnknownOperationException":
            return {"status": status, "pitr": PITR_UNSUPPORTED}
        raise
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
    return {"status": status, "pitr": pitr}


def alarms(prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    """CloudWatch metric alarms whose names start with any of `prefixes` (name, state, since)."""
    cw = aws.client("cloudwatch")
    out: dict[str, dict[str, Any]] = {}
    for prefix in prefixes or ("",):
        kwargs: dict[str, Any] = {"AlarmNamePrefix": prefix} if prefix else {}
        for page in cw.get_paginator("describe_alarms").paginate(**kwargs):
            for alarm in page.get("MetricAlarms", []):
                updated = alarm.get("StateUpdatedTimestamp")
                out[alarm["AlarmName"]] = {
                    "name": alarm["AlarmName"],
                    "state": alarm.get("StateValue", "INSUFFICIENT_DATA"),
                    "since": updated.isoformat() if isinstance(updated, datetime) else str(updated or ""),
                }
    return sorted(out.values(), key=lambda a: a["name"])


def alarm_names(names: tuple[str, ...]) -> list[str]:
    if not names:
        return []
    cw = aws.client("cloudwatch")
    found = cw.describe_alarms(AlarmNames=list(names)).get("MetricAlarms", [])
    return [a["AlarmName"] for a in found]


def rds_snapshot(instance: str, snapshot_id: str) -> dict[str, Any]:
    response = aws.client("rds").create_db_snapshot(
        DBInstanceIdentifier=instance, DBSnapshotIdentifier=snapshot_id
    )
    snap = response["DBSnapshot"]
    return {"snapshot": snap["DBSnapshotIdentifier"], "status": snap.get("Status", ""), "instance": instance}


def rds_instance_exists(instance: str) -> bool:
    try:
        aws.client("rds").describe_db_instances(DBInstanceIdentifier=instance)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "DBInstanceNotFound":
            return False
        raise
    return True


def rds_delete(instance: str) -> None:
    # The final snapshot was taken (and recorded) before this call, under our own name.
    aws.client("rds").delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)


# ------------------------------------------------------------------ migration mode flag


def flag_store(cfg: MigrateConfig) -> FlagStore:
    return FlagStore(dataset=cfg.dataset, settings=cfg.settings)


def flag_parameter_value(cfg: MigrateConfig) -> str | None:
    """The stored mode, None when the parameter does not exist (the app then assumes postgres)."""
    try:
        value = aws.client("ssm").get_parameter(Name=cfg.settings.flag_parameter())["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return FlagState.parse(str(value)).mode.value


def current_mode(cfg: MigrateConfig) -> str:
    """The stored mode (a missing parameter means postgres, as the app reads it)."""
    return str(flag_store(cfg).get().value)


def set_mode(cfg: MigrateConfig, target: str, operator: str, reason: str, *, fenced: bool = False) -> None:
    flag_store(cfg).set(Mode(target), reason=reason, who=operator, fenced_protocol=fenced)


def app_reader(cfg: MigrateConfig) -> FlagReader:
    """A reader exactly as the application builds one (same class, same cache TTL)."""
    return FlagReader(dataset=cfg.dataset, ttl_seconds=cfg.flag_reader_ttl_seconds, settings=cfg.settings)


def app_reads_mode(cfg: MigrateConfig, reader: Any = None) -> str:
    return str((reader or app_reader(cfg)).mode().value)


def wait_for_app_mode(cfg: MigrateConfig, expected: str, reader: Any = None) -> tuple[str, float]:
    """Poll an app-side reader (warm, with its cache) until it reports `expected` or the
    propagation budget is spent; returns what it read last and the seconds it took."""
    reader = reader or app_reader(cfg)
    started = time.monotonic()
    seen = app_reads_mode(cfg, reader)
    while seen != expected and time.monotonic() - started < cfg.flag_propagation_seconds:
        time.sleep(min(0.5, max(0.05, cfg.flag_reader_ttl_seconds / 4)))
        seen = app_reads_mode(cfg, reader)
    return seen, time.monotonic() - started


# ------------------------------------------------------------------ dual-write shadow reads


def shadow_window(cfg: MigrateConfig, control: ControlTable, window_seconds: float) -> ShadowWindow:
    """What the application's shadow reads recorded in the control table over the trailing window
    (`SHADOW#<dataset>`, written by `ops.dualwrite.shadow_log`)."""
    from ops.dualwrite.shadow_log import read_window

    return read_window(control, cfg.dataset, time.time() - window_seconds)


# ------------------------------------------------------------------ replica


def replica_driver(cfg: MigrateConfig) -> ReplicaDriver:
    """The configured driver; for DMS, OPS_DMS_TASK_ARN may name a replication task or a DMS
    Serverless replication config (the driver picks the API from the ARN)."""
    from ops.replica import make_driver

    if cfg.replica_driver == "dms":
        if not cfg.replica_task_arn:
            raise ConfigError(
                "OPS_REPLICA_DRIVER=dms needs OPS_DMS_TASK_ARN, the DMS task or replication config ARN: "
                "export it from `terraform output -json ops_environment`"
            )
        return make_driver("dms", task_arn=cfg.replica_task_arn, tables=mapped_tables(cfg.settings))
    return make_driver(
        "logical",
        source_url=require_url(cfg.settings.prod_database_url, "PROD_DATABASE_URL"),
        target_url=require_url(cfg.settings.v2_database_url, "V2_DATABASE_URL"),
        tables=mapped_tables(cfg.settings),
        name=cfg.replica_name,
    )


def start_replica(driver: ReplicaDriver) -> str:
    from ops.replica import start_replica as start

    return str(start(driver))


def end_replica(cfg: MigrateConfig) -> str:
    """Stop replication for good: a logical subscription is dropped with its slot (a slot left on
    production would hold its WAL forever); a DMS task is stopped (Terraform deletes it)."""
    from ops.replica.logical import LogicalReplicaDriver

    driver = replica_driver(cfg)
    if isinstance(driver, LogicalReplicaDriver):
        driver.teardown()
        return "dropped subscription, slot and publication"
    driver.stop()
    return "stopped the task"


def replica_gate(cfg: MigrateConfig, driver: ReplicaDriver) -> GateResult:
    from ops.replica import replica_gate as gate

    return gate(driver.status(), max_lag_seconds=cfg.replica_max_lag_seconds)


# ------------------------------------------------------------------ preflight: the replica's source


def source_facts(url: str) -> SourceFacts:
    """wal_level, slots, WAL senders and sizes of the source PostgreSQL (`SourceFacts`)."""
    from ops.replica.source import inspect_source

    return inspect_source(url)


def replication_grants(url: str, role: str, tables: list[str]) -> RoleGrants:
    from ops.replica.source import role_grants

    return role_grants(url, role, tables)


def dms_source_user(cfg: MigrateConfig) -> str | None:
    """The user the DMS source endpoint connects as (None when it comes from a secret)."""
    return dms_driver(cfg).source_username()


def dms_driver(cfg: MigrateConfig) -> DmsReplicaDriver:
    """The replica driver when it is DMS (endpoints and LOB settings are DMS's own)."""
    from ops.replica.dms import DmsReplicaDriver

    driver = replica_driver(cfg)
    if not isinstance(driver, DmsReplicaDriver):
        raise ConfigError(f"OPS_REPLICA_DRIVER={cfg.replica_driver}: only DMS has endpoints and LOB settings")
    return driver


def lob_limits(cfg: MigrateConfig, tables: list[str]) -> tuple[dict[str, Any], str]:
    """Each table's LOB limit (`LobLimit`) from the DMS task or replication config, and the name
    of the settings document that holds them."""
    from ops.replica.lobs import dms_limits

    configuration = dms_driver(cfg).configuration()
    limits = dms_limits(configuration.settings, configuration.table_mappings, tables, "public")
    return limits, configuration.settings_name


def measure_lobs(cfg: MigrateConfig, url: str, tables: list[str]) -> list[Any]:
    """The largest value of every LOB column (`LobColumn`), sampled or exact per OPS_LOB_SCAN."""
    from ops.replica.lobs import measure

    return measure(url, tables, mode=cfg.lob_scan, sample_bytes=int(cfg.lob_sample_mb * 2**20))


@dataclass(frozen=True)
class StorageReading:
    instance: str
    free_bytes: float | None
    allocated_bytes: int


def rds_free_storage(instance: str, window_seconds: float = 3600) -> StorageReading:
    """Allocated storage of an RDS instance and the lowest FreeStorageSpace over the window."""
    found = aws.client("rds").describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    now = utcnow()
    points = aws.metric_datapoints(
        "AWS/RDS",
        "FreeStorageSpace",
        ("DBInstanceIdentifier", instance),
        (now - timedelta(seconds=window_seconds), now),
        period=300,
        statistic="Minimum",
    )
    free = min((float(p["Minimum"]) for p in points), default=None)
    return StorageReading(instance, free, int(found.get("AllocatedStorage", 0)) * 2**30)


# ------------------------------------------------------------------ backfill


def run_backfill(
    cfg: MigrateConfig, control: ControlTable, on_progress: Any = None, **options: Any
) -> BackfillResult:
    """Run (or resume) the dataset's backfill in process: V2 -> target table, run id = dataset."""
    from ops.backfill import BackfillOptions
    from ops.backfill import run_backfill as run

    opts = BackfillOptions(
        source_url=require_url(cfg.settings.v2_database_url, "V2_DATABASE_URL"),
        table=cfg.dataset,
        target_table=cfg.settings.target_table,
        control_table=cfg.settings.control_table,
        run_id=cfg.dataset,
        **options,
    ).with_settings(cfg.settings)  # the metrics namespace and the mapping file
    return run(opts, control=control, on_progress=on_progress)


def backfill_gate(cfg: MigrateConfig, control: ControlTable, accept_failures: bool) -> GateResult:
    from ops.backfill.status import backfill_gate as gate

    return gate(control, cfg.dataset, accept_failures=accept_failures)


# ------------------------------------------------------------------ verify


def run_verify(
    cfg: MigrateConfig, control: ControlTable, show_progress: bool = True, **options: Any
) -> VerifyResult:
    """A full verification (every row, extras, re-check) of the dataset: V2 vs the target table."""
    from ops.verify import VerifyOptions
    from ops.verify import run_verify as run

    opts = VerifyOptions(
        source_url=require_url(cfg.settings.v2_database_url, "V2_DATABASE_URL"),
        dataset=cfg.dataset,
        table=cfg.dataset,
        target_table=cfg.settings.target_table,
        progress=show_progress,
        **options,
    )
    return run(opts, settings=cfg.settings, control=control)


def run_verify_primary(cfg: MigrateConfig, control: ControlTable) -> VerifyResult:
    """PostgreSQL (production) against DynamoDB, every row and extras, re-checked: before going back
    from `dynamodb`, proof that reverse replication left nothing out."""
    from ops.verify import VerifyOptions
    from ops.verify import run_verify as run

    prod = require_url(cfg.settings.prod_database_url, "PROD_DATABASE_URL")
    return run(
        VerifyOptions(
            source_url=prod,
            primary_url=prod,
            dataset=cfg.dataset,
            table=cfg.dataset,
            target_table=cfg.settings.target_table,
            progress=False,
        ),
        settings=cfg.settings,
        control=control,
    )


def verification_baseline(cfg: MigrateConfig, control: ControlTable) -> tuple[str | None, str]:
    """The moment a verification must have started after to vouch for DynamoDB now: the end of the
    backfill, or the last time dual-write began again after a spell in `postgres` (writes of that
    spell never reached DynamoDB), whichever is later."""
    from ops.migrate.ledger import Ledger
    from ops.migrate.phases import Phase, PhaseState

    marks: list[tuple[str, str]] = []
    backfill = Ledger(control, cfg.dataset).record(Phase.BACKFILL)
    if backfill and backfill.state == PhaseState.DONE and backfill.ended_at:
        marks.append((backfill.ended_at, "the backfill finished"))
    restarts = [
        c.at
        for c in flag_store(cfg).history()
        if c.from_mode == Mode.POSTGRES and c.to_mode == Mode.DUAL_WRITE
    ]
    if restarts:
        marks.append((max(restarts), "dual-write (re)started"))
    if not marks:
        return None, ""
    return max(marks, key=lambda mark: datetime.fromisoformat(mark[0]))


def verify_gate(cfg: MigrateConfig, control: ControlTable) -> GateResult:
    from ops.verify import verify_gate as gate

    not_before, reason = verification_baseline(cfg, control)
    return gate(
        control,
        cfg.dataset,
        max_age_hours=cfg.verify_max_age_hours,
        table=cfg.dataset,
        not_before=not_before,
        not_before_reason=reason,
    )


def describe_error(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip()
    if isinstance(exc, OpsError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def utcnow() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ reverse replication


def start_reverse(cfg: MigrateConfig, operator: str) -> ReverseStatus:
    from ops.reverse import control

    return control.start(cfg.settings, operator)


def stop_reverse(cfg: MigrateConfig) -> ReverseStatus:
    from ops.reverse import control

    return control.stop(cfg.settings)


def reverse_gate(cfg: MigrateConfig, *, caught_up_after: float | None = None) -> GateResult:
    from ops.reverse import control

    return control.reverse_gate(
        control.status(cfg.settings),
        max_lag_seconds=cfg.replica_max_lag_seconds,
        caught_up_after=caught_up_after,
    )
