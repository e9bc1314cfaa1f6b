"""Apply DynamoDB stream records to PostgreSQL: the reverse writer that keeps rollback possible
after PostgreSQL writes stop.

Each record's new image is decoded through the same mapping as every other path (item -> row,
the inverse of the codec) and written with the version guard turned around: a row is only ever
replaced by a newer `_ver`, a tombstone deletes the row only when it is newer than it, and the
versions of deleted keys are remembered (`reverse_deletes`), so a record delivered again, out of
order or from a parent shard after its child, can neither roll a row back nor bring a deleted one
back. Records of tables the mapping does not know, and the stream's own REMOVE records (a
tombstone's TTL expiring), change nothing.

Rows are written straight to the table, not through the dual-write layer: nothing here goes back
to DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from ops.mapping import VERSION_ATTRIBUTE, ItemKeyParser, Mapping, RowError, TableMapping, codec, is_tombstone

APPLIED, DELETED, STALE, IGNORED = "applied", "deleted", "stale", "ignored"


@dataclass(frozen=True)
class Change:
    """One stream record, reduced to what the writer needs."""

    sequence: str
    event: str  # INSERT | MODIFY | REMOVE
    item: dict[str, Any] | None  # the new image (DynamoDB JSON); None for REMOVE
    created_at: float | None = None  # ApproximateCreationDateTime, epoch seconds

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Change:
        """A record as the Streams API and a Lambda event both shape it."""
        body = record["dynamodb"]
        created = body.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, int | float):
            created = created.timestamp()
        return cls(str(body["SequenceNumber"]), str(record["eventName"]), body.get("NewImage"), created)


@dataclass
class ApplyResult:
    applied: int = 0
    deleted: int = 0
    stale: int = 0
    ignored: int = 0
    failed: list[tuple[Change, str]] = field(default_factory=list)

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def merge(self, other: ApplyResult) -> None:
        for name in (APPLIED, DELETED, STALE, IGNORED):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed.extend(other.failed)

    @property
    def total(self) -> int:
        return self.applied + self.deleted + self.stale + self.ignored + len(self.failed)


class ReverseApplier:
    """Applies changes of every mapped table to one PostgreSQL database (a psycopg pool)."""

    def __init__(self, mapping: Mapping, pool: Any) -> None:
        self.pool = pool
        self._tables = [(tm, ItemKeyParser(tm)) for tm in mapping.tables.values()]

    def table_of(self, item: dict[str, Any]) -> TableMapping | None:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        return next((tm for tm, parser in self._tables if parser.owns(pk, sk)), None)

    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        """Apply `changes` in order, each in its own transaction; a change that fails is returned
        in `failed` with the reason and the rest go on (the caller decides: retry or failure log)."""
        result = ApplyResult()
        for change in changes:
            try:
                result.add(self.apply_one(change))
            except Exception as exc:
                result.failed.append((change, f"{type(exc).__name__}: {exc}"))
        return result

    def apply_one(self, change: Change) -> str:
        if change.event == "REMOVE" or not change.item:
            return IGNORED  # a tombstone expiring: its row was deleted when the tombstone arrived
        tm = self.table_of(change.item)
        if tm is None:
            return IGNORED
        item = change.item
        version = int(item[VERSION_ATTRIBUTE]["N"])
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{tm.table}/{pk}/{sk}",))
            deleted_at = conn.execute(
                "SELECT version FROM reverse_deletes WHERE table_name = %s AND item_pk = %s AND item_sk = %s",
                (tm.table, pk, sk),
            ).fetchone()
            if deleted_at is not None and int(deleted_at[0]) >= version:
                return STALE
            if is_tombstone(item):
                return self._delete(conn, tm, item, version)
            return self._upsert(conn, tm, item, version)

    def _owner(self, conn: Any, tm: TableMapping, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """(primary key..., version) of the row that owns the item's key now, if any."""
        where = sql.SQL(" AND ").join(
            sql.SQL("{} = %s").format(sql.Identifier(c)) for c in tm.item_key_columns
        )
        query = sql.SQL("SELECT {}, {} FROM {} WHERE {} FOR UPDATE").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in tm.key_columns),
            sql.Identifier(tm.version_column),
            sql.Identifier(tm.table),
            where,
        )
        row = conn.execute(query, [values[c] for c in tm.item_key_columns]).fetchone()
        return tuple(row) if row else None

    def _delete_owner(self, conn: Any, tm: TableMapping, owner: tuple[Any, ...]) -> None:
        where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in tm.key_columns)
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {}").format(sql.Identifier(tm.table), where),
            list(owner[: len(tm.key_columns)]),
        )

    def _delete(self, conn: Any, tm: TableMapping, item: dict[str, Any], version: int) -> str:
        key_values = _item_key_values(tm, item)
        owner = self._owner(conn, tm, key_values)
        if owner is not None and int(owner[-1]) >= version:
            return STALE
        if owner is not None:
            self._delete_owner(conn, tm, owner)
        conn.execute(
            "INSERT INTO reverse_deletes (table_name, item_pk, item_sk, version) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (table_name, item_pk, item_sk) DO UPDATE SET version = GREATEST("
            "reverse_deletes.version, EXCLUDED.version)",
            (tm.table, item["pk"]["S"], item["sk"]["S"], version),
        )
        return DELETED

    def _upsert(self, conn: Any, tm: TableMapping, item: dict[str, Any], version: int) -> str:
        row = tm.decode(item)
        row[tm.version_column] = version
        missing = [c for c in tm.key_columns if row.get(c) is None]
        if missing:
            raise RowError(tm.table, tm.row_key(row), missing[0], "the item has no value for a key column")
        owner = self._owner(conn, tm, row)
        if owner is not None and int(owner[-1]) >= version:
            return STALE
        if owner is not None and list(owner[: len(tm.key_columns)]) != [row[c] for c in tm.key_columns]:
            self._delete_owner(conn, tm, owner)  # deleted and created again under a new id
        columns = list(tm.columns)
        conn.execute(_upsert_sql(tm, columns), [_adapt(tm, c, row[c]) for c in columns])
        return APPLIED


