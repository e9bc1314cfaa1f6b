"""`ops sandbox provision` creates locally what Terraform creates on AWS, idempotently."""

from __future__ import annotations

import json

from ops import aws
from ops.sandbox.provision import ALARMS, LOCAL_NAME, provision_local
from ops.settings import Settings


def test_provision_creates_every_resource_once(stack: object) -> None:
    settings = Settings.from_env()
    first = provision_local(settings)
    second = provision_local(settings)
    assert f"ssm parameter {settings.flag_parameter()} = postgres" in first.created
    assert not second.created

    ddb = aws.client("dynamodb")
    tables = ddb.list_tables()["TableNames"]
    assert {settings.control_table, settings.target_table} <= set(tables)
    ttl = ddb.describe_time_to_live(TableName=settings.target_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "_ttl"

    ssm = aws.client("ssm")
    assert ssm.get_parameter(Name=settings.flag_parameter())["Parameter"]["Value"] == "postgres"

    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.notifications_queue)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(settings.notifications_dlq)

    alarms = aws.client("cloudwatch").describe_alarms(AlarmNamePrefix=LOCAL_NAME)["MetricAlarms"]
    assert {a["AlarmName"] for a in alarms} == {f"{LOCAL_NAME}-{suffix}" for suffix, _, _ in ALARMS}
    assert {a["StateValue"] for a in alarms} == {"OK"}
