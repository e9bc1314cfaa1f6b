"""The prices every cost estimate uses, in one table: AWS list prices, us-east-1, USD.

Recorded 2025-06 from AWS's public price pages (DynamoDB's on-demand prices as cut on
2024-11-01; standard table class). Prices change and differ by region: check the pricing pages
before budgeting, and pass other prices with `--prices FILE` (JSON with any of these keys).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ops.exceptions import ConfigError

PRICES_REGION = "us-east-1"
PRICES_RECORDED = "2025-06"


@dataclass(frozen=True)
class Prices:
    on_demand_usd_per_million_writes: float = 0.625  # write request units
    on_demand_usd_per_million_reads: float = 0.125  # read request units
    provisioned_usd_per_wcu_hour: float = 0.00065
    provisioned_usd_per_rcu_hour: float = 0.00013
    storage_usd_per_gb_month: float = 0.25
    dms_instance: str = "dms.r6i.large"  # the dms module's default replication instance
    dms_usd_per_hour: float = 0.23
    runner_instance: str = "c7g.large"  # the backfill_runner module's default (2 vCPUs)
    runner_usd_per_hour: float = 0.0725
    replica_instance: str = "db.r6g.xlarge"  # the V2 replica (rds_postgres module's default)
    replica_usd_per_hour: float = 0.435

    @classmethod
    def load(cls, path: Path | None) -> Prices:
        """The recorded prices, with any given in `path` (JSON) replacing them."""
        if path is None:
            return cls()
        try:
            given = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"Cannot read prices from {path}: {exc}. Give a JSON object of prices."
            ) from exc
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - known)
        if not isinstance(given, dict) or unknown:
            raise ConfigError(
                f"Unknown price(s) in {path}: {', '.join(unknown) or 'not a JSON object'}. "
                f"Known: {', '.join(sorted(known))}."
            )
        return replace(cls(), **given)

    def to_dict(self) -> dict[str, float | str]:
        return {**asdict(self), "region": PRICES_REGION, "recorded": PRICES_RECORDED}
