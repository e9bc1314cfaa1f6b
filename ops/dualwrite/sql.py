"""SQL the dual-write layer and the outbox repair run, generated from a TableMapping.

Identifiers come from the validated mapping (never from input); values are always parameters.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from ops.flags import GENERATION_SHIFT
from ops.mapping import TableMapping


def ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def columns_list(tm: TableMapping, alias: str | None = None) -> sql.Composed:
    if alias:
        return sql.SQL(", ").join(sql.Identifier(alias, c) for c in tm.columns)
    return sql.SQL(", ").join(ident(c) for c in tm.columns)


def version_sequence(tm: TableMapping) -> str:
    return f"{tm.table}_version_seq"


def placeholder(tm: TableMapping, column: str) -> sql.Composed:
    return sql.SQL("%s::{}").format(sql.SQL(tm.sql_type(column)))


def adapt(tm: TableMapping, column: str, value: Any) -> Any:
    if value is not None and tm.column_types[column] in ("jsonb", "json"):
        return Jsonb(value)
    return value


def key_where(tm: TableMapping, alias: str | None = None) -> sql.Composed:
    parts = [
        sql.SQL("{} = {}").format(sql.Identifier(alias, c) if alias else ident(c), placeholder(tm, c))
        for c in tm.item_key_columns
    ]
    return sql.SQL(" AND ").join(parts)


def key_params(tm: TableMapping, key: dict[str, Any]) -> list[Any]:
    missing = [c for c in tm.item_key_columns if c not in key]
    if missing:
        raise KeyError(
            f"{tm.table}: key needs {', '.join(tm.item_key_columns)}; missing {', '.join(missing)}"
        )
    return [key[c] for c in tm.item_key_columns]


def json_key(tm: TableMapping, row: dict[str, Any]) -> dict[str, Any]:
    """The item-key columns of a row as JSON-safe values (for the outbox's row_key)."""
    out: dict[str, Any] = {}
    for c in tm.item_key_columns:
        v = row[c]
        if isinstance(v, uuid.UUID | Decimal):
            v = str(v)
        elif isinstance(v, datetime | date):
            v = v.isoformat()
        out[c] = v
    return out


def select_by_key(tm: TableMapping) -> sql.Composed:
    return sql.SQL("SELECT {} FROM {} WHERE {}").format(columns_list(tm), ident(tm.table), key_where(tm))


def select_partition(tm: TableMapping) -> sql.Composed:
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(ident(c), placeholder(tm, c)) for c in tm.partition_columns
    )
    order = sql.SQL(", ").join(ident(c) for c in tm.item_key_columns)
    return sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {}").format(
        columns_list(tm), ident(tm.table), where, order
    )


def insert(tm: TableMapping, columns: list[str]) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
        ident(tm.table),
        sql.SQL(", ").join(ident(c) for c in columns),
        sql.SQL(", ").join(placeholder(tm, c) for c in columns),
        sql.SQL(", ").join(ident(c) for c in tm.item_key_columns),
    )


def _next_version(tm: TableMapping) -> sql.Composed:
    """`GREATEST((generation << 44) + nextval, version + 1)`; the generation is the first parameter.

    Drawn after the row lock (and re-evaluated by PostgreSQL's re-check of a concurrently updated
    row), so the later of two writers to a row always ends with the higher version; the generation
    in the high bits (`ops.flags.compose_version`) orders it after every write of an older one.
    """
    return sql.SQL("GREATEST((%s::bigint << {shift}) + nextval({seq}), {v} + 1)").format(
        shift=sql.Literal(GENERATION_SHIFT), seq=sql.Literal(version_sequence(tm)), v=ident(tm.version_column)
    )


def bump_version(tm: TableMapping) -> sql.Composed:
    """Give a row a fresh version of the writer's generation. Parameters: generation, then the key."""
    return sql.SQL("UPDATE {} SET {} = {} WHERE {} RETURNING {}").format(
        ident(tm.table), ident(tm.version_column), _next_version(tm), key_where(tm), columns_list(tm)
    )


def update(tm: TableMapping, columns: list[str]) -> sql.Composed:
    """Parameters: the new values of `columns`, the generation, then the key."""
    sets = [sql.SQL("{} = {}").format(ident(c), placeholder(tm, c)) for c in columns]
    if tm.updated_column and tm.updated_column not in columns:
        sets.append(sql.SQL("{} = now()").format(ident(tm.updated_column)))
    sets.append(sql.SQL("{} = {}").format(ident(tm.version_column), _next_version(tm)))
    return sql.SQL("UPDATE {} SET {} WHERE {} RETURNING {}").format(
        ident(tm.table), sql.SQL(", ").join(sets), key_where(tm), columns_list(tm)
    )


def delete(tm: TableMapping) -> sql.Composed:
    """Delete and draw the tombstone's version in the same statement (after the row lock).

    Parameters: the key, then the generation."""
    return sql.SQL("DELETE FROM {} WHERE {} RETURNING {}, {} AS tombstone_version").format(
        ident(tm.table), key_where(tm), columns_list(tm), _next_version(tm)
    )


INSERT_OUTBOX = sql.SQL(
    "INSERT INTO outbox (table_name, row_key, op, version) VALUES (%s, %s, %s, %s) RETURNING id"
)
DELETE_OUTBOX = sql.SQL("DELETE FROM outbox WHERE id = ANY(%s)")
MARK_OUTBOX_FAILED = sql.SQL(
    "UPDATE outbox SET attempts = attempts + 1, last_error = left(%s, 2000) WHERE id = ANY(%s)"
)


def outbox_batch(tm: TableMapping) -> sql.Composed:
    """Pending outbox rows of one table after an id and older than a number of seconds, each joined
    with the row that now owns its key, and with the key columns typed again (`key_<column>`).

    Parameters: table name, last id, minimum age in seconds, limit.
    """
    typed = {
        c: sql.SQL("(o.row_key ->> {})::{}").format(sql.Literal(c), sql.SQL(tm.sql_type(c)))
        for c in tm.item_key_columns
    }
    join = sql.SQL(" AND ").join(sql.SQL("t.{} = {}").format(ident(c), typed[c]) for c in tm.item_key_columns)
    keys = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(typed[c], ident(f"{OUTBOX_KEY_PREFIX}{c}")) for c in tm.item_key_columns
    )
    return sql.SQL(
        "SELECT o.id AS outbox_id, o.op AS outbox_op, o.version AS outbox_version, {keys}, "
        "t.{ver} IS NOT NULL AS row_exists, {cols} "
        "FROM outbox o LEFT JOIN {table} t ON {join} "
        "WHERE o.table_name = %s AND o.id > %s AND o.created_at <= now() - make_interval(secs => %s) "
        "ORDER BY o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED"
    ).format(
        keys=keys, ver=ident(tm.version_column), cols=columns_list(tm, "t"), table=ident(tm.table), join=join
    )


OUTBOX_KEY_PREFIX = "key_"
OUTBOX_REMAINING = sql.SQL(
    "SELECT count(*) FILTER (WHERE NOT in_flight), count(*) FILTER (WHERE in_flight) FROM ("
    " SELECT attempts = 0 AND created_at > now() - make_interval(secs => %s) AS in_flight"
    " FROM outbox WHERE table_name = %s) pending"
)
OUTBOX_STATS = sql.SQL(
    "SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM outbox WHERE table_name = %s"
)
