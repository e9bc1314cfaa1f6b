"""Checkpoint store: the run's plan and each segment's progress and lease, in the control table.

Layout under `BACKFILL#<run>`: `RUN` (plan, fingerprint, options, start/finish), `SEG#<nnnnn>` (one
per segment: state, last key copied, counters, lease), `CONTROL` (live controls), `FAIL#...`
(failure log). A segment's `last_key` only moves past rows that were written, found present or
logged as failed, so a process killed at any moment resumes without losing or re-reading a range.

The lease lives in the segment item itself: saving a checkpoint is conditional on still holding
it, and taking it is conditional on it being free, expired, ours, or held by a dead process on
this host (so `kill -9` followed by `run` continues at once instead of waiting for expiry).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ops.backfill.controls import run_pk
from ops.backfill.planner import KeyValue, Plan
from ops.control import ConditionFailed, ControlTable
from ops.exceptions import OpsError
from ops.workers import owner_is_dead_here

RUN_SK = "RUN"
SEGMENT_PREFIX = "SEG#"
LEASE_SECONDS = 30


class SegmentStatus(StrEnum):
    """Where one segment of a backfill run stands; stored in the control table as its value."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"


class LeaseHeld(OpsError):
    """Another live process owns a segment of this run."""

    def __init__(self, message: str, worker: str | None = None) -> None:
        super().__init__(message)
        self.worker = worker  # the holder's worker ("i/N"), when it recorded one


class FingerprintMismatch(OpsError):
    exit_code = 2


def segment_sk(index: int) -> str:
    return f"{SEGMENT_PREFIX}{index:05d}"


@dataclass
class Counters:
    rows_read: int = 0
    rows_written: int = 0
    rows_present: int = 0
    rows_failed: int = 0
    bytes_written: int = 0

    def add(self, other: Counters) -> None:
        self.rows_read += other.rows_read
        self.rows_written += other.rows_written
        self.rows_present += other.rows_present
        self.rows_failed += other.rows_failed
        self.bytes_written += other.bytes_written


@dataclass
class SegmentState:
    index: int
    state: SegmentStatus = SegmentStatus.PENDING
    last_key: KeyValue | None = None
    counters: Counters = field(default_factory=Counters)
    sessions: int = 0
    resumed_from: KeyValue | None = None
    lease_owner: str | None = None
    lease_worker: str | None = None  # "i/N": the worker the lease holder runs as
    lease_expires: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> SegmentState:
        # A lease taken on a segment no checkpoint has been saved for yet creates its item from
        # the key alone; another worker listing segments at that moment must still read it.
        index = item["index"] if "index" in item else item["sk"].rsplit("#", 1)[-1]
        return cls(
            index=int(index),
            state=SegmentStatus(str(item.get("state", SegmentStatus.PENDING))),
            last_key=item.get("last_key"),
            counters=Counters(**{k: int(item.get(k, 0)) for k in asdict(Counters())}),
            sessions=int(item.get("sessions", 0)),
            resumed_from=item.get("resumed_from"),
            lease_owner=item.get("lease_owner") or None,
            lease_worker=item.get("lease_worker") or None,
            lease_expires=float(item.get("lease_expires", 0)),
            updated_at=float(item.get("updated_at", 0)),
            started_at=item.get("started_at"),
            finished_at=item.get("finished_at"),
        )

    def progress_attrs(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_key": self.last_key,
            **asdict(self.counters),
            "updated_at": time.time(),
            "finished_at": self.finished_at,
        }


