"""PostgreSQL side of verification: key-range segments, keyset pages, lookups by key.

Segments split the range of an integer primary key into equal slices (half-open: after `lower`,
up to and including `upper`); a composite or non-integer key is read as one segment. Sampling
keeps a row when a hash of its first key column falls under the sampled fraction, so the same
rows are chosen on every page and on a resumed run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from ops.mapping import ItemKeyParser, TableMapping, configure_connection

_INTEGER_SQL = ("smallint", "integer", "bigint")
SAMPLE_BUCKETS = 10_000
EXACT_COUNT_BELOW = 1_000_000


@dataclass(frozen=True)
class Segment:
    index: int
    lower: list[Any] | None  # exclusive; None: from the start
    upper: list[Any] | None  # inclusive; None: to the end

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "lower": self.lower, "upper": self.upper}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(int(data["index"]), data.get("lower"), data.get("upper"))


class RowReader:
    def __init__(self, url: str, tm: TableMapping, *, sample_percent: float | None, batch_size: int) -> None:
        self.url = url
        self.tm = tm
        self.batch_size = batch_size
        self.sample_threshold = (
            None if sample_percent is None else max(1, round(sample_percent * SAMPLE_BUCKETS / 100))
        )
        self._columns = sql.SQL(", ").join(sql.Identifier(c) for c in tm.columns)
        self._keys = sql.SQL(", ").join(sql.Identifier(c) for c in tm.key_columns)
        self._table = sql.Identifier(tm.table)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[psycopg.Connection[Any]] = []

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's connection (opened once, reused by every page, lookup and re-check)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row)
            configure_connection(conn)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        try:
            yield conn
        except psycopg.OperationalError:
            conn.close()  # a broken connection is replaced on the next use
            raise

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()

    @property
    def integer_key(self) -> bool:
        return len(self.tm.key_columns) == 1 and self.tm.sql_type(self.tm.key_columns[0]) in _INTEGER_SQL

    def plan(self, segments: int) -> list[Segment]:
        if not self.integer_key or segments <= 1:
            return [Segment(0, None, None)]
        with self.connect() as conn:
            row = conn.execute(
                sql.SQL("SELECT min({k}) AS lo, max({k}) AS hi FROM {t}").format(k=self._keys, t=self._table)
            ).fetchone()
        if not row or row["lo"] is None:
            return [Segment(0, None, None)]
        lo, hi = int(row["lo"]), int(row["hi"])
        width = max(1, -(-(hi - lo + 1) // segments))
        out: list[Segment] = []
        start = lo - 1
        for i in range(segments):
            end = start + width
            last = i == segments - 1 or end >= hi
            # The first and last segments are open-ended so rows outside the planned range
            # (inserted since) are still read.
            out.append(Segment(i, None if i == 0 else [start], None if last else [end]))
            if last:
                break
            start = end
        return out

    def estimate(self, segments: Sequence[Segment]) -> int:
        """Rows the run will compare, for progress: the planner's estimate for a large table (an
        exact count would read it all once more), an exact count for a small one."""
        total = self.table_rows()
        if self.sample_threshold is not None:
            total = total * self.sample_threshold // SAMPLE_BUCKETS
        return total

    def table_rows(self) -> int:
        """Rows in the whole table: the planner's estimate, or an exact count for a small table."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT reltuples::bigint AS n FROM pg_class WHERE oid = to_regclass(%s)", (self.tm.table,)
            ).fetchone()
            total = int(row["n"]) if row and row["n"] is not None else -1
            if total < EXACT_COUNT_BELOW:
                row = conn.execute(sql.SQL("SELECT count(*) AS n FROM {t}").format(t=self._table)).fetchone()
                total = int(row["n"]) if row else 0
        return total

    def pages(self, segment: Segment, after: list[Any] | None) -> Iterator[list[dict[str, Any]]]:
        """Rows of a segment in key order, `batch_size` at a time, starting after `after`."""
        lower = after if after is not None else segment.lower
        with self.connect() as conn:
            while True:
                clauses: list[sql.Composable] = []
                params: list[Any] = []
                if lower is not None:
                    clauses.append(sql.SQL("({}) > ({})").format(self._keys, _placeholders(len(lower))))
                    params.extend(lower)
                if segment.upper is not None:
                    clauses.append(
                        sql.SQL("({}) <= ({})").format(self._keys, _placeholders(len(segment.upper)))
                    )
                    params.extend(segment.upper)
                if self.sample_threshold is not None:
                    clauses.append(
                        sql.SQL("mod(hashtextextended({}::text, 0) & 2147483647, {}) < %s").format(
                            sql.Identifier(self.tm.key_columns[0]), sql.Literal(SAMPLE_BUCKETS)
                        )
                    )
                    params.append(self.sample_threshold)
                where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")
                query = sql.SQL("SELECT {c} FROM {t}{w} ORDER BY {k} LIMIT {n}").format(
                    c=self._columns, t=self._table, w=where, k=self._keys, n=sql.Literal(self.batch_size)
                )
                rows = conn.execute(query, params).fetchall()
                if not rows:
                    return
                yield rows
                if len(rows) < self.batch_size:
                    return
                lower = [rows[-1][c] for c in self.tm.key_columns]

    def fetch(self, keys: Sequence[Sequence[Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
        """Current rows for primary keys (absent keys are simply missing from the answer)."""
        if not keys:
            return {}
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        with self.connect() as conn:
            if len(self.tm.key_columns) == 1:
                query = sql.SQL("SELECT {c} FROM {t} WHERE {k} = ANY(%s)").format(
                    c=self._columns, t=self._table, k=self._keys
                )
                rows = conn.execute(query, ([k[0] for k in keys],)).fetchall()
            else:
                query = sql.SQL("SELECT {c} FROM {t} WHERE ({k}) = ({p})").format(
                    c=self._columns, t=self._table, k=self._keys, p=_placeholders(len(self.tm.key_columns))
                )
                rows = [r for key in keys for r in conn.execute(query, list(key)).fetchall()]
        for row in rows:
            out[tuple(row[c] for c in self.tm.key_columns)] = row
        return out

    def existing_items(self, item_keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (pk, sk) item keys have a row in PostgreSQL now."""
        return set(self.rows_for_items(item_keys, full=False))

    def rows_for_items(
        self, item_keys: Sequence[tuple[str, str]], *, full: bool = True
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The rows that own these (pk, sk) item keys now (by the item-key columns, not the primary
        key: a row deleted and created again owns the same item under a new id)."""
        parser = ItemKeyParser(self.tm)
        parsed = [(k, parser.parse(*k)) for k in item_keys]
        candidates = [(k, v) for k, v in parsed if v is not None]
        if not candidates:
            return {}
        columns = self.tm.item_key_columns
        select = sql.SQL("SELECT {out} FROM {t} WHERE ({c}) IN (SELECT * FROM unnest({arrays}))").format(
            out=self._columns if full else sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            c=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            t=self._table,
            arrays=sql.SQL(", ").join(
                sql.SQL("%s::{}[]").format(sql.SQL(self.tm.sql_type(c))) for c in columns
            ),
        )
        with self.connect() as conn:
            try:
                rows = conn.execute(select, [[v[c] for _, v in candidates] for c in columns]).fetchall()
            except psycopg.DataError:
                # A malformed key value that does not cast: look the keys up one at a time.
                rows = []
                for _, values in candidates:
                    try:
                        rows.extend(conn.execute(select, [[values[c]] for c in columns]).fetchall())
                    except psycopg.DataError:
                        continue
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            key = self.tm.key(row)
            found[(key["pk"]["S"], key["sk"]["S"])] = row
        return found


def _placeholders(n: int) -> sql.Composable:
    return sql.SQL(", ").join(sql.Placeholder() for _ in range(n))
