"""The PostgreSQL side of the migration flag: one row per dataset (`migration_fence`) that every
PostgreSQL writer reads inside its own write transaction.

Why it exists: each application instance caches the SSM flag for seconds (and a slow instance can
sit on a write for longer), so right after a change some instances still act on the old mode. A
flag change therefore also rewrites this row, under `FOR UPDATE`; a writer's transaction reads it
with `FOR KEY SHARE`, which waits for a change in progress and then sees the new row. Every
PostgreSQL write thus commits entirely before a change or entirely after it, and knows the
generation it belongs to. The generation goes into the high bits of the row's version
(`ops.flags.compose_version`), so every write of a newer generation orders after every write of an
older one — in PostgreSQL, in DynamoDB's version conditions, and in the outbox repair.

A writer that finds the row newer than its cached flag follows the row (it is never older than
SSM); a paused row makes it wait (see `ops.flags.FlagState.paused`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import psycopg

from ops.exceptions import OpsError
from ops.flags import FlagState, Mode

log = logging.getLogger(__name__)

FENCE_TABLE = "migration_fence"
_COLUMNS = "generation, mode, paused, paused_until"
READ_LOCKED = f"SELECT {_COLUMNS} FROM {FENCE_TABLE} WHERE dataset = %s FOR KEY SHARE"
READ = f"SELECT {_COLUMNS} FROM {FENCE_TABLE} WHERE dataset = %s"
ENSURE = f"INSERT INTO {FENCE_TABLE} (dataset) VALUES (%s) ON CONFLICT (dataset) DO NOTHING"


class FenceConflict(OpsError):
    """The fence moved on while a change was being made (another operator or a second command)."""


class FenceMissing(OpsError):
    """The database has no `migration_fence` table: its schema migrations have not been applied."""

    exit_code = 2


def state_of(row: Any) -> FlagState:
    """A fence row (tuple or dict in _COLUMNS order) as a FlagState."""
    if isinstance(row, dict):
        generation, mode, paused, until = (row[c] for c in ("generation", "mode", "paused", "paused_until"))
    else:
        generation, mode, paused, until = row
    return FlagState(
        Mode.parse(mode),
        int(generation),
        bool(paused),
        until.timestamp() if isinstance(until, datetime) else None,
    )


def read_in_transaction(cur: Any, dataset: str) -> FlagState:
    """The dataset's fence, locked against a concurrent change until the caller's transaction ends.

    Called by every PostgreSQL writer first thing in its transaction. A dataset that never had a
    flag change gets its row here (generation 0, `postgres`), so the lock always has a row to hold.
    """
    try:
        cur.execute(READ_LOCKED, (dataset,))
    except psycopg.errors.UndefinedTable as exc:
        raise _missing(exc) from exc
    row = cur.fetchone()
    if row is None:
        cur.execute(ENSURE, (dataset,))
        cur.execute(READ_LOCKED, (dataset,))
        row = cur.fetchone()
    return state_of(row)


def _missing(exc: psycopg.errors.UndefinedTable) -> FenceMissing:
    return FenceMissing(
        f"the database has no {FENCE_TABLE} table ({str(exc).splitlines()[0]}); apply the schema "
        "migrations (`ops sandbox provision` locally, or your migration tool on AWS): writers and flag "
        "changes need it"
    )


class PgFence:
    """Read and move the fence rows of one PostgreSQL database (the production one)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo

    def read(self, dataset: str) -> FlagState | None:
        """The fence as it stands (no lock), or None when the dataset has no row yet."""
        try:
            with psycopg.connect(self.conninfo, connect_timeout=5) as conn:
                row = conn.execute(READ, (dataset,)).fetchone()
        except psycopg.errors.UndefinedTable as exc:
            raise _missing(exc) from exc
        return state_of(row) if row else None

    def write(self, dataset: str, state: FlagState) -> None:
        """Move the fence to `state` (a strictly newer generation than it has).

        `FOR UPDATE` waits until every writer transaction holding the row has ended, so when this
        returns, no PostgreSQL write of an older generation can still commit.
        """
        until = datetime.fromtimestamp(state.paused_until, UTC) if state.paused_until else None
        try:
            with psycopg.connect(self.conninfo, connect_timeout=5) as conn, conn.transaction():
                conn.execute(ENSURE, (dataset,))
                row = conn.execute(
                    f"SELECT generation FROM {FENCE_TABLE} WHERE dataset = %s FOR UPDATE", (dataset,)
                ).fetchone()
                assert row is not None
                if int(row[0]) >= state.generation:
                    raise FenceConflict(
                        f"the {dataset} fence is already at generation {row[0]}, not older than "
                        f"{state.generation}: someone else changed the flag meanwhile; check "
                        "`ops flags history` and retry"
                    )
                conn.execute(
                    f"UPDATE {FENCE_TABLE} SET generation = %s, mode = %s, paused = %s, paused_until = %s, "
                    "changed_at = now() WHERE dataset = %s",
                    (state.generation, state.mode.value, state.paused, until, dataset),
                )
        except psycopg.errors.UndefinedTable as exc:
            raise _missing(exc) from exc
