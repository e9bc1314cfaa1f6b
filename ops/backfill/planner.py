"""Segment planner: key ranges sized from the data, with exact row counts, in an interleaved order.

Boundaries are quantiles of the primary key (every key for small tables, a TABLESAMPLE for large
ones), so segments hold similar row counts whatever the key distribution. The first segment has
no lower bound and the last no upper bound, so rows inserted after planning are still covered.
The processing order interleaves far-apart segments so that the segments in flight at any moment
(and hence consecutive requests) touch unrelated keys instead of walking one key region together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ops.mapping import TableMapping, configure_connection

# Below this many rows every key is read to place the boundaries exactly.
EXACT_BOUNDARY_ROWS = 500_000
SAMPLE_ROWS_PER_SEGMENT = 200
SIZE_SAMPLE_ROWS = 500
# DynamoDB prices (us-east-1, standard table class, from the AWS pricing page, Nov 2024 onward).
ON_DEMAND_USD_PER_MILLION_WRU = 0.625
PROVISIONED_USD_PER_WCU_HOUR = 0.00065

KeyValue = list[Any]


@dataclass(frozen=True)
class Segment:
    index: int
    lower: KeyValue | None  # exclusive
    upper: KeyValue | None  # inclusive
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "lower": self.lower, "upper": self.upper, "rows": self.rows}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Segment:
        return cls(int(doc["index"]), doc.get("lower"), doc.get("upper"), int(doc.get("rows", 0)))


@dataclass
class Plan:
    table: str
    key_columns: tuple[str, ...]
    segments: list[Segment]
    rows_total: int
    avg_payload_bytes: float
    avg_write_units: float
    order: list[int] = field(default_factory=list)
    avg_item_bytes: float = 0.0  # DynamoDB item size (0 in plans stored before it was recorded)

    @property
    def bytes_total(self) -> int:
        return int(self.rows_total * self.avg_payload_bytes)

    def duration_seconds(self, rows_per_second: float | None, mbps: float | None = None) -> float | None:
        """Estimated copy time at a row rate (or, without one, at a payload rate in Mbps)."""
        if rows_per_second:
            return self.rows_total / rows_per_second
        if mbps:
            return self.bytes_total * 8 / (mbps * 1_000_000)
        return None

    def cost(self, duration_seconds: float | None) -> dict[str, float]:
        """Write cost estimate: on-demand WRUs, and provisioned WCUs held for the copy's duration."""
        units = self.rows_total * self.avg_write_units
        out = {"write_units": units, "on_demand_usd": units / 1_000_000 * ON_DEMAND_USD_PER_MILLION_WRU}
        if duration_seconds:
            wcu = units / duration_seconds
            hours = max(1.0, math.ceil(duration_seconds / 3600))
            out["provisioned_wcu"] = wcu
            out["provisioned_usd"] = wcu * hours * PROVISIONED_USD_PER_WCU_HOUR
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key_columns": list(self.key_columns),
            "segments": [s.to_dict() for s in self.segments],
            "rows_total": self.rows_total,
            "avg_payload_bytes": self.avg_payload_bytes,
            "avg_write_units": self.avg_write_units,
            "order": self.order,
            "avg_item_bytes": self.avg_item_bytes,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Plan:
        return cls(
            table=doc["table"],
            key_columns=tuple(doc["key_columns"]),
            segments=[Segment.from_dict(s) for s in doc["segments"]],
            rows_total=int(doc["rows_total"]),
            avg_payload_bytes=float(doc["avg_payload_bytes"]),
            avg_write_units=float(doc["avg_write_units"]),
            order=[int(i) for i in doc.get("order") or range(len(doc["segments"]))],
            avg_item_bytes=float(doc.get("avg_item_bytes", 0.0)),
        )


def interleaved_order(count: int) -> list[int]:
    """0..count-1 in bit-reversed order: each next segment is far from the ones before it."""
    if count <= 1:
        return list(range(count))
    bits = (count - 1).bit_length()
    reversed_ = sorted(range(1 << bits), key=lambda i: int(f"{i:0{bits}b}"[::-1], 2))
    return [i for i in reversed_ if i < count]


