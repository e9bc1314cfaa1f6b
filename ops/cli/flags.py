"""`ops flags`: read and change the migration mode of a dataset (neighbour steps only)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ops.cli.common import JsonOption, YesOption, current_operator, current_settings, emit_json
from ops.flags import ORDER, FlagChange, FlagStore, Mode

app = typer.Typer(
    help="Read and change the migration-mode flag (SSM), one neighbour step at a time.", no_args_is_help=True
)
console = Console()

DatasetOption = typer.Option(None, "--dataset", help="Dataset whose flag to use (default: $OPS_DATASET).")
ReasonOption = typer.Option(..., "--reason", help="Why; recorded in the flag history.")


@app.command()
def get(dataset: str | None = DatasetOption, as_json: bool = JsonOption) -> None:
    """Show the current mode and generation, where it sits in the sequence, and how reads and
    writes are routed."""
    store = FlagStore(dataset, settings=current_settings())
    state = store.state()
    mode = state.mode
    if as_json:
        emit_json(
            {
                "dataset": store.dataset,
                "parameter": store.parameter,
                "mode": mode.value,
                "generation": state.generation,
                "writes_paused": state.writes_paused(),
            }
        )
        return
    steps = "  ->  ".join(f"[bold reverse] {m} [/]" if m is mode else m.value for m in ORDER)
    console.print(f"{store.dataset} ({store.parameter}): [bold]{state.describe()}[/]")
    console.print(steps)
    writes = " + ".join(
        n for n, on in (("PostgreSQL", mode.writes_postgres), ("DynamoDB", mode.writes_dynamodb)) if on
    )
    reads = (
        "DynamoDB"
        if mode.reads_dynamodb
        else "PostgreSQL" + (" (DynamoDB compared)" if mode.shadow_reads else "")
    )
    console.print(f"writes: {writes}; reads: {reads}")


@app.command("set")
def set_(  # noqa: PLR0917 - Typer options are parameters
    mode: str = typer.Argument(..., help=f"Target mode: one of {', '.join(m.value for m in ORDER)}."),
    reason: str = ReasonOption,
    dataset: str | None = DatasetOption,
    who: str | None = typer.Option(
        None,
        "--who",
        help="Operator name to record (default: $OPS_OPERATOR, else the AWS caller identity, else login).",
    ),
    yes: bool = YesOption,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check the transition and print it; change nothing."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Move the flag to a neighbouring mode (a new generation). Jumps are refused with the missing
    step named; so are the steps into and out of `dynamodb`, which only the fenced cutover steps
    make (`ops migrate stop-pg-writes`, `ops migrate rollback`)."""
    store = FlagStore(dataset, settings=current_settings())
    target = Mode.parse(mode)
    who = current_operator(who)
    plan = store.set(target, reason=reason, who=who, dry_run=True)
    if plan.changed and not dry_run and not yes:
        typer.confirm(f"Change {store.dataset} from {plan.from_mode} to {plan.to_mode}?", abort=True)
    change = plan if dry_run or not plan.changed else store.set(target, reason=reason, who=who)
    _render_change(change, as_json)


@app.command()
def rollback(
    reason: str = ReasonOption,
    dataset: str | None = DatasetOption,
    yes: bool = YesOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the step back; change nothing."),
    as_json: bool = JsonOption,
) -> None:
    """Move the flag back one step (e.g. reads back to PostgreSQL) in one command."""
    store = FlagStore(dataset, settings=current_settings())
    who = current_operator()
    plan = store.rollback(reason=reason, who=who, dry_run=True)
    if not dry_run and not yes:
        typer.confirm(f"Roll {store.dataset} back from {plan.from_mode} to {plan.to_mode}?", abort=True)
    _render_change(plan if dry_run else store.rollback(reason=reason, who=who), as_json)


@app.command()
def resume(
    reason: str = ReasonOption,
    dataset: str | None = DatasetOption,
    yes: bool = YesOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would change; change nothing."),
    as_json: bool = JsonOption,
) -> None:
    """End a write pause left by an interrupted cutover step (writes go on in the current mode).

    A pause ends by itself at its deadline (OPS_PAUSE_MAX_SECONDS, 30 s by default); this ends it
    now. Nothing to do when writes are not paused."""
    store = FlagStore(dataset, settings=current_settings())
    who = current_operator()
    plan = store.resume(reason=reason, who=who, dry_run=True)
    if plan.changed and not dry_run and not yes:
        typer.confirm(f"Resume writes of {store.dataset} in {plan.to_mode}?", abort=True)
    _render_change(plan if dry_run or not plan.changed else store.resume(reason=reason, who=who), as_json)


@app.command()
def history(dataset: str | None = DatasetOption, as_json: bool = JsonOption) -> None:
    """Every recorded change of the flag: who, when, from, to, why."""
    changes = FlagStore(dataset, settings=current_settings()).history()
    if as_json:
        emit_json([c.to_dict() for c in changes])
        return
    table = Table(title="flag history")
    for column in ("at", "who", "from", "to", "generation", "reason"):
        table.add_column(column)
    for c in changes:
        to = f"{c.to_mode} (writes paused)" if c.paused else c.to_mode
        table.add_row(c.at, c.who, c.from_mode, to, str(c.generation), c.reason)
    console.print(table)


def _render_change(change: FlagChange, as_json: bool) -> None:
    if as_json:
        emit_json(change.to_dict())
    elif not change.changed:
        console.print(
            f"{change.dataset} is already in [bold]{change.to_mode}[/] (writes not paused); nothing to do."
        )
    elif change.dry_run:
        console.print(
            f"dry run: would change {change.dataset} from {change.from_mode} to [bold]{change.to_mode}[/]."
        )
    else:
        fence = (
            "PostgreSQL writers follow it at once (fence)"
            if change.fenced
            else "no PostgreSQL fence (PROD_DATABASE_URL unset)"
        )
        console.print(
            f"{change.dataset}: {change.from_mode} -> [bold]{change.to_mode}[/], generation "
            f"{change.generation} (recorded; {fence}; every instance within its cache TTL, 5 s by default)"
        )
