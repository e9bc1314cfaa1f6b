"""`ops migrate`: the cutover, one phase per command, each behind its gate and recorded in the ledger.

Exit codes: 0 the phase (or check) passed; 1 a gate refused, the operator declined, or a step
failed; 2 a usage or configuration error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ops.backfill.estimate import Fleet, TableStats, estimate, source_stats
from ops.backfill.prices import Prices
from ops.backfill.progress import ProgressDisplay
from ops.cli import backfill as backfill_cli
from ops.cli.common import JsonOption, current_operator, current_settings, emit_json
from ops.cli.replica import LobScanOption
from ops.exceptions import OpsError
from ops.migrate.config import DAY, MigrateConfig
from ops.migrate.phases import Phase
from ops.migrate.runner import Cutover, Interaction, PhaseOptions
from ops.migrate.status import migration_status
from ops.results import PhaseResult, render

app = typer.Typer(
    help="The cutover: run each phase behind its gate, see where the migration stands, roll back one step.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

DryRun = typer.Option(False, "--dry-run", help="Print the plan and the gate; change nothing.")
Yes = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
ConfirmName = typer.Option(
    None,
    "--confirm-name",
    help="With --yes on a destructive step: the resource name the operator would type (the dataset).",
)
Tables = typer.Option(
    None,
    "--table",
    help="PostgreSQL table to snapshot and drop (repeatable; default: the dataset's own table).",
)
SnapshotDir = typer.Option(
    None,
    "--snapshot-dir",
    help="Folder for the pg_dump snapshots (default: OPS_SNAPSHOT_DIR or .sandbox/snapshots).",
)
Wait = typer.Option(0.0, "--wait", help="Keep re-checking the gate for up to this many seconds.")


def _cutover(yes: bool, confirm_name: str | None = None, **config: Any) -> Cutover:
    cfg = MigrateConfig.from_env(current_settings(), **config)
    interaction = Interaction(
        yes=yes,
        confirm_name=confirm_name,
        confirm=lambda q: typer.confirm(q, default=False, err=True),
        ask=lambda q: str(typer.prompt(q, default="", show_default=False, err=True)),
    )
    return Cutover(cfg, operator=current_operator(), interaction=interaction)


def _execute(as_json: bool, fn: Callable[[], PhaseResult]) -> None:
    """Run a phase, render its result, and exit 0 (ok), 1 (refused or failed) or 2 (usage)."""
    try:
        result = fn()
    except OpsError as exc:
        if as_json:
            emit_json({"ok": False, "error": str(exc)})
        else:
            err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None
    render(result, console, as_json)
    if not as_json and not result.ok and result.gate is not None:
        err_console.print(f"[red]{result.phase} did not pass its gate;[/] see the fix column above.")
    raise typer.Exit(0 if result.ok else 1)


def _phase(
    phase: Phase,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    *,
    options: PhaseOptions | None = None,
    confirm_name: str | None = None,
    **config: Any,
) -> None:
    _execute(as_json, lambda: _cutover(yes, confirm_name, **config).run(phase, dry_run, options))


@app.command()
def status(
    history: bool = typer.Option(False, "--history", help="Also show every recorded event, oldest first."),
    as_json: bool = JsonOption,
) -> None:
    """Where the migration stands, and the next allowed command.

    Phase and mode (stored, as the app reads it, as the ledger expects), each gate with its
    evidence and age, what runs now (replica, backfill, verification), the operator lock.
    """
    try:
        report = migration_status(MigrateConfig.from_env(current_settings()), history=history)
    except OpsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        emit_json(report)
        return
    _render_status(report)


@app.command()
def plan(  # noqa: PLR0917 - one parameter per CLI option
    table: str | None = typer.Option(None, "--table", help="PostgreSQL table (default: the dataset)."),
    source_url: str | None = backfill_cli.SourceUrlOption,
    exact: bool = typer.Option(False, "--exact", help="Count the rows (default: PostgreSQL's statistics)."),
    rows: int | None = typer.Option(None, help="Plan for this many rows instead of reading the source."),
    item_bytes: float = typer.Option(1400.0, help="With --rows: the average DynamoDB item size in bytes."),
    runners: int = backfill_cli.RunnersOption,
    processes: int = backfill_cli.ProcessesPerRunnerOption,
    rows_per_process: float = backfill_cli.RowsPerProcessOption,
    verify_rows_per_process: float = backfill_cli.VerifyRowsPerProcessOption,
    pre_warm: float | None = backfill_cli.PreWarmOption,
    prices: Path | None = backfill_cli.PricesOption,
    as_json: bool = JsonOption,
) -> None:
    """How long the backfill and the verification take under the table's real limit, and what they cost."""
    try:
        settings = current_settings()
        stats = (
            TableStats.given(table or "answers", rows, item_bytes)
            if rows
            else source_stats(
                source_url or settings.v2_database_url,
                table or settings.dataset,
                mapping_file=settings.mapping_file,
                exact=exact,
            )
        )
        fleet = Fleet(runners, processes, rows_per_process, verify_rows_per_process)
        est = estimate(stats, fleet, pre_warm_wcu=pre_warm, prices=Prices.load(prices))
    except OpsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        emit_json(est.to_dict())
        return
    backfill_cli.render_estimate(est, console)


