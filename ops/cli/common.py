"""What the command groups share: the `--json` option and how a result is printed as JSON.

Every command that has a table also has `--json`, worded the same, printing one JSON document on
stdout (dates and other non-JSON values as strings), so scripts and runbooks read them alike.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

_stdout = Console()

JsonOption = typer.Option(False, "--json", help="Print one JSON document instead of tables.")


def emit_json(data: Any) -> None:
    """Print `data` as one JSON document on stdout."""
    _stdout.print_json(json.dumps(data, default=str))
