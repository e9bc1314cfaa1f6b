"""Failure log: rows the copy could not write, with the reason, kept in the control table.

One item per row under `BACKFILL#<run>` / `FAIL#<table>#<key json>`: the PostgreSQL key, the
column and reason, the error kind (`encode` from the codec, `validation` / `too_large` from
DynamoDB), attempts, and a state (`open` until `retry-failed` copies the row, then `resolved`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ops.backfill.controls import run_pk
from ops.control import ConditionFailed, ControlTable

FAILURE_PREFIX = "FAIL#"
OPEN = "open"
RESOLVED = "resolved"


@dataclass
class Failure:
    table: str
    key: dict[str, Any]
    column: str | None
    reason: str
    kind: str
    attempts: int = 1
    state: str = OPEN
    first_seen: float = 0.0
    last_seen: float = 0.0
    resolution: str | None = None

    @property
    def sk(self) -> str:
        return failure_sk(self.table, self.key)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Failure:
        return cls(
            table=item["table"],
            key=json.loads(item["key"]),
            column=item.get("column") or None,
            reason=item.get("reason", ""),
            kind=item.get("kind", ""),
            attempts=int(item.get("attempts", 1)),
            state=item.get("state", OPEN),
            first_seen=float(item.get("first_seen", 0)),
            last_seen=float(item.get("last_seen", 0)),
            resolution=item.get("resolution") or None,
        )


def _key_json(key: dict[str, Any]) -> str:
    return json.dumps(
        {k: v if isinstance(v, int | str) and not isinstance(v, bool) else str(v) for k, v in key.items()},
        sort_keys=True,
        separators=(",", ":"),
    )


def failure_sk(table: str, key: dict[str, Any]) -> str:
    return f"{FAILURE_PREFIX}{table}#{_key_json(key)}"


class FailureLog:
    def __init__(self, control: ControlTable, run_id: str) -> None:
        self.control = control
        self.run_id = run_id
        self.pk = run_pk(run_id)

    def record(self, table: str, key: dict[str, Any], column: str | None, reason: str, kind: str) -> None:
        """Log (or re-log) a row's failure; idempotent per row, counting attempts."""
        now = time.time()
        self.control.update(
            self.pk,
            failure_sk(table, key),
            set_={
                "table": table,
                "key": _key_json(key),
                "column": column or "",
                "reason": reason,
                "kind": kind,
                "state": OPEN,
                "last_seen": now,
                "resolution": "",
            },
            add={"attempts": 1},
        )
        with contextlib.suppress(ConditionFailed):
            self.control.update(
                self.pk,
                failure_sk(table, key),
                set_={"first_seen": now},
                condition="attribute_not_exists(first_seen)",
            )

    def resolve(self, failure: Failure, how: str) -> None:
        self.control.update(
            self.pk, failure.sk, set_={"state": RESOLVED, "resolution": how, "last_seen": time.time()}
        )

    def list(self, only_open: bool = True) -> list[Failure]:
        failures = [Failure.from_item(i) for i in self.control.query(self.pk, FAILURE_PREFIX)]
        return [f for f in failures if f.state == OPEN] if only_open else failures

    def export(self, path: Path, only_open: bool = True) -> int:
        """Write the failures as JSON lines (`.jsonl`/`.json`) or CSV (`.csv`); returns the count."""
        failures = self.list(only_open)
        rows = [{**asdict(f), "key": _key_json(f.key)} for f in failures]
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, fieldnames=list(asdict(Failure("", {}, None, "", "")).keys()))
                writer.writeheader()
                writer.writerows(rows)
        else:
            with path.open("w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(row) + "\n")
        return len(failures)
