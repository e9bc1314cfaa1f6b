"""`ops backfill`: plan, run, watch and steer the PostgreSQL -> DynamoDB copy (procedure step 3)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ops.backfill.controls import LiveControls
from ops.backfill.engine import plan_backfill, run_backfill
from ops.backfill.estimate import (
    ROWS_PER_PROCESS,
    VERIFY_ROWS_PER_PROCESS,
    Fleet,
    MigrationEstimate,
    TableStats,
    duration_text,
    estimate,
)
from ops.backfill.failures import FailureLog
from ops.backfill.fleet import run_processes
from ops.backfill.options import BackfillOptions
from ops.backfill.prices import Prices
from ops.backfill.progress import FleetProgressDisplay, ProgressDisplay, summary_table
from ops.backfill.retry import retry_failed
from ops.backfill.status import backfill_gate, backfill_summary, segment_states
from ops.cli.common import JsonOption, current_settings, emit_json
from ops.control import ControlTable
from ops.exceptions import ConfigError, OpsError
from ops.results import render

app = typer.Typer(
    help="Copy PostgreSQL rows to DynamoDB: resumable, throttled, in parallel.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

RunIdOption = typer.Option(None, "--run-id", help="Backfill run (default: the table name).")
TableOption = typer.Option(None, "--table", help="PostgreSQL table to copy (default: $OPS_DATASET, answers).")
ControlOption = typer.Option(None, "--control-table", help="Control table (default: $OPS_CONTROL_TABLE).")
SourceUrlOption = typer.Option(None, help="Source database (default: $V2_DATABASE_URL).")
TargetTableOption = typer.Option(None, help="DynamoDB table (default: $OPS_TARGET_TABLE).")


def _run_id(run_id: str | None, table: str | None) -> str:
    return run_id or table or current_settings().dataset


def _control(name: str | None) -> ControlTable:
    return ControlTable(name or current_settings().control_table)


RunnersOption = typer.Option(1, help="Runner hosts for the estimate.")
ProcessesPerRunnerOption = typer.Option(2, help="Backfill processes per runner for the estimate (its vCPUs).")
RowsPerProcessOption = typer.Option(
    ROWS_PER_PROCESS, help="Rows/s one backfill process copies when the table does not hold it back."
)
VerifyRowsPerProcessOption = typer.Option(
    VERIFY_ROWS_PER_PROCESS, help="Rows/s one verify process compares when the table does not hold it back."
)
PreWarmOption = typer.Option(
    None,
    "--pre-warm",
    help="Write units/s the table is pre-warmed to (default: a new on-demand table's ramp).",
)
PricesOption = typer.Option(None, "--prices", help="JSON file of prices replacing the recorded ones.")


def render_estimate(est: MigrationEstimate, out: Console) -> None:
    """The estimate as an operator reads it: durations, capacity, cost, then the assumptions."""
    table = Table(title=f"estimate: {est.stats.table}, {est.stats.rows:,} rows")
    table.add_column("measure")
    table.add_column("value", justify="right")
    c = est.cost
    for name, value in (
        ("backfill", f"{duration_text(est.backfill_seconds)} (peak {est.peak_wcu:,.0f} WCU/s)"),
        ("verification", f"{duration_text(est.verify_seconds)} (peak {est.peak_rru:,.0f} RRU/s)"),
        ("write units", f"{est.write_units:,.0f}"),
        ("read units (verification)", f"{est.read_units:,.0f}"),
        (
            "on-demand: writes + reads",
            f"${c['on_demand_writes_usd']:,.0f} + ${c['on_demand_reads_usd']:,.0f}",
        ),
        (
            "provisioned: writes + reads",
            f"${c['provisioned_writes_usd']:,.0f} + ${c['provisioned_reads_usd']:,.0f}",
        ),
        ("storage", f"${c['storage_usd_per_month']:,.0f} per month"),
        (f"DMS ({est.prices.dms_instance})", f"${c['dms_usd']:,.0f}"),
        (f"V2 replica ({est.prices.replica_instance})", f"${c['replica_usd']:,.0f}"),
        (f"runners ({est.fleet.runners} x {est.prices.runner_instance})", f"${c['runners_usd']:,.0f}"),
        ("total, on-demand table", f"${c['total_on_demand_usd']:,.0f}"),
        ("total, provisioned table", f"${c['total_provisioned_usd']:,.0f}"),
    ):
        table.add_row(name, value)
    out.print(table)
    for assumption in est.assumptions():
        out.print(f"  - {assumption}")


@app.command()
def plan(  # noqa: PLR0917 - one parameter per CLI option
    table: str | None = TableOption,
    segments: int | None = typer.Option(None, help="Segments to plan (default: the stored plan's, else 16)."),
    runners: int = RunnersOption,
    processes: int = ProcessesPerRunnerOption,
    rows_per_process: float = RowsPerProcessOption,
    verify_rows_per_process: float = VerifyRowsPerProcessOption,
    pre_warm: float | None = PreWarmOption,
    prices: Path | None = PricesOption,
    source_url: str | None = SourceUrlOption,
    target_table: str | None = TargetTableOption,
    run_id: str | None = RunIdOption,
    control_table: str | None = ControlOption,
    as_json: bool = JsonOption,
) -> None:
    """Exact row count, segments, and the copy's and verification's time and cost under the table's limit."""
    options = BackfillOptions(
        source_url=source_url,
        table=table,
        target_table=target_table,
        control_table=control_table,
        run_id=run_id,
        segments=segments,
    ).with_settings(current_settings())
    result = plan_backfill(options)
    stats = TableStats(
        result.table,
        result.rows_total,
        result.avg_item_bytes or result.avg_payload_bytes,
        result.avg_write_units,
        "counted",
    )
    fleet = Fleet(runners, processes, rows_per_process, verify_rows_per_process)
    est = estimate(stats, fleet, pre_warm_wcu=pre_warm, prices=Prices.load(prices))
    cost = result.cost(est.backfill_seconds)
    doc = {**result.to_dict(), "bytes_total": result.bytes_total, "cost": cost, "estimate": est.to_dict()}
    if as_json:
        emit_json(doc)
        return
    summary = Table(title=f"backfill plan: {result.table}")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("rows (exact count)", f"{result.rows_total:,}")
    summary.add_row("request payload bytes (est.)", f"{result.bytes_total:,}")
    summary.add_row("segments", str(len(result.segments)))
    console.print(summary)
    render_estimate(est, console)
    segs = Table(title="segments (processing order is interleaved)")
    for column in ("segment", "after key", "up to key", "rows"):
        segs.add_column(column, justify="right")
    for s in result.segments:
        segs.add_row(str(s.index), str(s.lower or "-"), str(s.upper or "-"), f"{s.rows:,}")
    console.print(segs)


