"""The full migration rehearsal on the local stack, under live traffic (`make demo`).

Every step runs the real `ops` CLI in a subprocess and prints the command first, so an operator
can repeat any step by hand; live traffic runs in this process through the dual-write layer, the
way the application embeds it, and follows the migration flag as the phases move it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from ops import aws
from ops.demo.history import History
from ops.exceptions import OpsError
from ops.mapping import DELETED_ATTRIBUTE
from ops.sandbox.stack import REPO_ROOT, Sandbox
from ops.settings import Settings

DEFAULT_ROWS = 200_000
# Demo setting: switch-reads needs no shadow-read mismatch over this trailing window (15 min by default).
SHADOW_WINDOW_SECONDS = 30
# The dual-write layer publishes its counters (and its shadow log) every 10 s.
METRICS_FLUSH_SECONDS = 10
FREE_PORTS = {"prod": 0, "v2": 0, "moto": 0, "dynamodb": 0}
# Full verifications read with this many threads: most of their time is waiting on DynamoDB Local
# and PostgreSQL, so more requests in flight finish sooner on two cores.
VERIFY_SEGMENTS = 8
# The rollback drill's verification is a sample: a full one passed the gate minutes before.
DRILL_SAMPLE_PERCENT = 10
# The last comparison of production with DynamoDB is a sample too: see `final_check`.
FINAL_SAMPLE_PERCENT = 10


class RehearsalFailed(OpsError):
    """A rehearsal step failed; the message names the step and its command."""


@dataclass(frozen=True)
class RehearsalOptions:
    rows: int = DEFAULT_ROWS
    rps: float = 25.0
    root: Path = REPO_ROOT / ".sandbox" / "demo"
    soak_seconds: float = 8.0
    recheck_delay: float = 3.0
    keep: bool = False
    seed: int = 42
    kill_backfill_at: float = 0.35  # fraction of the rows written when the backfill is killed
    notifications: bool = True
    dynamodb_seconds: float = 8.0  # live traffic in each mode around the flips into and out of dynamodb


@dataclass
class StepRecord:
    name: str
    command: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class RehearsalReport:
    rows: int
    steps: list[StepRecord] = field(default_factory=list)
    backfill: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] = field(default_factory=dict)
    final_check: dict[str, Any] = field(default_factory=dict)
    traffic: dict[str, Any] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    # The history checker's verdict on every write the traffic made, across every flip.
    history: dict[str, Any] = field(default_factory=dict)
    reverse: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_lost(self) -> int:
        return int(self.final_check.get("missing", 0)) + int(self.final_check.get("mismatched", 0))

    @property
    def rows_resurrected(self) -> int:
        return int(self.final_check.get("extra", 0))

    @property
    def writes_lost(self) -> int:
        return sum(int(v.get("lost", 0)) for v in self.history.values() if isinstance(v, dict))

    @property
    def writes_overwritten(self) -> int:
        return sum(
            int(v.get("overwritten_by_older", 0)) for v in self.history.values() if isinstance(v, dict)
        )

    @property
    def writes_resurrected(self) -> int:
        return sum(int(v.get("resurrected", 0)) for v in self.history.values() if isinstance(v, dict))

    @property
    def ok(self) -> bool:
        return (
            all(s.ok for s in self.steps)
            and self.rows_lost == 0
            and self.rows_resurrected == 0
            and bool(self.history)
            and self.writes_lost == self.writes_overwritten == self.writes_resurrected == 0
            and not self.traffic.get("errors")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "seconds": round(self.seconds, 1),
            "rows_lost": self.rows_lost,
            "rows_resurrected": self.rows_resurrected,
            "history": self.history,
            "reverse": self.reverse,
            "steps": [vars(s) for s in self.steps],
            "backfill": self.backfill,
            "verify": self.verify,
            "final_check": self.final_check,
            "traffic": self.traffic,
            "notifications": self.notifications,
        }


class LiveTraffic:
    """The application's load, through the dual-write layer, until stopped.

    `run_traffic` runs for a fixed duration, so the load is a series of short runs whose results
    are added up; between two runs the repository (and its flag reader) stays the same.
    """

    def __init__(self, settings: Settings, rps: float, seed: int, chunk_seconds: float = 10.0) -> None:
        self.settings = settings
        self.rps = rps
        self.seed = seed
        self.chunk_seconds = chunk_seconds
        self.stop_event = threading.Event()
        self.history = History()
        self.initial: dict[Any, dict[str, Any] | None] = {}
        self.totals: dict[str, Counter[str]] = {
            "done": Counter(),
            "conflicts": Counter(),
            "errors": Counter(),
        }
        self.examples: dict[str, list[str]] = {}
        self.modes_seen: list[str] = []
        self.seconds = 0.0
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="live-traffic", daemon=True)

    def start(self, log_path: Path) -> None:
        # The application's own logs (shadow-read samples, retries) go to a file, as they would go
        # to the app's log pipeline; the console stays for the operator's tables.
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        app_logger = logging.getLogger("ops.dualwrite")
        app_logger.addHandler(handler)
        app_logger.propagate = False
        self.thread.start()

    def stop(self) -> dict[str, Any]:
        self.stop_event.set()
        self.thread.join(timeout=120)
        if self.failure is not None:
            raise RehearsalFailed(f"live traffic stopped with an error: {self.failure}")
        return self.result()

    def result(self) -> dict[str, Any]:
        total = sum(sum(c.values()) for c in self.totals.values())
        return {
            "requests": total,
            "seconds": round(self.seconds, 1),
            "done": dict(self.totals["done"]),
            "conflicts": dict(self.totals["conflicts"]),
            "errors": dict(self.totals["errors"]),
            "error_examples": self.examples,
            "modes": self.modes_seen,
        }

    def _run(self) -> None:
        from ops.demo.traffic import run_traffic
        from ops.dualwrite import Repository, make_pool
        from ops.flags import FlagReader

        settings = self.settings
        assert settings.prod_database_url
        pool = make_pool(settings.prod_database_url, max_size=8)
        # A short cache: the demo moves the flag often and the traffic should follow it promptly.
        repo = Repository(
            "answers",
            pool,
            target_table=settings.target_table,
            modes=FlagReader(settings.dataset, ttl_seconds=1.0, settings=settings),
            settings=settings,
        )
        self.initial = _answers(settings.prod_database_url)
        chunk = 0
        try:
            while not self.stop_event.is_set():
                result = run_traffic(
                    repo,
                    rps=self.rps,
                    duration=self.chunk_seconds,
                    seed=self.seed + chunk,
                    history=self.history,
                    stop=self.stop_event,
                )
                chunk += 1
                self.seconds += result.seconds
                for name in ("done", "conflicts", "errors"):
                    self.totals[name].update(getattr(result, name))
                for kind, examples in result.error_examples.items():
                    self.examples.setdefault(kind, []).extend(examples[:3])
                if not self.modes_seen or self.modes_seen[-1] != result.mode:
                    self.modes_seen.append(result.mode)
        except BaseException as exc:  # reported by stop()
            self.failure = exc
        finally:
            repo.close()
            pool.close()


class Rehearsal:
    def __init__(self, options: RehearsalOptions, console: Console | None = None) -> None:
        self.options = options
        self.console = console or Console()
        self.report = RehearsalReport(rows=options.rows)
        self.sandbox = Sandbox(options.root, ports=dict(FREE_PORTS), echo=self.console.print)
        self.env: dict[str, str] = {}
        self._settings: Settings | None = None

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise RehearsalFailed("the local stack is not up yet (no settings to run against)")
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    def ops_argv(self) -> list[str]:
        script = Path(sys.executable).parent / "ops"
        return [str(script)] if script.exists() else [sys.executable, "-m", "ops"]

    def cli(
        self,
        name: str,
        args: Sequence[str],
        *,
        capture_json: bool = False,
        allow_fail: bool = False,
        timeout: float = 3600,
    ) -> dict[str, Any]:
        """Run `ops <args>` as an operator would; returns its JSON output when asked for."""
        shown = "ops " + " ".join(shlex.quote(a) for a in args)
        self.console.print(f"\n[bold cyan]$ {shown}[/]")
        started = time.monotonic()
        proc = subprocess.run(
            [*self.ops_argv(), *args],
            env=self.env,
            timeout=timeout,
            check=False,
            stdout=subprocess.PIPE if capture_json else None,
            text=True,
        )
        seconds = time.monotonic() - started
        ok = proc.returncode == 0
        data: dict[str, Any] = {}
        if capture_json and proc.stdout:
            data = _last_json(proc.stdout)
        self.report.steps.append(
            StepRecord(
                name, shown, round(seconds, 1), ok or allow_fail, "" if ok else f"exit {proc.returncode}"
            )
        )
        if not ok and not allow_fail:
            raise RehearsalFailed(f"step '{name}' failed (exit {proc.returncode}): {shown}")
        return data

    @contextlib.contextmanager
    def timed(self, name: str, what: str) -> Iterator[None]:
        """A step that is not an `ops` command (a wait, a check in this process), in the report."""
        started = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            self.report.steps.append(
                StepRecord(name, what, round(time.monotonic() - started, 1), ok, "" if ok else "failed")
            )

    def pause(self, name: str, seconds: float) -> None:
        with self.timed(name, f"(live traffic for {seconds:g} s)"):
            time.sleep(seconds)

    def section(self, title: str) -> None:
        self.console.print(Rule(f"[bold]{title}"))

    # -- the rehearsal -------------------------------------------------------------------------
    def run(self) -> RehearsalReport:
        started = time.monotonic()
        traffic: LiveTraffic | None = None
        saved_env = dict(os.environ)
        try:
            self.start_stack()
            self.seed()
            traffic = LiveTraffic(self.settings, self.options.rps, self.options.seed)
            traffic.start(self.options.root / "logs" / "traffic.log")
            self.console.print(
                f"[green]live traffic started[/]: {self.options.rps:g} operations/s "
                "through the dual-write layer, following the migration flag"
            )
            self.migrate_forward()
            self.rollback_drill()
            self.stop_postgres_writes_and_back()
            with self.timed("stop live traffic", "(the current burst of traffic ends)"):
                self.report.traffic = traffic.stop()
            self.final_check(traffic)
            traffic = None
            self.finish_migration()
            if self.options.notifications:
                self.notifications()
        finally:
            if traffic is not None:
                self.report.traffic = traffic.stop()
            os.environ.clear()
            os.environ.update(saved_env)
            aws.reset()
            if not self.options.keep:
                with self.timed("sandbox down", "ops sandbox down --purge"):
                    self.sandbox.down(purge=True)
            self.report.seconds = time.monotonic() - started
        return self.report

    def start_stack(self) -> None:
        self.section("1. local stack")
        root = str(self.options.root)
        self.console.print(
            f"[bold cyan]$ ops sandbox up --root {root} --prod-port 0 --v2-port 0 "
            "--moto-port 0 --dynamodb-port 0[/]"
        )
        step_started = time.monotonic()
        info = self.sandbox.up()
        self.env = {
            **os.environ,
            **info.env(),
            "OPS_SOAK_SECONDS": str(self.options.soak_seconds),
            "OPS_SNAPSHOT_DIR": str(self.options.root / "snapshots"),
            "OPS_SHADOW_WINDOW_SECONDS": str(SHADOW_WINDOW_SECONDS),
            # DynamoDB Local has no backups API, so PITR cannot be measured; say so explicitly.
            "OPS_PITR_UNSUPPORTED": "accept",
            "COLUMNS": os.environ.get("COLUMNS", "120"),
        }
        self.env.pop("AWS_PROFILE", None)
        self.env.pop("AWS_SESSION_TOKEN", None)
        os.environ.clear()
        os.environ.update(self.env)
        aws.reset()
        # The rehearsal's configuration is the stack it just started: built once, passed down.
        self.settings = Settings.from_mapping(self.env)
        self.report.steps.append(
            StepRecord("sandbox up", "ops sandbox up", round(time.monotonic() - step_started, 1), True)
        )
        self.cli("provision", ["sandbox", "provision", "--root", root])

    def seed(self) -> None:
        self.section("2. seed prod")
        self.cli("seed", ["demo", "seed", "--rows", str(self.options.rows), "--seed", str(self.options.seed)])

    def migrate_forward(self) -> None:
        self.section("3. migration, gate by gate")
        self.cli("status", ["migrate", "status"])
        self.cli("preflight", ["migrate", "preflight", "--yes"])
        self.cli("dual-write", ["migrate", "dual-write", "--yes"])
        self.cli("replicate", ["migrate", "replicate", "--yes", "--wait", "600"])
        self.backfill_with_kill()
        status = self.cli("backfill status", ["backfill", "status", "--json"], capture_json=True)
        self.report.backfill = status.get("summary", {})
        # The verify phase runs the full verification and stores it as gate evidence; the report
        # reads that stored result rather than verifying the whole table a second time.
        self.cli(
            "verify gate",
            [
                "migrate",
                "verify",
                "--yes",
                "--recheck-delay",
                str(self.options.recheck_delay),
                "--segments",
                str(VERIFY_SEGMENTS),
            ],
        )
        self.report.verify = self.cli("verify report", ["verify", "report", "--json"], capture_json=True)
        self.wait_shadow_reads()
        self.cli("switch-reads", ["migrate", "switch-reads", "--yes"])
        self.cli("soak", ["migrate", "soak", "--yes", "--wait", str(self.options.soak_seconds * 6)])

    def wait_shadow_reads(self) -> None:
        """The switch-reads gate needs at least one shadow comparison in its trailing window: wait
        until the application's shadow log holds one (at most one interval after a flip back to
        `dual_write_shadow`), then show the window as the runbook does. Reads of rows the backfill
        had not copied yet do not hold the gate back once a clean verification started after them,
        so there is no window to sit out."""
        from ops.control import ControlTable
        from ops.dualwrite.shadow_log import read_window

        dataset = self.env.get("OPS_DATASET", "answers")
        control = ControlTable(self.env.get("OPS_CONTROL_TABLE", "platform-ops-control"))
        deadline = time.monotonic() + SHADOW_WINDOW_SECONDS + METRICS_FLUSH_SECONDS
        with self.timed("shadow reads recorded", "(the app's shadow log)"):
            while read_window(control, dataset, time.time() - SHADOW_WINDOW_SECONDS).compared == 0:
                if time.monotonic() > deadline:
                    raise RehearsalFailed(
                        f"no shadow read recorded in {SHADOW_WINDOW_SECONDS + METRICS_FLUSH_SECONDS} s: "
                        "is the live traffic running in dual_write_shadow? (logs/traffic.log)"
                    )
                time.sleep(1.0)
        self.cli("shadow reads", ["verify", "shadow"])

    def backfill_with_kill(self) -> None:
        """Start the backfill, SIGKILL it part-way, then let the phase resume it from checkpoints."""
        from ops.backfill.status import backfill_summary
        from ops.control import ControlTable

        settings = self.settings
        argv = ["backfill", "run", "--no-progress"]
        shown = "ops " + " ".join(argv)
        self.console.print(
            f"\n[bold cyan]$ {shown}[/]   [dim](killed with SIGKILL part-way, to rehearse a crash)[/]"
        )
        started = time.monotonic()
        proc = subprocess.Popen([*self.ops_argv(), *argv], env=self.env, stdout=subprocess.DEVNULL)
        control = ControlTable(settings.control_table)
        target = self.options.rows * self.options.kill_backfill_at
        written = 0
        while proc.poll() is None:
            summary = backfill_summary(control, settings.dataset)
            written = summary.rows_written + summary.rows_present if summary else 0
            if written >= target:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.2)
        killed = proc.returncode == -signal.SIGKILL
        self.console.print(
            f"[yellow]backfill killed[/] after {written:,} rows"
            if killed
            else f"[yellow]backfill finished before the kill point[/] (exit {proc.returncode})"
        )
        self.report.steps.append(
            StepRecord(
                "backfill (killed)",
                shown,
                round(time.monotonic() - started, 1),
                killed or proc.returncode == 0,
                f"killed at {written:,} rows",
            )
        )
        self.cli("backfill status (after kill)", ["backfill", "status"])
        self.cli("backfill (resume + gate)", ["migrate", "backfill", "--yes"])

    def rollback_drill(self) -> None:
        self.section("4. rollback drill: back to PostgreSQL reads, verify, forward again")
        self.cli("rollback", ["migrate", "rollback", "--yes"])
        self.cli("status after rollback", ["migrate", "status"])
        # The gate's full verification ran minutes ago; the drill checks a sample of the table
        # (and of the Scan for extras) against production, as an operator would after a rollback.
        drill = self.cli(
            "verify after rollback (sample)",
            [
                "verify",
                "run",
                "--source-url",
                self.env["PROD_DATABASE_URL"],
                "--recheck-delay",
                str(self.options.recheck_delay),
                "--sample",
                str(DRILL_SAMPLE_PERCENT),
                "--json",
            ],
            capture_json=True,
        )
        self.report.verify["after_rollback"] = drill
        self.wait_shadow_reads()
        self.cli("switch-reads again", ["migrate", "switch-reads", "--yes"])
        self.cli("soak again", ["migrate", "soak", "--yes", "--wait", str(self.options.soak_seconds * 6)])

    def stop_postgres_writes_and_back(self) -> None:
        """Into `dynamodb` under traffic, back to PostgreSQL writes (reverse replication made sure
        nothing written meanwhile is missing there), and forward again."""
        self.section("5. stop PostgreSQL writes, roll back from dynamodb, forward again")
        dataset = self.env.get("OPS_DATASET", "answers")
        self.cli("stop-pg-writes", ["migrate", "stop-pg-writes", "--yes", "--confirm-name", dataset])
        self.pause("traffic in dynamodb", self.options.dynamodb_seconds)
        self.report.reverse["before_rollback"] = self.cli(
            "reverse replication status", ["replica", "reverse", "status", "--json"], capture_json=True
        ).get("status", {})
        self.cli("rollback from dynamodb", ["migrate", "rollback", "--yes"])
        self.cli("status after rollback from dynamodb", ["migrate", "status"])
        self.pause("traffic in dual_write_read_dynamodb", self.options.dynamodb_seconds)
        self.cli("stop-pg-writes again", ["migrate", "stop-pg-writes", "--yes", "--confirm-name", dataset])
        self.pause("traffic in dynamodb again", self.options.dynamodb_seconds)

    def final_check(self, traffic: LiveTraffic) -> None:
        self.section("6. traffic stopped: judge every write by its history; compare PostgreSQL with DynamoDB")
        from ops.demo.history import check
        from ops.reverse import control as reverse

        settings = self.settings
        stopped_at = time.time()
        deadline = time.monotonic() + 120
        with self.timed("reverse replication caught up", "ops replica reverse status"):
            while (reverse.status(settings).caught_up_at or 0) <= stopped_at and time.monotonic() < deadline:
                time.sleep(0.5)  # PostgreSQL is kept by reverse replication now
        self.report.reverse["final"] = reverse.status(settings).to_dict()
        with self.timed("history check", "(every write judged against both stores)"):
            final_ddb = _items(settings.target_table, len(traffic.initial))
            final_pg = _answers(settings.prod_database_url)
            self.report.history = {
                "acknowledged": traffic.history.counts().get("ok", 0),
                "dynamodb": check(traffic.history.ops, traffic.initial, final_ddb).to_dict(),
                "postgres": check(traffic.history.ops, traffic.initial, final_pg).to_dict(),
            }
        # A sample: the history check above compared every key of both stores with what the
        # traffic wrote, and the rollback from dynamodb verified every row minutes before.
        self.report.final_check = self.cli(
            "final comparison (sample)",
            [
                "verify",
                "run",
                "--source-url",
                self.env["PROD_DATABASE_URL"],
                "--recheck-delay",
                "0",
                "--sample",
                str(FINAL_SAMPLE_PERCENT),
                "--json",
            ],
            capture_json=True,
        )

    def finish_migration(self) -> None:
        self.section("7. clean up (the point of no return: reverse replication stops)")
        dataset = self.env.get("OPS_DATASET", "answers")
        self.cli("cleanup", ["migrate", "cleanup", "--yes", "--confirm-name", dataset])
        self.cli("status --history", ["migrate", "status", "--history"])

    def notifications(self) -> None:
        self.section("8. subscription notifications: API -> SQS FIFO -> consumer")
        from ops.demo.notifications_demo import run_notifications_demo

        started = time.monotonic()
        self.report.notifications = run_notifications_demo(
            self.settings, self.console, self.options.root / "logs" / "notifications.log"
        )
        self.report.steps.append(
            StepRecord(
                "notifications",
                "ops notifications serve (in-process)",
                round(time.monotonic() - started, 1),
                self.report.notifications.get("ok", False),
            )
        )


def _answers(url: str | None) -> dict[Any, dict[str, Any] | None]:
    """PostgreSQL's answers by item key, as the history checker compares them (body)."""
    import psycopg

    assert url
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT couple_id, question_id, user_id, body FROM answers").fetchall()
    return {(c, q, u): {"body": body} for c, q, u, body in rows}


