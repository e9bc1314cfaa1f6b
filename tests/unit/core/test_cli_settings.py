"""The CLI reads the project's settings once per command, and only when the command needs them."""

from __future__ import annotations

from pathlib import Path

import click
import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from ops.cli.common import current_settings
from ops.cli.main import app
from ops.exceptions import ConfigError
from ops.mapping.model import default_mapping_path


def test_one_command_reads_the_settings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_TARGET_TABLE", "first")
    with click.Context(click.Command("one")):
        settings = current_settings()
        monkeypatch.setenv("OPS_TARGET_TABLE", "second")
        assert current_settings() is settings
        assert settings.target_table == "first"
    with click.Context(click.Command("next")):
        assert current_settings().target_table == "second"


def test_a_command_that_needs_no_settings_does_not_read_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_TOMBSTONE_TTL_SECONDS", "a month")
    assert CliRunner().invoke(app, ["flags", "get", "--help"]).exit_code == 0
    with click.Context(click.Command("one")), pytest.raises(ConfigError, match="OPS_TOMBSTONE_TTL_SECONDS"):
        current_settings()


def test_the_mapping_file_reaches_the_command_through_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPS_MAPPING_FILE is read at the edge and handed down: `migrate plan` encodes with the
    file it names. The mapping here has no `couples`, so the command stops at the mapping, before
    it tries the (unreachable) database."""
    doc = yaml.safe_load(default_mapping_path().read_text())
    del doc["tables"]["couples"]
    custom = tmp_path / "mapping.yaml"
    custom.write_text(yaml.safe_dump(doc))
    args = ["migrate", "plan", "--table", "couples", "--source-url", "postgresql://127.0.0.1:1/none"]

    monkeypatch.setenv("OPS_MAPPING_FILE", str(custom))
    result = CliRunner().invoke(app, args)
    output = " ".join(result.output.split())  # Rich wraps the message
    assert result.exit_code != 0
    assert f"{custom}: no mapping for table 'couples'" in output, output

    monkeypatch.delenv("OPS_MAPPING_FILE")
    result = CliRunner().invoke(app, args)
    # The packaged mapping has `couples`: the command goes on to the database, which is not there
    # (`ops`'s entry point turns this into its "cannot reach PostgreSQL" message).
    assert isinstance(result.exception, psycopg.OperationalError), result.output


def test_records_name_who_the_edge_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--who`, else OPS_OPERATOR, else the AWS caller identity: decided in the CLI and passed down;
    the flag library's own fallback (a caller that names nobody) is the login, not the variable."""
    import ops.migrate.identity
    from ops.cli.common import current_operator
    from ops.flags import operator_name

    monkeypatch.setattr(
        ops.migrate.identity, "operator_identity", lambda: "arn:aws:sts::123456789012:assumed-role/ops/carol"
    )
    monkeypatch.delenv("OPS_OPERATOR", raising=False)
    with click.Context(click.Command("one")):
        assert current_operator() == "arn:aws:sts::123456789012:assumed-role/ops/carol"
    monkeypatch.setenv("OPS_OPERATOR", "dave")
    with click.Context(click.Command("two")):
        assert current_operator() == "dave"
        assert current_operator("erin") == "erin"
    monkeypatch.setattr("getpass.getuser", lambda: "login-of-this-process")
    assert operator_name() == "login-of-this-process"  # OPS_OPERATOR is set, and not read here
