"""The repository the application embeds: create/update/delete/get/query routed by migration mode.

Safety rules (ops/dualwrite/README.md):
- PostgreSQL commits first, with an outbox row in the same transaction.
- Every PostgreSQL write transaction first reads the dataset's fence row (`ops.fence`) under a
  lock: it follows the fence when the fence is newer than this instance's cached flag, waits while
  writes are paused, and draws the row version with the fence's generation in the high bits, so a
  write made under a newer flag always outranks one made under an older flag.
- Then the **whole item** is put to DynamoDB with `attribute_not_exists(pk) OR _ver < :v`, so an
  older write never replaces a newer one. A ConditionalCheckFailed means DynamoDB already holds
  this or a newer version: that is success, and the outbox row is removed.
- A delete puts a tombstone (`_deleted`, `_ttl`, `_ver` = a version drawn at delete time), so
  neither a stale put nor the backfill's `attribute_not_exists` can resurrect the row.
- Any other DynamoDB failure leaves the outbox row; the caller's write has succeeded (PostgreSQL
  is the source of truth until PostgreSQL writes stop), and the outbox drainer this repository
  runs in the background (`ops.dualwrite.drainer`) delivers it with backoff.
- In `dynamodb` mode an item is rewritten with `_ver = :old` and versioned
  `max(old + 1, generation << 44)`; an item of a newer generation than this instance's flag means
  the instance is stale: it re-reads the flag instead of writing.
- A writer that cannot read the flag within its cache TTL takes it from the fence row when that
  says PostgreSQL is written (it is rewritten with every change); otherwise it fails the write
  (`FlagUnavailable`).
- Reads follow the mode; tombstones read as absent; shadow reads compare through the codec's
  canonical form, are judged by version off the request path (`ops.dualwrite.shadow`), are
  recorded in the control table (`ops.dualwrite.shadow_log`) and never change the response.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ops import aws
from ops import fence as fence_sql
from ops.control import ControlTable
from ops.dualwrite import sql as q
from ops.dualwrite.conditional import conditional_put, is_condition_failure
from ops.dualwrite.drainer import OutboxDrainer
from ops.dualwrite.metrics import Metrics
from ops.dualwrite.shadow import DEFAULT_RECHECK_SECONDS, ShadowReads
from ops.dualwrite.shadow_log import ShadowLog
from ops.exceptions import OpsError
from ops.fence import read_in_transaction
from ops.flags import (
    FlagReader,
    FlagState,
    FlagUnavailable,
    ModeSource,
    WritesPaused,
    compose_version,
    generation_of,
)
from ops.mapping import (
    VERSION_ATTRIBUTE,
    RowError,
    TableMapping,
    configure_connection,
    is_tombstone,
    load_mapping,
)
from ops.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
# A PostgreSQL write's result, and the DynamoDB put it owes once its transaction has committed.
Staged = tuple[T, Callable[[], None] | None]

_DYNAMODB_MODE_RETRIES = 5
# How long a write waits out a fenced mode change (writes paused) before it fails.
DEFAULT_PAUSE_WAIT_SECONDS = 15.0
_PAUSE_POLL_SECONDS = 0.05


class NotFound(OpsError):
    """The row to update or delete does not exist."""


def make_pool(conninfo: str, *, min_size: int = 1, max_size: int = 8) -> ConnectionPool:
    """A connection pool whose connections load jsonb numbers exactly (see ops.mapping)."""
    pool = ConnectionPool(
        conninfo, min_size=min_size, max_size=max_size, configure=configure_connection, open=False
    )
    pool.open(wait=True, timeout=30)
    return pool


class _Paused(Exception):
    """The fence says writes are paused (internal: the write waits and tries again)."""


class _Reroute(Exception):
    """The fence is newer than the cached flag and no longer writes PostgreSQL (internal)."""

    def __init__(self, state: FlagState) -> None:
        super().__init__(state.describe())
        self.state = state


class _Stale(Exception):
    """A `dynamodb`-mode writer met an item of a newer generation than its flag (internal)."""


class Repository:
    """Mode-routed access to one mapped table (see module docstring for the rules)."""

    def __init__(
        self,
        table: TableMapping | str,
        pool: ConnectionPool | None = None,
        *,
        conninfo: str | None = None,
        dynamodb: Any = None,
        target_table: str | None = None,
        modes: ModeSource | None = None,
        metrics: Metrics | None = None,
        tombstone_ttl_seconds: int | None = None,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        shadow_recheck_seconds: float = DEFAULT_RECHECK_SECONDS,
        shadow_log: ShadowLog | None = None,
        pause_wait_seconds: float = DEFAULT_PAUSE_WAIT_SECONDS,
        auto_drain: bool = True,
        drain_interval_seconds: float = 2.0,
    ) -> None:
        self.tm = (
            table if isinstance(table, TableMapping) else load_mapping(settings.mapping_file).table(table)
        )
        # The flag (and its fence row) is per dataset; a dataset is named after its table.
        self.dataset = self.tm.table
        if pool is None:
            url = conninfo or settings.prod_database_url
            if not url:
                raise OpsError("no PostgreSQL to write to: pass conninfo or set PROD_DATABASE_URL")
            pool = make_pool(url)
            self._owns_pool = True
        else:
            self._owns_pool = False
        self.pool = pool
        self.ddb = dynamodb or aws.client("dynamodb")
        self.target_table = target_table or settings.target_table
        self.modes: ModeSource = modes or FlagReader(self.tm.table, settings=settings)
        self.metrics = metrics or Metrics(settings.metrics_namespace, dimensions={"Table": self.tm.table})
        self.tombstone_ttl_seconds = (
            settings.tombstone_ttl_seconds if tombstone_ttl_seconds is None else tombstone_ttl_seconds
        )
        self.clock = clock
        self.pause_wait_seconds = pause_wait_seconds
        self.shadow_log = shadow_log or ShadowLog(
            self.dataset, ControlTable(settings.control_table, self.ddb), metrics=self.metrics
        )
        self.shadow = ShadowReads(
            self.tm, self.pool, self.metrics, self.shadow_log, recheck_seconds=shadow_recheck_seconds
        )
        self.drainer: OutboxDrainer | None = None
        if auto_drain:
            self.drainer = OutboxDrainer(
                self.tm,
                self.pool,
                self.ddb,
                self.target_table,
                metrics=self.metrics,
                interval_seconds=drain_interval_seconds,
                tombstone_ttl_seconds=self.tombstone_ttl_seconds,
                active=lambda: self.modes.state(strict=False).mode.writes_postgres,
            )
            self.drainer.start()

    def settle(self) -> None:
        """Wait until every pending shadow re-check has been decided, and write the shadow log's
        counts (tests, end of a load run)."""
        self.shadow.settle()
        self.shadow_log.flush()

    def close(self) -> None:
        if self.drainer is not None:
            self.drainer.stop()
        self.shadow.settle()
        self.shadow.close()
        self.metrics.flush()
        if self._owns_pool:
            self.pool.close()

    # ------------------------------------------------------------ writes

    def create(self, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a row; returns it as stored (with its id, timestamps and version)."""
        unknown = set(values) - set(self.tm.columns)
        if unknown:
            raise OpsError(f"{self.tm.table}: unknown column(s) {', '.join(sorted(unknown))}")
        columns = [c for c in values if c != self.tm.version_column]
        params = [q.adapt(self.tm, c, values[c]) for c in columns]

        def in_postgres(cur: Any, generation: int, dual: bool) -> Staged[dict[str, Any]]:
            cur.execute(q.insert(self.tm, columns), params)
            key = cur.fetchone()
            assert key is not None
            # The version is drawn after the insert passed the unique check (which may have waited
            # for a concurrent delete of the same key), so it is newer than that delete's tombstone.
            cur.execute(q.bump_version(self.tm), [generation, *q.key_params(self.tm, key)])
            row: dict[str, Any] = cur.fetchone()
            return row, self._stage_upsert(cur, row, dual)

        return self._write(in_postgres, lambda generation: self._dynamodb_create(values, generation))

    def update(self, key: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Change columns of an existing row (not its key); returns the row as stored."""
        frozen = set(changes) & (
            set(self.tm.item_key_columns) | set(self.tm.key_columns) | {self.tm.version_column}
        )
        if frozen:
            raise OpsError(
                f"{self.tm.table}: cannot change key or version column(s) {', '.join(sorted(frozen))}; "
                "delete the row and create a new one"
            )
        unknown = set(changes) - set(self.tm.columns)
        if unknown or not changes:
            raise OpsError(
                f"{self.tm.table}: nothing to update or unknown column(s) {', '.join(sorted(unknown))}"
            )
        columns = list(changes)
        values = [q.adapt(self.tm, c, changes[c]) for c in columns]

        def in_postgres(cur: Any, generation: int, dual: bool) -> Staged[dict[str, Any]]:
            cur.execute(q.update(self.tm, columns), [*values, generation, *q.key_params(self.tm, key)])
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"{self.tm.table}: no row with key {key}")
            return row, self._stage_upsert(cur, row, dual)

        return self._write(in_postgres, lambda generation: self._dynamodb_update(key, changes, generation))

    def delete(self, key: dict[str, Any]) -> bool:
        """Delete a row; in dual-write modes DynamoDB gets a versioned tombstone. False if absent."""

        def in_postgres(cur: Any, generation: int, dual: bool) -> Staged[bool]:
            cur.execute(q.delete(self.tm), [*q.key_params(self.tm, key), generation])
            row = cur.fetchone()
            if row is None:
                return False, None
            version = row.pop("tombstone_version")
            if not dual:
                return True, None
            outbox_id = self._outbox(cur, row, "delete", version)
            return True, lambda: self._put_tombstone_after_commit(row, version, outbox_id)

        return self._write(in_postgres, lambda generation: self._dynamodb_delete(key, generation))

    def _stage_upsert(self, cur: Any, row: dict[str, Any], dual: bool) -> Callable[[], None] | None:
        """In dual-write modes: the outbox row now, and the DynamoDB put to make after the commit."""
        if not dual:
            return None
        outbox_id = self._outbox(cur, row, "upsert", row[self.tm.version_column])
        return lambda: self._put_after_commit(row, outbox_id)

    def _write(
        self, in_postgres: Callable[[Any, int, bool], Staged[T]], in_dynamodb: Callable[[int], T]
    ) -> T:
        """Run one write under the flag: in PostgreSQL behind the fence, or in DynamoDB alone.

        `in_postgres(cursor, generation, dual_write)` runs inside the transaction after the fence
        was read and returns its result with the DynamoDB put it owes after the commit (or None);
        `in_dynamodb(generation)` runs when the mode no longer writes PostgreSQL. A pause is
        waited out for at most `pause_wait_seconds`.
        """
        deadline = time.monotonic() + self.pause_wait_seconds
        while True:
            state = self._flag()
            try:
                if not state.mode.writes_postgres:
                    return self._dynamodb_write(state, in_dynamodb)
                return self._postgres_write(state, in_postgres)
            except _Paused:
                self._wait_out_pause(deadline)
            except _Reroute as reroute:
                self.modes.invalidate()
                return self._dynamodb_write(reroute.state, in_dynamodb)
            except _Stale:
                self.modes.invalidate()
                if time.monotonic() >= deadline:
                    raise FlagUnavailable(
                        f"{self.tm.table}: this instance's flag ({state.describe()}) is older than the "
                        "data in DynamoDB and SSM still says so; refusing to write under an old generation"
                    ) from None
                time.sleep(_PAUSE_POLL_SECONDS)

    def _flag(self) -> FlagState:
        """The flag for a write: the cached SSM value, or, when SSM cannot be read, the fence row
        (written with every change, so just as current) as long as it says PostgreSQL is written.
        Without either, the write fails closed."""
        try:
            return self.modes.state()
        except FlagUnavailable:
            with self.pool.connection() as conn:
                row = conn.execute(fence_sql.READ, (self.dataset,)).fetchone()
            fence = fence_sql.state_of(row) if row else None
            if fence is None or fence.generation == 0 or not fence.mode.writes_postgres:
                raise
            self.metrics.add("FlagReadFromFence")
            return fence

    def _postgres_write(self, state: FlagState, in_postgres: Callable[[Any, int, bool], Staged[T]]) -> T:
        with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            fence = read_in_transaction(cur, self.dataset)
            effective = fence if fence.generation > state.generation else state
            if effective.writes_paused(self.clock()):
                raise _Paused
            if not effective.mode.writes_postgres:
                raise _Reroute(effective)
            if effective is fence:
                self.modes.invalidate()
            # Versions always carry the fence's generation: it is what orders PostgreSQL writes.
            result, after_commit = in_postgres(cur, fence.generation, effective.mode.writes_dynamodb)
        self.metrics.add("PostgresWrites")
        if after_commit is not None:
            after_commit()
        return result

    def _dynamodb_write(self, state: FlagState, in_dynamodb: Callable[[int], T]) -> T:
        if state.writes_paused(self.clock()):
            raise _Paused
        return in_dynamodb(state.generation)

    def _wait_out_pause(self, deadline: float) -> None:
        if time.monotonic() >= deadline:
            raise WritesPaused(
                f"{self.tm.table}: writes are paused for a fenced mode change and stayed paused for "
                f"{self.pause_wait_seconds:g} s; retry the write (see `ops flags get` / `ops migrate status`)"
            )
        self.metrics.add("WritesPausedWaits")
        self.modes.invalidate()
        time.sleep(_PAUSE_POLL_SECONDS)

    def _outbox(self, cur: Any, row: dict[str, Any], op: str, version: int) -> int:
        cur.execute(q.INSERT_OUTBOX, (self.tm.table, Jsonb(q.json_key(self.tm, row)), op, version))
        found = cur.fetchone()
        assert found is not None
        return int(found["id"])

    def _put_after_commit(self, row: dict[str, Any], outbox_id: int) -> None:
        try:
            item = self.tm.encode(row)
        except RowError as exc:
            # The row stays in the outbox with the reason: it is the failure log for dual-write.
            self.metrics.add("DynamoRowErrors")
            log.error("dual-write: %s", exc)
            self._mark_outbox_failed(outbox_id, str(exc))
            return
        self._deliver(item, outbox_id)

    def _put_tombstone_after_commit(self, row: dict[str, Any], version: int, outbox_id: int) -> None:
        self._deliver(self.tm.tombstone(row, version, self.clock() + self.tombstone_ttl_seconds), outbox_id)

    def _deliver(self, item: dict[str, Any], outbox_id: int) -> None:
        try:
            written = conditional_put(self.ddb, self.target_table, item)
        except Exception as exc:
            self.metrics.add("DynamoWriteFailures")
            log.warning(
                "dual-write: DynamoDB put failed (outbox %d kept for the drainer): %s", outbox_id, exc
            )
            self._mark_outbox_failed(outbox_id, str(exc))
            return
        self.metrics.add("DynamoWrites" if written else "DynamoStaleSkips")
        try:
            with self.pool.connection() as conn:
                conn.execute(q.DELETE_OUTBOX, ([outbox_id],))
        except Exception as exc:
            # Harmless: the drainer re-puts the current row and the version condition makes it a no-op.
            log.warning("dual-write: could not remove outbox row %d: %s", outbox_id, exc)

    def _mark_outbox_failed(self, outbox_id: int, reason: str) -> None:
        try:
            with self.pool.connection() as conn:
                conn.execute(q.MARK_OUTBOX_FAILED, (reason, [outbox_id]))
        except Exception as exc:
            log.warning("dual-write: could not annotate outbox row %d: %s", outbox_id, exc)

    # ------------------------------------------------------------ reads

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        mode = self.modes.state(strict=False).mode
        if mode.reads_dynamodb:
            item = self._ddb_get(key)
            return None if item is None else self.tm.decode(item)
        row = self._pg_get(key)
        if mode.shadow_reads:
            self.shadow.compare(
                [] if row is None else [row],
                lambda: [] if (r := self._pg_get(key)) is None else [r],
                lambda: [] if (i := self._ddb_get(key, stored=True)) is None else [i],
                key,
            )
        return row

    def _pg_get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            cur.execute(q.select_by_key(self.tm), q.key_params(self.tm, key))
            row: dict[str, Any] | None = cur.fetchone()
        return row

    def _pg_query(self, partition: dict[str, Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            cur.execute(q.select_partition(self.tm), [partition[c] for c in self.tm.partition_columns])
            return cur.fetchall()

    def query(self, **partition: Any) -> list[dict[str, Any]]:
        """All rows of one partition (e.g. `query(couple_id=7)`), ordered by the item key columns."""
        missing = set(self.tm.partition_columns) - set(partition)
        if missing:
            raise OpsError(f"{self.tm.table}: query needs {', '.join(self.tm.partition_columns)}")
        mode = self.modes.state(strict=False).mode
        if mode.reads_dynamodb:
            return self._sorted([self.tm.decode(i) for i in self._ddb_query(partition)])
        rows = self._pg_query(partition)
        if mode.shadow_reads:
            self.shadow.compare(
                rows,
                lambda: self._pg_query(partition),
                lambda: self._ddb_query(partition, stored=True),
                partition,
            )
        return rows

    def _sorted(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: tuple(r[c] for c in self.tm.item_key_columns))

    def _ddb_get(self, key: dict[str, Any], *, stored: bool = False) -> dict[str, Any] | None:
        """The item (None for a tombstone, unless `stored`: the item as stored)."""
        response = self.ddb.get_item(TableName=self.target_table, Key=self.tm.key(key), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None or (is_tombstone(item) and not stored) else item

    def _ddb_query(self, partition: dict[str, Any], *, stored: bool = False) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.target_table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": self.tm.partition_key(partition)}},
        }
        if self.tm.sk_prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            kwargs["ExpressionAttributeValues"][":prefix"] = {"S": self.tm.sk_prefix}
        items: list[dict[str, Any]] = []
        while True:
            response = self.ddb.query(**kwargs)
            items.extend(i for i in response.get("Items", []) if stored or not is_tombstone(i))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ------------------------------------------------------------ dynamodb-only mode

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _read_for_write(self, key: dict[str, Any], generation: int) -> tuple[dict[str, Any] | None, int, int]:
        """The live item (None when absent or a tombstone), its version, and the version to write.

        Raises _Stale when the item was written under a newer generation than `generation`.
        """
        response = self.ddb.get_item(TableName=self.target_table, Key=self.tm.key(key), ConsistentRead=True)
        item = response.get("Item")
        version = int(item[VERSION_ATTRIBUTE]["N"]) if item and VERSION_ATTRIBUTE in item else 0
        if generation_of(version) > generation:
            raise _Stale
        next_version = max(version + 1, compose_version(generation, 0))
        return (None if item is None or is_tombstone(item) else item), version, next_version

    def _put_exact(self, item: dict[str, Any], previous_version: int) -> bool:
        """Put if the item still has `previous_version` (0: absent); False when someone was faster."""
        condition = "attribute_not_exists(pk)" if previous_version == 0 else "#v = :old"
        kwargs: dict[str, Any] = {"ConditionExpression": condition}
        if previous_version:
            kwargs["ExpressionAttributeNames"] = {"#v": VERSION_ATTRIBUTE}
            kwargs["ExpressionAttributeValues"] = {":old": {"N": str(previous_version)}}
        try:
            self.ddb.put_item(TableName=self.target_table, Item=item, **kwargs)
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        self.metrics.add("DynamoWrites")
        return True

    def _dynamodb_create(self, values: dict[str, Any], generation: int) -> dict[str, Any]:
        for _ in range(_DYNAMODB_MODE_RETRIES):
            current, version, next_version = self._read_for_write(values, generation)
            if current is not None:
                raise OpsError(
                    f"{self.tm.table}: a row with key {q.json_key(self.tm, values)} already exists"
                )
            row = dict.fromkeys(self.tm.columns)
            for column, type_name in self.tm.column_types.items():
                if type_name.endswith("[]"):
                    row[column] = []
            now = self._now()
            row.update({c: now for c in ("created_at", self.tm.updated_column) if c and c in row})
            # Without PostgreSQL there is no sequence: a time-ordered 63-bit id stays unique and sorts.
            row.update(
                {k: (int(self.clock() * 1000) << 20) | random.getrandbits(20) for k in self.tm.key_columns}
            )
            row.update(values)
            row[self.tm.version_column] = next_version
            if self._put_exact(self.tm.encode(row), version):
                return row
        raise OpsError(f"{self.tm.table}: create of {q.json_key(self.tm, values)} kept racing; retry")

    def _dynamodb_update(
        self, key: dict[str, Any], changes: dict[str, Any], generation: int
    ) -> dict[str, Any]:
        for _ in range(_DYNAMODB_MODE_RETRIES):
            current, version, next_version = self._read_for_write(key, generation)
            if current is None:
                raise NotFound(f"{self.tm.table}: no row with key {key}")
            row = {**self.tm.decode(current), **changes, self.tm.version_column: next_version}
            if self.tm.updated_column and self.tm.updated_column not in changes:
                row[self.tm.updated_column] = self._now()
            if self._put_exact(self.tm.encode(row), version):
                return row
        raise OpsError(f"{self.tm.table}: update of {key} kept racing with other writers; retry")

    def _dynamodb_delete(self, key: dict[str, Any], generation: int) -> bool:
        for _ in range(_DYNAMODB_MODE_RETRIES):
            current, version, next_version = self._read_for_write(key, generation)
            if current is None:
                return False
            stone = self.tm.tombstone(
                self.tm.key(key), next_version, self.clock() + self.tombstone_ttl_seconds
            )
            if self._put_exact(stone, version):
                return True
        raise OpsError(f"{self.tm.table}: delete of {key} kept racing with other writers; retry")
