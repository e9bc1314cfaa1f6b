"""Verification state in the control table: run header, per-segment checkpoints, evidence.

Key layout under `VERIFY#<dataset>`: `RUN#<run_id>` (options, plan, fingerprint, state),
`RUN#<run_id>#ROWS#<nnnn>` and `RUN#<run_id>#SCAN#<nnnn>` (last key, counters, samples,
pending re-checks), `RESULT#<finished_at>#<run_id>` (history) and `LATEST` (the gate's evidence).

Workers of one run (threads, processes, hosts) share its segments through a lease in each
segment's item: a worker claims a segment that is not done and free, expired, its own, or held by
a dead process of this host; every save is conditional on still holding it (and extends it); the
last save releases it. Only one worker finishes the run: `finish` is conditional on the run
still running, so the evidence is written once.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ops.control import ConditionFailed, ControlTable
from ops.exceptions import ConfigError, OpsError
from ops.verify.model import VerifyResult, now_iso
from ops.workers import owner_is_dead_here

LATEST = "LATEST"
LEASE_SECONDS = 60.0
COUNTERS = (
    "rows_compared",
    "matching",
    "mismatched",
    "missing",
    "extra",
    "stale_tombstones",
    "errors",
    "transient",
    "lagging",
    "items_scanned",
    "repaired",
    "repair_skipped",
)


@dataclass
class SegmentState:
    phase: str  # "ROWS" or "SCAN"
    index: int
    last_key: Any = None  # ROWS: last primary key (list); SCAN: LastEvaluatedKey (wire)
    done: bool = False
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    samples: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    repair_actions: list[dict[str, Any]] = field(default_factory=list)
    lease_owner: str = ""
    lease_expires: float = 0.0

    def add(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    @property
    def sk_suffix(self) -> str:
        return f"{self.phase}#{self.index:04d}"


class SegmentLost(OpsError):
    """Another worker took this segment over (this worker's lease had expired)."""


class CheckpointStore:
    def __init__(self, control: ControlTable, dataset: str) -> None:
        self.control = control
        self.pk = f"VERIFY#{dataset}"

    # ------------------------------------------------------------ runs

    def header(self, run_id: str) -> dict[str, Any] | None:
        return self.control.get(self.pk, f"RUN#{run_id}")

    def latest_unfinished(self) -> dict[str, Any] | None:
        runs = [
            r
            for r in self.control.query(self.pk, "RUN#")
            if r["sk"].count("#") == 1 and r.get("state") == "running"
        ]
        return max(runs, key=lambda r: r.get("started_at", ""), default=None)

    def begin(
        self, run_id: str, fingerprint: str, plan: list[dict[str, Any]], options: dict[str, Any]
    ) -> dict[str, Any]:
        """Record the run unless another worker just did; returns the header as stored."""
        with contextlib.suppress(ConditionFailed):
            self.control.put(
                self.pk,
                f"RUN#{run_id}",
                {
                    "run_id": run_id,
                    "state": "running",
                    "fingerprint": fingerprint,
                    "plan": plan,
                    "options": options,
                    "started_at": now_iso(),
                },
                condition="attribute_not_exists(pk)",
            )
        header = self.header(run_id)
        assert header is not None
        return header

    def check_resumable(self, header: dict[str, Any], fingerprint: str) -> None:
        if header.get("fingerprint") != fingerprint:
            raise ConfigError(
                f"verify run {header.get('run_id')} was started with different options or mapping; "
                "resume it with the same --segments/--sample/table, or start a new run (omit --resume)"
            )

    def finish(self, run_id: str, result: VerifyResult) -> bool:
        """Store the result as the gate's evidence; False when another worker already did."""
        evidence = result.to_dict()
        try:
            self.control.update(
                self.pk,
                f"RUN#{run_id}",
                {"state": "finished", "finished_at": result.finished_at},
                condition="#st = :running",
                names={"#st": "state"},
                values={":running": "running"},
            )
        except ConditionFailed:
            return False
        self.control.put(self.pk, f"RESULT#{result.finished_at}#{run_id}", evidence)
        self.control.put(self.pk, LATEST, evidence)
        return True

    # ------------------------------------------------------------ segments

    def load(self, run_id: str, phase: str, index: int) -> SegmentState:
        stored = self.control.get(self.pk, f"RUN#{run_id}#{phase}#{index:04d}")
        return _state(phase, index, stored) if stored else SegmentState(phase, index)

    def claim(self, run_id: str, phase: str, index: int, owner: str) -> SegmentState | None:
        """Lease the segment to `owner` and return its state; None when it is done or another
        live worker holds it."""
        sk = f"RUN#{run_id}#{phase}#{index:04d}"
        current = self.control.get(self.pk, sk) or {}
        if current.get("done"):
            return None
        held = str(current.get("lease_owner") or "")
        condition = (
            "(attribute_not_exists(done) OR done = :no) AND (attribute_not_exists(lease_owner) "
            "OR lease_owner = :free OR lease_expires < :now OR lease_owner = :me"
        )
        now = time.time()
        values: dict[str, Any] = {":no": False, ":free": "", ":now": now, ":me": owner}
        if held and owner_is_dead_here(held):
            condition += " OR lease_owner = :dead"
            values[":dead"] = held
        try:
            item = self.control.update(
                self.pk,
                sk,
                {"lease_owner": owner, "lease_expires": now + LEASE_SECONDS},
                condition=condition + ")",
                values=values,
            )
        except ConditionFailed:
            return None
        return _state(phase, index, item)

    def save(self, run_id: str, state: SegmentState, owner: str) -> None:
        """Store progress while holding the lease (extended; released once the segment is done)."""
        attrs = asdict(state)
        attrs["updated_at"] = now_iso()
        attrs["lease_owner"] = "" if state.done else owner
        attrs["lease_expires"] = 0.0 if state.done else time.time() + LEASE_SECONDS
        try:
            self.control.update(
                self.pk,
                f"RUN#{run_id}#{state.sk_suffix}",
                attrs,
                condition="lease_owner = :me",
                values={":me": owner},
            )
        except ConditionFailed:
            raise SegmentLost(
                f"verify run {run_id}: segment {state.sk_suffix} was taken over by another worker "
                "(this worker's lease expired); it goes on with other segments"
            ) from None

    def release(self, run_id: str, phase: str, index: int, owner: str) -> None:
        try:
            self.control.update(
                self.pk,
                f"RUN#{run_id}#{phase}#{index:04d}",
                {"lease_owner": "", "lease_expires": 0.0},
                condition="lease_owner = :me",
                values={":me": owner},
            )
        except ConditionFailed:
            return

    def segments(self, run_id: str) -> list[SegmentState]:
        out = []
        for item in self.control.query(self.pk, f"RUN#{run_id}#"):
            phase, index = item["sk"].rsplit("#", 2)[-2:]
            out.append(_state(phase, int(index), item))
        return out

    # ------------------------------------------------------------ evidence

    def latest(self) -> VerifyResult | None:
        stored = self.control.get(self.pk, LATEST)
        return VerifyResult.from_dict(stored) if stored else None

    def history(self, limit: int = 20) -> list[VerifyResult]:
        items = self.control.query(self.pk, "RESULT#")
        return [VerifyResult.from_dict(i) for i in sorted(items, key=lambda i: i["sk"], reverse=True)[:limit]]


def _state(phase: str, index: int, stored: dict[str, Any]) -> SegmentState:
    counters = dict.fromkeys(COUNTERS, 0)
    counters.update({k: int(v) for k, v in (stored.get("counters") or {}).items()})
    return SegmentState(
        phase,
        index,
        stored.get("last_key"),
        bool(stored.get("done")),
        counters,
        list(stored.get("samples") or []),
        list(stored.get("pending") or []),
        list(stored.get("repair_actions") or []),
        str(stored.get("lease_owner") or ""),
        float(stored.get("lease_expires") or 0.0),
    )
