"""Scale-out, live controls, failures and retry-failed, refused resumes, metrics — on the real stack."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from ops import aws
from ops.backfill.checkpoint import FingerprintMismatch, SegmentStatus
from ops.backfill.controls import LiveControls
from ops.backfill.engine import BackfillEngine, run_backfill
from ops.backfill.failures import FailureLog
from ops.backfill.retry import retry_failed
from ops.backfill.status import backfill_gate, backfill_summary, segment_states
from ops.backfill.writer import WriteStopped
from ops.control import ControlTable
from tests.functional.backfill.support import Env, seed

TOO_PRECISE = "1234567890123456789012345678901234567890.5"  # 41 significant digits: DynamoDB holds 38


def test_two_workers_cover_every_row_exactly_once(env: Env) -> None:
    seed(env.source_url, 800)
    options = [env.options(segments=6, worker=i, workers=2) for i in range(2)]
    # The first worker records the plan; start both at the same moment to race for it.
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda o: run_backfill(o, control=ControlTable(env.control_table)), options))
    owned = [{s.index for s in r.segments} for r in results]
    assert owned[0].isdisjoint(owned[1])
    assert owned[0] | owned[1] == set(range(6))
    assert sum(r.counters.rows_written for r in results) == 800
    assert sum(r.counters.rows_present for r in results) == 0
    states = segment_states(env.control, "answers")
    assert all(
        s.state == SegmentStatus.COMPLETE and s.counters.rows_read == expected for s, expected in states
    )
    env.assert_copy_equals_source()


def test_a_late_worker_reports_none_of_the_segments_a_fellow_took_over(env: Env) -> None:
    """Worker 0 runs alone: it copies its segments, then takes over worker 1's (not started). Worker 1
    starting afterwards finds them complete, copied by its fellow: they are not its own result."""
    seed(env.source_url, 300)
    control = ControlTable(env.control_table)
    first = run_backfill(env.options(segments=4, worker=0, workers=2), control=control)
    assert {s.index for s in first.segments} == set(range(4))
    assert first.counters.rows_written == 300
    late = run_backfill(env.options(segments=4, worker=1, workers=2), control=control)
    assert late.segments == [] and late.counters.rows_written == 0
    env.assert_copy_equals_source()


def _until(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_pause_resume_and_set_rate_change_a_running_copy(env: Env) -> None:
    seed(env.source_url, 1200)
    engines: list[BackfillEngine] = []
    options = env.options(rate=20, control_poll_seconds=0.5, concurrency=16)
    errors: list[BaseException] = []

    def copy() -> None:
        try:
            engine = BackfillEngine(options, ControlTable(env.control_table), on_progress=lambda e: None)
            engines.append(engine)
            engine.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=copy)
    thread.start()
    controls = LiveControls(env.control, "answers")
    try:
        _until(lambda: engines and engines[0].live.rows_written > 0)
        engine = engines[0]
        controls.pause()
        _until(lambda: engine.throttle.paused, timeout=10)
        time.sleep(1.0)  # requests already past the throttler finish
        paused_at = engine.live.rows_written
        time.sleep(2.0)
        assert engine.live.rows_written == paused_at, "writes continued while paused"
        assert paused_at < 400
        controls.set_rate(5000)
        controls.resume()
        _until(lambda: engine.throttle.target == 5000 and not engine.throttle.paused, timeout=10)
        started = time.monotonic()
        thread.join(timeout=120)
        # At the original 20 rows/s the rest would have taken (1200 - paused_at) / 20 seconds.
        assert time.monotonic() - started < (1200 - paused_at) / 20 * 0.5
    finally:
        controls.resume()
        thread.join(timeout=120)
    assert not errors
    assert engines[0].live.rows_written == 1200
    env.assert_copy_equals_source()


def test_failed_rows_are_logged_and_retry_failed_copies_them_after_the_fix(env: Env) -> None:
    seed(env.source_url, 300)
    with psycopg.connect(env.source_url, autocommit=True) as conn:
        conn.execute("UPDATE answers SET score = %s::numeric WHERE id IN (7, 151)", (TOO_PRECISE,))
    result = run_backfill(env.options())
    assert result.counters.rows_failed == 2
    assert result.counters.rows_written == 298
    failures = FailureLog(env.control, "answers").list()
    assert sorted(f.key["id"] for f in failures) == [7, 151]
    assert all(f.column == "score" and f.kind == "encode" and "digit" in f.reason for f in failures)
    gate = backfill_gate(env.control, "answers")
    assert not gate.ok and [c.name for c in gate.failed] == ["failures outstanding"]
    assert backfill_gate(env.control, "answers", accept_failures=True).ok

    still = retry_failed(env.options())
    assert (still.attempted, still.still_failing) == (2, 2)
    assert FailureLog(env.control, "answers").list()[0].attempts == 2

    with psycopg.connect(env.source_url, autocommit=True) as conn:
        conn.execute("UPDATE answers SET score = 2.5 WHERE id IN (7, 151)")
    fixed = retry_failed(env.options())
    assert (fixed.copied, fixed.still_failing) == (2, 0)
    assert FailureLog(env.control, "answers").list() == []
    summary = backfill_summary(env.control, "answers")
    assert summary is not None and summary.failures_outstanding == 0
    assert backfill_gate(env.control, "answers").ok
    env.assert_copy_equals_source()


def test_resume_with_changed_options_is_refused_with_restart_advice(env: Env) -> None:
    seed(env.source_url, 100)
    run_backfill(env.options(segments=4))
    with pytest.raises(FingerprintMismatch, match="--restart"):
        run_backfill(env.options(segments=8))
    changed = env.options(segments=4, mapping_path=str(_mapping_with_renamed_attribute(env)))
    with pytest.raises(FingerprintMismatch, match="different mapping"):
        run_backfill(changed)
    restarted = run_backfill(env.options(segments=8, restart=True))
    assert restarted.segments_total == 8
    assert restarted.counters.rows_present == 100


def _mapping_with_renamed_attribute(env: Env) -> Any:
    from importlib import resources
    from pathlib import Path

    text = resources.files("ops.mapping").joinpath("mapping.yaml").read_text()
    path = Path(env.source_url.rsplit("/", 1)[1] + "-mapping.yaml")
    target = Path("/tmp") / path
    target.write_text(text.replace("mood: {type: smallint}", "mood: {type: smallint, attribute: feeling}"))
    return target


def test_metrics_reach_cloudwatch(env: Env) -> None:
    seed(env.source_url, 150)
    run_backfill(env.options(metrics=True, metrics_seconds=0.5, metrics_namespace="PlatformOps/Migration"))
    cloudwatch = aws.client("cloudwatch")
    found = cloudwatch.list_metrics(
        Namespace="PlatformOps/Migration", Dimensions=[{"Name": "RunId", "Value": "answers"}]
    )["Metrics"]
    names = {m["MetricName"] for m in found}
    assert {"RowsWritten", "RowsAlreadyPresent", "RowsFailed", "ThrottleEvents", "WriteMbps"} <= names
    stats = cloudwatch.get_metric_statistics(
        Namespace="PlatformOps/Migration",
        MetricName="RowsWritten",
        Dimensions=[{"Name": "RunId", "Value": "answers"}, {"Name": "Worker", "Value": "0/1"}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 60,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert sum(d["Sum"] for d in stats) >= 150


def test_missing_target_table_stops_with_an_operator_message(env: Env) -> None:
    seed(env.source_url, 50)
    with pytest.raises(WriteStopped, match="does not exist"):
        run_backfill(env.options(target_table=env.target_table + "-missing"))
    # Nothing was lost: the segments are still pending, so a later run starts over cleanly.
    assert all(s.counters.rows_written == 0 for s, _ in segment_states(env.control, "answers"))
