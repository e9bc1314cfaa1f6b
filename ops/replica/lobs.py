"""LOB safety: the largest value of every LOB column on the source, against the replication's limit.

DMS reads these PostgreSQL types as LOBs (NCLOB or BLOB): text, bytea, json, jsonb, xml, hstore,
citext, arrays, and varchar without a length. In limited LOB mode it truncates every value over
LobMaxSize (KB), with only a warning in the task log, so a limit at or under the largest value
(plus a margin) is refused before the replica starts. Full LOB mode has no limit; native
logical replication copies values whole. A table-settings rule in the table mappings
(`lob-settings`: mode `limited` / `unlimited` / `none`, `bulk-max-size` in KB) overrides the
task's TargetMetadata for its tables.

Measuring. The size that matters is the value as DMS reads it: `octet_length` of the value (of
its text form for json, jsonb, xml, hstore and arrays), never `pg_column_size`, which is the
stored, compressed size (70 KB of repeated words is stored in under 1 KB). For text and bytea,
`octet_length` takes the length from the TOAST pointer, without fetching the value. One query
per table measures all its LOB columns. A table whose heap is larger than the sample budget
(`OPS_LOB_SAMPLE_MB`, 512 MB by default) is read through `TABLESAMPLE SYSTEM`: whole pages picked
at random up to the budget, so the cost is bounded on a table of billions of rows. A sample
cannot prove that no larger value exists, and the result says so; the exact mode (`--lob-scan
exact`, `OPS_LOB_SCAN=exact`) reads every row: a full scan of each table, for off-peak hours or a
read replica of the source.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from ops.exceptions import ConfigError

SCAN_MODES = ("sample", "exact")
_TEXT_TYPES = {"text", "varchar", "bytea"}
_LOB_TYPES = {"text", "bytea", "json", "jsonb", "xml", "hstore", "citext"}


@dataclass(frozen=True)
class LobColumn:
    """The largest value of one LOB column, and how it was measured."""

    table: str
    column: str
    type: str
    max_bytes: int | None
    rows_read: int
    method: str

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LobLimit:
    """How the replication carries the LOBs of one table: `full` (no limit), `limited` (values
    over `max_kb` are truncated), `none` (LOB columns are not copied) or `whole` (logical
    replication)."""

    mode: str
    max_kb: int | None
    origin: str

    def describe(self) -> str:
        if self.mode == "limited":
            return f"limited LOB mode, LobMaxSize {self.max_kb} KB ({self.origin})"
        if self.mode == "full":
            return f"full LOB mode, no size limit ({self.origin})"
        if self.mode == "none":
            return f"LOB columns not migrated ({self.origin})"
        return self.origin


@dataclass(frozen=True)
class LobVerdict:
    ok: bool
    measured: str
    needed_kb: int | None


WHOLE = LobLimit("whole", None, "logical replication copies every value whole: no LOB size limit")


def dms_limits(
    settings: Mapping[str, Any], table_mappings: Mapping[str, Any], tables: Sequence[str], schema: str
) -> dict[str, LobLimit]:
    """Each table's LOB limit from DMS settings JSON: TargetMetadata (DMS's defaults where a key
    is absent: SupportLobs true, limited LOB mode, LobMaxSize 32 KB), then any table-settings rule
    with lob-settings that names the table."""
    meta = settings.get("TargetMetadata") or {}
    if not meta.get("SupportLobs", True):
        default = LobLimit("none", None, "TargetMetadata.SupportLobs=false")
    elif meta.get("FullLobMode", False):
        default = LobLimit("full", None, "TargetMetadata.FullLobMode=true")
    else:
        default = LobLimit("limited", int(meta.get("LobMaxSize", 32)), "TargetMetadata")
    limits = dict.fromkeys(tables, default)
    for rule in table_mappings.get("rules") or []:
        lob = rule.get("lob-settings")
        if rule.get("rule-type") != "table-settings" or not isinstance(lob, Mapping):
            continue
        locator = rule.get("object-locator") or {}
        origin = f"table-settings rule {rule.get('rule-name') or rule.get('rule-id')}"
        mode = str(lob.get("mode", "")).lower()
        size = int(lob.get("bulk-max-size") or 0)
        limit = {
            "limited": LobLimit("limited", size, origin),
            "unlimited": LobLimit("full", None, origin),
            "none": LobLimit("none", None, origin),
        }.get(mode)
        if limit is None:
            continue
        for table in tables:
            if _matches(locator.get("schema-name", "%"), schema) and _matches(
                locator.get("table-name", "%"), table
            ):
                limits[table] = limit
    return limits


def _matches(pattern: str, name: str) -> bool:
    """DMS object-locator match: `%` is the wildcard, everything else literal."""
    translated = "".join("*" if ch == "%" else f"[{ch}]" if ch in "*?[]" else ch for ch in str(pattern))
    return fnmatch.fnmatchcase(name, translated)


def needed_kb(max_bytes: int, margin_percent: float) -> int:
    """The smallest LobMaxSize (KB) that holds `max_bytes` with `margin_percent` to spare."""
    return max(1, math.ceil(max_bytes * (1 + margin_percent / 100) / 1024))


def judge(columns: Sequence[LobColumn], limits: Mapping[str, LobLimit], margin_percent: float) -> LobVerdict:
    """Whether every measured value fits its table's limit with the margin (pure)."""
    measured = [c for c in columns if c.max_bytes is not None]
    largest = max(measured, key=lambda c: c.max_bytes or 0, default=None)
    dropped = sorted({c.table for c in columns if limits.get(c.table, WHOLE).mode == "none"})
    if dropped:
        first = limits[dropped[0]]
        return LobVerdict(
            False,
            f"LOB columns of {', '.join(dropped)} would not be copied: {first.describe()}",
            needed_kb(largest.max_bytes or 0, margin_percent) if largest else None,
        )
    over: list[tuple[LobColumn, LobLimit, int]] = []
    for column in measured:
        limit = limits.get(column.table, WHOLE)
        need = needed_kb(column.max_bytes or 0, margin_percent)
        if limit.mode == "limited" and (limit.max_kb or 0) < need:
            over.append((column, limit, need))
    if over:
        parts = [
            f"{c.name}: largest value {c.max_bytes:,} B ({c.method}) needs LobMaxSize >= {need} KB; "
            f"the replication has {limit.describe()}"
            for c, limit, need in over
        ]
        return LobVerdict(False, "; ".join(parts), max(need for _, _, need in over))
    if largest is None:
        summary = "no LOB values" if columns else "no LOB columns"
        return LobVerdict(True, f"{summary} in the mapped tables", None)
    limit = limits.get(largest.table, WHOLE)
    return LobVerdict(
        True,
        f"largest: {largest.name} {largest.max_bytes:,} B ({largest.method}); {limit.describe()}",
        None,
    )


