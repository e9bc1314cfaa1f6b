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
