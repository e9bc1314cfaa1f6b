"""AWS DMS driver: the replication task that copies `prod` into `v2` on AWS.

Sources of each field:
- state, full-load progress: DescribeReplicationTasks (`Status`, `ReplicationTaskStats`);
- per-table full load and validation: DescribeTableStatistics (`TableState`, `ValidationState`,
  `FullLoadRows`, `Inserts`, `Deletes`, `ValidationFailedRecords`);
- lag: CloudWatch `AWS/DMS` `CDCLatencySource` and `CDCLatencyTarget` (seconds), dimensions
  `ReplicationInstanceIdentifier` and `ReplicationTaskIdentifier` (the task's resource id, the
  last part of its ARN). The lag is the larger of the two newest one-minute maxima: the target
  latency already includes the source's, so this is how far `v2` trails `prod`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ops import aws
from ops.replica.base import ReplicaError, ReplicaStatus, TableSync

# DescribeTableStatistics ValidationState -> TableSync.validation
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
        if not task_arn.startswith("arn:") or ":task:" not in task_arn:
            raise ReplicaError(
                f"{task_arn!r} is not a DMS replication task ARN (arn:aws:dms:<region>:<account>:task:<id>); "
                "pass --task-arn from `terraform output`"
            )
        self.task_arn = task_arn
        self.tables = tables
        self.schema = schema
        self.dms = dms_client or aws.client("dms")
        self.cloudwatch = cloudwatch_client or aws.client("cloudwatch")
        self.latency_window = latency_window

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start a task that never ran; resume one that stopped (DMS itself checks the state)."""
        task = self.task()
        kind = "resume-processing" if task.get("ReplicationTaskStartDate") else "start-replication"
        if task.get("Status") in ("running", "starting"):
            return
        self._start(kind)

    def resume(self) -> None:
        self._start("resume-processing")

    def reload(self) -> None:
        """Reload every table from the source (full load again, then CDC)."""
        self._start("reload-target")

    def stop(self) -> None:
        if self.task().get("Status") in ("stopped", "stopping"):
            return
        try:
            self.dms.stop_replication_task(ReplicationTaskArn=self.task_arn)
        except ClientError as exc:
            raise ReplicaError(f"DMS refused to stop the task: {_message(exc)}") from exc

    def _start(self, kind: str) -> None:
        try:
            self.dms.start_replication_task(ReplicationTaskArn=self.task_arn, StartReplicationTaskType=kind)
        except ClientError as exc:
            raise ReplicaError(
                f"DMS refused to {kind} the task: {_message(exc)}; check its state with `ops replica status`"
            ) from exc

    # ------------------------------------------------------------ status

    def task(self) -> dict[str, Any]:
        try:
            page = self.dms.describe_replication_tasks(
                Filters=[{"Name": "replication-task-arn", "Values": [self.task_arn]}], WithoutSettings=True
            )
        except ClientError as exc:
            raise ReplicaError(f"cannot describe DMS task {self.task_arn}: {_message(exc)}") from exc
        tasks = page.get("ReplicationTasks") or []
        if not tasks:
            raise ReplicaError(f"DMS task {self.task_arn} does not exist; check --task-arn")
        task: dict[str, Any] = tasks[0]
        return task

    def table_statistics(self) -> list[dict[str, Any]]:
        stats: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ReplicationTaskArn": self.task_arn, "MaxRecords": 500}
        while True:
            try:
                page = self.dms.describe_table_statistics(**kwargs)
            except ClientError as exc:
                raise ReplicaError(f"cannot read DMS table statistics: {_message(exc)}") from exc
            stats.extend(page.get("TableStatistics") or [])
            marker = page.get("Marker")
            if not marker:
                return stats
            kwargs["Marker"] = marker

    def latency_seconds(self, instance_identifier: str) -> dict[str, float | None]:
        """Newest one-minute maximum of each CDC latency metric (None: no datapoint in the window)."""
        now = datetime.now(UTC)
        dimensions = [
            {"Name": "ReplicationInstanceIdentifier", "Value": instance_identifier},
            {"Name": "ReplicationTaskIdentifier", "Value": self.task_arn.rsplit(":", 1)[-1]},
        ]
        out: dict[str, float | None] = {}
        for metric in LATENCY_METRICS:
            page = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/DMS",
                MetricName=metric,
                Dimensions=dimensions,
                StartTime=now - self.latency_window,
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )
            points = sorted(page.get("Datapoints") or [], key=lambda p: p["Timestamp"])
            out[metric] = float(points[-1]["Maximum"]) if points else None
        return out

    def instance_identifier(self, task: dict[str, Any]) -> str:
        arn = task.get("ReplicationInstanceArn", "")
        page = self.dms.describe_replication_instances(
            Filters=[{"Name": "replication-instance-arn", "Values": [arn]}]
        )
        instances = page.get("ReplicationInstances") or []
        if not instances:
            raise ReplicaError(f"the task's replication instance {arn} does not exist")
        return str(instances[0]["ReplicationInstanceIdentifier"])

    def status(self) -> ReplicaStatus:
        task = self.task()
        stats = self.table_statistics()
        latency = self.latency_seconds(self.instance_identifier(task))
        known = [v for v in latency.values() if v is not None]
        return status_from(
            task,
            stats,
            latency,
            lag=max(known) if known else None,
            tables=self.tables,
            schema=self.schema,
        )


