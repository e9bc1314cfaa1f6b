"""Which reverse-replication driver `start`/`stop` use comes from the Settings they are given, not
from this process's environment: a caller (the CLI, the demo, a test, a second environment in one
process) injects it. The Lambda driver switches the event source mapping those settings name."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import boto3
import pytest

from ops import aws
from ops.control import ControlTable
from ops.exceptions import ConfigError
from ops.reverse import control as reverse
from ops.settings import Settings

REGION = "us-east-1"


@pytest.fixture
def mapping(in_process_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A reverse Lambda's disabled event source mapping on a table's stream (moto), as Terraform
    leaves it; its UUID. The process environment names no driver at all."""
    for name in ("OPS_REVERSE_DRIVER", "OPS_REVERSE_MAPPING_UUID", "OPS_REVERSE_FUNCTION"):
        monkeypatch.delenv(name, raising=False)
    aws.reset()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="reverse", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(
        FunctionName="reverse",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    ddb = boto3.client("dynamodb", region_name=REGION)
    stream = ddb.create_table(
        TableName="target",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    uuid = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="reverse", StartingPosition="LATEST", Enabled=False
    )["UUID"]
    yield uuid
    aws.reset()


def _settings(**variables: str) -> Settings:
    return Settings.from_mapping({"OPS_TARGET_TABLE": "target", **variables})


def _state(uuid: str) -> str:
    found: str = boto3.client("lambda", region_name=REGION).get_event_source_mapping(UUID=uuid)["State"]
    return found


def test_the_lambda_driver_named_by_the_settings_enables_and_disables_their_mapping(
    mapping: str, control: ControlTable
) -> None:
    settings = _settings(OPS_REVERSE_DRIVER="lambda", OPS_REVERSE_MAPPING_UUID=mapping)
    status = reverse.start(settings, "operator", control=control)
    assert _state(mapping) == "Enabled"
    assert status.driver == "lambda" and status.running
    reverse.stop(settings, control=control)
    assert _state(mapping) == "Disabled"


def test_the_lambda_driver_without_a_mapping_says_which_output_to_set(
    mapping: str, control: ControlTable
) -> None:
    with pytest.raises(ConfigError, match="OPS_REVERSE_MAPPING_UUID"):
        reverse.start(_settings(OPS_REVERSE_DRIVER="lambda"), "operator", control=control)
    assert _state(mapping) == "Disabled"


def test_an_unknown_driver_is_refused_with_the_choices(control: ControlTable) -> None:
    with pytest.raises(ConfigError, match="choose one of: local, lambda"):
        reverse.start(_settings(OPS_REVERSE_DRIVER="kinesis"), "operator", control=control)


def test_the_settings_read_the_reverse_variables_with_local_defaults() -> None:
    local = _settings()
    assert (local.reverse_driver, local.reverse_mapping_uuid, local.reverse_function) == ("local", None, None)
    assert str(local.reverse_log_dir) == ".sandbox/logs"
    on_aws = _settings(
        OPS_REVERSE_DRIVER="lambda",
        OPS_REVERSE_MAPPING_UUID="uuid-1",
        OPS_REVERSE_FUNCTION="platform-ops-prod-reverse",
        OPS_REVERSE_LOG_DIR="/var/log/ops",
    )
    assert (on_aws.reverse_driver, on_aws.reverse_mapping_uuid, on_aws.reverse_function) == (
        "lambda",
        "uuid-1",
        "platform-ops-prod-reverse",
    )
    assert str(on_aws.reverse_log_dir) == "/var/log/ops"
