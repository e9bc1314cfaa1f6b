"""What the command groups share: the project's settings, the `--json` option and how a result is
printed as JSON.

Every command that has a table also has `--json`, worded the same, printing one JSON document on
stdout (dates and other non-JSON values as strings), so scripts and runbooks read them alike.

The settings (`ops.settings.Settings`) are read from the environment here and nowhere below the
CLI: commands pass them, or the names they need, to the modules they call.
"""

from __future__ import annotations

import json
from typing import Any

import click
import typer
from rich.console import Console

from ops.settings import Settings

_stdout = Console()
_SETTINGS_KEY = "ops.settings"


def current_operator(who: str | None = None) -> str:
    """Who this command's records name (flag history, cutover ledger, reverse replication): `--who`,
    else OPS_OPERATOR, else the AWS caller identity, else the OS user."""
    if who:
        return who
    configured = current_settings().operator
    if configured:
        return configured
    from ops.migrate.identity import operator_identity

    return operator_identity()


def current_settings() -> Settings:
    """The project's settings, read from the environment once per `ops` command.

    Read on first use, so a command that needs none (`--help`, `ops sandbox up`) does not fail on a
    malformed variable, and kept on the command's click context, so every part of one command
    sees the same values. Outside a command (a function called directly), read afresh."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Settings.from_env()
    meta = ctx.find_root().meta
    if _SETTINGS_KEY not in meta:
        meta[_SETTINGS_KEY] = Settings.from_env()
    found: Settings = meta[_SETTINGS_KEY]
    return found


JsonOption = typer.Option(False, "--json", help="Print one JSON document instead of tables.")
YesOption = typer.Option(False, "--yes", help="Do not ask for confirmation.")


def emit_json(data: Any) -> None:
    """Print `data` as one JSON document on stdout."""
    _stdout.print_json(json.dumps(data, default=str))