def _items(table: str, rows: int) -> dict[Any, dict[str, Any] | None]:
    """DynamoDB's answers by item key, as the application reads them (tombstones are absent).

    A parallel Scan of many small segments (cut as verification cuts its Scan for a table of
    `rows` items), reading only what the checker compares: DynamoDB Local reads a segment in time
    that grows with the square of its size (one segment of 200,000 full items took over eight
    minutes; 32 projected segments, 15 s).
    """
    from concurrent.futures import ThreadPoolExecutor

    from ops.verify.engine import scan_segments_for

    client = aws.client("dynamodb")
    total = scan_segments_for(rows, VERIFY_SEGMENTS)

    def segment(index: int) -> list[dict[str, Any]]:
        pages = client.get_paginator("scan").paginate(
            TableName=table,
            Segment=index,
            TotalSegments=total,
            ConsistentRead=True,
            ProjectionExpression="pk, sk, body, #d",
            ExpressionAttributeNames={"#d": DELETED_ATTRIBUTE},
        )
        return [item for page in pages for item in page["Items"]]

    out: dict[Any, dict[str, Any] | None] = {}
    with ThreadPoolExecutor(max_workers=VERIFY_SEGMENTS, thread_name_prefix="history-scan") as pool:
        for items in pool.map(segment, range(total)):
            for item in items:
                if not item["sk"]["S"].startswith("ANSWER#") or item.get(DELETED_ATTRIBUTE):
                    continue
                _, question, user = item["sk"]["S"].split("#")
                key = (int(item["pk"]["S"].split("#")[1]), int(question), int(user))
                out[key] = {"body": item["body"]["S"]}
    return out