class CheckpointStore:
    def __init__(self, control: ControlTable, run_id: str) -> None:
        self.control = control
        self.run_id = run_id
        self.pk = run_pk(run_id)

    # ------------------------------------------------------------ the run

    def load_run(self) -> dict[str, Any] | None:
        return self.control.get(self.pk, RUN_SK)

    def create_run(self, plan: Plan, fingerprint: str, options: dict[str, Any]) -> dict[str, Any]:
        """Record the plan unless another worker already did; returns the run as stored."""
        try:
            self.control.put(
                self.pk,
                RUN_SK,
                {
                    "plan": plan.to_dict(),
                    "fingerprint": fingerprint,
                    "options": options,
                    "created_at": time.time(),
                    "started_at": None,
                    "finished_at": None,
                },
                condition="attribute_not_exists(pk)",
            )
        except ConditionFailed:
            pass  # another worker recorded it: its plan is the plan, and it writes the segments
        else:
            for segment in plan.segments:
                try:
                    self.control.put(
                        self.pk,
                        segment_sk(segment.index),
                        {
                            "index": segment.index,
                            "state": SegmentStatus.PENDING,
                            "rows_expected": segment.rows,
                        },
                        condition="attribute_not_exists(pk)",
                    )
                except ConditionFailed:
                    # A fellow worker's lease reached this segment first and created its item from
                    # the key alone: give it the plan's row count, and go on with the others.
                    self.control.update(
                        self.pk, segment_sk(segment.index), set_={"rows_expected": segment.rows}
                    )
        run = self.load_run()
        assert run is not None
        return run

    def mark_started(self) -> None:
        run = self.load_run()
        if run is not None and not run.get("started_at"):
            self.control.update(self.pk, RUN_SK, set_={"started_at": time.time()})

    def mark_finished_if_complete(self) -> bool:
        segments = self.segments()
        if segments and all(s.state == SegmentStatus.COMPLETE for s in segments):
            self.control.update(self.pk, RUN_SK, set_={"finished_at": time.time()})
            return True
        return False

    def reset(self) -> int:
        """Delete everything of this run (plan, checkpoints, controls, failure log)."""
        items = self.control.query(self.pk)
        for item in items:
            self.control.delete(self.pk, item["sk"])
        return len(items)

    # ------------------------------------------------------------ segments

    def segments(self) -> list[SegmentState]:
        return sorted(
            (SegmentState.from_item(i) for i in self.control.query(self.pk, SEGMENT_PREFIX)),
            key=lambda s: s.index,
        )

    def segment_items(self) -> list[dict[str, Any]]:
        return self.control.query(self.pk, SEGMENT_PREFIX)

    def acquire(self, index: int, owner: str, ttl: int = LEASE_SECONDS, worker: str = "") -> SegmentState:
        """Take the segment's lease (as `worker`, "i/N"); LeaseHeld names the live owner when it cannot."""
        now = time.time()
        current = SegmentState.from_item(self.control.get(self.pk, segment_sk(index)) or {"index": index})
        condition = (
            "attribute_not_exists(lease_owner) OR lease_owner = :free OR lease_expires < :now "
            "OR lease_owner = :me"
        )
        values: dict[str, Any] = {":now": now, ":me": owner, ":free": ""}
        if current.lease_owner and owner_is_dead_here(current.lease_owner):
            condition += " OR lease_owner = :dead"
            values[":dead"] = current.lease_owner
        try:
            item = self.control.update(
                self.pk,
                segment_sk(index),
                set_={
                    "index": index,
                    "lease_owner": owner,
                    "lease_worker": worker,
                    "lease_expires": now + ttl,
                    "resumed_from": current.last_key,
                },
                add={"sessions": 1},
                condition=condition,
                values=values,
            )
        except ConditionFailed:
            fresh = SegmentState.from_item(self.control.get(self.pk, segment_sk(index)) or {"index": index})
            left = max(0, int(fresh.lease_expires - time.time()))
            raise LeaseHeld(
                f"segment {index} of backfill run {self.run_id!r} is being copied by {fresh.lease_owner} "
                f"(lease valid for {left}s more). Another `ops backfill run` with the same worker "
                "is running: let it finish, or stop it; a dead process's lease expires by itself.",
                fresh.lease_worker,
            ) from None
        return SegmentState.from_item(item)

    def save(self, segment: SegmentState, owner: str, ttl: int = LEASE_SECONDS) -> None:
        """Store progress and extend the lease; LeaseHeld if another process took the segment."""
        attrs = segment.progress_attrs()
        if segment.state == SegmentStatus.COMPLETE:
            attrs["lease_owner"] = ""
            attrs["lease_expires"] = 0
        else:
            attrs["lease_expires"] = time.time() + ttl
        try:
            self.control.update(
                self.pk,
                segment_sk(segment.index),
                set_=attrs,
                condition="lease_owner = :me",
                values={":me": owner},
            )
        except ConditionFailed:
            raise LeaseHeld(
                f"segment {segment.index} of backfill run {self.run_id!r} was taken over by another "
                "process (our lease expired); this process stops copying it."
            ) from None

    def release(self, index: int, owner: str) -> None:
        try:
            self.control.update(
                self.pk,
                segment_sk(index),
                set_={"lease_owner": "", "lease_expires": 0},
                condition="lease_owner = :me",
                values={":me": owner},
            )
        except ConditionFailed:
            return
