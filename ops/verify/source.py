"""Which PostgreSQL a verification reads, and where that database stood when the run began.

The gate accepts only a run of the production database (the primary) or its V2 replica, and
records positions so that a reader of the evidence can tell what the run could have seen: the
primary's WAL position at the start and, for a logically replicated V2, the primary position the
replica had received then (the difference is the replica's lag in bytes). DMS targets report no
position (None); their lag is the replica gate's business.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import psycopg

PRIMARY, REPLICA, OTHER = "primary", "replica", "other"


@dataclass(frozen=True)
class SourcePosition:
    kind: str  # primary | replica | other
    primary_lsn: str | None = None  # the primary's pg_current_wal_lsn() when the run began
    replica_lsn: str | None = None  # the replica's received position (logical replication)
    replica_lag_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _identity(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT inet_server_addr()::text, inet_server_port(), current_database()"
        ).fetchone()
    assert row is not None
    return tuple(row)


def locate(source_url: str, primary_url: str | None, replica_url: str | None) -> SourcePosition:
    """Name the source (primary, replica or other) by server and database, and read positions."""
    source = _identity(source_url)
    kind = OTHER
    if primary_url and _identity(primary_url) == source:
        kind = PRIMARY
    elif replica_url and _identity(replica_url) == source:
        kind = REPLICA
    primary_lsn = replica_lsn = None
    lag: int | None = None
    if primary_url:
        with psycopg.connect(primary_url, connect_timeout=5) as conn:
            found = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
            primary_lsn = found[0] if found else None
    if kind != PRIMARY:
        with psycopg.connect(source_url, connect_timeout=5) as conn:
            found = conn.execute(
                "SELECT count(*), max(latest_end_lsn)::text FROM pg_stat_subscription WHERE subid IS NOT NULL"
            ).fetchone()
        if found and found[0]:
            # A logical subscriber of some publisher: the V2 replica as the local stack runs it.
            kind, replica_lsn = REPLICA, found[1]
    if primary_url and primary_lsn and replica_lsn:
        with psycopg.connect(primary_url, connect_timeout=5) as conn:
            found = conn.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (primary_lsn, replica_lsn)
            ).fetchone()
            lag = max(0, int(found[0])) if found and found[0] is not None else None
    return SourcePosition(kind, primary_lsn, replica_lsn, lag)
