"""A seeded PostgreSQL database, its DynamoDB copy and a control table, per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from ops import aws
from ops.control import ControlTable
from ops.dualwrite import Repository
from ops.flags import FixedMode, Mode
from ops.mapping import TableMapping, configure_connection, load_mapping
from ops.schema import apply_migrations
from ops.settings import Settings
from ops.tables import ensure_target_table
from ops.verify import VerifyOptions, VerifyResult, run_verify
from tests.functional.replica.seed import seed_domain


@dataclass
class World:
    url: str
    target: str
    control: ControlTable
    tm: TableMapping
    ddb: Any

    def rows(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            configure_connection(conn)
            return list(conn.execute(f"SELECT {', '.join(self.tm.columns)} FROM answers ORDER BY id"))

    def copy_all(self) -> None:
        """What a finished backfill leaves: every row as its item."""
        items = [self.tm.encode(r) for r in self.rows()]
        for i in range(0, len(items), 25):
            self.ddb.batch_write_item(
                RequestItems={self.target: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]}
            )

    def item(self, row: dict[str, Any]) -> dict[str, Any] | None:
        found = self.ddb.get_item(TableName=self.target, Key=self.tm.key(row), ConsistentRead=True)
        item: dict[str, Any] | None = found.get("Item")
        return item

    def dual_write_repository(self) -> Repository:
        """The application's repository in mode dual_write on this world (close it after use)."""
        return Repository(
            "answers",
            conninfo=self.url,
            dynamodb=self.ddb,
            target_table=self.target,
            settings=Settings.from_env(),
            modes=FixedMode(Mode.DUAL_WRITE),
        )

    def verify(self, **options: Any) -> VerifyResult:
        defaults: dict[str, Any] = {
            "source_url": self.url,
            "primary_url": self.url,
            "dataset": f"answers-{self.target}",
            "table": "answers",
            "target_table": self.target,
            "segments": 3,
            "recheck_delay": 0.2,
            "batch_size": 40,
            "progress": False,
        }
        return run_verify(
            VerifyOptions(**{**defaults, **options}),
            settings=Settings.from_env(),
            control=self.control,
            dynamodb=self.ddb,
        )


@pytest.fixture
def world(prod_db: str, unique_name: str) -> Iterator[World]:
    apply_migrations(prod_db)
    seed_domain(prod_db, answers=150)
    ddb = aws.client("dynamodb")
    ensure_target_table(unique_name, ddb)
    control = ControlTable(f"{unique_name}-control", ddb)
    control.ensure()
    yield World(prod_db, unique_name, control, load_mapping().table("answers"), ddb)
    for table in (unique_name, f"{unique_name}-control"):
        ddb.delete_table(TableName=table)
