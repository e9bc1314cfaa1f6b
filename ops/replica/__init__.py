"""Procedure step 2: the V2 replica. One interface (`ReplicaDriver`), two drivers.

`make_driver("logical")` replicates the local stack's `prod` into `v2` with a publication and a
subscription; `make_driver("dms", task_arn=...)` drives AWS DMS, a replication task or a DMS
Serverless replication config, whichever the ARN names. `replica_gate` judges any driver's
`ReplicaStatus` the same way.
"""

from __future__ import annotations

from typing import Any

from ops.exceptions import ConfigError
from ops.replica.base import ReplicaDriver, ReplicaError, ReplicaStatus, TableSync, start_replica
from ops.replica.dms import DmsReplicaDriver
from ops.replica.gate import DEFAULT_MAX_LAG_SECONDS, GATE_NAME, replica_gate
from ops.replica.logical import LogicalReplicaDriver
from ops.replica.wait import wait_for_replica

DRIVERS = ("logical", "dms")


def make_driver(kind: str, *, tables: list[str], **kwargs: Any) -> ReplicaDriver:
    """A driver by name, for the tables the caller's mapping names (`load_mapping(settings.mapping_file)`).
    logical: source_url and target_url are required (the settings' prod_database_url and
    v2_database_url). dms: task_arn is required (the caller reads it: `--task-arn`, or
    MigrateConfig's replica_task_arn)."""
    if kind == "logical":
        source = kwargs.pop("source_url", None)
        target = kwargs.pop("target_url", None)
        if not source or not target:
            raise ConfigError(
                "logical replication needs PROD_DATABASE_URL and V2_DATABASE_URL "
                '(eval "$(ops sandbox env)" on the local stack)'
            )
        return LogicalReplicaDriver(source, target, tables, **kwargs)
    if kind == "dms":
        arn = kwargs.pop("task_arn", None)
        if not arn:
            raise ConfigError(
                "the dms driver needs --task-arn (or OPS_DMS_TASK_ARN) from "
                "`terraform output -json ops_environment`"
            )
        return DmsReplicaDriver(arn, tables=tables, **kwargs)
    raise ConfigError(f"unknown replica driver {kind!r}; choose one of: {', '.join(DRIVERS)}")


__all__ = [
    "DEFAULT_MAX_LAG_SECONDS",
    "DRIVERS",
    "GATE_NAME",
    "DmsReplicaDriver",
    "LogicalReplicaDriver",
    "ReplicaDriver",
    "ReplicaError",
    "ReplicaStatus",
    "TableSync",
    "make_driver",
    "replica_gate",
    "start_replica",
    "wait_for_replica",
]
