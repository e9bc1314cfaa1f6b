"""`ops repair`: put right what a failed DynamoDB write left behind."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ops.cli.common import JsonOption, current_settings, emit_json
from ops.exceptions import OpsError
from ops.migrate.config import MigrateConfig
from ops.settings import Settings

app = typer.Typer(help="Repair dual-write leftovers.", no_args_is_help=True)
console = Console()
# Progress goes to stderr so that --json output on stdout stays one clean document.
progress_console = Console(stderr=True)


def _refuse_once_dynamodb_is_the_source(settings: Settings) -> None:
    from ops.flags import FlagStore, Mode

    store = FlagStore(settings=settings, fence=False)
    state = store.state()
    if state.mode is Mode.DYNAMODB:
        raise OpsError(
            f"{store.dataset} is in mode 'dynamodb' ({state.describe()}): PostgreSQL is no longer written "
            "and the outbox was drained to 0 before the flip, so nothing in it may be copied over DynamoDB "
            "now. If rows are left, inspect them (`--dry-run`); to deliver them, roll back first "
            "(`ops migrate rollback`)"
        )


@app.command()
def outbox(  # noqa: PLR0917 - Typer options are parameters
    database_url: str | None = typer.Option(
        None, "--database-url", help="PostgreSQL holding the outbox (default: $PROD_DATABASE_URL)."
    ),
    target_table: str | None = typer.Option(
        None, "--table", help="DynamoDB table (default: $OPS_TARGET_TABLE)."
    ),
    batch_size: int = typer.Option(200, "--batch-size", help="Outbox rows per transaction."),
    workers: int = typer.Option(8, "--workers", help="DynamoDB puts in flight."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what is pending."),
    as_json: bool = JsonOption,
) -> None:
    """Drain the dual-write outbox: re-put the CURRENT PostgreSQL row (or a tombstone) for each entry.

    Safe from several hosts at once: entries are claimed with SKIP LOCKED, and the version
    condition (with the flag's generation in it) makes a put that is no longer the newest a no-op.
    The application's own drainer does this continuously; this command is for an operator who
    wants it now. Refused in mode `dynamodb`: PostgreSQL is no longer the source there. Exit code
    1 when entries remain (their last_error says why); rows the application wrote within
    OPS_OUTBOX_MAX_AGE_SECONDS and nobody has tried yet are in flight, not remaining.
    """
    from ops import aws
    from ops.dualwrite import drain_outbox, make_pool, pending_outbox
    from ops.mapping import load_mapping

    settings = current_settings()
    url = database_url or settings.prod_database_url
    if not url:
        raise OpsError("no database: pass --database-url or set PROD_DATABASE_URL")
    pool = make_pool(url, max_size=2)
    try:
        pending = pending_outbox(pool)
        if dry_run:
            if as_json:
                emit_json({"pending": pending, "dry_run": True})
            else:
                console.print(f"dry run: {pending:,} outbox rows pending; nothing changed.")
            return
        _refuse_once_dynamodb_is_the_source(settings)
        with Progress(
            TextColumn("[bold]outbox"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=progress_console,
        ) as progress:
            task = progress.add_task("outbox", total=pending)
            done = [0]

            def advance(n: int) -> None:
                # Rows written while it drains are drained too: the total grows with them.
                done[0] += n
                progress.update(task, advance=n, total=max(pending, done[0]))

            result = drain_outbox(
                load_mapping(settings.mapping_file),
                pool,
                aws.client("dynamodb"),
                target_table or settings.target_table,
                batch_size=batch_size,
                workers=workers,
                # The dual-write gate's bound: a row younger than it, never tried, is an app's
                # write being delivered right now, not one this pass failed to deliver.
                in_flight_seconds=MigrateConfig.from_env(settings).outbox_max_age_seconds,
                tombstone_ttl_seconds=settings.tombstone_ttl_seconds,
                progress=advance,
            )
    finally:
        pool.close()
    if as_json:
        emit_json(result.to_dict())
    else:
        console.print(
            f"examined {result.examined:,}: written {result.written:,} (tombstones {result.tombstones:,}), "
            f"already current {result.already_current:,}, failed {result.failed:,} "
            f"(row errors {result.row_errors:,}); remaining {result.remaining:,} in {result.seconds:.1f} s"
            + (
                f"; {result.in_flight:,} in flight (written by the application just now, its drainer "
                "delivers them)"
                if result.in_flight
                else ""
            )
        )
        for error in result.errors[:10]:
            console.print(f"  [red]{error}[/]")
    if result.remaining:
        raise typer.Exit(1)
