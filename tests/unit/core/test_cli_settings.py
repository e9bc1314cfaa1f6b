"""The CLI reads the project's settings once per command, and only when the command needs them."""

from __future__ import annotations

import click
import pytest
from typer.testing import CliRunner

from ops.cli.common import current_settings
from ops.cli.main import app
from ops.exceptions import ConfigError


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
