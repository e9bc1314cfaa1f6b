"""The names the ops CLI and the Lambdas read are the ones Terraform creates, sets and outputs.

Two layers: the Terraform source (which environment variables the notifications module can set)
against `lambdas/<fn>/config.py` `ENV_VARS`; and a `terraform test` generated from
`ops/settings.py` `ENV_DEFAULTS` that plans each environment with a mocked provider and checks the
planned outputs and function environments.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import hcl2
import pytest

from ops.settings import ENV_DEFAULTS, Settings
from tests.terraform import tooling

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


def _hcl_string(value: str) -> str:
    return json.dumps(value).replace("${", "$${")


def contract_test_file() -> str:
    """A terraform test that plans an environment and checks every name against the Python side."""
    defaults = Settings(
        control_table=ENV_DEFAULTS["OPS_CONTROL_TABLE"],
        target_table=ENV_DEFAULTS["OPS_TARGET_TABLE"],
        dataset=ENV_DEFAULTS["OPS_DATASET"],
        flag_prefix=ENV_DEFAULTS["OPS_FLAG_PREFIX"].rstrip("/"),
        notifications_queue=ENV_DEFAULTS["OPS_NOTIFICATIONS_QUEUE"],
        notifications_dlq=ENV_DEFAULTS["OPS_NOTIFICATIONS_DLQ"],
        metrics_namespace=ENV_DEFAULTS["OPS_METRICS_NAMESPACE"],
        region=ENV_DEFAULTS["AWS_DEFAULT_REGION"],
        prod_database_url=None,
        v2_database_url=None,
    )
    asserts = [
        (
            f"output.ops_environment[{_hcl_string(name)}] == {_hcl_string(value)}",
            f"ops_environment must give {name} = {value} (ops/settings.py ENV_DEFAULTS)",
        )
        for name, value in ENV_DEFAULTS.items()
    ]
    asserts += [
        (
            f"output.flag_parameter_names[{_hcl_string(defaults.dataset)}]"
            f" == {_hcl_string(defaults.flag_parameter())}",
            f"the mode parameter must be {defaults.flag_parameter()}, where Settings.flag_parameter() looks",
        ),
        (
            f"output.control_table_name == {_hcl_string(defaults.control_table)}"
            f" && output.target_table_name == {_hcl_string(defaults.target_table)}",
            "table outputs must match the ops CLI's names",
        ),
        (
            f"output.notifications_queue_name == {_hcl_string(defaults.notifications_queue)}"
            f" && output.notifications_dlq_name == {_hcl_string(defaults.notifications_dlq)}",
            "queue outputs must match the ops CLI's names",
        ),
        (
            "output.entitlement_database_secret_arn != null"
            " && output.google_play_credentials_secret_arn != null"
            " && output.v2_master_secret_arn != null && output.dms_replication_arn != null",
            "the secrets and the DMS replication must be output",
        ),
    ]
    for function in ("receiver", "consumer"):
        required = set(env_vars_of(function)) - set(LEFT_UNSET[function]) - SET_WHEN_GIVEN[function]
        names = ", ".join(_hcl_string(n) for n in sorted(required))
        planned = f"module.notifications.{function}_environment_variable_names"
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
  override_during = plan

  mock_data "aws_caller_identity" {{
    defaults = {{ account_id = "123456789012" }}
  }}

  mock_data "aws_region" {{
    defaults = {{ name = "us-east-1" }}
  }}

  mock_resource "aws_dms_replication_task" {{
    defaults = {{ replication_task_arn = "arn:aws:dms:us-east-1:123456789012:task:CONTRACT" }}
  }}

  mock_resource "aws_dms_replication_config" {{
    defaults = {{ arn = "arn:aws:dms:us-east-1:123456789012:replication-config:CONTRACT" }}
  }}

  mock_resource "aws_secretsmanager_secret" {{
    defaults = {{ arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:contract-AbCdEf" }}
  }}

  mock_resource "aws_db_instance" {{
    defaults = {{
      master_user_secret = [{{
        secret_arn    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-contract"
        kms_key_id    = "arn:aws:kms:us-east-1:123456789012:key/contract"
        secret_status = "active"
      }}]
    }}
  }}

  mock_data "aws_ssm_parameter" {{
    defaults = {{ value = "ami-0123456789abcdef0" }}
  }}
}}

variables {{
  lambda_package_dir = "../../modules/notifications/tests/fixtures"
}}

run "names_match_the_ops_cli_and_the_lambdas" {{
  command = plan

{body}}}
"""


@pytest.mark.parametrize("env", [tooling.rel(e) for e in tooling.envs()])
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
