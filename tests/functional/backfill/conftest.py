"""Seeded V2 databases and per-test DynamoDB tables for the backfill tests (real stack)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ops.control import ControlTable
from ops.mapping import load_mapping
from ops.schema import apply_migrations
from ops.tables import ensure_target_table
from tests.functional.backfill.support import Env


@pytest.fixture
def env(stack: Any, v2_db: str, unique_name: str) -> Iterator[Env]:
    apply_migrations(v2_db)
    target, control_name = f"{unique_name}-target", f"{unique_name}-control"
    ensure_target_table(target)
    control = ControlTable(control_name)
    control.ensure()
    yield Env(v2_db, target, control_name, control, load_mapping().table("answers"))
