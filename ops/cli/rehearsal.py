"""`ops demo rehearsal`: the whole migration under live traffic, plus the notification pipeline."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ops.cli.common import emit_json
from ops.demo.rehearsal import DEFAULT_ROWS, Rehearsal, RehearsalOptions, render_report

console = Console()


RootOption = typer.Option(
    Path(".sandbox/demo"), "--root", help="Folder of the rehearsal's own local stack (on free ports)."
)


def rehearsal(  # noqa: PLR0917 - Typer options are parameters
    rows: int = typer.Option(DEFAULT_ROWS, "--rows", help="Answers seeded into prod (scale to millions)."),
    rps: float = typer.Option(25.0, "--rps", help="Live traffic, operations per second, for the whole run."),
    soak_seconds: float = typer.Option(
        8.0, "--soak-seconds", help="Demo setting: the soak lasts this long instead of 14 days."
    ),
    root: Path = RootOption,
    keep: bool = typer.Option(False, "--keep", help="Leave the stack running at the end, for a look around."),
    notifications: bool = typer.Option(
        True, "--notifications/--no-notifications", help="Also run the notification pipeline part."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the final report as JSON too."),
) -> None:
    """Rehearse the migration on a local stack of its own: seed, live traffic, every phase through its
    gate, a crashed-and-resumed backfill, a rollback drill, cleanup; then signed notifications
    through the local API, SQS FIFO and the consumer. Exit code 1 unless nothing was lost."""
    options = RehearsalOptions(
        rows=rows, rps=rps, soak_seconds=soak_seconds, root=root, keep=keep, notifications=notifications
    )
    report = Rehearsal(options, console).run()
    render_report(report, console)
    if as_json:
        emit_json(report.to_dict())
    if not report.ok:
        raise typer.Exit(1)
