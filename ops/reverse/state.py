"""What reverse replication keeps in the control table, under `REVERSE#<dataset>`:

- `STATE`: desired state (running | stopped), driver, when and by whom it was started, the
  poller's process id (local driver);
- `STATUS`: what the poller (or the Lambda) last measured: lag, when it last reached the stream's
  tip, counts applied/deleted/stale, failures, healthy since;
- `SHARD#<id>`: per stream shard, the last sequence number applied (or the iterator taken when
  replication started, until the first record) and whether the shard is finished;
- `FAILURE#<pk>#<sk>`: a record that could not be applied, with the reason (`retry-failed`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ops.control import ControlTable

STATE_SK, STATUS_SK = "STATE", "STATUS"
SHARD_PREFIX, FAILURE_PREFIX = "SHARD#", "FAILURE#"
# A status older than this means nobody is applying the stream (the poller died, the Lambda is off).
STALE_STATUS_SECONDS = 15.0
_FLOATS = {"started_at", "measured_at", "lag_seconds", "caught_up_at", "healthy_since"}


@dataclass
class ReverseStatus:
    running: bool = False
    driver: str = ""
    started_at: float | None = None
    measured_at: float | None = None
    lag_seconds: float | None = None
    caught_up_at: float | None = None  # last time every shard was read to its tip
    healthy_since: float | None = None  # since the last failure (or the start)
    applied: int = 0
    deleted: int = 0
    stale: int = 0
    failures: int = 0  # outstanding in the failure log
    last_error: str = ""
    pid: int | None = None

    @property
    def fresh(self) -> bool:
        return self.measured_at is not None and time.time() - self.measured_at <= STALE_STATUS_SECONDS

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fresh": self.fresh}


@dataclass
class Shard:
    shard_id: str
    parent: str | None = None
    sequence: str | None = None
    iterator: str | None = None
    iterator_at: float | None = None
    finished: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ReverseState:
    def __init__(self, control: ControlTable, dataset: str) -> None:
        self.control = control
        self.dataset = dataset
        self.pk = f"REVERSE#{dataset}"

    def state(self) -> dict[str, Any]:
        return self.control.get(self.pk, STATE_SK) or {}

    def set_state(self, **attrs: Any) -> None:
        self.control.ensure()
        self.control.update(self.pk, STATE_SK, set_=attrs)

    def status(self) -> ReverseStatus:
        stored = self.control.get(self.pk, STATUS_SK) or {}
        state = self.state()
        names = set(ReverseStatus.__dataclass_fields__)
        # Numbers come back from the control table as int or Decimal: times and lags are floats.
        values: dict[str, Any] = {
            k: float(v) if k in _FLOATS and v is not None else v for k, v in stored.items() if k in names
        }
        status = ReverseStatus(**values)
        status.running = state.get("desired") == "running"
        status.driver = str(state.get("driver", ""))
        status.started_at = float(state["started_at"]) if state.get("started_at") else None
        status.pid = state.get("pid")
        status.failures = len(self.failures())
        return status

    def put_status(self, status: ReverseStatus) -> None:
        attrs = {k: v for k, v in asdict(status).items() if k not in ("running", "driver", "pid", "failures")}
        self.control.put(self.pk, STATUS_SK, {k: v for k, v in attrs.items() if v is not None})

    def shards(self) -> dict[str, Shard]:
        out: dict[str, Shard] = {}
        for item in self.control.query(self.pk, SHARD_PREFIX):
            shard_id = item["sk"][len(SHARD_PREFIX) :]
            out[shard_id] = Shard(
                shard_id,
                item.get("parent") or None,
                item.get("sequence") or None,
                item.get("iterator") or None,
                float(item["iterator_at"]) if item.get("iterator_at") else None,
                bool(item.get("finished")),
            )
        return out

    def put_shard(self, shard: Shard) -> None:
        attrs = {
            "parent": shard.parent or "",
            "sequence": shard.sequence or "",
            "iterator": shard.iterator or "",
            "iterator_at": shard.iterator_at or 0,
            "finished": shard.finished,
        }
        self.control.put(self.pk, f"{SHARD_PREFIX}{shard.shard_id}", attrs)

    def reset_shards(self) -> None:
        for shard_id in self.shards():
            self.control.delete(self.pk, f"{SHARD_PREFIX}{shard_id}")

    def record_failure(self, pk: str, sk: str, table: str, version: int, reason: str) -> None:
        self.control.update(
            self.pk,
            f"{FAILURE_PREFIX}{pk}#{sk}",
            set_={"item_pk": pk, "item_sk": sk, "table": table, "version": version, "reason": reason[:2000]},
            add={"attempts": 1},
        )

    def failures(self) -> list[dict[str, Any]]:
        return self.control.query(self.pk, FAILURE_PREFIX)

    def resolve_failure(self, failure: dict[str, Any]) -> None:
        self.control.delete(self.pk, failure["sk"])
