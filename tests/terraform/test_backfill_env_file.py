"""The backfill workers' env file: the script user data installs (modules/backfill_runner/files)
writes the ops settings and V2_DATABASE_URL from the read-only user's secret, readable by root only,
and picks up a rotated password the next time it runs."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from tests.terraform import tooling

SCRIPT = tooling.TERRAFORM_DIR / "modules" / "backfill_runner" / "files" / "platform_ops_env.py"
SETTINGS = {"AWS_DEFAULT_REGION": "us-east-1", "OPS_TARGET_TABLE": "platform-ops-prod-couple-diary"}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("platform_ops_env", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["platform_ops_env"] = module
    spec.loader.exec_module(module)
    return module


platform_ops_env = _load()


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETSMANAGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(
            Name="platform-ops-prod/v2/backfill-reader",
            SecretString=json.dumps(
                {
                    "engine": "postgres",
                    "host": "platform-ops-prod-v2.abc.us-east-1.rds.amazonaws.com",
                    "port": 5432,
                    "dbname": "app",
                    "username": "platform_ops_reader",
                    "password": "p@ss:w/rd %#'$",
                }
            ),
        )["ARN"]
        yield arn


def sourced(env_file: Path) -> dict[str, str]:
    """The variables a shell gets from `set -a; . env_file`, as the worker's wrapper does."""
    out = subprocess.run(
        ["bash", "-c", f"set -a; . {env_file}; env -0"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def test_the_env_file_carries_the_settings_and_a_url_libpq_reads_back(tmp_path: Path, secret: str) -> None:
    settings, env_file = tmp_path / "settings.json", tmp_path / "platform-ops.env"
    settings.write_text(json.dumps(SETTINGS))

    assert platform_ops_env.main([str(settings), secret, str(env_file)]) == 0

    values = sourced(env_file)
    assert values["OPS_TARGET_TABLE"] == "platform-ops-prod-couple-diary"
    parsed = conninfo_to_dict(values["V2_DATABASE_URL"])
    assert parsed["password"] == "p@ss:w/rd %#'$" and parsed["user"] == "platform_ops_reader"
    assert (
        parsed["host"] == "platform-ops-prod-v2.abc.us-east-1.rds.amazonaws.com" and parsed["dbname"] == "app"
    )
    assert parsed["sslmode"] == "require"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600, "the file holds a password: root only"


def test_a_rotated_password_is_picked_up_on_the_next_run(tmp_path: Path, secret: str) -> None:
    settings, env_file = tmp_path / "settings.json", tmp_path / "platform-ops.env"
    settings.write_text(json.dumps(SETTINGS))
    platform_ops_env.main([str(settings), secret, str(env_file)])
    current = json.loads(
        boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(SecretId=secret)[
            "SecretString"
        ]
    )
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=secret, SecretString=json.dumps({**current, "password": "rotated"})
    )

    platform_ops_env.main([str(settings), secret, str(env_file)])

    assert conninfo_to_dict(sourced(env_file)["V2_DATABASE_URL"])["password"] == "rotated"


def test_wrong_usage_prints_how_to_call_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert platform_ops_env.main(["only-one"]) == 2
    assert "Usage: platform_ops_env.py SETTINGS_JSON SECRET_ARN ENV_FILE" in capsys.readouterr().err
