"""Drain the dual-write outbox: re-put the CURRENT PostgreSQL state of every pending key.

Each outbox row names an item key. The worker re-reads the row that now owns that key (joined in
the same query, under `FOR UPDATE SKIP LOCKED` so several workers — the drainer of every
application instance, `ops repair outbox`, the cutover — can share the work) and puts it with the
same version condition as the live path; a key whose row is gone gets a tombstone whose version is
the newest recorded for it. Versions carry the flag's generation, so a row drained late can never
replace an item written under a newer flag (e.g. in `dynamodb` mode). The outbox row is deleted
only after DynamoDB accepted (or already had something at least as new); failures stay, with
`attempts` and `last_error`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from psycopg.rows import dict_row

from ops.dualwrite import sql as q
from ops.dualwrite.conditional import conditional_put
from ops.mapping import Mapping, RowError, TableMapping
from ops.settings import DEFAULT_TOMBSTONE_TTL_SECONDS

Progress = Callable[[int], None]


@dataclass
class RepairResult:
    examined: int = 0
    written: int = 0
    already_current: int = 0
    tombstones: int = 0
    failed: int = 0
    row_errors: int = 0
    # Pending after the pass: rows that failed (attempts > 0) or are older than the in-flight
    # window. Younger rows nobody has tried yet are an application's writes being delivered right
    # now (its own drainer or its next put takes them): counted apart, not an error.
    remaining: int = 0
    in_flight: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def drained(self) -> int:
        return self.written + self.already_current

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drained": self.drained}


def pending_outbox(pool: Any, table: str | None = None) -> int:
    with pool.connection() as conn:
        if table:
            found = conn.execute("SELECT count(*) FROM outbox WHERE table_name = %s", (table,)).fetchone()
        else:
            found = conn.execute("SELECT count(*) FROM outbox").fetchone()
    return int(found[0]) if found else 0


def outbox_remaining(pool: Any, table: str, in_flight_seconds: float) -> tuple[int, int]:
    """(remaining, in flight) of `table`'s pending rows: in flight are the rows younger than
    `in_flight_seconds` that no drain has tried yet; every other pending row remains."""
    with pool.connection() as conn:
        found = conn.execute(q.OUTBOX_REMAINING, (in_flight_seconds, table)).fetchone()
    assert found is not None
    return int(found[0]), int(found[1])


def outbox_backlog(pool: Any, table: str) -> tuple[int, float | None]:
    """Rows pending for `table` and the age in seconds of the oldest (None when there is none)."""
    with pool.connection() as conn:
        found = conn.execute(q.OUTBOX_STATS, (table,)).fetchone()
    assert found is not None
    return int(found[0]), float(found[1]) if found[1] is not None else None


def drain_outbox(
    tables: Mapping | Iterable[TableMapping],
    pool: Any,
    ddb: Any,
    target_table: str,
    *,
    batch_size: int = 200,
    workers: int = 8,
    min_age_seconds: float = 0.0,
    in_flight_seconds: float = 0.0,
    tombstone_ttl_seconds: int = DEFAULT_TOMBSTONE_TTL_SECONDS,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> RepairResult:
    """One pass over every pending outbox row (at least `min_age_seconds` old) of the given tables —
    every mapped table when given the Mapping; rows added meanwhile are included. Rows an
    application added after the pass, younger than `in_flight_seconds` and never tried, are
    reported as in flight instead of remaining (under live traffic there is always one for a
    moment); with the default 0 every pending row remains."""
    chosen = list(tables.tables.values()) if isinstance(tables, Mapping) else list(tables)
    result = RepairResult()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="outbox") as executor:
        drain = _Drain(
            pool,
            ddb,
            target_table,
            batch_size,
            min_age_seconds,
            executor,
            tombstone_ttl_seconds,
            clock,
            result,
            progress,
        )
        for tm in chosen:
            drain.table(tm)
    counts = [outbox_remaining(pool, tm.table, in_flight_seconds) for tm in chosen]
    result.remaining = sum(remaining for remaining, _ in counts)
    result.in_flight = sum(in_flight for _, in_flight in counts)
    result.seconds = time.monotonic() - started
    return result


@dataclass
class _Work:
    ids: list[int]
    item: dict[str, Any] | None
    kind: str
    error: str = ""


@dataclass
class _Drain:
    pool: Any
    ddb: Any
    target_table: str
    batch_size: int
    min_age_seconds: float
    executor: ThreadPoolExecutor
    ttl_seconds: int
    clock: Callable[[], float]
    result: RepairResult
    progress: Progress | None

    def table(self, tm: TableMapping) -> None:
        last_id = 0
        while True:
            with self.pool.connection() as conn, conn.transaction():
                cur = conn.cursor(row_factory=dict_row)
                cur.execute(q.outbox_batch(tm), (tm.table, last_id, self.min_age_seconds, self.batch_size))
                entries = cur.fetchall()
                if not entries:
                    return
                last_id = entries[-1]["outbox_id"]
                work = latest_per_key(tm, entries, self.clock() + self.ttl_seconds)
                outcomes = list(self.executor.map(self._put, work))
                done: list[int] = []
                for w, (outcome, error) in zip(work, outcomes, strict=True):
                    if outcome == "failed":
                        self.result.failed += len(w.ids)
                        self.result.row_errors += len(w.ids) if w.kind == "row_error" else 0
                        self.result.errors.append(error)
                        cur.execute(q.MARK_OUTBOX_FAILED, (error, w.ids))
                        continue
                    done.extend(w.ids)
                    if outcome == "written":
                        self.result.written += len(w.ids)
                        self.result.tombstones += w.kind == "tombstone"
                    else:
                        self.result.already_current += len(w.ids)
                if done:
                    cur.execute(q.DELETE_OUTBOX, (done,))
                self.result.examined += len(entries)
            if self.progress:
                self.progress(len(entries))

    def _put(self, work: _Work) -> tuple[str, str]:
        if work.item is None:
            return "failed", work.error
        try:
            return ("written" if conditional_put(self.ddb, self.target_table, work.item) else "current"), ""
        except Exception as exc:
            return "failed", f"{type(exc).__name__}: {exc}"


def latest_per_key(tm: TableMapping, entries: list[dict[str, Any]], ttl_epoch: float) -> list[_Work]:
    """One DynamoDB write per item key: the current row, or a tombstone if the row is gone."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(repr([e[f"{q.OUTBOX_KEY_PREFIX}{c}"] for c in tm.item_key_columns]), []).append(e)
    work: list[_Work] = []
    for group in groups.values():
        ids = [e["outbox_id"] for e in group]
        head = group[-1]
        try:
            if head["row_exists"]:
                work.append(_Work(ids, tm.encode({c: head[c] for c in tm.columns}), "row"))
            else:
                version = max(e["outbox_version"] for e in group)
                # The typed key columns, not the outbox's JSON text: a timestamptz key must render
                # exactly as the codec renders the row's value, or the tombstone lands elsewhere.
                key = {c: head[f"{q.OUTBOX_KEY_PREFIX}{c}"] for c in tm.item_key_columns}
                work.append(_Work(ids, tm.tombstone(key, version, ttl_epoch), "tombstone"))
        except RowError as exc:
            # Stays in the outbox as the failure record; re-driven once the row is fixed.
            work.append(_Work(ids, None, "row_error", str(exc)))
    return work