# ------------------------------------------------------------------ measuring on the source


def lob_columns(
    conn: psycopg.Connection[Any], tables: Sequence[str], schema: str
) -> list[tuple[str, str, str, str]]:
    """(table, column, declared type, base type name) of every LOB column of `tables`."""
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), bt.typname, "
        "bt.typcategory, a.atttypmod "
        "FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
        "WHERE n.nspname = %s AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attnum",
        (schema, list(tables)),
    ).fetchall()
    return [
        (table, column, declared, base)
        for table, column, declared, base, category, typmod in rows
        if category == "A" or base in _LOB_TYPES or (base == "varchar" and typmod == -1)
    ]


def measure(
    url: str,
    tables: Sequence[str],
    *,
    mode: str = "sample",
    sample_bytes: int = 512 * 1024 * 1024,
    schema: str = "public",
) -> list[LobColumn]:
    """The largest value of every LOB column of `tables`: exactly for a table whose heap fits in
    `sample_bytes` (or every table in `exact` mode), otherwise over a page sample of that size."""
    if mode not in SCAN_MODES:
        raise ConfigError(
            f"LOB scan mode {mode!r} is not one of {', '.join(SCAN_MODES)}; set --lob-scan or OPS_LOB_SCAN"
        )
    out: list[LobColumn] = []
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        columns = lob_columns(conn, tables, schema)
        for table in dict.fromkeys(t for t, *_ in columns):
            mine = [(c, declared, base) for t, c, declared, base in columns if t == table]
            relation = sql.Identifier(schema, table)
            heap_row = conn.execute(
                "SELECT pg_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                (schema, table),
            ).fetchone()
            heap = int(heap_row[0]) if heap_row else 0
            sampled = mode == "sample" and heap > sample_bytes
            percent = 100.0 * sample_bytes / heap if sampled else 100.0
            sizes = sql.SQL(", ").join(
                sql.SQL(
                    "max(octet_length({}))" if base in _TEXT_TYPES else "max(octet_length({}::text))"
                ).format(sql.Identifier(c))
                for c, _, base in mine
            )
            source = (
                sql.SQL("{} TABLESAMPLE SYSTEM ({}) REPEATABLE (0)").format(relation, sql.Literal(percent))
                if sampled
                else relation
            )
            row = conn.execute(sql.SQL("SELECT count(*), {} FROM {}").format(sizes, source)).fetchone()
            assert row is not None
            rows_read = int(row[0])
            method = (
                f"sample of {percent:.3g}% of {heap / 2**20:,.1f} MB heap, {rows_read:,} rows"
                if sampled
                else f"exact, {rows_read:,} rows"
            )
            out.extend(
                LobColumn(table, c, declared, None if size is None else int(size), rows_read, method)
                for (c, declared, _), size in zip(mine, row[1:], strict=True)
            )
    return out