@app.command()
def preflight(
    dry_run: bool = DryRun,
    yes: bool = Yes,
    as_json: bool = JsonOption,
    lob_scan: str | None = LobScanOption,
) -> None:
    """Phase 1: check access to everything the cutover touches, and the replica's source.

    The mapping (it loads; every other check reads its tables); both databases (with the
    dual-write privileges); the source's replication prerequisites
    (wal_level / rds.logical_replication, free slots and WAL senders, the replication user's
    grants, WAL held by slots, free storage); the largest LOB values against the DMS LOB limit;
    the target table (with PITR), the control table, the flag (through the app's reader) and the
    CloudWatch alarms. Read-only.
    """
    _phase(Phase.PREFLIGHT, dry_run, yes, as_json, lob_scan=lob_scan)


@app.command("dual-write")
def dual_write(dry_run: bool = DryRun, yes: bool = Yes, as_json: bool = JsonOption) -> None:
    """Phase 2: turn dual writes on (mode dual_write, then dual_write_shadow).

    Each flag change is read back through the app's reader; shadow reads start once the outbox
    is empty or draining.
    """
    _phase(Phase.DUAL_WRITE, dry_run, yes, as_json)


@app.command()
def replicate(
    dry_run: bool = DryRun, yes: bool = Yes, as_json: bool = JsonOption, wait: float = Wait
) -> None:
    """Phase 3: start the V2 replica (DMS or logical replication) and check `replica ready`."""
    _phase(Phase.REPLICATE, dry_run, yes, as_json, options=PhaseOptions(wait_seconds=wait))


@app.command()
def backfill(  # noqa: PLR0917 - one parameter per CLI option
    dry_run: bool = DryRun,
    yes: bool = Yes,
    as_json: bool = JsonOption,
    segments: int | None = typer.Option(None, "--segments", help="Key-range segments (backfill default)."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", help="PutItem requests in flight (backfill default 256)."
    ),
    rate: float | None = typer.Option(None, "--rate", help="Target items per second (backfill default)."),
    accept_failures: bool = typer.Option(
        False,
        "--accept-failures",
        help="Pass the gate with failed rows outstanding (recorded in the ledger).",
    ),
) -> None:
    """Phase 4: run (or resume) the backfill V2 -> DynamoDB.

    The gate needs every segment complete and no failed rows outstanding.
    """
    extra = {
        k: v
        for k, v in {"segments": segments, "concurrency": concurrency, "rate": rate}.items()
        if v is not None
    }
    _phase(
        Phase.BACKFILL,
        dry_run,
        yes,
        as_json,
        options=PhaseOptions(
            accept_failures=accept_failures,
            backfill=extra,
            progress=None if as_json or dry_run else ProgressDisplay(err_console),
        ),
    )


@app.command()
def verify(
    dry_run: bool = DryRun,
    yes: bool = Yes,
    as_json: bool = JsonOption,
    segments: int | None = typer.Option(None, "--segments", help="Segments compared in parallel."),
    recheck_delay: float | None = typer.Option(
        None, "--recheck-delay", help="Seconds before differences are re-checked (live writes settle)."
    ),
) -> None:
    """Phase 5: compare V2 PostgreSQL with DynamoDB, every row, differences re-checked.

    The gate needs a clean result younger than 24 h.
    """
    extra = {k: v for k, v in {"segments": segments, "recheck_delay": recheck_delay}.items() if v is not None}
    _phase(
        Phase.VERIFY,
        dry_run,
        yes,
        as_json,
        options=PhaseOptions(verify=extra, progress=False if as_json else None),
    )


@app.command("switch-reads")
def switch_reads(dry_run: bool = DryRun, yes: bool = Yes, as_json: bool = JsonOption) -> None:
    """Phase 6: read from DynamoDB (mode dual_write_read_dynamodb).

    Only once the verification is fresh and clean, shadow reads agree and the alarms are OK;
    then checks the app's reader sees the change.
    """
    _phase(Phase.SWITCH_READS, dry_run, yes, as_json)


@app.command()
def soak(
    dry_run: bool = DryRun,
    yes: bool = Yes,
    as_json: bool = JsonOption,
    soak_days: float | None = typer.Option(
        None, "--soak-days", help="Soak length in days (default 14, or OPS_SOAK_SECONDS)."
    ),
    wait: float = Wait,
) -> None:
    """Phase 7: check the soak (14 days by default since reads switched).

    Also: no rollback in that window, error alarms quiet.
    """
    seconds = soak_days * DAY if soak_days is not None else None
    _phase(Phase.SOAK, dry_run, yes, as_json, options=PhaseOptions(wait_seconds=wait), soak_seconds=seconds)


