"""AWS DMS driver: the DMS replication that copies `prod` into `v2` on AWS, of either kind.

The ARN says which kind it is, and each kind has its own API:

- `arn:aws:dms:<region>:<account>:task:<id>`: a replication task on a replication instance.
  StartReplicationTask / StopReplicationTask / DescribeReplicationTasks / DescribeTableStatistics,
  addressed by ReplicationTaskArn. Statuses: `creating`, `ready`, `starting`, `running`,
  `stopping`, `stopped`, `failed`, ...
- `arn:aws:dms:<region>:<account>:replication-config:<id>`: DMS Serverless. StartReplication /
  StopReplication / DescribeReplications / DescribeReplicationTableStatistics, addressed by
  ReplicationConfigArn. Statuses: `created` (never started), then `initializing`,
  `preparing_metadata_resources`, `testing_connection`, `fetching_metadata`,
  `calculating_capacity`, `provisioning_capacity`, `replication_starting`, then `running` (with
  a provisioning state and capacity units), `stopping`, `stopped`, `failed`.

Either kind reports the same fields to the `replica ready` gate:
- state and full-load progress: the task's `Status` and `ReplicationTaskStats`, or the
  replication's `Status` and `ReplicationStats` (same shape);
- per table: the table statistics of either API (same shape): `TableState`, `ValidationState`,
  `ValidationFailedRecords`, `ValidationSuspendedRecords`, `FullLoadRows`, `Inserts`, `Deletes`.
  A failed or suspended validation record makes the table "mismatched": a value DMS truncated
  (a LOB over the limit) or could not compare is what the gate exists to stop;
- lag: CloudWatch `AWS/DMS` `CDCLatencySource` and `CDCLatencyTarget` (seconds), the larger of
  the two newest one-minute maxima (the target latency already includes the source's). A task's
  metrics carry `ReplicationInstanceIdentifier` and `ReplicationTaskIdentifier` (the task's
  resource id, the last part of its ARN). A serverless replication's metrics are found with
  ListMetrics by a dimension whose value names the configuration (its resource id or its
  identifier), so the driver does not depend on the dimension's name.

The settings JSON (task settings, or a serverless config's replication settings) and the table
mappings are read for the preflight LOB check (`ops.replica.lobs`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ops import aws
from ops.replica.base import ReplicaError, ReplicaStatus, TableSync

TASK = "task"
SERVERLESS = "replication-config"

# Table statistics ValidationState -> TableSync.validation
_VALIDATION = {
    "Validated": "clean",
    "Not enabled": "n/a",
    "Pending records": "pending",
    "Pending validation": "pending",
    "Preparing table": "pending",
    "Pending revalidation": "pending",
    "Mismatched records": "mismatched",
    "Suspended records": "mismatched",
    "No primary key": "mismatched",
    "Table error": "mismatched",
    "Error": "mismatched",
}
FULL_LOAD_DONE = "Table completed"
LATENCY_METRICS = ("CDCLatencySource", "CDCLatencyTarget")
_CHECK_STATE = "; check its state with `ops replica status`"


def arn_kind(arn: str) -> str:
    """`task` or `replication-config`, from the resource type the ARN names."""
    parts = arn.split(":", 6)
    if (
        len(parts) == 7
        and parts[0] == "arn"
        and parts[2] == "dms"
        and parts[5] in (TASK, SERVERLESS)
        and parts[6]
    ):
        return parts[5]
    raise ReplicaError(
        f"{arn!r} is neither a DMS replication task ARN (arn:aws:dms:<region>:<account>:task:<id>) "
        "nor a DMS Serverless replication config ARN "
        "(arn:aws:dms:<region>:<account>:replication-config:<id>); "
        "pass --task-arn with OPS_DMS_TASK_ARN from `terraform output -json ops_environment`"
    )


@dataclass(frozen=True)
class Replication:
    """The replication as DescribeReplicationTasks or DescribeReplications reports it now; the
    status lowercased, as both APIs document it, so a change of case cannot stall the gate."""

    status: str
    has_run: bool
    stats: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DmsConfiguration:
    """What the replication was told to do: its settings JSON and table mappings, parsed."""

    settings: dict[str, Any]
    table_mappings: dict[str, Any]
    source_endpoint_arn: str | None
    settings_name: str


class _Api(ABC):
    """One kind's calls; `DmsReplicaDriver` holds the behaviour both kinds share."""

    kind: str
    # Statuses in which a start request would be a second start.
    active: frozenset[str]
    # Statuses in which a stop request has nothing to stop.
    idle: frozenset[str]
    settings_name: str

    def __init__(self, arn: str, dms: Any, cloudwatch: Any) -> None:
        self.arn = arn
        self.resource_id = arn.rsplit(":", 1)[-1]
        self.dms = dms
        self.cloudwatch = cloudwatch

    @abstractmethod
    def replication(self) -> Replication: ...

    @abstractmethod
    def start(self, kind: str) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def table_statistics(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def configuration(self) -> DmsConfiguration: ...

    @abstractmethod
    def latency_dimensions(self, replication: Replication) -> list[list[dict[str, str]]]: ...

    def call(self, action: str, what: str, hint: str = "", **kwargs: Any) -> Any:
        try:
            return getattr(self.dms, action)(**kwargs)
        except ClientError as exc:
            raise ReplicaError(f"DMS refused to {what}: {_message(exc)}{hint}") from exc

    def _pages(self, action: str, key: str, what: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.call(action, what, MaxRecords=500, **kwargs)
            items.extend(page.get(key) or [])
            marker = page.get("Marker")
            if not marker:
                return items
            kwargs["Marker"] = marker


class _TaskApi(_Api):
    kind = TASK
    active = frozenset({"running", "starting"})
    idle = frozenset({"stopped", "stopping"})
    settings_name = "task settings"

    def _task(self, *, with_settings: bool) -> dict[str, Any]:
        page = self.call(
            "describe_replication_tasks",
            f"describe task {self.arn}",
            Filters=[{"Name": "replication-task-arn", "Values": [self.arn]}],
            WithoutSettings=not with_settings,
        )
        tasks = page.get("ReplicationTasks") or []
        if not tasks:
            raise ReplicaError(f"DMS task {self.arn} does not exist; check --task-arn (OPS_DMS_TASK_ARN)")
        task: dict[str, Any] = tasks[0]
        return task

    def replication(self) -> Replication:
        task = self._task(with_settings=False)
        return Replication(
            status=str(task.get("Status", "unknown")).lower(),
            has_run=bool(task.get("ReplicationTaskStartDate")),
            stats=task.get("ReplicationTaskStats") or {},
            detail={
                "kind": self.kind,
                "arn": task.get("ReplicationTaskArn", self.arn),
                "migration_type": task.get("MigrationType"),
                "replication_instance_arn": task.get("ReplicationInstanceArn"),
                "last_failure_message": task.get("LastFailureMessage"),
                "stop_reason": task.get("StopReason"),
            },
        )

    def start(self, kind: str) -> None:
        self.call(
            "start_replication_task",
            f"{kind} the task",
            _CHECK_STATE,
            ReplicationTaskArn=self.arn,
            StartReplicationTaskType=kind,
        )

    def stop(self) -> None:
        self.call("stop_replication_task", "stop the task", _CHECK_STATE, ReplicationTaskArn=self.arn)

    def table_statistics(self) -> list[dict[str, Any]]:
        return self._pages(
            "describe_table_statistics",
            "TableStatistics",
            "read the task's table statistics",
            ReplicationTaskArn=self.arn,
        )

    def configuration(self) -> DmsConfiguration:
        task = self._task(with_settings=True)
        return DmsConfiguration(
            _json(task.get("ReplicationTaskSettings"), "ReplicationTaskSettings"),
            _json(task.get("TableMappings"), "TableMappings"),
            task.get("SourceEndpointArn"),
            self.settings_name,
        )

    def latency_dimensions(self, replication: Replication) -> list[list[dict[str, str]]]:
        arn = replication.detail.get("replication_instance_arn") or ""
        page = self.call(
            "describe_replication_instances",
            "describe the task's replication instance",
            Filters=[{"Name": "replication-instance-arn", "Values": [arn]}],
        )
        instances = page.get("ReplicationInstances") or []
        if not instances:
            raise ReplicaError(f"the task's replication instance {arn} does not exist")
        return [
            [
                {
                    "Name": "ReplicationInstanceIdentifier",
                    "Value": str(instances[0]["ReplicationInstanceIdentifier"]),
                },
                {"Name": "ReplicationTaskIdentifier", "Value": self.resource_id},
            ]
        ]


class _ServerlessApi(_Api):
    kind = SERVERLESS
    active = frozenset(
        {
            "running",
            "initializing",
            "preparing_metadata_resources",
            "testing_connection",
            "fetching_metadata",
            "calculating_capacity",
            "provisioning_capacity",
            "replication_starting",
        }
    )
    idle = frozenset({"created", "stopped", "stopping", "failed"})
    settings_name = "replication settings"
    # Statuses of a replication that never ran: the first start is a fresh one.
    fresh = frozenset({"created", "ready"})

    def _config(self) -> dict[str, Any]:
        page = self.call(
            "describe_replication_configs",
            f"describe replication config {self.arn}",
            Filters=[{"Name": "replication-config-arn", "Values": [self.arn]}],
        )
        configs = page.get("ReplicationConfigs") or []
        if not configs:
            raise ReplicaError(
                f"DMS Serverless replication config {self.arn} does not exist; "
                "check --task-arn (OPS_DMS_TASK_ARN)"
            )
        config: dict[str, Any] = configs[0]
        return config

    def replication(self) -> Replication:
        page = self.call(
            "describe_replications",
            f"describe the replication of {self.arn}",
            Filters=[{"Name": "replication-config-arn", "Values": [self.arn]}],
        )
        found = page.get("Replications") or []
        if not found:
            # No replication record yet: the config exists (or this raises) and was never started.
            config = self._config()
            return Replication(
                "created",
                False,
                {},
                {"kind": self.kind, "arn": self.arn, "migration_type": config.get("ReplicationType")},
            )
        rep = found[0]
        status = str(rep.get("Status", "unknown")).lower()
        provision = rep.get("ProvisionData") or {}
        failures = [str(m) for m in rep.get("FailureMessages") or []]
        return Replication(
            status=status,
            has_run=status not in self.fresh,
            stats=rep.get("ReplicationStats") or {},
            detail={
                "kind": self.kind,
                "arn": rep.get("ReplicationConfigArn", self.arn),
                "config_identifier": rep.get("ReplicationConfigIdentifier"),
                "migration_type": rep.get("ReplicationType"),
                "provision_state": provision.get("ProvisionState"),
                "provisioned_capacity_units": provision.get("ProvisionedCapacityUnits"),
                "last_failure_message": "; ".join(failures) or None,
                "stop_reason": rep.get("StopReason"),
            },
        )

    def start(self, kind: str) -> None:
        self.call(
            "start_replication",
            f"{kind} the serverless replication",
            _CHECK_STATE,
            ReplicationConfigArn=self.arn,
            StartReplicationType=kind,
        )

    def stop(self) -> None:
        self.call(
            "stop_replication", "stop the serverless replication", _CHECK_STATE, ReplicationConfigArn=self.arn
        )

    def table_statistics(self) -> list[dict[str, Any]]:
        try:
            return self._pages(
                "describe_replication_table_statistics",
                "ReplicationTableStatistics",
                "read the replication's table statistics",
                ReplicationConfigArn=self.arn,
            )
        except ReplicaError as exc:
            # Before capacity is provisioned there are no statistics to read: every table is then
            # reported as not loaded, which the gate refuses anyway.
            if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) == "InvalidResourceStateFault":
                return []
            raise

    def configuration(self) -> DmsConfiguration:
        config = self._config()
        return DmsConfiguration(
            _json(config.get("ReplicationSettings"), "ReplicationSettings"),
            _json(config.get("TableMappings"), "TableMappings"),
            config.get("SourceEndpointArn"),
            self.settings_name,
        )

    def latency_dimensions(self, replication: Replication) -> list[list[dict[str, str]]]:
        names = {self.resource_id, replication.detail.get("config_identifier")} - {None, ""}
        found: list[list[dict[str, str]]] = []
        for metric in LATENCY_METRICS:
            for page in self.cloudwatch.get_paginator("list_metrics").paginate(
                Namespace="AWS/DMS", MetricName=metric
            ):
                for m in page.get("Metrics") or []:
                    dims = [{"Name": d["Name"], "Value": d["Value"]} for d in m.get("Dimensions") or []]
                    if any(d["Value"] in names for d in dims) and dims not in found:
                        found.append(dims)
        return found


class DmsReplicaDriver:
    name = "dms"

    def __init__(
        self,
        task_arn: str,
        *,
        tables: list[str] | None = None,
        schema: str = "public",
        dms_client: Any = None,
        cloudwatch_client: Any = None,
        latency_window: timedelta = timedelta(minutes=10),
    ) -> None:
        kind = arn_kind(task_arn)
        self.arn = task_arn
        self.tables = tables
        self.schema = schema
        self.latency_window = latency_window
        dms = dms_client or aws.client("dms")
        cloudwatch = cloudwatch_client or aws.client("cloudwatch")
        self.api: _Api = (_TaskApi if kind == TASK else _ServerlessApi)(task_arn, dms, cloudwatch)

    @property
    def kind(self) -> str:
        return self.api.kind

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start a replication that never ran; resume one that stopped; leave a running one alone."""
        current = self.api.replication()
        if current.status in self.api.active:
            return
        self.api.start("resume-processing" if current.has_run else "start-replication")

    def resume(self) -> None:
        self.api.start("resume-processing")

    def reload(self) -> None:
        """Reload every table from the source (full load again, then CDC)."""
        self.api.start("reload-target")

    def stop(self) -> None:
        if self.api.replication().status in self.api.idle:
            return
        self.api.stop()

    # ------------------------------------------------------------ status

    def replication(self) -> Replication:
        return self.api.replication()

    def configuration(self) -> DmsConfiguration:
        return self.api.configuration()

    def source_username(self) -> str | None:
        """The user name the source endpoint connects as (None when it comes from a secret)."""
        arn = self.configuration().source_endpoint_arn
        if not arn:
            return None
        page = self.api.call(
            "describe_endpoints",
            "describe the source endpoint",
            Filters=[{"Name": "endpoint-arn", "Values": [arn]}],
        )
        endpoints = page.get("Endpoints") or []
        username = endpoints[0].get("Username") if endpoints else None
        return str(username) if username else None

    def latency_seconds(self, replication: Replication | None = None) -> dict[str, float | None]:
        """Newest one-minute maximum of each CDC latency metric (None: no datapoint in the window)."""
        current = replication or self.api.replication()
        dimension_sets = self.api.latency_dimensions(current)
        now = datetime.now(UTC)
        out: dict[str, float | None] = {}
        for metric in LATENCY_METRICS:
            newest: list[float] = []
            for dimensions in dimension_sets:
                page = self.api.cloudwatch.get_metric_statistics(
                    Namespace="AWS/DMS",
                    MetricName=metric,
                    Dimensions=dimensions,
                    StartTime=now - self.latency_window,
                    EndTime=now,
                    Period=60,
                    Statistics=["Maximum"],
                )
                points = sorted(page.get("Datapoints") or [], key=lambda p: p["Timestamp"])
                if points:
                    newest.append(float(points[-1]["Maximum"]))
            out[metric] = max(newest) if newest else None
        return out

    def status(self) -> ReplicaStatus:
        current = self.api.replication()
        stats = self.api.table_statistics() if current.has_run else []
        latency = self.latency_seconds(current)
        return status_from(current, stats, latency, tables=self.tables, schema=self.schema)


def status_from(
    replication: Replication,
    stats: list[dict[str, Any]],
    latency: dict[str, float | None],
    *,
    tables: list[str] | None,
    schema: str,
) -> ReplicaStatus:
    """Translate DMS's answers (either kind) into the common status."""
    by_name = {s.get("TableName"): s for s in stats if s.get("SchemaName", schema) == schema}
    names = tables if tables is not None else sorted(str(n) for n in by_name)
    syncs = [_table_sync(name, by_name.get(name)) for name in names]
    known = [v for v in latency.values() if v is not None]
    progress = replication.stats
    return ReplicaStatus(
        "dms",
        replication.status,
        syncs,
        max(known) if known else None,
        {
            **replication.detail,
            "full_load_progress_percent": progress.get("FullLoadProgressPercent"),
            "tables_loaded": progress.get("TablesLoaded"),
            "tables_loading": progress.get("TablesLoading"),
            "tables_queued": progress.get("TablesQueued"),
            "tables_errored": progress.get("TablesErrored"),
            **{f"{k}_seconds": v for k, v in latency.items()},
        },
    )


def _table_sync(name: str, s: dict[str, Any] | None) -> TableSync:
    if s is None:
        return TableSync(name, False, None, None, "pending", "not in the replication's table statistics")
    state = str(s.get("TableState", ""))
    raw = str(s.get("ValidationState", "Not enabled"))
    validation = _VALIDATION.get(raw, "pending")
    failed = int(s.get("ValidationFailedRecords") or 0)
    suspended = int(s.get("ValidationSuspendedRecords") or 0)
    if failed or suspended:
        validation = "mismatched"
    # DMS does not count the target table; rows loaded plus CDC inserts minus deletes is what it
    # has applied there, reported as target_rows (source_rows stays unknown).
    applied = int(s.get("FullLoadRows") or 0) + int(s.get("Inserts") or 0) - int(s.get("Deletes") or 0)
    detail = f"{state}; validation: {raw}"
    if failed or suspended:
        detail += f" ({failed} failed, {suspended} suspended records)"
    if s.get("ValidationStateDetails"):
        detail += f"; {s['ValidationStateDetails']}"
    return TableSync(name, state == FULL_LOAD_DONE, None, applied, validation, detail)


def _json(text: str | None, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ReplicaError(f"DMS returned {what} that is not JSON: {exc}") from exc
    return value if isinstance(value, dict) else {}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', str(exc))}"
