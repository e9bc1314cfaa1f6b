"""Iterator: one segment's rows in key order, by keyset pagination in short autocommit queries.

Each page is its own statement (`WHERE key > last AND key <= upper ORDER BY key LIMIT n`), so no
transaction stays open on the replica and a resumed segment starts right after its checkpoint.
Memory is one page per segment in flight.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import sql

from ops.backfill.planner import KeyValue, json_key, key_predicate
from ops.mapping import TableMapping, configure_connection

DEFAULT_PAGE_ROWS = 500


class SegmentReader:
    def __init__(
        self,
        conninfo: str,
        tm: TableMapping,
        start_after: KeyValue | None,
        upper: KeyValue | None,
        page_rows: int = DEFAULT_PAGE_ROWS,
    ) -> None:
        self.conninfo = conninfo
        self.tm = tm
        self.start_after = start_after
        self.upper = upper
        self.page_rows = page_rows
        self.columns = tm.columns
        self._key_positions = [tm.columns.index(c) for c in tm.key_columns]

    def last_key(self, row: tuple[Any, ...]) -> KeyValue:
        return json_key([row[i] for i in self._key_positions])

    async def pages(self) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Pages of row tuples (columns in `tm.columns` order) until the segment is exhausted."""
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        keys = sql.SQL(", ").join(sql.Identifier(c) for c in self.tm.key_columns)
        after = self.start_after
        async with await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, application_name="ops-backfill"
        ) as conn:
            configure_connection(conn)
            # Exactly "UTC": psycopg then loads timestamptz with datetime.timezone.utc instead of a
            # ZoneInfo such as Etc/UTC, which halves the cost of loading and formatting them. The
            # values are the same instants; the codec writes them in UTC either way.
            await conn.execute("SET TIME ZONE 'UTC'")
            while True:
                where, params = key_predicate(self.tm, after, self.upper)
                query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s").format(
                    cols, sql.Identifier(self.tm.table), where, keys
                )
                cursor = await conn.execute(query, [*params, self.page_rows])
                rows = await cursor.fetchall()
                if not rows:
                    return
                yield rows
                if len(rows) < self.page_rows:
                    return
                after = self.last_key(rows[-1])
