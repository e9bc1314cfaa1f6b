"""Start, stop, watch and gate reverse replication (DynamoDB -> PostgreSQL), with either driver.

- `local`: the stream poller (`ops.reverse.poller`) as a background process of its own
  (`ops replica reverse run`), started and stopped by pid; what the local stack and the rehearsal use.
- `lambda`: on AWS, the reverse Lambda's event source mapping on the table's stream, enabled and
  disabled (`OPS_REVERSE_MAPPING_UUID`, a Terraform output); the Lambda writes the same status.

Both report through the control table (`ops.reverse.state`), so the gate reads one shape.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from psycopg_pool import ConnectionPool

from ops import aws
from ops.control import ControlTable
from ops.exceptions import ConfigError, OpsError
from ops.mapping import configure_connection, load_mapping
from ops.results import Check, GateResult
from ops.reverse.apply import Change, ReverseApplier
from ops.reverse.poller import StreamPoller, start_positions, stream_arn
from ops.reverse.state import ReverseState, ReverseStatus
from ops.settings import Settings

DRIVERS = ("local", "lambda")
GATE_NAME = "reverse replication"
_START_WAIT_SECONDS = 30.0


def _driver(settings: Settings) -> str:
    driver = settings.reverse_driver
    if driver not in DRIVERS:
        raise ConfigError(f"OPS_REVERSE_DRIVER={driver!r}; choose one of: {', '.join(DRIVERS)}")
    return driver


def make_pool(conninfo: str) -> ConnectionPool:
    pool = ConnectionPool(conninfo, min_size=1, max_size=4, configure=configure_connection, open=False)
    pool.open(wait=True, timeout=30)
    return pool


def _state(settings: Settings, control: ControlTable | None = None) -> ReverseState:
    return ReverseState(control or ControlTable(settings.control_table), settings.dataset)


def start(settings: Settings, operator: str, *, control: ControlTable | None = None) -> ReverseStatus:
    """Begin applying the stream from now on, and make sure something applies it. Idempotent."""
    state = _state(settings, control)
    driver = _driver(settings)
    current = state.status()
    if current.running and current.fresh:
        return current
    if driver == "lambda":
        uuid = settings.reverse_mapping_uuid
        if not uuid:
            raise ConfigError("OPS_REVERSE_DRIVER=lambda needs OPS_REVERSE_MAPPING_UUID (terraform output)")
        state.set_state(desired="running", driver=driver, started_at=time.time(), who=operator, pid=0)
        aws.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=True)
        return state.status()
    ddb = aws.client("dynamodb")
    arn = stream_arn(ddb, settings.target_table)
    start_positions(state, aws.streams_client(), arn)
    state.set_state(desired="running", driver=driver, started_at=time.time(), who=operator, pid=0)
    log_dir = settings.reverse_log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"reverse-{settings.dataset}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ops", "replica", "reverse", "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    state.set_state(pid=proc.pid)
    deadline = time.monotonic() + _START_WAIT_SECONDS
    while time.monotonic() < deadline:
        status = state.status()
        if status.fresh and status.measured_at and status.measured_at >= status.started_at:  # type: ignore[operator]
            return status
        if proc.poll() is not None:
            raise OpsError(
                f"the reverse-replication poller exited at once (code {proc.returncode}); see "
                f"{log_dir / f'reverse-{settings.dataset}.log'}"
            )
        time.sleep(0.2)
    raise OpsError(f"the reverse-replication poller did not report within {_START_WAIT_SECONDS:.0f} s")


def stop(settings: Settings, *, control: ControlTable | None = None) -> ReverseStatus:
    """Stop applying the stream (the poller exits; the Lambda's mapping is disabled)."""
    state = _state(settings, control)
    recorded = state.state()
    state.set_state(desired="stopped", stopped_at=time.time())
    if recorded.get("driver") == "lambda":
        uuid = settings.reverse_mapping_uuid
        if uuid:
            aws.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)
        return state.status()
    pid = int(recorded.get("pid") or 0)
    deadline = time.monotonic() + 10
    while pid and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # the poller sees `stopped` and exits after its pass
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
    return state.status()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    return not cmdline.exists() or b"reverse" in cmdline.read_bytes()


def status(settings: Settings, *, control: ControlTable | None = None) -> ReverseStatus:
    current = _state(settings, control).status()
    if current.driver == "lambda":
        lambda_position(current, settings.reverse_function or "")
    return current


