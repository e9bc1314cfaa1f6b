"""Migration estimate: how long the backfill and the verification take under the table's real
limit, and what they cost.

The limit, from AWS's documentation: a new on-demand table serves 4,000 write and 12,000 read
units per second at once (its warm throughput) and grows by about doubling its previous peak
within 30 minutes, up to the table quota (40,000 write and 40,000 read request units per second
by default, raisable); pre-warming (`warm_throughput`) removes the ramp; a provisioned table
serves what is provisioned. A write costs one unit per started KB of the item, a strongly
consistent read one unit per started 4 KB. One partition serves at most 1,000 write units per
second, which binds only a hot key range: the backfill writes segments interleaved across the
key space and the schema's partition keys (one per couple) are many, so the estimate takes the
table's limit as reachable. The fleet: `runners` hosts x `processes` each, a process copying
`rows_per_process` (verifying `verify_rows_per_process`) rows per second when the table does
not hold it back; the slower of the fleet and the table sets the pace.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from ops.backfill.prices import Prices
from ops.mapping import TableMapping

WARM_WCU = 4_000
WARM_RRU = 12_000
QUOTA_WCU = 40_000
QUOTA_RRU = 40_000
RAMP_SECONDS = 1_800
PARTITION_WCU = 1_000
# One backfill process on one core, when the table does not hold it back: `make bench
# BENCH=backfill` measures 8,900 items/s of ~1.4 KB on one shared core of a 2-core VM.
ROWS_PER_PROCESS = 8_000.0
# One verification process: `make bench BENCH=verify` holds the comparison itself to >= 30,000
# rows/s per core; reads from PostgreSQL and DynamoDB come on top, so plan with less.
VERIFY_ROWS_PER_PROCESS = 10_000.0
# Verification reads each item with a consistent BatchGetItem (a unit per started 4 KB) and
# scans the table once for extra items (consistent: a unit per 4 KB of items scanned).
ITEM_OVERHEAD_BYTES = 100  # DynamoDB's storage overhead per item
HOURS_PER_MONTH = 730
SIZE_SAMPLE_ROWS = 1_000


@dataclass(frozen=True)
class TableStats:
    table: str
    rows: int
    avg_item_bytes: float  # DynamoDB item size (what write units and storage are billed on)
    avg_write_units: float
    source: str  # where the row count comes from: "counted", "statistics" or "given"

    @classmethod
    def given(cls, table: str, rows: int, avg_item_bytes: float) -> TableStats:
        """Figures given by hand (one item size for every row)."""
        return cls(table, rows, avg_item_bytes, max(1, math.ceil(avg_item_bytes / 1024)), "given")


def table_stats(conn: Any, tm: TableMapping, exact: bool = False) -> TableStats:
    """Row count (PostgreSQL's statistics, or `count(*)` when `exact`) and item sizes from a
    sample of rows encoded through the mapping."""
    table = sql.Identifier(tm.table)
    if exact:
        rows = int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0])
    else:
        found = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (tm.table,)
        ).fetchone()
        rows = int(found[0]) if found and found[0] is not None else -1
        if rows < 0:  # never analyzed: count instead of guessing
            return table_stats(conn, tm, exact=True)
    from psycopg.rows import dict_row

    from ops.mapping import RowError

    cols = sql.SQL(", ").join(sql.Identifier(c) for c in tm.columns)
    percent = min(100.0, 100.0 * SIZE_SAMPLE_ROWS / max(rows, 1))
    with conn.cursor(row_factory=dict_row) as cur:
        sample = cur.execute(
            sql.SQL("SELECT {} FROM {} TABLESAMPLE SYSTEM (%s) REPEATABLE (7) LIMIT %s").format(cols, table),
            (percent, SIZE_SAMPLE_ROWS),
        ).fetchall()
    sizes = []
    for row in sample:
        try:
            sizes.append(tm.item_size(tm.encode(row)))
        except RowError:
            continue
    source = "counted" if exact else "statistics"
    if not sizes:
        return TableStats(tm.table, rows, 0.0, 1.0, source)
    units = sum(max(1, math.ceil(s / 1024)) for s in sizes) / len(sizes)
    return TableStats(tm.table, rows, sum(sizes) / len(sizes), units, source)


@dataclass(frozen=True)
class Fleet:
    runners: int = 1
    processes: int = 2
    rows_per_process: float = ROWS_PER_PROCESS
    verify_rows_per_process: float = VERIFY_ROWS_PER_PROCESS

    @property
    def copy_rows_per_second(self) -> float:
        return self.runners * self.processes * self.rows_per_process

    @property
    def verify_rows_per_second(self) -> float:
        return self.runners * self.processes * self.verify_rows_per_process


@dataclass(frozen=True)
class TableLimit:
    """Units per second the table serves: from `warm` (doubling every 30 min while used, unless
    pre-warmed or provisioned) up to `quota`."""

    warm: float
    quota: float
    ramps: bool = True

    def at(self, seconds: float) -> float:
        if not self.ramps:
            return min(self.warm, self.quota)
        return min(self.quota, self.warm * 2 ** math.floor(seconds / RAMP_SECONDS))


def paced_seconds(rows: int, units_per_row: float, fleet_rows_per_second: float, limit: TableLimit) -> float:
    """Seconds to move `rows` at the slower of the fleet and the table's limit at each moment."""
    done, t = 0.0, 0.0
    while done < rows:
        rate = min(fleet_rows_per_second, limit.at(t) / units_per_row)
        # Up to the next doubling of the limit (or to the end) at this rate.
        horizon = RAMP_SECONDS - (t % RAMP_SECONDS) if limit.ramps else math.inf
        step = min(horizon, (rows - done) / rate)
        done += rate * step
        t += step
    return t


@dataclass(frozen=True)
class MigrationEstimate:
    stats: TableStats
    fleet: Fleet
    pre_warm_wcu: float | None
    backfill_seconds: float
    verify_seconds: float
    write_units: float
    read_units: float
    peak_wcu: float
    peak_rru: float
    cost: dict[str, float]
    prices: Prices

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k not in {"prices", "stats", "fleet"}},
            "stats": asdict(self.stats),
            "fleet": asdict(self.fleet),
            "prices": self.prices.to_dict(),
            "assumptions": self.assumptions(),
        }

    def assumptions(self) -> list[str]:
        warm = (
            f"pre-warmed to {self.pre_warm_wcu:,.0f} WCU/s (no ramp)"
            if self.pre_warm_wcu
            else f"new on-demand table: {WARM_WCU:,} WCU/s and {WARM_RRU:,} RRU/s at once, doubling every "
            f"{RAMP_SECONDS // 60} min while used"
        )
        return [
            f"{warm}; quota {QUOTA_WCU:,} WCU/s and {QUOTA_RRU:,} RRU/s; "
            f"{PARTITION_WCU:,} WCU/s per partition (not binding: writes interleave across the key space)",
            f"{self.stats.rows:,} rows ({self.stats.source}), "
            f"{self.stats.avg_item_bytes:,.0f} B per item = {self.stats.avg_write_units:.2f} write units",
            f"{self.fleet.runners} runner(s) x {self.fleet.processes} process(es); a process copies "
            f"{self.fleet.rows_per_process:,.0f} rows/s and verifies "
            f"{self.fleet.verify_rows_per_process:,.0f} rows/s when the table does not hold it back",
            "verification reads every item once (consistent BatchGetItem) and scans the table once "
            "(consistent)",
            "provisioned: the fleet's copy rate provisioned for the copy, its read rate for verification",
            f"DMS, the V2 replica and the runners are billed for the copy and verification hours; prices "
            f"{self.prices.to_dict()['region']}, recorded {self.prices.to_dict()['recorded']}",
        ]


