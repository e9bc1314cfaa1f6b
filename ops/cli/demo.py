"""`ops demo`: sample data and live traffic for the local stack."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ops.cli.common import JsonOption, current_settings, emit_json
from ops.exceptions import OpsError

app = typer.Typer(
    help="Fill the sample schema and drive live traffic through the dual-write layer.", no_args_is_help=True
)
console = Console()
# Progress goes to stderr so that --json output on stdout stays one clean document.
progress_console = Console(stderr=True)

DatabaseOption = typer.Option(None, "--database-url", help="PostgreSQL to use (default: $PROD_DATABASE_URL).")


def _database(url: str | None) -> str:
    found = url or current_settings().prod_database_url
    if not found:
        raise OpsError(
            'no database: pass --database-url or set PROD_DATABASE_URL (`eval "$(ops sandbox env)"`)'
        )
    return found


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=progress_console,
        transient=False,
    )


@app.command()
def seed(  # noqa: PLR0917 - Typer options are parameters
    rows: int = typer.Option(100_000, "--rows", help="Number of answers to create."),
    couples: int | None = typer.Option(None, "--couples", help="Number of couples (default: rows / 150)."),
    seed_value: int = typer.Option(42, "--seed", help="Random seed; the same seed gives the same data."),
    truncate: bool = typer.Option(False, "--truncate", help="Replace existing couple-diary data."),
    jobs: int = typer.Option(2, "--jobs", help="Parallel COPY streams."),
    database_url: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Create the schema (migrations) and COPY realistic, skewed couple-diary data into it."""
    from ops.demo.seed import seed_database

    url = _database(database_url)
    with _progress() as progress:
        task = progress.add_task("answers", total=rows, rate="")

        def advance(n: int) -> None:
            done = progress.tasks[0].completed + n
            elapsed = progress.tasks[0].elapsed or 0
            progress.update(task, advance=n, rate=f"{done / elapsed:,.0f} rows/s" if elapsed else "")

        result = seed_database(
            url, rows, couples=couples, seed=seed_value, truncate=truncate, jobs=jobs, progress=advance
        )
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(
        f"seeded {result.answers:,} answers, {result.couples:,} couples, {result.users:,} users, "
        f"{result.questions:,} questions in {result.seconds:.2f} s ({result.rows_per_second:,.0f} rows/s)"
    )


@app.command()
def traffic(  # noqa: PLR0917 - Typer options are parameters
    rps: float = typer.Option(50.0, "--rps", help="Operations per second."),
    duration: float = typer.Option(30.0, "--duration", help="Seconds to run."),
    mode: str | None = typer.Option(
        None, "--mode", help="Pin a migration mode instead of reading the flag (SSM) like the application."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Worker threads (default: from --rps)."),
    seed_value: int | None = typer.Option(None, "--seed", help="Random seed for a repeatable run."),
    database_url: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Drive creates, updates, deletes and reads through the dual-write layer; report every error.

    Ctrl-C (or SIGTERM) stops it early: operations in progress finish and the report is printed
    as after a full run (a second Ctrl-C stops at once)."""
    from ops.demo.traffic import run_traffic
    from ops.dualwrite import Repository, make_pool
    from ops.flags import FixedMode, FlagReader
    from ops.tables import ensure_target_table

    settings = current_settings()
    try:
        ensure_target_table(settings.target_table)
    except Exception as exc:
        # An unreachable DynamoDB is a scenario worth driving traffic through (the outbox holds it).
        progress_console.print(
            f"[yellow]warning:[/] cannot reach DynamoDB table {settings.target_table}: {exc}"
        )
    pool = make_pool(_database(database_url), max_size=max(6, (workers or int(rps // 5) + 2) + 2))
    modes = FixedMode(mode) if mode else FlagReader(settings.dataset, settings=settings)
    repo = Repository("answers", pool, target_table=settings.target_table, modes=modes, settings=settings)
    stop = threading.Event()
    try:
        with _stopped_by_signals(stop), _progress() as progress:
            task = progress.add_task(f"traffic ({modes.mode()})", total=int(rps * duration), rate="")
            result = run_traffic(
                repo,
                rps=rps,
                duration=duration,
                workers=workers,
                seed=seed_value,
                progress=lambda n: progress.update(task, advance=n),
                stop=stop,
            )
    finally:
        repo.close()
        pool.close()
    if stop.is_set():
        progress_console.print(f"stopped early after {result.seconds:.0f} s of the planned {duration:g} s")
    if as_json:
        emit_json(result.to_dict())
    else:
        _render_traffic(result.to_dict())
    if result.error_count:
        raise typer.Exit(1)


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop` once; the handlers in place before are restored afterwards (and
    by the first signal, so a second Ctrl-C interrupts at once)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: Any) -> None:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        progress_console.print("[yellow]stopping:[/] letting operations in progress finish, then the report")
        stop.set()

    for sig in saved:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _render_traffic(report: dict[str, Any]) -> None:
    rate = report["achieved_rps"]
    table = Table(title=f"traffic: {report['total']:,} operations in {report['seconds']} s ({rate} /s)")
    for column in ("operation", "ok", "conflicts", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "operation" else "left")
    for op in sorted(set(report["done"]) | set(report["conflicts"])):
        lat = report["latency_ms"].get(op, {})
        table.add_row(
            op,
            str(report["done"].get(op, 0)),
            str(report["conflicts"].get(op, 0)),
            f"{lat.get('p50', 0):.1f}",
            f"{lat.get('p99', 0):.1f}",
        )
    console.print(table)
    console.print("modes followed: " + " -> ".join(report["modes"]))
    console.print("dual-write: " + ", ".join(f"{k}={v}" for k, v in report["dual_write"].items()))
    console.print(
        f"outbox rows pending: {report['outbox_pending']}"
        + ("  (drain with `ops repair outbox`)" if report["outbox_pending"] else "")
    )
    if not report["errors"]:
        console.print("[green]errors: none[/]")
        return
    console.print(f"[red]errors: {sum(report['errors'].values())}[/]")
    for name, count in report["errors"].items():
        console.print(f"  [red]{name}[/] x{count}")
        for example in report["error_examples"].get(name, []):
            console.print(f"    {example}")
