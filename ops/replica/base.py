"""What every replication driver reports, whichever engine copies `prod` into `v2`.

The gate (`ops.replica.gate.replica_gate`) reads only these fields, so AWS DMS and native logical
replication are judged by the same rules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from ops.exceptions import OpsError

VALIDATION_STATES = ("clean", "pending", "mismatched", "n/a")


class ReplicaError(OpsError):
    """The replica cannot be started, inspected or stopped as asked."""


@dataclass
class TableSync:
    """One replicated table.

    `validation` is "clean" when the engine says source and target agree (DMS: ValidationState
    "Validated"; logical: exact row counts equal), "pending" while it cannot tell yet,
    "mismatched" when they disagree, "n/a" when the engine does not validate this table.
    """

    table: str
    full_load_complete: bool
    source_rows: int | None
    target_rows: int | None
    validation: str
    detail: str = ""


@dataclass
class ReplicaStatus:
    driver: str
    state: str
    tables: list[TableSync] = field(default_factory=list)
    lag_seconds: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> TableSync | None:
        return next((t for t in self.tables if t.table == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class ReplicaDriver(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def resume(self) -> None: ...

    def status(self) -> ReplicaStatus: ...


# States in which a driver has never copied anything (logical: no subscription; DMS: a task that
# never ran).
_NEVER_STARTED = ("absent", "ready", "created")
_RUNNING = ("running", "starting")


def start_replica(driver: ReplicaDriver) -> str:
    """Start the replica, or resume the one that exists, and say which: an operator re-running a
    start must be able to tell that no second replica was made."""
    before = driver.status().state
    if before in _RUNNING:
        return f"already running ({before}): nothing started, no second replica"
    driver.start()
    if before in _NEVER_STARTED:
        return "started: a new replica, the initial copy begins"
    return f"resumed: the same replica continues from where it was {before}, no second replica"