def estimate(
    stats: TableStats, fleet: Fleet, *, pre_warm_wcu: float | None = None, prices: Prices | None = None
) -> MigrationEstimate:
    prices = prices or Prices()
    units_per_row = max(1.0, stats.avg_write_units)
    write_limit = (
        TableLimit(pre_warm_wcu, QUOTA_WCU, ramps=False) if pre_warm_wcu else TableLimit(WARM_WCU, QUOTA_WCU)
    )
    backfill = paced_seconds(stats.rows, units_per_row, fleet.copy_rows_per_second, write_limit)
    read_units_per_row = max(1, math.ceil(stats.avg_item_bytes / 4096)) + stats.avg_item_bytes / 4096
    verify = paced_seconds(
        stats.rows, read_units_per_row, fleet.verify_rows_per_second, TableLimit(WARM_RRU, QUOTA_RRU)
    )
    write_units = stats.rows * units_per_row
    read_units = stats.rows * read_units_per_row
    peak_wcu = min(fleet.copy_rows_per_second * units_per_row, write_limit.at(backfill))
    peak_rru = min(fleet.verify_rows_per_second * read_units_per_row, QUOTA_RRU)
    hours = (backfill + verify) / 3600
    storage_gb = stats.rows * (stats.avg_item_bytes + ITEM_OVERHEAD_BYTES) / 1e9
    cost = {
        "on_demand_writes_usd": write_units / 1e6 * prices.on_demand_usd_per_million_writes,
        "on_demand_reads_usd": read_units / 1e6 * prices.on_demand_usd_per_million_reads,
        "provisioned_writes_usd": _provisioned(write_units, peak_wcu, prices.provisioned_usd_per_wcu_hour),
        "provisioned_reads_usd": _provisioned(read_units, peak_rru, prices.provisioned_usd_per_rcu_hour),
        "storage_usd_per_month": storage_gb * prices.storage_usd_per_gb_month,
        "dms_usd": hours * prices.dms_usd_per_hour,
        "replica_usd": hours * prices.replica_usd_per_hour,
        "runners_usd": hours * fleet.runners * prices.runner_usd_per_hour,
    }
    cost["total_on_demand_usd"] = sum(
        cost[k]
        for k in ("on_demand_writes_usd", "on_demand_reads_usd", "dms_usd", "replica_usd", "runners_usd")
    )
    cost["total_provisioned_usd"] = sum(
        cost[k]
        for k in ("provisioned_writes_usd", "provisioned_reads_usd", "dms_usd", "replica_usd", "runners_usd")
    )
    return MigrationEstimate(
        stats=stats,
        fleet=fleet,
        pre_warm_wcu=pre_warm_wcu,
        backfill_seconds=backfill,
        verify_seconds=verify,
        write_units=write_units,
        read_units=read_units,
        peak_wcu=peak_wcu,
        peak_rru=peak_rru,
        cost=cost,
        prices=prices,
    )