def owns(index: int, worker: int, workers: int) -> bool:
    """Worker i of N owns every N-th segment, so each worker's share is spread over the keys."""
    return index % workers == worker


def json_key(values: tuple[Any, ...] | list[Any]) -> KeyValue:
    """A key as JSON-safe values (ints stay ints; others as text, cast back in SQL)."""
    return [v if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in values]


def key_predicate(
    tm: TableMapping, lower: KeyValue | None, upper: KeyValue | None
) -> tuple[sql.Composable, list[Any]]:
    """`(k1, k2) > (..) AND (k1, k2) <= (..)` with typed parameters; TRUE for an open range."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in tm.key_columns)
    casts = sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.SQL(tm.sql_type(c))) for c in tm.key_columns)
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if lower is not None:
        parts.append(sql.SQL("({}) > ({})").format(cols, casts))
        params += lower
    if upper is not None:
        parts.append(sql.SQL("({}) <= ({})").format(cols, casts))
        params += upper
    if not parts:
        return sql.SQL("TRUE"), []
    return sql.SQL(" AND ").join(parts), params


def plan_segments(conn: Any, tm: TableMapping, segments: int, encode_size: Any = None) -> Plan:
    """Plan `segments` key ranges over `tm.table` on a psycopg connection (autocommit)."""
    configure_connection(conn)  # the size sample reads rows: a value Python cannot hold is one row
    if segments < 1:
        raise ValueError("segments must be at least 1")
    table = sql.Identifier(tm.table)
    keys = sql.SQL(", ").join(sql.Identifier(c) for c in tm.key_columns)
    total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
    if total <= EXACT_BOUNDARY_ROWS:
        sample = conn.execute(sql.SQL("SELECT {} FROM {} ORDER BY {}").format(keys, table, keys)).fetchall()
    else:
        percent = min(100.0, 100.0 * segments * SAMPLE_ROWS_PER_SEGMENT / total)
        sample = conn.execute(
            sql.SQL("SELECT {} FROM {} TABLESAMPLE SYSTEM (%s) REPEATABLE (42) ORDER BY {}").format(
                keys, table, keys
            ),
            (percent,),
        ).fetchall()
    count = max(1, min(segments, len(sample)))
    boundaries: list[KeyValue] = []
    for i in range(1, count):
        boundary = json_key(sample[i * len(sample) // count - 1])
        if not boundaries or boundary != boundaries[-1]:
            boundaries.append(boundary)
    edges: list[KeyValue | None] = [None, *boundaries, None]
    planned: list[Segment] = []
    for i in range(len(edges) - 1):
        where, params = key_predicate(tm, edges[i], edges[i + 1])
        rows = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, where), params
        ).fetchone()[0]
        planned.append(Segment(i, edges[i], edges[i + 1], int(rows)))
    avg_payload, avg_units, avg_item = _average_size(conn, tm, encode_size)
    return Plan(
        table=tm.table,
        key_columns=tm.key_columns,
        segments=planned,
        rows_total=int(total),
        avg_payload_bytes=avg_payload,
        avg_write_units=avg_units,
        order=interleaved_order(len(planned)),
        avg_item_bytes=avg_item,
    )


def _average_size(conn: Any, tm: TableMapping, encode_size: Any) -> tuple[float, float, float]:
    """Mean request payload bytes, write units and item size, from a sample of encoded rows."""
    from psycopg.rows import dict_row

    from ops.mapping import RowError

    cols = sql.SQL(", ").join(sql.Identifier(c) for c in tm.columns)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL("SELECT {} FROM {} LIMIT %s").format(cols, sql.Identifier(tm.table)), (SIZE_SAMPLE_ROWS,)
        ).fetchall()
    payloads: list[int] = []
    units: list[int] = []
    sizes: list[int] = []
    for row in rows:
        try:
            item = tm.encode(row)
        except RowError:
            continue
        size = tm.item_size(item)
        payloads.append(encode_size(item) if encode_size else size)
        sizes.append(size)
        units.append(max(1, math.ceil(size / 1024)))
    if not payloads:
        return 0.0, 1.0, 0.0
    return sum(payloads) / len(payloads), sum(units) / len(units), sum(sizes) / len(sizes)