def _last_json(text: str) -> dict[str, Any]:
    """The JSON document a `--json` command printed, ignoring any other output around it."""
    decoder = json.JSONDecoder()
    best: tuple[int, dict[str, Any]] = (0, {})
    index = text.find("{")
    while index != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict) and end - index > best[0]:
            best = (end - index, value)
        index = text.find("{", end)
    return best[1]


def render_report(report: RehearsalReport, console: Console) -> None:
    steps = Table(title="Rehearsal steps")
    for column in ("step", "seconds", "result", "command"):
        steps.add_column(column)
    for s in report.steps:
        steps.add_row(
            s.name, f"{s.seconds:.1f}", "[green]ok[/]" if s.ok else f"[red]{s.detail}[/]", s.command
        )
    console.print(steps)
    summary = Table(title="Rehearsal report", show_header=False)
    summary.add_column("what")
    summary.add_column("value")
    fc = report.final_check
    bf = report.backfill
    rows: list[tuple[str, str]] = [
        ("rows seeded (answers)", f"{report.rows:,}"),
        (
            "backfill: rows written / already present / failed",
            _counts(bf, ("rows_written", "rows_present", "rows_failed")),
        ),
        ("verify (V2 vs DynamoDB): compared / mismatched / missing / extra", _counts(report.verify)),
        (
            f"final check (prod vs DynamoDB, {FINAL_SAMPLE_PERCENT}% sample after full checks): "
            "compared / mismatched / missing / extra",
            _counts(fc),
        ),
        (
            "traffic: requests / errors",
            f"{report.traffic.get('requests', 0):,} / {sum(report.traffic.get('errors', {}).values()):,}",
        ),
        ("traffic followed the modes", " -> ".join(report.traffic.get("modes", []))),
        ("[bold]rows lost[/]", f"[bold]{report.rows_lost}[/]"),
        ("[bold]rows resurrected[/]", f"[bold]{report.rows_resurrected}[/]"),
        (
            "[bold]writes judged by their history[/] (across every flip, stop-pg-writes and the rollback "
            "from dynamodb included): acknowledged / lost / overwritten by older / resurrected",
            f"[bold]{report.history.get('acknowledged', 0):,} / {report.writes_lost} / "
            f"{report.writes_overwritten} / {report.writes_resurrected}[/]",
        ),
        (
            "reverse replication: changes applied / lag before the rollback from dynamodb",
            _reverse(report.reverse),
        ),
    ]
    if report.notifications:
        n = report.notifications
        rows.append(
            (
                "notifications applied / ignored / dead-lettered",
                f"{n.get('applied', 0)} / {n.get('ignored', 0)} / {n.get('dead_lettered', 0)}",
            )
        )
    rows.append(("duration", f"{report.seconds / 60:.1f} min"))
    rows.append(("result", "[green]PASSED[/]" if report.ok else "[red]FAILED[/]"))
    for what, value in rows:
        summary.add_row(what, value)
    console.print(summary)


def _reverse(reverse: dict[str, Any]) -> str:
    final = reverse.get("final") or {}
    before = reverse.get("before_rollback") or {}
    applied = int(final.get("applied", 0)) + int(final.get("deleted", 0))
    lag = before.get("lag_seconds")
    return f"{applied:,} / " + ("?" if lag is None else f"{float(lag):.1f} s")


def _counts(
    result: dict[str, Any], keys: Sequence[str] = ("rows_compared", "mismatched", "missing", "extra")
) -> str:
    if not result:
        return "-"
    return " / ".join(f"{result.get(k, '?'):,}" if isinstance(result.get(k), int) else "?" for k in keys)


Runner = Callable[[RehearsalOptions, Console], RehearsalReport]
