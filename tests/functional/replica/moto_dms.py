"""A DMS replication task in moto's server (over HTTP): instance, endpoints and task, with the task
settings a test needs. moto keeps the settings and returns them from DescribeReplicationTasks; it
does not implement ModifyReplicationTask, so `replace_task` re-creates the task under the same
identifier, which in moto keeps the same ARN (on AWS the ARN would change; there the operator
modifies the task instead)."""

from __future__ import annotations

import json
from typing import Any

from ops import aws


def lob_settings(**target_metadata: Any) -> dict[str, Any]:
    return {
        "TargetMetadata": {"SupportLobs": True, **target_metadata},
        "ValidationSettings": {"EnableValidation": True, "ValidationMode": "ROW_LEVEL"},
    }


def create_task(identifier: str, settings: dict[str, Any], *, source_user: str = "postgres") -> str:
    """A full-load-and-cdc task named `identifier`; returns its ARN."""
    dms = aws.client("dms")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=identifier, ReplicationInstanceClass="dms.t3.medium"
    )["ReplicationInstance"]
    endpoints = [
        dms.create_endpoint(
            EndpointIdentifier=f"{identifier}-{role}",
            EndpointType=role,
            EngineName="postgres",
            ServerName="127.0.0.1",
            Port=5432,
            DatabaseName="diary",
            Username=source_user if role == "source" else "writer",
            Password="unused",
        )["Endpoint"]["EndpointArn"]
        for role in ("source", "target")
    ]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=identifier,
        SourceEndpointArn=endpoints[0],
        TargetEndpointArn=endpoints[1],
        ReplicationInstanceArn=instance["ReplicationInstanceArn"],
        MigrationType="full-load-and-cdc",
        TableMappings=json.dumps({"rules": []}),
        ReplicationTaskSettings=json.dumps(settings),
    )["ReplicationTask"]
    return str(task["ReplicationTaskArn"])


def replace_task(arn: str, settings: dict[str, Any]) -> str:
    """The same task (identifier, instance, endpoints, mappings) with new settings."""
    dms = aws.client("dms")
    task = dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [arn]}])[
        "ReplicationTasks"
    ][0]
    dms.delete_replication_task(ReplicationTaskArn=arn)
    created = dms.create_replication_task(
        ReplicationTaskIdentifier=task["ReplicationTaskIdentifier"],
        SourceEndpointArn=task["SourceEndpointArn"],
        TargetEndpointArn=task["TargetEndpointArn"],
        ReplicationInstanceArn=task["ReplicationInstanceArn"],
        MigrationType=task["MigrationType"],
        TableMappings=task["TableMappings"],
        ReplicationTaskSettings=json.dumps(settings),
    )["ReplicationTask"]
    return str(created["ReplicationTaskArn"])
