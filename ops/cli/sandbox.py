"""`ops sandbox`: the local stack (PostgreSQL prod + v2, DynamoDB Local, moto's server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ops.sandbox.stack import DEFAULT_PORTS, Sandbox, render_exports

app = typer.Typer(
    help="Start, stop and inspect the local stack that tests and the demo run on.", no_args_is_help=True
)
console = Console()

RootOption = typer.Option(
    None,
    "--root",
    envvar="OPS_SANDBOX_DIR",
    help="Folder for state, logs and data (default: .sandbox in the repo).",
)


@app.command()
def up(
    root: Path | None = RootOption,
    prod_port: int = typer.Option(
        DEFAULT_PORTS["prod"],
        envvar="OPS_SANDBOX_PROD_PORT",
        help="Port of the `prod` PostgreSQL cluster (0: any free).",
    ),
    v2_port: int = typer.Option(
        DEFAULT_PORTS["v2"],
        envvar="OPS_SANDBOX_V2_PORT",
        help="Port of the `v2` PostgreSQL cluster (0: any free).",
    ),
    moto_port: int = typer.Option(
        DEFAULT_PORTS["moto"], envvar="OPS_SANDBOX_MOTO_PORT", help="Port of moto's server (0: any free)."
    ),
    dynamodb_port: int = typer.Option(
        DEFAULT_PORTS["dynamodb"],
        envvar="OPS_SANDBOX_DYNAMODB_PORT",
        help="Port of DynamoDB Local (0: any free).",
    ),
) -> None:
    """Start the local stack (harmless when it is already up), then show its status."""
    ports = {"prod": prod_port, "v2": v2_port, "moto": moto_port, "dynamodb": dynamodb_port}
    sandbox = Sandbox(root, ports, echo=console.print)
    sandbox.up()
    _render_status(sandbox)
    console.print('Point your shell at it: [bold]eval "$(ops sandbox env)"[/]')


@app.command()
def down(
    root: Path | None = RootOption,
    purge: bool = typer.Option(False, "--purge", help="Also delete the clusters' data and the logs."),
) -> None:
    """Stop exactly the processes `up` started (by PID); with --purge, delete the data too."""
    stopped = Sandbox(root).down(purge=purge)
    console.print(f"Stopped: {', '.join(stopped)}" if stopped else "Nothing was running.")
    if purge:
        console.print(
            "Deleted the data: both PostgreSQL clusters and the logs (DynamoDB Local and moto keep "
            "theirs in memory only, gone with the processes). The next `ops sandbox up` starts empty."
        )


@app.command()
def status(root: Path | None = RootOption) -> None:
    """Health of each part of the local stack. Exit code 1 when a part is unhealthy or it is down."""
    if not _render_status(Sandbox(root)):
        raise typer.Exit(1)


@app.command()
def env(root: Path | None = RootOption) -> None:
    """Print shell exports for the running stack: `eval "$(ops sandbox env)"`.

    Every setting the CLI, its gates and the runbooks read, under the names `terraform output
    -json ops_environment` gives on AWS; while `ops notifications serve` runs, also its receiver,
    its App Store Server API and key, and the consumer's settings (run it again once serve is up)."""
    from ops.notifications.local import serve_environment

    sandbox = Sandbox(root)
    settings = {**sandbox.info().operator_env(), **serve_environment(sandbox.root / "notifications")}
    typer.echo(render_exports(settings))


@app.command()
def provision(root: Path | None = RootOption) -> None:
    """Create on the local stack what `terraform apply` creates on AWS (tables, flag, queues, alarms)."""
    from ops.cli.common import current_settings
    from ops.sandbox.provision import provision_local

    with _stack_env(root):
        done = provision_local(current_settings())  # read inside: the stack's environment applies
    table = Table(title="Provisioned on the local stack")
    table.add_column("resource")
    table.add_column("state")
    for item in done.created:
        table.add_row(item, "[green]created[/]")
    for item in done.present:
        table.add_row(item, "present")
    console.print(table)
    for note in done.notes:
        console.print(f"[yellow]note:[/] {note}")


@contextmanager
def _stack_env(root: Path | None) -> Iterator[None]:
    """Point the AWS clients at the running stack for the duration of one command."""
    from ops import aws

    saved = dict(os.environ)
    os.environ.update(Sandbox(root).info().env())
    aws.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        aws.reset()


def _render_status(sandbox: Sandbox) -> bool:
    rows = sandbox.status()
    if not rows:
        console.print("The local stack is not running. Start it with [bold]ops sandbox up[/].")
        return False
    table = Table(title="Local stack")
    for column in ("part", "pid", "endpoint", "health", "detail"):
        table.add_column(column)
    for row in rows:
        health = "[green]healthy[/]" if row.healthy else "[red]unhealthy[/]"
        table.add_row(row.name, str(row.pid or "-"), row.endpoint, health, row.detail)
    console.print(table)
    return all(r.healthy for r in rows)
