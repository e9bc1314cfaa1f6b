"""Every step of the cutover encodes with the settings' mapping file, not one of its own choosing.

The backfill, the replica, the retirement of the tables and the outbox drain all load the mapping;
if one of them fell back to the packaged file while the others read `OPS_MAPPING_FILE`, the copy
and its verification would disagree about what a row is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import ops.backfill
from ops.mapping.model import default_mapping_path
from ops.migrate import adapters
from ops.migrate.config import MigrateConfig
from ops.settings import Settings


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MigrateConfig:
    """A cutover of `answers` whose mapping (a file of its own) has no `couples` table."""
    doc = yaml.safe_load(default_mapping_path().read_text())
    del doc["tables"]["couples"]
    custom = tmp_path / "mapping.yaml"
    custom.write_text(yaml.safe_dump(doc, sort_keys=False))
    # In the process, a variable naming the packaged file: nothing below the edge may read it.
    monkeypatch.setenv("OPS_MAPPING_FILE", str(default_mapping_path()))
    settings = Settings.from_mapping(
        {
            "OPS_MAPPING_FILE": str(custom),
            "PROD_DATABASE_URL": "postgresql://prod.invalid/app",
            "V2_DATABASE_URL": "postgresql://v2.invalid/app",
        }
    )
    return MigrateConfig.from_env(settings)


def test_the_tables_the_cutover_retires_come_from_the_settings_mapping(cfg: MigrateConfig) -> None:
    assert adapters.mapped_tables(cfg.settings) == ["users", "questions", "answers"]


def test_the_replica_replicates_the_settings_mapping_tables(cfg: MigrateConfig) -> None:
    driver = adapters.replica_driver(cfg)
    assert tuple(driver.tables) == ("users", "questions", "answers")  # type: ignore[attr-defined]


def test_the_backfill_encodes_with_the_settings_mapping(
    cfg: MigrateConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(ops.backfill, "run_backfill", lambda opts, **_: seen.append(opts) or "ran")
    assert adapters.run_backfill(cfg, control=None) == "ran"  # type: ignore[arg-type]
    (opts,) = seen
    assert opts.mapping_path == str(cfg.settings.mapping_file)
    assert opts.metrics_namespace == cfg.settings.metrics_namespace
    assert (opts.table, opts.run_id, opts.target_table) == ("answers", "answers", cfg.settings.target_table)