def _provisioned(units: float, per_second: float, usd_per_unit_hour: float) -> float:
    """Capacity of `per_second` units held (whole hours) for as long as `units` take at that rate."""
    if not per_second:
        return 0.0
    return per_second * math.ceil(units / per_second / 3600) * usd_per_unit_hour


def duration_text(seconds: float) -> str:
    hours = seconds / 3600
    if hours >= 48:
        return f"{hours / 24:,.1f} days ({hours:,.0f} h)"
    if hours >= 1:
        return f"{hours:,.1f} h"
    return f"{seconds / 60:,.1f} min"


def source_stats(
    source_url: str | None, table: str, *, mapping_file: str | Path | None, exact: bool = False
) -> TableStats:
    """The table's figures from the source database (the settings' v2_database_url, unless given),
    encoded with the mapping in `mapping_file` (the settings'; None: the packaged one)."""
    import psycopg

    from ops.exceptions import ConfigError
    from ops.mapping import configure_connection, load_mapping

    url = source_url
    if not url:
        raise ConfigError(
            "No source database: set V2_DATABASE_URL or pass --source-url, or give --rows and --item-bytes."
        )
    tm = load_mapping(mapping_file).table(table)
    with psycopg.connect(url, autocommit=True) as conn:
        configure_connection(conn)
        return table_stats(conn, tm, exact=exact)
