"""The names the ops CLI and the Lambdas read are the ones Terraform creates, sets and outputs.

Three layers: the Terraform source (which environment variables the notifications module can set)
against `lambdas/<fn>/config.py` `ENV_VARS`; the environment variables the ops package reads
(found in its source, `env_reads`) against what `ops_environment` carries, both ways; and a
`terraform test` generated from the Python side that plans each environment with a mocked
provider and checks the planned names, outputs and function environments.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import hcl2
import pytest

from ops.replica import DRIVERS
from ops.settings import ENV_DEFAULTS, Settings
from tests.terraform import tooling
from tests.terraform.env_reads import env_names, env_reads

pytestmark = pytest.mark.terraform

NOTIFICATIONS_MAIN = tooling.TERRAFORM_DIR / "modules" / "notifications" / "main.tf"

# Names a function reads that Terraform deliberately never sets, with why (contracts.md).
LEFT_UNSET: dict[str, dict[str, str]] = {
    "receiver": {
        "APPLE_ROOT_CA_PATH": "the pinned Apple Root CA G3 ships inside the package",
        "GOOGLE_JWKS_URL": "Google's published JWKS URL is the default",
    },
    "consumer": {
        "DATABASE_URL": "local/tests only; AWS uses DATABASE_SECRET_ARN",
        "GOOGLE_PLAY_CREDENTIALS_FILE": "local only; AWS uses GOOGLE_PLAY_CREDENTIALS_SECRET_ARN",
        "GOOGLE_PLAY_API_ROOT": "only for the local fake Play API",
        "APP_STORE_API_KEY_FILE": "local only; AWS uses APP_STORE_API_KEY_SECRET_ARN",
        "APP_STORE_API_URL": "only for the local fake App Store Server API",
        "APPLE_ROOT_CA_PATH": "the pinned Apple Root CA G3 ships inside the package",
    },
}
# Set only when the environment's variables give a value; otherwise the function's default applies.
SET_WHEN_GIVEN: dict[str, set[str]] = {
    "receiver": {"APPLE_ONLINE_CHECKS", "MAX_BODY_BYTES", "APPLE_APP_APPLE_ID"},
    "consumer": {"APPLE_APP_APPLE_ID", "APPLE_REFUND_PREFERENCE"},
}


def env_vars_of(function: str) -> tuple[str, ...]:
    try:
        config = importlib.import_module(f"lambdas.{function}.config")
    except ModuleNotFoundError as exc:
        pytest.fail(
            f"lambdas/{function}/config.py is missing ({exc}); it must expose ENV_VARS (contracts.md)"
        )
    env_vars: tuple[str, ...] = config.ENV_VARS
    return env_vars


def terraform_environment_names(function: str) -> set[str]:
    """Keys of local.<function>_environment and local.<function>_optional_environment."""
    with NOTIFICATIONS_MAIN.open() as handle:
        parsed: dict[str, Any] = hcl2.load(handle)
    names: set[str] = set()
    found = False
    for block in parsed.get("locals", []):
        for local in (f"{function}_environment", f"{function}_optional_environment"):
            if local in block:
                names |= set(block[local])
                found = found or local == f"{function}_environment"
    assert found, f"local.{function}_environment not found in {NOTIFICATIONS_MAIN}"
    return names


@pytest.mark.parametrize("function", ["receiver", "consumer"])
def test_terraform_sets_only_what_the_function_reads(function: str) -> None:
    unknown = terraform_environment_names(function) - set(env_vars_of(function))
    assert not unknown, (
        f"Terraform sets variables lambdas/{function}/config.py does not read: {sorted(unknown)}"
    )


@pytest.mark.parametrize("function", ["receiver", "consumer"])
def test_terraform_sets_everything_the_function_reads(function: str) -> None:
    unset = set(env_vars_of(function)) - terraform_environment_names(function) - set(LEFT_UNSET[function])
    assert not unset, (
        f"lambdas/{function}/config.py reads {sorted(unset)} but modules/notifications does not set them: "
        f"add them to local.{function}_environment, or to LEFT_UNSET in {Path(__file__).name} with the reason"
    )


def test_left_unset_names_are_still_read() -> None:
    for function, names in LEFT_UNSET.items():
        stale = set(names) - set(env_vars_of(function))
        assert not stale, f"{function} no longer reads {sorted(stale)}: drop them from LEFT_UNSET"


# Names the ops package reads that never come from Terraform, with why. Every other name it reads
# must be in `ops_environment` (and nothing else may be there).
NOT_FROM_INFRASTRUCTURE: dict[str, str] = {
    "PROD_DATABASE_URL": "production's URL carries a password: from the application's own secret",
    "V2_DATABASE_URL": "carries a password: built from v2_reader_secret_arn (the workers do it themselves)",
    "NOTIFICATIONS_DATABASE_URL": "carries a password: it is the value of entitlement_database_secret_arn",
    "APP_STORE_CONNECT_KEY_ID": "an App Store Connect API key of a person or team",
    "APP_STORE_CONNECT_ISSUER_ID": "an App Store Connect API key of a person or team",
    "APP_STORE_CONNECT_PRIVATE_KEY_PATH": "a file on the operator's machine",
    "OPS_SOAK_SECONDS": "a gate threshold (ops/migrate/config.py), not infrastructure",
    "OPS_VERIFY_MAX_AGE_HOURS": "a gate threshold, not infrastructure",
    "OPS_REPLICA_MAX_LAG_SECONDS": "a gate threshold, not infrastructure",
    "OPS_SHADOW_WINDOW_SECONDS": "a gate threshold, not infrastructure",
    "OPS_SHADOW_MAX_MISMATCHES": "a gate threshold, not infrastructure",
    "OPS_FLAG_PROPAGATION_SECONDS": "the application's flag cache behaviour, not infrastructure",
    "OPS_FLAG_READER_TTL_SECONDS": "the application's flag cache behaviour, not infrastructure",
    "OPS_REPLICA_NAME": "logical replication (the local stack) only; on AWS the DMS task has its ARN",
    "OPS_SNAPSHOT_DIR": "a folder on the operator's machine",
    "OPS_PITR_UNSUPPORTED": "the local stack only: DynamoDB on AWS has the backups API",
    "OPS_OPERATOR": "the person running the command",
    "OPS_MAPPING_FILE": "the mapping ships in the package",
    "OPS_PG_BINDIR": "the local stack only",
    "OPS_SANDBOX_DIR": "the local stack only",
    "OPS_DYNAMODB_LOCAL_DIR": "the local stack only",
    "OPS_USE_LOCALSTACK": "emulators only",
    "LOCALSTACK_HOST": "emulators only",
    "AWS_ENDPOINT_URL": "emulators only; on AWS the SDK's own endpoints",
    "COLUMNS": "the terminal's width",
    "OPS_SOURCE_MIN_FREE_PERCENT": "a gate threshold, not infrastructure",
    "OPS_MAX_SLOT_WAL_MB": "a gate threshold (the source's own cap: production link max_slot_wal_keep_size)",
    "OPS_LOB_SCAN": "how the preflight measures LOBs, chosen per run",
    "OPS_LOB_SAMPLE_MB": "how the preflight measures LOBs, chosen per run",
    "OPS_LOB_MARGIN_PERCENT": "a gate threshold, not infrastructure",
    "OPS_DRAIN_TIMEOUT_SECONDS": "cutover timing, not infrastructure",
    "OPS_PAUSE_MAX_SECONDS": "cutover timing, not infrastructure",
    "OPS_REVERSE_CATCHUP_SECONDS": "cutover timing, not infrastructure",
    "OPS_TOMBSTONE_TTL_SECONDS": "the application's tombstone TTL, set alike for the app and the cutover",
    "OPS_REVERSE_LOG_DIR": "the local stack only",
    "AWS_ENDPOINT_URL_DYNAMODB": "emulators only; on AWS the SDK's own endpoints",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": "emulators only; on AWS the SDK's own endpoints",
    "APP_STORE_API_URL": "the local App Store Server API stand-in only; on AWS Apple's own URL",
    "OPS_SANDBOX_PROD_PORT": "the local stack only",
    "OPS_SANDBOX_V2_PORT": "the local stack only",
    "OPS_SANDBOX_MOTO_PORT": "the local stack only",
    "OPS_SANDBOX_DYNAMODB_PORT": "the local stack only",
}


def infrastructure_settings() -> set[str]:
    """What `ops_environment` must carry: every name the ops package reads, less the listed ones."""
    return env_names() - set(NOT_FROM_INFRASTRUCTURE)


def test_the_scanner_finds_every_way_of_reading_a_variable(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(
        "import os\n"
        "import typer\n"
        "def env(name):\n    return os.environ.get(name) or 'x'\n"
        "def flag(name, default):\n    raw = os.environ[name]\n    return raw\n"
        "A = os.environ.get('DIRECT')\nB = os.getenv('GETENV')\nC = os.environ['SUBSCRIPT']\n"
        "D = env('THROUGH_HELPER')\nE = flag('THROUGH_SUBSCRIPT_HELPER', 1)\n"
        "def cmd(x: str = typer.Option('', envvar='OPTION'), y: str = typer.Option('', envvar=['LIST'])):\n"
        "    pass\n"
        "F = os.environ.get(f'AWS_{A}')\n"
    )
    assert env_names(tmp_path) == {
        "DIRECT",
        "GETENV",
        "SUBSCRIPT",
        "THROUGH_HELPER",
        "THROUGH_SUBSCRIPT_HELPER",
        "OPTION",
        "LIST",
    }


def test_the_settings_of_ops_settings_and_the_gates_are_found() -> None:
    names = env_names()
    assert set(ENV_DEFAULTS) <= names
    assert {"OPS_V2_RDS_INSTANCE", "OPS_DMS_TASK_ARN", "OPS_REPLICA_DRIVER", "OPS_REQUIRED_ALARMS"} <= names


def test_listed_exceptions_are_still_read() -> None:
    stale = set(NOT_FROM_INFRASTRUCTURE) - env_names()
    assert not stale, (
        f"the ops package no longer reads {sorted(stale)}: drop them from NOT_FROM_INFRASTRUCTURE"
    )


def _hcl_string(value: str) -> str:
    return json.dumps(value).replace("${", "$${")


def _hcl_template(python_result: str, placeholders: dict[str, str]) -> str:
    """An HCL string expression that rebuilds `python_result` from output values."""
    parts = json.dumps(python_result)[1:-1].replace("${", "$${")
    for marker, expression in placeholders.items():
        parts = parts.replace(marker, "${" + expression + "}")
    return f'"{parts}"'


def contract_test_file() -> str:
    """A terraform test that plans an environment and checks every name against the Python side."""
    expected = sorted(infrastructure_settings())
    env = "output.ops_environment"
    flag_parameter = Settings(
        control_table="",
        target_table="",
        dataset="@DATASET@",
        flag_prefix="@PREFIX@",
        notifications_queue="",
        notifications_dlq="",
        metrics_namespace="",
        region="",
        prod_database_url=None,
        v2_database_url=None,
    ).flag_parameter()
    flag_expression = _hcl_template(
        flag_parameter, {"@DATASET@": f'{env}["OPS_DATASET"]', "@PREFIX@": f'{env}["OPS_FLAG_PREFIX"]'}
    )
    asserts = [
        (
            f"toset(keys({env})) == toset([{', '.join(_hcl_string(n) for n in expected)}])",
            "ops_environment must carry exactly the settings the ops CLI and its gates read from "
            f"infrastructure: {expected} (tests/terraform/test_terraform_contract.py)",
        ),
        (
            f'output.flag_parameter_names[{env}["OPS_DATASET"]] == {flag_expression}',
            f"the mode parameter must be where Settings.flag_parameter() looks ({flag_parameter})",
        ),
        (
            f'{env}["OPS_CONTROL_TABLE"] == output.control_table_name'
            f' && {env}["OPS_TARGET_TABLE"] == output.target_table_name',
            "the tables the CLI is told about must be the ones created",
        ),
        (
            f'{env}["OPS_NOTIFICATIONS_QUEUE"] == output.notifications_queue_name'
            f' && {env}["OPS_NOTIFICATIONS_DLQ"] == output.notifications_dlq_name',
            "the queues the CLI is told about must be the ones created",
        ),
        (
            f'{env}["OPS_V2_RDS_INSTANCE"] == output.v2_rds_instance_identifier'
            f' && {env}["OPS_DMS_TASK_ARN"] == output.dms_replication_arn',
            "the V2 instance and the DMS replication the CLI drives must be the ones created",
        ),
        (
            f'{env}["OPS_SOURCE_RDS_INSTANCE"] != "" && {env}["OPS_REPLICATION_USER"] != ""',
            "the preflight must know the source instance and the replication user DMS connects as",
        ),
        (
            f'contains([{", ".join(_hcl_string(d) for d in DRIVERS)}], {env}["OPS_REPLICA_DRIVER"])',
            f"OPS_REPLICA_DRIVER must name a driver of ops.replica ({', '.join(DRIVERS)})",
        ),
        (
            f'alltrue([for alarm in split(",", {env}["OPS_REQUIRED_ALARMS"]) :'
            f' startswith(alarm, {env}["OPS_ALARM_PREFIXES"])])'
            f' && length(output.alarm_names) == length(split(",", {env}["OPS_REQUIRED_ALARMS"]))',
            "every required alarm must be found under the alarm prefix the gates search",
        ),
        (
            f'{env}["OPS_REVERSE_DRIVER"] == "lambda"'
            f' && {env}["OPS_REVERSE_FUNCTION"] == output.reverse_function_name'
            f' && {env}["OPS_REVERSE_MAPPING_UUID"] != ""',
            "ops replica reverse must drive the environment's reverse Lambda and its event source mapping",
        ),
        (
            f'{env}["NOTIFICATIONS_RECEIVER_URL"] == output.notifications_api_endpoint',
            "the CLI's receiver URL must be the API's endpoint",
        ),
        (
            f'{env}["AWS_DEFAULT_REGION"] == "us-east-1" && {env}["AWS_REGION"] == "us-east-1"',
            "the region must be the environment's",
        ),
        (
            "output.entitlement_database_secret_arn != null"
            " && output.google_play_credentials_secret_arn != null"
            " && output.v2_master_secret_arn != null && output.v2_reader_secret_arn != null",
            "the secrets the runbooks fill or read must be output",
        ),
    ]
    for function in ("receiver", "consumer"):
        required = set(env_vars_of(function)) - set(LEFT_UNSET[function]) - SET_WHEN_GIVEN[function]
        names = ", ".join(_hcl_string(n) for n in sorted(required))
        planned = f"module.environment.{function}_environment_variable_names"
        asserts.append(
            (
                f"length(setsubtract([{names}], {planned})) == 0",
                f"the {function} function must get {sorted(required)}",
            )
        )
    body = "\n".join(
        f"  assert {{\n    condition     = {condition}\n    error_message = {_hcl_string(message)}\n  }}\n"
        for condition, message in asserts
    )
    return f"""# Generated by {Path(__file__).name}; not part of the repository.