@app.command()
def run(  # noqa: PLR0917 - one parameter per CLI option
    table: str | None = TableOption,
    segments: int | None = typer.Option(None, help="Segments (default: the stored plan's, else 16)."),
    worker: int = typer.Option(0, help="This worker's (host's) number, 0..N-1."),
    workers: int = typer.Option(1, help="N: how many workers (hosts) share the segments."),
    processes: int = typer.Option(
        os.cpu_count() or 1,
        help="Worker processes on this host (default: its cores); worker i runs workers i*P..i*P+P-1 of N*P.",
    ),
    rate: float | None = typer.Option(None, help="Rows per second for this worker (default: unlimited)."),
    concurrency: int = typer.Option(256, help="PutItem requests in flight."),
    parallel_segments: int = typer.Option(8, help="Segments read at the same time."),
    page_rows: int = typer.Option(1000, help="Rows per keyset page."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and encode every row; write nothing."),
    restart: bool = typer.Option(False, "--restart", help="Forget this run's checkpoints and start over."),
    source_url: str | None = SourceUrlOption,
    target_table: str | None = TargetTableOption,
    create_target_table: bool = typer.Option(False, help="Create the target table if it is missing."),
    endpoint: str | None = typer.Option(
        None, "--put-endpoint", help="Endpoint for the PutItem traffic only (default: the DynamoDB endpoint)."
    ),
    run_id: str | None = RunIdOption,
    control_table: str | None = ControlOption,
    no_progress: bool = typer.Option(False, "--no-progress", help="No live progress display."),
    as_json: bool = JsonOption,
) -> None:
    """Copy (or resume copying) this worker's segments with PutItem + attribute_not_exists(pk)."""
    options = BackfillOptions(
        source_url=source_url,
        table=table,
        target_table=target_table,
        control_table=control_table,
        run_id=run_id,
        segments=segments,
        worker=worker,
        workers=workers,
        rate=rate,
        concurrency=concurrency,
        parallel_segments=parallel_segments,
        page_rows=page_rows,
        dry_run=dry_run,
        restart=restart,
        create_target_table=create_target_table,
        endpoint=endpoint,
    )
    if processes < 1:
        raise ConfigError("--processes must be at least 1")
    options = options.with_settings(current_settings())
    display: ProgressDisplay | FleetProgressDisplay | None = None
    try:
        if processes == 1:
            display = None if no_progress else ProgressDisplay(err)
            result = run_backfill(options, on_progress=display)
        else:
            display = None if no_progress else FleetProgressDisplay(processes, err)
            result = run_processes(options, processes, display)
    finally:
        if display is not None:
            display.stop()
    if as_json:
        emit_json(result.to_dict())
    else:
        console.print(summary_table(result))
        for sample in result.failure_samples[:5]:
            console.print(f"[yellow]failed:[/] {sample}")


@app.command()
def status(
    run_id: str | None = RunIdOption, control_table: str | None = ControlOption, as_json: bool = JsonOption
) -> None:
    """Per-segment state of a run, from the control table (works from any host)."""
    rid = _run_id(run_id, None)
    control = _control(control_table)
    summary = backfill_summary(control, rid)
    if summary is None:
        err.print(f"No backfill run {rid!r} recorded; start one with `ops backfill run`.")
        raise typer.Exit(1)
    states = segment_states(control, rid)
    gate = backfill_gate(control, rid)
    if as_json:
        doc = {
            "summary": summary.to_dict(),
            "segments": [{**asdict(s), "rows_expected": expected} for s, expected in states],
            "gate": gate.to_dict(),
        }
        emit_json(doc)
        return
    table = Table(title=f"backfill {rid}")
    for column in ("segment", "state", "last key", "read", "of", "written", "present", "failed", "lease"):
        table.add_column(column, justify="right")
    for s, expected in states:
        c = s.counters
        table.add_row(
            str(s.index),
            s.state,
            str(s.last_key or "-"),
            f"{c.rows_read:,}",
            f"{expected:,}",
            f"{c.rows_written:,}",
            f"{c.rows_present:,}",
            f"{c.rows_failed:,}",
            s.lease_owner or "-",
        )
    console.print(table)
    render(gate, console)


def _steerable(control: ControlTable, run_id: str, action: str) -> LiveControls:
    """The run's live controls, unless there is nothing left to steer (a control written then
    would only surprise the next run)."""
    summary = backfill_summary(control, run_id)
    if summary is None:
        raise OpsError(f"no backfill run '{run_id}' recorded; start one with `ops migrate backfill`")
    if summary.segments_total and summary.segments_complete == summary.segments_total:
        raise OpsError(
            f"run '{run_id}' is finished ({summary.segments_complete}/{summary.segments_total} segments "
            f"complete): nothing to {action}. A new copy takes its own settings: `ops backfill run --rate N`"
        )
    return LiveControls(control, run_id)


@app.command()
def pause(run_id: str | None = RunIdOption, control_table: str | None = ControlOption) -> None:
    """Pause every worker of the run within seconds (in-flight requests finish)."""
    _steerable(_control(control_table), _run_id(run_id, None), "pause").pause()
    console.print("paused; `ops backfill resume` continues")


@app.command()
def resume(run_id: str | None = RunIdOption, control_table: str | None = ControlOption) -> None:
    """Resume a paused run."""
    _steerable(_control(control_table), _run_id(run_id, None), "resume").resume()
    console.print("resumed")


RateArgument = typer.Argument(..., help="Rows per second per worker; 0 removes the limit.")


@app.command("set-rate")
def set_rate(
    rate: float = RateArgument,
    run_id: str | None = RunIdOption,
    control_table: str | None = ControlOption,
) -> None:
    """Change the rate of a running copy without restarting it (refused once the run is finished)."""
    _steerable(_control(control_table), _run_id(run_id, None), "slow down or speed up").set_rate(rate)
    console.print(f"rate set to {rate:,.0f} rows/s per worker" if rate else "rate limit removed")


failures_app = typer.Typer(help="Rows the copy could not write, with the reason.", no_args_is_help=True)
app.add_typer(failures_app, name="failures")


@failures_app.command("list")
def failures_list(
    run_id: str | None = RunIdOption,
    control_table: str | None = ControlOption,
    all_: bool = typer.Option(False, "--all", help="Include resolved failures."),
    as_json: bool = JsonOption,
) -> None:
    """List the failure log (open failures unless --all)."""
    found = FailureLog(_control(control_table), _run_id(run_id, None)).list(only_open=not all_)
    if as_json:
        emit_json([asdict(f) for f in found])
        return
    table = Table(title=f"backfill failures ({len(found)})")
    for column in ("table", "key", "column", "kind", "reason", "attempts", "state"):
        table.add_column(column)
    for f in found:
        table.add_row(f.table, json.dumps(f.key), f.column or "-", f.kind, f.reason, str(f.attempts), f.state)
    console.print(table)


ExportPathArgument = typer.Argument(..., help="Output file: .csv, or JSON lines otherwise.")


@failures_app.command("export")
def failures_export(
    path: Path = ExportPathArgument,
    run_id: str | None = RunIdOption,
    control_table: str | None = ControlOption,
    all_: bool = typer.Option(False, "--all", help="Include resolved failures."),
) -> None:
    """Export the failure log to a file."""
    count = FailureLog(_control(control_table), _run_id(run_id, None)).export(path, only_open=not all_)
    console.print(f"wrote {count} failure(s) to {path}")


@app.command("retry-failed")
def retry_failed_command(  # noqa: PLR0917 - one parameter per CLI option
    table: str | None = TableOption,
    run_id: str | None = RunIdOption,
    control_table: str | None = ControlOption,
    source_url: str | None = SourceUrlOption,
    target_table: str | None = TargetTableOption,
    as_json: bool = JsonOption,
) -> None:
    """Re-read the failed rows from the source and copy them; resolved entries leave the open list."""
    result = retry_failed(
        BackfillOptions(
            source_url=source_url,
            table=table,
            target_table=target_table,
            control_table=control_table,
            run_id=run_id,
        ).with_settings(current_settings())
    )
    if as_json:
        emit_json(asdict(result))
        return
    console.print(
        f"retried {result.attempted}: copied {result.copied}, already present {result.present}, "
        f"gone from source {result.gone}, still failing {result.still_failing}"
    )
    for reason in result.reasons[:10]:
        console.print(f"[yellow]still failing:[/] {reason}")
    if result.still_failing:
        raise typer.Exit(1)
