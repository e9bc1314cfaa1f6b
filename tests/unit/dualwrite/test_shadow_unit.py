"""The shadow-read rule by version (pure), and the log's intervals and window (control table in moto)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from opstestkit.clock import ManualClock

from ops.control import ControlTable
from ops.dualwrite.shadow import Scheduler, Verdict, judge
from ops.dualwrite.shadow_log import Mismatch, ShadowLog, read_window, stamp
from ops.mapping import load_mapping

ANSWERS = load_mapping().table("answers")
KEY = {"couple_id": 1, "question_id": 2, "user_id": 1}


def item(version: int, body: str = "hello") -> dict[str, Any]:
    row = dict.fromkeys(ANSWERS.columns)
    return ANSWERS.encode(
        {**row, **KEY, "id": 9, "body": body, "mood": 3, "photo_urls": [], "version": version}
    )


def stone(version: int) -> dict[str, Any]:
    return ANSWERS.tombstone(KEY, version, 0)


@pytest.mark.parametrize(
    ("expected", "actual", "pending", "verdict"),
    [
        (item(5), item(5), False, Verdict.AGREE),
        (None, stone(7), False, Verdict.AGREE),
        (None, None, False, Verdict.AGREE),
        (item(5), None, False, Verdict.NOT_COPIED),
        (item(5), None, True, Verdict.IN_FLIGHT),
        (item(5), item(5, "tampered"), False, Verdict.MISMATCH),
        (item(5), item(5, "tampered"), True, Verdict.MISMATCH),
        (item(6), item(5), True, Verdict.IN_FLIGHT),
        (item(6), item(5), False, Verdict.MISMATCH),
        (item(6), stone(5), False, Verdict.MISMATCH),
        (item(5), item(6, "newer"), False, Verdict.RETRY),
        (None, item(5), False, Verdict.RETRY),
    ],
    ids=[
        "same",
        "tombstone-no-row",
        "neither",
        "no-item-not-copied",
        "no-item-in-outbox",
        "same-version-differs",
        "same-version-differs-outbox",
        "behind-in-outbox",
        "behind-nothing-in-flight",
        "older-tombstone-nothing-in-flight",
        "ahead",
        "item-without-row",
    ],
)
def test_the_rule_by_version(
    expected: dict[str, Any] | None, actual: dict[str, Any] | None, pending: bool, verdict: Verdict
) -> None:
    assert judge(ANSWERS, expected, actual, pending).verdict is verdict


def test_the_scheduler_runs_by_due_time_and_settles() -> None:
    scheduler = Scheduler(workers=2, backlog=3)
    ran: list[str] = []
    lock = threading.Lock()
    release = threading.Event()

    def note(name: str) -> Any:
        def run() -> None:
            # Held until the backlog has been tested, so a worker that already took a callable
            # still counts against the backlog however fast the threads are scheduled.
            release.wait(10)
            with lock:
                ran.append(name)

        return run

    now = time.monotonic()
    assert scheduler.submit(now + 0.3, note("late"))
    assert scheduler.submit(now + 0.05, note("early"))
    assert scheduler.submit(now, note("now"))
    assert not scheduler.submit(now, note("over the backlog"))
    assert scheduler.submit(now, note("forced"), force=True)
    release.set()
    scheduler.settle()
    assert ran[-1] == "late" and set(ran) == {"now", "early", "late", "forced"}
    scheduler.close()


def mismatch(read_at: float) -> Mismatch:
    return Mismatch(
        "answers", KEY, "COUPLE#1/ANSWER#2#1", "differs", stamp(read_at), 5, 5, {"body": ["a", "b"]}
    )


def test_counts_go_out_once_per_interval_and_the_window_sums_them(control: ControlTable) -> None:
    clock = ManualClock(1_000_000.0)
    log = ShadowLog("answers", control, interval_seconds=10, clock=clock, instance="app-1")
    for _ in range(5):
        log.compared(clock.now)
    log.transient(clock.now)
    assert control.query("SHADOW#answers") == []
    clock.now += 10
    log.compared(clock.now)  # the interval is over: its counts are written
    (counts,) = control.query("SHADOW#answers")
    assert (counts["compared"], counts["transient"]) == (6, 1)
    log.flush()
    seen = read_window(control, "answers", clock.now - 60, clock.now + 1)
    assert (seen.compared, seen.transient, seen.mismatch_count) == (6, 1, 0)
    assert read_window(control, "answers", clock.now + 5, clock.now + 6).compared == 0


def test_every_mismatch_is_recorded_up_to_the_cap_and_the_rest_counted(control: ControlTable) -> None:
    clock = ManualClock(2_000_000.0)
    log = ShadowLog("answers", control, interval_seconds=10, max_records_per_interval=2, clock=clock)
    for _ in range(5):
        log.mismatch(mismatch(clock.now))
    log.flush()
    seen = read_window(control, "answers", clock.now - 1, clock.now + 1)
    assert len(seen.mismatches) == 2
    assert seen.mismatch_count == 5
    assert seen.mismatches[0]["diff"] == {"body": ["a", "b"]}


def test_reads_not_copied_yet_are_judged_against_a_moment(control: ControlTable) -> None:
    clock = ManualClock(3_000_000.0)
    log = ShadowLog("answers", control, interval_seconds=10, clock=clock)
    log.not_copied(clock.now - 30, KEY)
    log.not_copied(clock.now - 20, KEY)
    log.flush()
    clock.now += 1
    log.not_copied(clock.now, KEY)
    log.flush()
    seen = read_window(control, "answers", clock.now - 60, clock.now + 1)
    assert seen.not_copied == 3
    assert seen.not_copied_since(stamp(clock.now - 25)) == 3  # the first interval straddles it
    assert seen.not_copied_since(stamp(clock.now - 10)) == 1
    assert seen.not_copied_since(stamp(clock.now + 1)) == 0
    assert seen.not_copied_keys() == [KEY, KEY, KEY]


def test_a_log_that_cannot_write_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        name = "missing"

        def put(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("ResourceNotFoundException")

    log = ShadowLog("answers", Broken(), interval_seconds=0)  # type: ignore[arg-type]
    log.compared(time.time())
    log.mismatch(mismatch(time.time()))
    log.flush()