mock_provider "aws" {{
  source          = "../../tests/mocks"
  override_during = plan
}}

variables {{
  lambda_package_dir = "../../modules/notifications/tests/fixtures"
}}

run "names_match_the_ops_cli_and_the_lambdas" {{
  command = plan

{body}}}
"""


@pytest.mark.parametrize("env", [tooling.rel(e) for e in tooling.environments()])
def test_environment_outputs_and_function_environments(
    terraform_bench: tooling.TerraformBench, env: str
) -> None:
    runs = terraform_bench.results(env)
    assert runs.init is not None and runs.init.ok, runs.init.describe() if runs.init else "init did not run"
    contract = terraform_bench.path(env) / "tests" / "contract.tftest.hcl"
    contract.parent.mkdir(exist_ok=True)
    contract.write_text(contract_test_file())
    result = terraform_bench.terraform_cmd(env, "test", "-filter=tests/contract.tftest.hcl")
    assert result.ok and "1 passed, 0 failed" in result.output, result.describe()


def test_the_reads_are_located() -> None:
    """The scanner's findings point at real lines, so a failure message can say where a name is read."""
    reads = [r for r in env_reads() if r.name == "OPS_V2_RDS_INSTANCE"]
    assert reads and all("OPS_V2_RDS_INSTANCE" in r.path.read_text().splitlines()[r.line - 1] for r in reads)
