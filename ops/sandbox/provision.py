"""`ops sandbox provision`: create, on the local stack, what `terraform apply` creates on AWS.

The names come from `ops.settings` (the same names the Terraform envs output): the DynamoDB target
and control tables (with point-in-time recovery where the emulator supports it), the migration
flag parameter (at `postgres` when it does not exist yet), the notification FIFO queue and its
FIFO DLQ, and the CloudWatch alarms the cutover gates look for. Idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ops import aws
from ops.control import ControlTable
from ops.settings import Settings
from ops.tables import ensure_target_table

# Terraform names the alarms "<name>-<what>" with name = "platform-ops-<env>"; the local env is "local".
LOCAL_NAME = "platform-ops-local"
ALARMS: tuple[tuple[str, str, str], ...] = (
    # (suffix, namespace, metric)
    ("backfill-rows-failed", "", "RowsFailed"),
    ("backfill-write-throttled", "", "ThrottleEvents"),
    ("dual-write-shadow-mismatches", "", "ShadowMismatches"),
    ("CDCLatencySource", "AWS/DMS", "CDCLatencySource"),
    ("CDCLatencyTarget", "AWS/DMS", "CDCLatencyTarget"),
    ("dlq-not-empty", "AWS/SQS", "ApproximateNumberOfMessagesVisible"),
)


@dataclass
class Provisioned:
    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def provision_local(settings: Settings) -> Provisioned:
    done = Provisioned()
    ddb = aws.client("dynamodb")
    existing = set(ddb.list_tables()["TableNames"])

    ControlTable(settings.control_table, client=ddb).ensure()
    ensure_target_table(settings.target_table, client=ddb)
    for table in (settings.control_table, settings.target_table):
        (done.present if table in existing else done.created).append(f"dynamodb table {table}")
    try:
        ddb.update_continuous_backups(
            TableName=settings.target_table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    except ClientError as exc:
        done.notes.append(f"point-in-time recovery not available on this emulator: {exc}")

    ssm = aws.client("ssm")
    parameter = settings.flag_parameter()
    try:
        ssm.put_parameter(Name=parameter, Value="postgres", Type="String", Overwrite=False)
        done.created.append(f"ssm parameter {parameter} = postgres")
    except ssm.exceptions.ParameterAlreadyExists:
        done.present.append(f"ssm parameter {parameter}")

    from ops.notifications.pipeline import ensure_queues

    queues = ensure_queues(settings.notifications_queue, settings.notifications_dlq)
    done.present.append(f"sqs {settings.notifications_queue} -> {settings.notifications_dlq}")

    cloudwatch = aws.client("cloudwatch")
    for suffix, namespace, metric in ALARMS:
        name = f"{LOCAL_NAME}-{suffix}"
        cloudwatch.put_metric_alarm(**_alarm(name, namespace or settings.metrics_namespace, metric, queues))
        # moto does not evaluate alarms; on AWS these alarms treat missing data as not breaching,
        # so with no data they are OK. Say so explicitly rather than leave INSUFFICIENT_DATA.
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="local stack: no data")
        done.present.append(f"alarm {name}")
    return done


def _alarm(name: str, namespace: str, metric: str, queues: Any) -> dict[str, Any]:
    dimensions = (
        [{"Name": "QueueName", "Value": queues.dlq_url.rsplit("/", 1)[-1]}] if namespace == "AWS/SQS" else []
    )
    return {
        "AlarmName": name,
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": dimensions,
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
