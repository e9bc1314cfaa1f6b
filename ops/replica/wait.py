"""`ops replica wait`: poll the driver with Rich progress until the gate passes or time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ops.exceptions import GateFailed
from ops.replica.base import ReplicaDriver, ReplicaStatus
from ops.replica.gate import DEFAULT_MAX_LAG_SECONDS, replica_gate
from ops.results import GateResult


def wait_for_replica(
    driver: ReplicaDriver,
    *,
    timeout: float = 600.0,
    max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS,
    expected_tables: Iterable[str] | None = None,
    poll_interval: float = 2.0,
    console: Console | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GateResult:
    """Return the passing gate, or raise GateFailed naming what is still missing at the timeout."""
    expected = list(expected_tables) if expected_tables is not None else None
    deadline = clock() + timeout
    console = console or Console(stderr=True)
    with Progress(
        TextColumn("[bold]replica[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} tables ready"),
        TextColumn("{task.fields[lag]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("waiting", total=max(1, len(expected or [])), lag="lag ?")
        while True:
            status = driver.status()
            gate = replica_gate(status, max_lag_seconds, expected)
            progress.update(
                bar,
                description=status.state,
                total=max(1, len(expected) if expected is not None else len(status.tables)),
                completed=_ready(status),
                lag=_lag(status),
            )
            if gate.ok:
                return gate
            if clock() >= deadline:
                missing = "; ".join(f"{c.name}: {c.measured}" for c in gate.failed)
                raise GateFailed(
                    f"replica not ready after {timeout:g}s: {missing}. "
                    "Run `ops replica status` for details, or wait longer with `ops replica wait --timeout`"
                )
            sleep(poll_interval)


def _ready(status: ReplicaStatus) -> int:
    return sum(1 for t in status.tables if t.full_load_complete and t.validation == "clean")


def _lag(status: ReplicaStatus) -> str:
    return "lag ?" if status.lag_seconds is None else f"lag {status.lag_seconds:.1f}s"
