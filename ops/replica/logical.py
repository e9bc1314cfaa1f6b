"""Native PostgreSQL logical replication from `prod` (publication) to `v2` (subscription).

Lag is measured with a heartbeat, the one signal that is honest in seconds: each `status()`
commits a new heartbeat row on the source and waits (briefly) until the subscriber has applied
it. If it arrives, the lag is the time it took (an upper bound for any change committed just
before). If it does not arrive in `heartbeat_wait` seconds, the lag is the age of the newest
heartbeat the target holds: everything committed on the source before that heartbeat is
applied, so the target is at most that stale. WAL positions alone (confirmed_flush_lsn against
pg_current_wal_lsn) are bytes, and turn into time only while changes flow, so they are reported
as detail, not as the lag.

"Counts equal" compares exact `count(*)` of every table, taken on both sides at the same moment
(after the heartbeat showed the subscriber is caught up), retried a few times so steady traffic
does not produce a spurious difference. An exact count reads the whole table; on a very large replica run
`status` sparingly (`ops replica wait` polls at a modest interval).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import sql

from ops.replica.base import ReplicaError, ReplicaStatus, TableSync
from ops.settings import redact_url

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
# srsubstate: i = initialize, d = data is being copied, f = finished table copy,
# s = synchronized, r = ready (normal replication).
_SUBSTATE = {
    "i": "initializing",
    "d": "copying data",
    "f": "copy finished",
    "s": "synchronized",
    "r": "ready",
}


class LogicalReplicaDriver:
    """Publication on the source, subscription on the target, both named `name`."""

    name = "logical"

    def __init__(
        self,
        source_url: str,
        target_url: str,
        tables: Sequence[str],
        *,
        name: str = "platform_ops",
        publisher_conninfo: str | None = None,
        prepare_schema: bool = True,
        heartbeat_wait: float = 2.0,
        # Under live traffic an attempt matches only when no row was created or deleted within the
        # replication lag: about a third of attempts at 20 writes/s on a loaded 2-core machine, where
        # 5 attempts still refused 2 gates in 10 runs. 20 make a false "mismatched" ~1 in 10,000.
        count_attempts: int = 20,
    ) -> None:
        if not _IDENTIFIER.match(name):
            raise ReplicaError(
                f"replication name {name!r} is not a plain lowercase identifier; use letters, digits and _"
            )
        for table in tables:
            if not _IDENTIFIER.match(table):
                raise ReplicaError(f"table name {table!r} is not a plain lowercase identifier")
        if not tables:
            raise ReplicaError("no tables to replicate; check the mapping file (ops/mapping/mapping.yaml)")
        self.source_url = source_url
        self.target_url = target_url
        self.tables = tuple(tables)
        self.replication_name = name
        self.publisher_conninfo = publisher_conninfo or source_url
        self.prepare_schema = prepare_schema
        self.heartbeat_wait = heartbeat_wait
        self.count_attempts = max(1, count_attempts)

    @property
    def heartbeat_table(self) -> str:
        return f"{self.replication_name}_heartbeat"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create (or re-enable) the publication and subscription; idempotent. Everything that can
        refuse is checked before anything is created on either side."""
        with self._connect(self.source_url, "source") as src:
            level = src.execute("SHOW wal_level").fetchone()
            if not level or level[0] != "logical":
                raise ReplicaError(
                    f"the source has wal_level={level[0] if level else '?'}; logical replication needs "
                    "wal_level=logical (set it and restart the source server)"
                )
            missing = self._missing_tables(src)
            if missing:
                raise ReplicaError(f"tables missing on the source: {', '.join(missing)}; check the mapping")
        self._ensure_target_schema()
        with self._connect(self.target_url, "target") as dst:
            sub = self._subscription(dst)
            if sub is None:
                occupied = [t for t in self.tables if self._has_rows(dst, t)]
                if occupied:
                    raise ReplicaError(
                        f"tables already hold rows on the target: {', '.join(occupied)}; the initial copy "
                        "would fail on duplicate keys. Empty them on v2 (TRUNCATE) or start from a fresh v2"
                    )
        with self._connect(self.source_url, "source") as src:
            self._ensure_heartbeat(src, seed=True)
            self._ensure_publication(src)
        name = sql.Identifier(self.replication_name)
        with self._connect(self.target_url, "target") as dst:
            self._ensure_heartbeat(dst, seed=False)
            if sub is None:
                dst.execute(
                    sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}").format(
                        name, sql.Literal(self.publisher_conninfo), name
                    )
                )
                return
            if not sub["enabled"]:
                dst.execute(sql.SQL("ALTER SUBSCRIPTION {} ENABLE").format(name))
            dst.execute(sql.SQL("ALTER SUBSCRIPTION {} REFRESH PUBLICATION").format(name))

    @staticmethod
    def _has_rows(conn: psycopg.Connection[Any], table: str) -> bool:
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
        return conn.execute(query).fetchone() == (True,)

    def stop(self) -> None:
        """Pause applying changes (the slot on the source keeps them); `resume` continues."""
        self._alter("DISABLE")

    def resume(self) -> None:
        self._alter("ENABLE")

    def teardown(self) -> None:
        """Drop the subscription (and with it the slot on the source) and the publication."""
        name = sql.Identifier(self.replication_name)
        with self._connect(self.target_url, "target") as dst:
            if self._subscription(dst) is not None:
                dst.execute(sql.SQL("DROP SUBSCRIPTION {}").format(name))
            dst.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.heartbeat_table)))
        with self._connect(self.source_url, "source") as src:
            src.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(name))
            src.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.heartbeat_table)))

    # ------------------------------------------------------------ status

    def status(self) -> ReplicaStatus:
        with self._connect(self.target_url, "target") as dst:
            sub = self._subscription(dst)
            if sub is None:
                return ReplicaStatus(
                    self.name,
                    "absent",
                    [TableSync(t, False, None, None, "n/a", "no subscription") for t in self.tables],
                    None,
                    {"subscription": self.replication_name},
                )
            substates = {
                r[0]: r[1]
                for r in dst.execute(
                    "SELECT c.relname, r.srsubstate FROM pg_subscription_rel r "
                    "JOIN pg_class c ON c.oid = r.srrelid WHERE r.srsubid = %s",
                    (sub["oid"],),
                )
            }
            worker = dst.execute(
                "SELECT pid, received_lsn::text, latest_end_lsn::text, latest_end_time "
                "FROM pg_stat_subscription WHERE subid = %s AND relid IS NULL",
                (sub["oid"],),
            ).fetchone()
        if not sub["enabled"]:
            state = "stopped"
        elif worker is None or worker[0] is None:
            state = "starting"
        else:
            state = "running"
        detail: dict[str, Any] = {
            "subscription": self.replication_name,
            "enabled": sub["enabled"],
            "slot": sub["slot"],
            "received_lsn": worker[1] if worker else None,
            "latest_end_lsn": worker[2] if worker else None,
            "latest_end_time": worker[3].isoformat() if worker and worker[3] else None,
        }
        counts_source, counts_target, lag = self._counts_and_lag(substates)
        detail["slot_lag_bytes"] = self._slot_lag_bytes(sub["slot"])
        tables = []
        for table in self.tables:
            code = substates.get(table)
            ready = code == "r"
            src_n, dst_n = counts_source.get(table), counts_target.get(table)
            if code is None:
                validation, note = "n/a", "not subscribed"
            elif not ready:
                validation, note = "pending", _SUBSTATE.get(code, code)
            elif src_n is None or dst_n is None:
                validation, note = "pending", "counts unavailable"
            else:
                validation = "clean" if src_n == dst_n else "mismatched"
                note = _SUBSTATE["r"]
            tables.append(TableSync(table, ready, src_n, dst_n, validation, note))
        return ReplicaStatus(self.name, state, tables, lag, detail)

    def _counts_and_lag(
        self, substates: dict[str, str]
    ) -> tuple[dict[str, int], dict[str, int], float | None]:
        """Heartbeat lag, then both sides counted at the same moment (two threads): under
        traffic the sides can then differ only by what is in flight, and a few attempts catch a
        moment when nothing is."""
        lag = self._heartbeat_lag()
        ready = [t for t in self.tables if substates.get(t) == "r"]
        counts_source: dict[str, int] = {}
        counts_target: dict[str, int] = {}
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="replica-count") as pool:
            for attempt in range(self.count_attempts):
                source = pool.submit(self._count_at, self.source_url, "source")
                target = pool.submit(self._count_at, self.target_url, "target")
                counts_source, counts_target = source.result(), target.result()
                if all(counts_source.get(t) == counts_target.get(t) for t in ready):
                    break
                if attempt + 1 < self.count_attempts:
                    time.sleep(0.2)
        return counts_source, counts_target, lag

    def _count_at(self, url: str, role: str) -> dict[str, int]:
        with self._connect(url, role) as conn:
            return self._count(conn)

    def _heartbeat_lag(self) -> float | None:
        table = sql.Identifier(self.heartbeat_table)
        with self._connect(self.source_url, "source") as src:
            row = src.execute(
                sql.SQL(
                    "UPDATE {} SET seq = seq + 1, beat_at = clock_timestamp() WHERE id = 1 RETURNING seq"
                ).format(table)
            ).fetchone()
        if row is None:
            return None
        written_seq = int(row[0])
        sent = time.monotonic()
        deadline = sent + self.heartbeat_wait
        with self._connect(self.target_url, "target") as dst:
            while True:
                seen = dst.execute(
                    sql.SQL(
                        "SELECT seq, extract(epoch FROM clock_timestamp() - beat_at) FROM {} WHERE id = 1"
                    ).format(table)
                ).fetchone()
                if seen is not None and int(seen[0]) >= written_seq:
                    return round(time.monotonic() - sent, 3)
                if time.monotonic() >= deadline:
                    return None if seen is None else round(float(seen[1]), 3)
                time.sleep(0.05)

    def _slot_lag_bytes(self, slot: str | None) -> int | None:
        if not slot:
            return None
        with self._connect(self.source_url, "source") as src:
            row = src.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                "FROM pg_replication_slots WHERE slot_name = %s",
                (slot,),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # ------------------------------------------------------------ helpers

    def _count(self, conn: psycopg.Connection[Any]) -> dict[str, int]:
        out: dict[str, int] = {}
        for table in self.tables:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                continue
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            out[table] = int(row[0]) if row else 0
        return out

    def _connect(self, url: str, role: str) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise ReplicaError(f"cannot connect to the {role} database ({redact_url(url)}): {exc}") from exc

    def _missing_tables(self, conn: psycopg.Connection[Any]) -> list[str]:
        return [t for t in self.tables if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone() == (None,)]

    def _ensure_target_schema(self) -> None:
        with self._connect(self.target_url, "target") as dst:
            missing = self._missing_tables(dst)
        if missing and self.prepare_schema:
            from ops.schema import apply_migrations

            apply_migrations(self.target_url)
            with self._connect(self.target_url, "target") as dst:
                missing = self._missing_tables(dst)
        if missing:
            raise ReplicaError(
                f"tables missing on the target: {', '.join(missing)}; create the schema on v2 first "
                "(the project's migrations, or pg_dump --schema-only from the source)"
            )

    def _ensure_heartbeat(self, conn: psycopg.Connection[Any], *, seed: bool) -> None:
        table = sql.Identifier(self.heartbeat_table)
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id smallint PRIMARY KEY, seq bigint NOT NULL, "
                "beat_at timestamptz NOT NULL)"
            ).format(table)
        )
        if seed:
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (1, 0, clock_timestamp()) ON CONFLICT (id) DO NOTHING").format(
                    table
                )
            )

    def _ensure_publication(self, conn: psycopg.Connection[Any]) -> None:
        name = sql.Identifier(self.replication_name)
        members = sql.SQL(", ").join(sql.Identifier(t) for t in (*self.tables, self.heartbeat_table))
        exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (self.replication_name,))
        if exists.fetchone():
            conn.execute(sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(name, members))
        else:
            conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(name, members))

    def _subscription(self, conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT oid, subenabled, subslotname FROM pg_subscription WHERE subname = %s "
            "AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (self.replication_name,),
        ).fetchone()
        if row is None:
            return None
        return {"oid": row[0], "enabled": bool(row[1]), "slot": row[2]}

    def _alter(self, action: str) -> None:
        with self._connect(self.target_url, "target") as dst:
            if self._subscription(dst) is None:
                raise ReplicaError(
                    f"no subscription {self.replication_name!r} on the target; run `ops replica start` first"
                )
            dst.execute(
                sql.SQL("ALTER SUBSCRIPTION {} " + action).format(sql.Identifier(self.replication_name))
            )
