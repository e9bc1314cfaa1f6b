"""`ops replica reverse start | status | stop | run | failures | retry-failed`: DynamoDB -> PostgreSQL."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ops.cli.common import JsonOption, YesOption, current_operator, current_settings, emit_json
from ops.results import render

app = typer.Typer(
    help="Reverse replication (DynamoDB Streams -> PostgreSQL) that keeps rollback one command away "
    "after PostgreSQL writes stop.",
    no_args_is_help=True,
)
console = Console()


def _render_status(as_json: bool, max_lag: float) -> bool:
    from ops.reverse import control

    current = control.status(current_settings())
    gate = control.reverse_gate(current, max_lag_seconds=max_lag)
    if as_json:
        emit_json({"status": current.to_dict(), "gate": gate.to_dict()})
    else:
        render(gate, console, False)
    return gate.ok


@app.command()
def start(as_json: bool = JsonOption) -> None:
    """Apply every DynamoDB change from now on to PostgreSQL (idempotent).

    `ops migrate stop-pg-writes` runs this while writes are paused, before DynamoDB becomes the
    source of truth. Locally it starts the stream poller in the background (OPS_REVERSE_DRIVER=local);
    on AWS it enables the reverse Lambda's event source mapping (OPS_REVERSE_DRIVER=lambda)."""
    from ops.reverse import control

    control.start(current_settings(), current_operator())
    if not _render_status(as_json, 30.0):
        raise typer.Exit(1)


@app.command()
def status(
    max_lag: float = typer.Option(30.0, "--max-lag", help="Gate: largest acceptable lag, seconds."),
    as_json: bool = JsonOption,
) -> None:
    """Running or not, lag (age of the oldest change not yet applied), changes applied, failures,
    how long it has been healthy. Exit 1 when the gate would refuse."""
    if not _render_status(as_json, max_lag):
        raise typer.Exit(1)


@app.command()
def stop(yes: bool = YesOption) -> None:
    """Stop applying DynamoDB changes to PostgreSQL. After this, PostgreSQL falls behind: rolling
    back needs `start` again first (and it applies only changes made after it)."""
    from ops.reverse import control

    if not yes:
        typer.confirm("Stop reverse replication? PostgreSQL stops receiving DynamoDB's changes", abort=True)
    current = control.stop(current_settings())
    console.print(f"reverse replication stopped ({current.applied:,} changes applied in all)")


@app.command()
def run() -> None:
    """The local poller in the foreground (what `start` runs in the background); stops when
    `ops replica reverse stop` is run."""
    from ops.reverse import control

    control.run(current_settings())


@app.command()
def failures(as_json: bool = JsonOption) -> None:
    """Changes that could not be applied to PostgreSQL, with the reason."""
    from ops.control import ControlTable
    from ops.reverse import ReverseState

    settings = current_settings()
    found = ReverseState(ControlTable(settings.control_table), settings.dataset).failures()
    if as_json:
        emit_json(found)
        return
    table = Table(title=f"reverse replication failures ({len(found)})")
    for column in ("table", "pk", "sk", "version", "attempts", "reason"):
        table.add_column(column)
    for f in found:
        table.add_row(
            f["table"], f["item_pk"], f["item_sk"], str(f["version"]), str(f.get("attempts", 1)), f["reason"]
        )
    console.print(table)


@app.command("retry-failed")
def retry_failed() -> None:
    """Apply the current DynamoDB item (or its absence) for every key in the failure log. Exit 1
    while some still fail."""
    from ops.reverse import control

    fixed, failing = control.retry_failed(current_settings())
    console.print(f"applied {fixed:,}; still failing {failing:,}")
    if failing:
        raise typer.Exit(1)
