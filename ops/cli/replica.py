"""`ops replica check | start | status | wait | stop`: procedure step 2, the V2 replica."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ops.cli.common import JsonOption, YesOption, current_settings, emit_json
from ops.mapping import load_mapping
from ops.replica import (
    DEFAULT_MAX_LAG_SECONDS,
    DRIVERS,
    ReplicaDriver,
    ReplicaStatus,
    make_driver,
    replica_gate,
    start_replica,
    wait_for_replica,
)
from ops.results import GateResult, render

app = typer.Typer(help="Start, watch and stop the V2 replica (native logical replication or AWS DMS).")
console = Console()

DriverOption = typer.Option(
    "logical", "--driver", envvar="OPS_REPLICA_DRIVER", help=f"Replication engine: {' | '.join(DRIVERS)}."
)
TaskArnOption = typer.Option(
    None,
    "--task-arn",
    envvar="OPS_DMS_TASK_ARN",
    help="DMS replication task ARN, or DMS Serverless replication config ARN "
    "(OPS_DMS_TASK_ARN of `terraform output -json ops_environment`).",
)
NameOption = typer.Option(
    "platform_ops", "--name", envvar="OPS_REPLICA_NAME", help="Publication/subscription name (logical)."
)
MaxLagOption = typer.Option(
    DEFAULT_MAX_LAG_SECONDS, "--max-lag", help="Gate: largest acceptable lag, seconds."
)
LobScanOption = typer.Option(
    None,
    "--lob-scan",
    help="How the LOB check measures the largest values: sample (default; at most OPS_LOB_SAMPLE_MB "
    "of each table) or exact (reads every row). Also OPS_LOB_SCAN.",
)


def _driver(kind: str, task_arn: str | None, name: str) -> ReplicaDriver:
    settings = current_settings()
    tables = list(load_mapping(settings.mapping_file).tables)
    if kind == "dms":
        return make_driver("dms", task_arn=task_arn, tables=tables)
    return make_driver(
        kind,
        tables=tables,
        name=name,
        source_url=settings.prod_database_url,
        target_url=settings.v2_database_url,
    )


def _render(status: ReplicaStatus, gate: GateResult, as_json: bool) -> None:
    if as_json:
        emit_json({"status": status.to_dict(), "gate": gate.to_dict()})
        return
    lag = "unknown" if status.lag_seconds is None else f"{status.lag_seconds:.1f}s"
    table = Table(title=f"replica ({status.driver}): {status.state}, lag {lag}")
    for column in ("table", "full load", "source rows", "target rows", "validation", "detail"):
        table.add_column(column)
    for t in status.tables:
        table.add_row(
            t.table,
            "[green]complete[/]" if t.full_load_complete else "[yellow]in progress[/]",
            "?" if t.source_rows is None else f"{t.source_rows:,}",
            "?" if t.target_rows is None else f"{t.target_rows:,}",
            t.validation,
            t.detail,
        )
    console.print(table)
    render(gate, console)


@app.command()
def start(  # noqa: PLR0917 - Typer options are parameters
    driver: str = DriverOption,
    task_arn: str | None = TaskArnOption,
    name: str = NameOption,
    resume: bool = typer.Option(
        False, "--resume", help="Resume a stopped replica instead of (re)starting it."
    ),
    reload: bool = typer.Option(False, "--reload", help="DMS only: reload every table from the source."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be started; change nothing."),
) -> None:
    """Start replication from prod to v2 (idempotent): logical creates the publication on prod and
    the subscription on v2 (creating the v2 schema from the project's migrations if missing);
    dms starts, resumes or reloads the task or serverless replication."""
    replica = _driver(driver, task_arn, name)
    action = "reload" if reload else "resume" if resume else "start"
    if dry_run:
        console.print(f"[cyan]dry run:[/] would {action} the {replica.name} replica; nothing changed")
        return
    if reload:
        reloader = getattr(replica, "reload", None)
        if reloader is None:
            raise typer.BadParameter("--reload applies to the dms driver only")
        reloader()
        outcome = "reload requested"
    elif resume:
        replica.resume()
        outcome = "resume requested"
    else:
        outcome = start_replica(replica)
    console.print(f"[green]{outcome}[/] ({replica.name}); follow it with `ops replica wait`")


@app.command()
def check(
    driver: str = DriverOption,
    task_arn: str | None = TaskArnOption,
    name: str = NameOption,
    lob_scan: str | None = LobScanOption,
    as_json: bool = JsonOption,
) -> None:
    """The source's readiness for this replica, read-only and at any time: the mapping, wal_level,
    free slots and WAL senders, the replication user's grants, WAL held by slots, free storage, and
    the largest LOB values against the DMS task's LOB limit (the source checks of `ops migrate
    preflight`, outside the phase order: re-run them after changing the DMS settings)."""
    from ops.migrate.config import MigrateConfig
    from ops.migrate.gates import source_gate

    cfg = MigrateConfig.from_env(
        current_settings(),
        replica_driver=driver,
        replica_task_arn=task_arn,
        replica_name=name,
        lob_scan=lob_scan,
    )
    gate = source_gate(cfg)
    render(gate, console, as_json)
    if not gate.ok:
        raise typer.Exit(1)


@app.command()
def status(
    driver: str = DriverOption,
    task_arn: str | None = TaskArnOption,
    name: str = NameOption,
    max_lag: float = MaxLagOption,
    as_json: bool = JsonOption,
) -> None:
    """Per-table full load, row counts, validation, lag, and the `replica ready` gate."""
    replica = _driver(driver, task_arn, name)
    current = replica.status()
    gate = replica_gate(current, max_lag)
    _render(current, gate, as_json)
    if not gate.ok:
        raise typer.Exit(1)


@app.command()
def wait(  # noqa: PLR0917 - Typer options are parameters
    driver: str = DriverOption,
    task_arn: str | None = TaskArnOption,
    name: str = NameOption,
    max_lag: float = MaxLagOption,
    timeout: float = typer.Option(1800.0, "--timeout", help="Give up after this many seconds."),
    interval: float = typer.Option(5.0, "--interval", help="Seconds between polls."),
    as_json: bool = JsonOption,
) -> None:
    """Show progress until the `replica ready` gate passes; on timeout, say what is still missing."""
    replica = _driver(driver, task_arn, name)
    gate = wait_for_replica(replica, timeout=timeout, max_lag_seconds=max_lag, poll_interval=interval)
    render(gate, console, as_json)


@app.command()
def stop(  # noqa: PLR0917 - Typer options are parameters
    driver: str = DriverOption,
    task_arn: str | None = TaskArnOption,
    name: str = NameOption,
    teardown: bool = typer.Option(
        False, "--teardown", help="Logical: drop the subscription, its slot on prod and the publication."
    ),
    yes: bool = YesOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be stopped; change nothing."),
) -> None:
    """Stop applying changes (the source keeps them; `ops replica start` resumes the same replica),
    or tear it down for good."""
    replica = _driver(driver, task_arn, name)
    action = "tear down" if teardown else "stop"
    if dry_run:
        console.print(f"[cyan]dry run:[/] would {action} the {replica.name} replica; nothing changed")
        return
    if not yes:
        typer.confirm(f"{action.capitalize()} the {replica.name} replica?", abort=True)
    if teardown:
        dropper = getattr(replica, "teardown", None)
        if dropper is None:
            raise typer.BadParameter(
                "--teardown applies to the logical driver; delete a DMS task with Terraform"
            )
        dropper()
    else:
        replica.stop()
    console.print(f"[green]{action} done[/] ({replica.name})")