def _item_key_values(tm: TableMapping, item: dict[str, Any]) -> dict[str, Any]:
    parsed = ItemKeyParser(tm).parse(item["pk"]["S"], item["sk"]["S"])
    assert parsed is not None
    decoders = {c: codec.decoder_for(tm.column_types[c]) for c in tm.item_key_columns}
    out: dict[str, Any] = {}
    for column, text in parsed.items():
        kind = tm.column_types[column]
        # Key text is what the codec rendered; turn it back into the column's type.
        out[column] = text if isinstance(text, int) else decoders[column]({_wire_tag(kind): text})
    return out


def _wire_tag(kind: str) -> str:
    return "N" if kind in ("smallint", "integer", "bigint", "numeric") else "S"


def _adapt(tm: TableMapping, column: str, value: Any) -> Any:
    if value is not None and tm.column_types[column] in ("jsonb", "json"):
        return Jsonb(value)
    return value


def _upsert_sql(tm: TableMapping, columns: Iterable[str]) -> sql.Composed:
    cols = list(columns)
    keys = sql.SQL(", ").join(sql.Identifier(c) for c in tm.key_columns)
    updates = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in cols
        if c not in tm.key_columns
    )
    return sql.SQL(
        "INSERT INTO {t} ({cols}) OVERRIDING SYSTEM VALUE VALUES ({vals}) ON CONFLICT ({keys}) "
        "DO UPDATE SET {updates} WHERE {t}.{ver} < EXCLUDED.{ver}"
    ).format(
        t=sql.Identifier(tm.table),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        vals=sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.SQL(tm.sql_type(c))) for c in cols),
        keys=keys,
        updates=updates,
        ver=sql.Identifier(tm.version_column),
    )