def status_from(
    task: dict[str, Any],
    stats: list[dict[str, Any]],
    latency: dict[str, float | None],
    *,
    lag: float | None,
    tables: list[str] | None,
    schema: str,
) -> ReplicaStatus:
    """Translate DMS's answers into the common status (pure: tested with documented shapes)."""
    by_name = {s.get("TableName"): s for s in stats if s.get("SchemaName", schema) == schema}
    names = tables if tables is not None else sorted(str(n) for n in by_name)
    syncs: list[TableSync] = []
    for name in names:
        s = by_name.get(name)
        if s is None:
            syncs.append(TableSync(name, False, None, None, "pending", "not in the task's table statistics"))
            continue
        state = str(s.get("TableState", ""))
        raw = str(s.get("ValidationState", "Not enabled"))
        validation = _VALIDATION.get(raw, "pending")
        if int(s.get("ValidationFailedRecords") or 0) > 0:
            validation = "mismatched"
        # DMS does not count the target table; rows loaded plus CDC inserts minus deletes is
        # what it has applied there, reported as target_rows (source_rows stays unknown).
        applied = int(s.get("FullLoadRows") or 0) + int(s.get("Inserts") or 0) - int(s.get("Deletes") or 0)
        detail = f"{state}; validation: {raw}"
        if s.get("ValidationFailedRecords"):
            detail += f" ({s['ValidationFailedRecords']} failed records)"
        syncs.append(TableSync(name, state == FULL_LOAD_DONE, None, applied, validation, detail))
    task_stats = task.get("ReplicationTaskStats") or {}
    return ReplicaStatus(
        "dms",
        str(task.get("Status", "unknown")),
        syncs,
        lag,
        {
            "task_arn": task.get("ReplicationTaskArn"),
            "migration_type": task.get("MigrationType"),
            "full_load_progress_percent": task_stats.get("FullLoadProgressPercent"),
            "tables_loaded": task_stats.get("TablesLoaded"),
            "tables_loading": task_stats.get("TablesLoading"),
            "tables_queued": task_stats.get("TablesQueued"),
            "tables_errored": task_stats.get("TablesErrored"),
            "last_failure_message": task.get("LastFailureMessage"),
            "stop_reason": task.get("StopReason"),
            **{f"{k}_seconds": v for k, v in latency.items()},
        },
    )


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', str(exc))}"