def _destructive_phase_command(phase: Phase, name: str, doc: str) -> None:
    """Register `ops migrate NAME`, a destructive phase: the same options (typed dataset name,
    tables to snapshot, snapshot folder) and the same run, only the phase differs."""

    def command(  # noqa: PLR0917 - one parameter per CLI option
        dry_run: bool = DryRun,
        yes: bool = Yes,
        as_json: bool = JsonOption,
        confirm_name: str | None = ConfirmName,
        table: list[str] | None = Tables,
        snapshot_dir: Path | None = SnapshotDir,
    ) -> None:
        _phase(
            phase,
            dry_run,
            yes,
            as_json,
            options=PhaseOptions(tables=table or None),
            confirm_name=confirm_name,
            snapshot_dir=snapshot_dir,
        )

    command.__doc__ = doc
    app.command(name)(command)


_destructive_phase_command(
    Phase.STOP_PG_WRITES,
    "stop-pg-writes",
    """Phase 8: snapshot the PostgreSQL tables, then stop writing PostgreSQL (mode dynamodb).

    Asks for the dataset name to be typed (or --yes --confirm-name NAME). Cannot be rolled back
    by a command.
    """,
)
_destructive_phase_command(
    Phase.CLEANUP,
    "cleanup",
    """Phase 9: final snapshots, then delete the V2 replica and drop the PostgreSQL tables.

    --dry-run lists exactly what would be deleted. Asks for the dataset name to be typed.
    """,
)


@app.command()
def rollback(dry_run: bool = DryRun, yes: bool = Yes, as_json: bool = JsonOption) -> None:
    """One step back from wherever the migration is.

    From reading DynamoDB (switch-reads or soak) back to reading PostgreSQL is this one command.
    Refused, with the reason, after stop-pg-writes.
    """
    _execute(as_json, lambda: _cutover(yes).rollback(dry_run))


def _render_status(report: dict[str, Any]) -> None:
    pos = report["position"]
    console.print(
        f"[bold]dataset[/] {report['dataset']}   "
        f"[bold]phase[/] {pos['phase'] or '-'} ({pos['state'] or 'not started'})"
        f"   [bold]mode[/] {report['mode']['flag']} (ledger expects {report['mode']['expected']}, "
        f"app reads {report['mode']['app']})"
    )
    if report.get("lock"):
        console.print(
            f"[yellow]in progress:[/] {report['lock']['operator']} is running {report['lock']['phase']}"
        )
    table = Table(title="phases")
    for column in ("phase", "state", "operator", "started", "ended", "gate", "gate age"):
        table.add_column(column)
    for row in report["phases"]:
        gate = {True: "[green]passed[/]", False: "[red]refused[/]", None: "-"}[row["gate_ok"]]
        table.add_row(
            row["phase"],
            row["state"] or "-",
            row["operator"] or "-",
            _when(row["started_at"]),
            _when(row["ended_at"]),
            gate,
            row["gate_age"] or "-",
        )
    console.print(table)
    _render_refusals(report["phases"])
    if report["running"]:
        running = Table(title="running now")
        running.add_column("part")
        running.add_column("state")
        for name, value in report["running"].items():
            running.add_row(name, value)
        console.print(running)
    else:
        console.print("running now: nothing (no replica, backfill or verification started yet)")
    _render_snapshots(report["phases"])
    console.print(f"[bold]next:[/] {report['next'] or 'nothing: the migration is complete'}")
    if report.get("history") is not None:
        _render_history(report["history"])


def _render_refusals(phases: list[dict[str, Any]]) -> None:
    """The failed checks of each refused gate, with their fix, under the phase table."""
    for row in phases:
        if row["gate_ok"] is not False or row["state"] == "rolled_back":
            continue
        for check in row["gate"]["checks"]:
            if not check["ok"]:
                console.print(
                    f"[red]{row['phase']}: {check['name']}[/] measured {check['measured']}, "
                    f"required {check['threshold']}; fix: {check['fix']}"
                )


def _render_snapshots(phases: list[dict[str, Any]]) -> None:
    """The final snapshots the destructive phases took: what a restore starts from."""
    taken = [(row["phase"], snap) for row in phases for snap in row.get("snapshots") or []]
    if not taken:
        return
    table = Table(title="snapshots")
    for column in ("phase", "kind", "location", "tables", "size"):
        table.add_column(column)
    for phase, snap in taken:
        size = snap.get("size_bytes") or 0
        table.add_row(
            phase,
            str(snap.get("kind", "")),
            str(snap.get("location", "")),
            ", ".join(snap.get("tables") or []) or "-",
            f"{size:,} bytes" if size else "-",
        )
    console.print(table)


def _render_history(events: list[dict[str, Any]]) -> None:
    hist = Table(title="history")
    for column in ("at", "phase", "action", "state", "operator", "detail"):
        hist.add_column(column)
    for e in events:
        hist.add_row(_when(e["at"]), e["phase"], e["action"], e["state"], e["operator"], e["detail"][:80])
    console.print(hist)


def _when(iso: str | None) -> str:
    """ISO time as `YYYY-MM-DD HH:MM:SS` (UTC), or `-`."""
    return iso[:19].replace("T", " ") if iso else "-"
