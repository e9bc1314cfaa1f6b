"""`ops verify run | status | report | shadow`: compare PostgreSQL with DynamoDB before reads switch."""

from __future__ import annotations

import json
import time

import typer
from rich.console import Console
from rich.table import Table

from ops.cli.common import JsonOption, current_operator, current_settings, emit_json
from ops.control import ControlTable
from ops.exceptions import OpsError
from ops.results import render
from ops.verify import VerifyOptions, VerifyResult, latest_verify, render_result, run_verify, verify_gate
from ops.verify.checkpoint import CheckpointStore
from ops.verify.engine import run_verify_processes

app = typer.Typer(help="VDiff-style verification of DynamoDB against PostgreSQL, with repair.")
console = Console()

DatasetOption = typer.Option(None, "--dataset", help="Dataset (default: $OPS_DATASET).")


@app.command()
def run(  # noqa: PLR0917 - Typer options are parameters
    dataset: str | None = DatasetOption,
    table: str | None = typer.Option(None, "--table", help="Mapped PostgreSQL table (default: the dataset)."),
    source_url: str | None = typer.Option(
        None, "--source-url", help="PostgreSQL to compare with (default: $V2_DATABASE_URL)."
    ),
    sample: float | None = typer.Option(
        None, "--sample", help="Quick check of P percent of the rows (and of the Scan for extras)."
    ),
    segments: int = typer.Option(
        8,
        "--segments",
        help="Key ranges read in parallel (one thread each); the Scan for extras uses at least 100 segments.",
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="Threads per process (default: one per segment)."
    ),
    worker: int = typer.Option(0, "--worker", help="This worker's (host's) number, 0..N-1."),
    workers: int = typer.Option(
        1, "--workers", help="N: workers (hosts) sharing the run's segments; they need the same --run-id."
    ),
    processes: int = typer.Option(
        1, "--processes", help="Worker processes on this host; worker i runs workers i*P..i*P+P-1 of N*P."
    ),
    recheck_delay: float = typer.Option(
        5.0, "--recheck-delay", help="Seconds before a difference is read again; only lasting ones count."
    ),
    repair: bool = typer.Option(False, "--repair", help="Rewrite what differs from PostgreSQL."),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --repair: list the repairs, change nothing."),
    run_id: str | None = typer.Option(None, "--run-id", help="Name the run (or continue an unfinished one)."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the newest unfinished run from its checkpoints."
    ),
    extras: bool = typer.Option(True, "--extras/--no-extras", help="Scan DynamoDB for items without a row."),
    force_reason: str | None = typer.Option(
        None,
        "--force-reason",
        help="With --repair while reads come from DynamoDB: why (recorded with the run and in the ledger).",
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before repairing."),
    as_json: bool = JsonOption,
) -> None:
    """Compare every row (or a sample) with its item; report mismatched, missing and extra items
    with keys and field diffs; store the result as gate evidence. Exit 1 when differences remain.

    On the V2 replica, a difference that lasts through the re-checks is confirmed on the primary
    (PROD_DATABASE_URL) before it counts or is repaired: a replica that lags is not a difference.
    --repair is refused in mode `dynamodb`, and while reads come from DynamoDB unless --force-reason
    says why; the gate only accepts a full run (every row, extras scanned, no sample). A repair
    that dealt with every difference it found exits 0 (run a verification again for the gate)."""
    if dry_run and not repair:
        raise OpsError("--dry-run applies to --repair (a verification alone changes nothing)")
    if repair and not dry_run and not yes:
        typer.confirm("Repair DynamoDB items that differ from PostgreSQL?", abort=True)
    options = VerifyOptions(
        source_url=source_url,
        dataset=dataset,
        table=table,
        segments=segments,
        threads=threads,
        worker=worker,
        workers=workers,
        sample_percent=sample,
        recheck_delay=recheck_delay,
        repair=repair,
        dry_run=dry_run,
        extras=extras,
        run_id=run_id,
        resume=resume,
        progress=not as_json,
        force_repair_reason=force_reason,
    )
    if processes < 1:
        raise OpsError("--processes must be at least 1")
    settings = current_settings()
    result = (
        run_verify_processes(options, processes, settings=settings)
        if processes > 1
        else run_verify(options, settings=settings, console=Console(stderr=True))
    )
    if result.forced_repair_reason and not dry_run:
        _record_forced_repair(result)
    render_result(result, console, as_json)
    if result.clean:
        return
    if _repaired_everything(result):
        if not as_json:
            console.print(
                f"[green]every difference repaired[/] ({result.repaired:,} written, "
                f"{result.repair_skipped:,} already current or gone); the gate needs a clean run: "
                "`ops migrate verify`"
            )
        return
    raise typer.Exit(1)


def _repaired_everything(result: VerifyResult) -> bool:
    """A repair run that dealt with each difference it found (written, or found already current or
    gone); unencodable rows cannot be repaired from here."""
    found = result.mismatched + result.missing + result.extra
    return (
        result.repair
        and not result.dry_run
        and not result.errors
        and result.repaired + result.repair_skipped >= found
    )


def _record_forced_repair(result: VerifyResult) -> None:
    """A repair while reads come from DynamoDB changed what users see: the ledger says who and why."""
    from ops.migrate.ledger import Ledger

    Ledger(ControlTable(current_settings().control_table), result.dataset).event(
        "verify",
        "forced-repair",
        f"repaired {result.repaired}",
        current_operator(),
        detail=str(result.forced_repair_reason),
        evidence={"run_id": result.run_id, "mode": result.mode, "repaired": result.repaired},
    )


@app.command()
def status(
    dataset: str | None = DatasetOption,
    table: str | None = typer.Option(
        None, "--table", help="Mapped table the gate is for (default: the dataset)."
    ),
    max_age_hours: float = typer.Option(24.0, "--max-age-hours", help="Gate: newest acceptable run."),
    as_json: bool = JsonOption,
) -> None:
    """The `verify` gate from the stored runs: the newest full run (every row, extras scanned, no
    sample) must be clean and recent (counts, age, coverage, source)."""
    settings = current_settings()
    name = dataset or settings.dataset
    gate = verify_gate(ControlTable(settings.control_table), name, max_age_hours, table=table)
    render(gate, console, as_json)
    if not gate.ok:
        raise typer.Exit(1)


@app.command()
def report(
    dataset: str | None = DatasetOption,
    history: bool = typer.Option(False, "--history", help="List recent runs instead of the newest one."),
    as_json: bool = JsonOption,
) -> None:
    """The newest run in full: counts, sample keys with field-level diffs, repairs."""
    settings = current_settings()
    name = dataset or settings.dataset
    control = ControlTable(settings.control_table)
    if history:
        runs = CheckpointStore(control, name).history()
        if as_json:
            emit_json([r.to_dict() for r in runs])
            return
        table = Table(title=f"verify runs of {name}")
        for column in ("finished", "run", "scope", "compared", "differences", "repaired"):
            table.add_column(column)
        for r in runs:
            scope = "every row" if r.sample_percent is None else f"{r.sample_percent:g}%"
            table.add_row(
                r.finished_at, r.run_id, scope, f"{r.rows_compared:,}", str(r.differences), str(r.repaired)
            )
        console.print(table)
        return
    result = latest_verify(control, name)
    if result is None:
        raise OpsError(f"no verification of {name} recorded yet; run `ops verify run`")
    render_result(result, console, as_json)


@app.command()
def shadow(
    dataset: str | None = DatasetOption,
    window: float | None = typer.Option(
        None, "--window", help="Seconds back from now (default: the gate's OPS_SHADOW_WINDOW_SECONDS)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """The application's shadow reads as recorded in the control table: each counted mismatch
    (when it was read, the key, why it counts, the versions and the field diff) and the counts the
    switch-reads gate judges (reads compared, transient, in flight, not copied yet)."""
    from ops.dualwrite.shadow_log import read_window
    from ops.migrate.config import MigrateConfig

    settings = current_settings()
    name = dataset or settings.dataset
    seconds = window if window is not None else MigrateConfig.from_env(settings).shadow_window_seconds
    seen = read_window(ControlTable(settings.control_table), name, time.time() - seconds)
    if as_json:
        emit_json({"dataset": name, **seen.to_dict()})
        return
    console.print(
        f"shadow reads of {name} over the last {seconds:.0f} s: {seen.compared:,} compared, "
        f"{seen.mismatch_count:,} mismatched, {seen.not_copied:,} not copied yet, "
        f"{seen.transient:,} transient, {seen.in_flight:,} in flight, {seen.errors:,} errors"
    )
    if seen.mismatches:
        table = Table(title="mismatches (newest last)")
        for column in (
            "read at",
            "key",
            "reason",
            "PostgreSQL / DynamoDB version",
            "diff (expected, actual)",
        ):
            table.add_column(column)
        for m in seen.mismatches:
            table.add_row(
                str(m["read_at"])[:23].replace("T", " "),
                json.dumps(m["key"], default=str),
                str(m["reason"]),
                f"{m.get('postgres_version')} / {m.get('dynamodb_version')}",
                json.dumps(m["diff"], default=str, ensure_ascii=False)[:300],
            )
        console.print(table)
    if seen.unrecorded:
        console.print(f"{seen.unrecorded:,} more mismatches were counted but not recorded (per-interval cap)")
    if seen.not_copied:
        sample = ", ".join(json.dumps(k, default=str) for k in seen.not_copied_keys()[:5])
        console.print(f"not copied yet (sample): {sample}")