def lambda_position(current: ReverseStatus, function: str, now: float | None = None) -> None:
    """Lag and caught-up time of the reverse Lambda, from its IteratorAge (1-minute periods).

    The function cannot see the stream's tip, its event source mapping can: IteratorAge is the
    age of the last record it handed over. A minute whose maximum is at most a second was applied
    to the tip by its end; a minute with no datapoint had nothing to hand over. Either way the
    answer comes a period late, so with this driver the rollback from dynamodb holds writes about
    two minutes (OPS_REVERSE_CATCHUP_SECONDS); the local poller answers at once.
    """
    if not function:
        raise ConfigError("OPS_REVERSE_DRIVER=lambda needs OPS_REVERSE_FUNCTION (terraform output)")
    now = now if now is not None else time.time()
    from datetime import UTC, datetime, timedelta

    end = datetime.fromtimestamp(now, UTC)
    points = aws.metric_datapoints(
        "AWS/Lambda",
        "IteratorAge",
        ("FunctionName", function),
        (end - timedelta(minutes=10), end),
        period=60,
        statistic="Maximum",
    )
    latest = max(points, key=lambda p: p["Timestamp"], default=None)
    current.measured_at = now
    if latest is None or latest["Timestamp"].timestamp() + 120 <= now:
        # Nothing handed over for two full periods: nothing was waiting.
        current.lag_seconds = 0.0
        current.caught_up_at = now - 60
        return
    current.lag_seconds = float(latest["Maximum"]) / 1000
    if current.lag_seconds <= 1.0:
        current.caught_up_at = latest["Timestamp"].timestamp() + 60


def run(settings: Settings, *, control: ControlTable | None = None) -> None:
    """The local driver's process: poll until the desired state says stopped."""
    from ops.dualwrite.metrics import Metrics

    state = _state(settings, control)
    url = settings.prod_database_url
    if not url:
        raise ConfigError("reverse replication writes PostgreSQL: set PROD_DATABASE_URL")
    pool = make_pool(url)
    try:
        poller = StreamPoller(
            state,
            ReverseApplier(load_mapping(settings.mapping_file), pool),
            aws.streams_client(),
            stream_arn(aws.client("dynamodb"), settings.target_table),
            metrics=Metrics(settings.metrics_namespace, dimensions={"Table": settings.dataset}),
        )
        poller.run(lambda: state.state().get("desired") != "running")
    finally:
        pool.close()


def retry_failed(settings: Settings, *, control: ControlTable | None = None) -> tuple[int, int]:
    """Apply the current DynamoDB item of every key in the failure log; (fixed, still failing)."""
    state = _state(settings, control)
    url = settings.prod_database_url
    if not url:
        raise ConfigError("reverse replication writes PostgreSQL: set PROD_DATABASE_URL")
    ddb = aws.client("dynamodb")
    pool = make_pool(url)
    fixed = failing = 0
    try:
        applier = ReverseApplier(load_mapping(settings.mapping_file), pool)
        for failure in state.failures():
            key = {"pk": {"S": failure["item_pk"]}, "sk": {"S": failure["item_sk"]}}
            item = ddb.get_item(TableName=settings.target_table, Key=key, ConsistentRead=True).get("Item")
            change = Change("retry", "MODIFY" if item else "REMOVE", item)
            result = applier.apply([change])
            if result.failed:
                failing += 1
                state.record_failure(
                    failure["item_pk"],
                    failure["item_sk"],
                    failure["table"],
                    failure["version"],
                    result.failed[0][1],
                )
            else:
                fixed += 1
                state.resolve_failure(failure)
    finally:
        pool.close()
    return fixed, failing


def reverse_gate(
    current: ReverseStatus, *, max_lag_seconds: float = 30.0, caught_up_after: float | None = None
) -> GateResult:
    """Reverse replication is running, reporting, without failures, and within `max_lag_seconds`;
    with `caught_up_after`, it also read every shard to its tip after that moment."""
    now = time.time()
    checks = [
        Check(
            "reverse replication running",
            current.running and current.fresh,
            ("running" if current.running else "stopped")
            + (
                f", reported {now - current.measured_at:.0f} s ago"
                if current.measured_at
                else ", never reported"
            ),
            "running, reported within 15 s",
            "ops replica reverse start (and see `ops replica reverse status`)",
        ),
        Check(
            "reverse replication failures",
            current.failures == 0,
            f"{current.failures} outstanding"
            + (f" (last: {current.last_error[:120]})" if current.failures else ""),
            "0",
            "ops replica reverse failures; fix the cause, then `ops replica reverse retry-failed`",
        ),
        Check(
            "reverse replication lag",
            current.lag_seconds is not None and current.lag_seconds <= max_lag_seconds,
            "unknown" if current.lag_seconds is None else f"{current.lag_seconds:.1f} s",
            f"<= {max_lag_seconds:g} s",
            "wait; check the poller's log or the Lambda's IteratorAge",
        ),
    ]
    if caught_up_after is not None:
        checks.append(
            Check(
                "reverse replication caught up",
                current.caught_up_at is not None and current.caught_up_at >= caught_up_after,
                "never" if current.caught_up_at is None else f"{now - current.caught_up_at:.1f} s ago",
                f"at the stream's tip after {caught_up_after - now:+.1f} s",
                "wait for the poller (or the Lambda) to apply what is left",
            )
        )
    healthy = now - current.healthy_since if current.healthy_since else 0.0
    return GateResult(GATE_NAME, checks, {**current.to_dict(), "healthy_seconds": round(healthy, 1)})
