"""Typed per-row error: a row that DynamoDB cannot hold, reported without stopping the caller."""

from __future__ import annotations

from typing import Any

from ops.exceptions import OpsError


class RowError(OpsError):
    """One row cannot be written to DynamoDB as mapped.

    Callers log it (backfill failure log, dual-write error log) and continue with the next row;
    `to_dict()` is the failure-log record.
    """

    def __init__(self, table: str, key: dict[str, Any], column: str | None, reason: str) -> None:
        self.table = table
        self.key = key
        self.column = column
        self.reason = reason
        where = f"column {column!r}" if column else "item"
        super().__init__(
            f"{table} {key}: {where}: {reason}. Fix the row in PostgreSQL (or the mapping in "
            "ops/mapping/mapping.yaml), then re-drive it."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": {k: str(v) if not isinstance(v, int | str) else v for k, v in self.key.items()},
            "column": self.column,
            "reason": self.reason,
        }


class ValueProblem(Exception):
    """Raised by a value encoder; TableMapping turns it into a RowError naming table and key."""
