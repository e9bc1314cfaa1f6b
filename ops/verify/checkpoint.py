"""Verification state in the control table: run header, per-segment checkpoints, evidence.

Key layout under `VERIFY#<dataset>`: `RUN#<run_id>` (options, plan, fingerprint, state),
`RUN#<run_id>#ROWS#<nnnn>` and `RUN#<run_id>#SCAN#<nnnn>` (last key, counters, samples,
pending re-checks), `RESULT#<finished_at>#<run_id>` (history) and `LATEST` (the gate's evidence).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ops.control import ControlTable
from ops.exceptions import ConfigError
from ops.verify.model import VerifyResult, now_iso

LATEST = "LATEST"
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

    def add(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    @property
    def sk_suffix(self) -> str:
        return f"{self.phase}#{self.index:04d}"


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
    ) -> str:
        started = now_iso()
        self.control.put(
            self.pk,
            f"RUN#{run_id}",
            {
                "run_id": run_id,
                "state": "running",
                "fingerprint": fingerprint,
                "plan": plan,
                "options": options,
                "started_at": started,
            },
        )
        return started

    def check_resumable(self, header: dict[str, Any], fingerprint: str) -> None:
        if header.get("fingerprint") != fingerprint:
            raise ConfigError(
                f"verify run {header.get('run_id')} was started with different options or mapping; "
                "resume it with the same --segments/--sample/table, or start a new run (omit --resume)"
            )

    def finish(self, run_id: str, result: VerifyResult) -> None:
        evidence = result.to_dict()
        self.control.update(
            self.pk, f"RUN#{run_id}", {"state": "finished", "finished_at": result.finished_at}
        )
        self.control.put(self.pk, f"RESULT#{result.finished_at}#{run_id}", evidence)
        self.control.put(self.pk, LATEST, evidence)

    # ------------------------------------------------------------ segments

    def load(self, run_id: str, phase: str, index: int) -> SegmentState:
        stored = self.control.get(self.pk, f"RUN#{run_id}#{phase}#{index:04d}")
        return _state(phase, index, stored) if stored else SegmentState(phase, index)

    def save(self, run_id: str, state: SegmentState) -> None:
        attrs = asdict(state)
        attrs["updated_at"] = now_iso()
        self.control.put(self.pk, f"RUN#{run_id}#{state.sk_suffix}", attrs)

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
    )
