"""Reverse replication on AWS: the target table's DynamoDB stream -> production PostgreSQL.

The event source mapping on the stream (Terraform module `reverse_replication`) delivers each
shard's records in order. Every record goes through the same writer as the local poller
(`ops.reverse.apply`): decoded through the mapping, version-guarded, idempotent, so a batch
retried from the middle changes nothing twice. A record PostgreSQL refuses is reported as the
batch's first failure (ReportBatchItemFailures: the mapping retries from it, bisecting on error,
and after its retries sends it to the on-failure queue) and logged in the control table's
failure log for `ops replica reverse retry-failed`. Each batch adds its counts and lag to the
status `ops replica reverse status` shows.

Each batch also emits, as CloudWatch embedded metrics in its log (no API call, no permission),
the names the local poller publishes: ReverseReplicationLagSeconds (the age of the batch's newest
change when the batch is done, what the `lag` alarm watches), ReverseReplicationApplied and
ReverseReplicationFailures, in OPS_METRICS_NAMESPACE with the dimension Table=<dataset>.

Environment: DATABASE_URL or DATABASE_SECRET_ARN (production PostgreSQL, the reverse writer's
role), OPS_CONTROL_TABLE, OPS_DATASET, OPS_METRICS_NAMESPACE.
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Any

from lambdas.shared.metrics import Metrics
from ops.reverse.apply import ApplyResult, Change, ReverseApplier
from ops.settings import ENV_DEFAULTS

ENV_VARS: tuple[str, ...] = (
    "DATABASE_URL",
    "DATABASE_SECRET_ARN",
    "OPS_CONTROL_TABLE",
    "OPS_DATASET",
    "OPS_METRICS_NAMESPACE",
)


def _database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    arn = os.environ.get("DATABASE_SECRET_ARN")
    if not arn:
        raise RuntimeError("set DATABASE_URL or DATABASE_SECRET_ARN (the reverse writer's database secret)")
    import boto3

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    try:
        return str(json.loads(secret)["url"])
    except (ValueError, KeyError):
        return str(secret)


@functools.cache
def applier() -> ReverseApplier:
    """Built once per container: the mapping and a small connection pool."""
    from psycopg_pool import ConnectionPool

    from ops.mapping import configure_connection, load_mapping

    pool = ConnectionPool(_database_url(), min_size=1, max_size=2, configure=configure_connection, open=False)
    pool.open(wait=True, timeout=30)
    return ReverseApplier(load_mapping(), pool)


def _report(changes: list[Change], result: ApplyResult) -> None:
    from ops.control import ControlTable
    from ops.reverse.state import STATUS_SK, ReverseState

    dataset = os.environ.get("OPS_DATASET", "answers")
    state = ReverseState(ControlTable(os.environ["OPS_CONTROL_TABLE"]), dataset)
    now = time.time()
    created = [c.created_at for c in changes if c.created_at is not None]
    lag = max(0.0, now - max(created)) if created else 0.0
    state.control.update(
        state.pk,
        STATUS_SK,
        set_={"measured_at": now, "lag_seconds": lag},
        add={"applied": result.applied, "deleted": result.deleted, "stale": result.stale},
    )
    namespace = os.environ.get("OPS_METRICS_NAMESPACE") or ENV_DEFAULTS["OPS_METRICS_NAMESPACE"]
    metrics = Metrics(namespace)
    dimensions = {"Table": dataset}
    metrics.emit("ReverseReplicationLagSeconds", dimensions, lag, "Seconds")
    metrics.count("ReverseReplicationApplied", dimensions, result.applied + result.deleted)
    if result.failed:
        metrics.count("ReverseReplicationFailures", dimensions, len(result.failed))
    for change, reason in result.failed:
        item = change.item or {}
        state.record_failure(
            item.get("pk", {}).get("S", "?"),
            item.get("sk", {}).get("S", "?"),
            "?",
            int(item.get("_ver", {}).get("N", 0)),
            reason,
        )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    changes = [Change.from_record(record) for record in event.get("Records", [])]
    result = applier().apply(changes)
    _report(changes, result)
    if not result.failed:
        return {"batchItemFailures": []}
    order = {c.sequence: i for i, c in enumerate(changes)}
    first = min(result.failed, key=lambda failed: order[failed[0].sequence])[0]
    return {"batchItemFailures": [{"itemIdentifier": first.sequence}]}
