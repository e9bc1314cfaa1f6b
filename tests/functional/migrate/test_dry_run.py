"""`--dry-run` of every step that changes something prints the plan and changes nothing: the
control table, the flag, both databases, the target table, the snapshot folder and the replica
are compared before and after."""

from __future__ import annotations

import pytest

from ops.demo.seed import seed_database
from ops.migrate.phases import Phase
from ops.schema import apply_migrations

from .conftest import World

pytestmark = pytest.mark.stack


def planned(doc: dict) -> list[str]:
    return [s["name"] for s in doc["steps"] if s["status"] == "planned"]


@pytest.mark.parametrize(
    ("at", "command", "expected"),
    [
        (Phase.PREFLIGHT, ("dual-write",), "postgres -> dual_write"),
        (Phase.DUAL_WRITE, ("replicate",), "start the logical replica"),
        (Phase.REPLICATE, ("backfill",), "run the backfill V2 ->"),
        (Phase.BACKFILL, ("verify",), "compare V2 PostgreSQL with"),
        (Phase.SOAK, ("stop-pg-writes",), "dual_write_read_dynamodb -> dynamodb"),
        (Phase.SWITCH_READS, ("rollback",), "dual_write_read_dynamodb -> dual_write_shadow"),
    ],
)
def test_dry_run_changes_nothing(world: World, at: Phase, command: tuple[str, ...], expected: str) -> None:
    world.advance(at)
    before = world.state()
    code, doc = world.ops_json(*command, "--dry-run")
    assert doc["dry_run"] is True
    assert any(expected in line for line in planned(doc)), planned(doc)
    assert world.state() == before
    assert code in (0, 1)


def test_dry_run_of_switch_reads_changes_nothing(world: World) -> None:
    # Its entry gate needs a verification; dry run still evaluates the gate and plans.
    world.advance(Phase.VERIFY)
    before = world.state()
    code, doc = world.ops_json("switch-reads", "--dry-run")
    assert code == 1 and doc["dry_run"]
    assert world.state() == before


def test_dry_run_of_cleanup_lists_exactly_what_would_be_deleted(world: World) -> None:
    seed_database(world.prod_url, 120, jobs=1)
    apply_migrations(world.v2_url)
    world.sql(world.v2_url, "INSERT INTO couples (name) VALUES ('x')")
    world.advance(Phase.STOP_PG_WRITES)
    before = world.state()
    code, doc = world.ops_json("cleanup", "--dry-run")
    assert code == 0, doc
    lines = planned(doc)
    assert any(
        line.startswith("DROP TABLE answers on production") and line.endswith(": 120 rows") for line in lines
    )
    assert not any("on production" in line and "couples" in line for line in lines)
    v2_drops = sorted(
        line.split()[2] for line in lines if line.startswith("DROP TABLE") and " on V2 " in line
    )
    assert v2_drops == ["answers", "couples", "questions", "users"]
    assert any(line.startswith("snapshot (pg_dump) V2 tables") for line in lines)
    assert any(line.startswith("snapshot (pg_dump) production tables answers") for line in lines)
    assert world.state() == before


def test_cleanup_takes_snapshots_before_dropping(world: World) -> None:
    seed_database(world.prod_url, 50, jobs=1)
    apply_migrations(world.v2_url)
    world.advance(Phase.STOP_PG_WRITES)
    code, doc = world.ops_json("cleanup", "--yes", "--confirm-name", "answers")
    assert code == 0, doc
    names = [s["name"] for s in doc["steps"]]
    first_drop = next(i for i, n in enumerate(names) if n.startswith("drop"))
    assert all(names.index(n) < first_drop for n in names if n.startswith("snapshot"))
    dumps = sorted(p.name for p in world.snapshot_dir.glob("*.dump"))
    assert (
        len(dumps) == 2 and any("-v2-final-" in d for d in dumps) and any("-prod-drop-" in d for d in dumps)
    )
    assert world.sql(world.prod_url, "SELECT to_regclass('answers') IS NULL") == [(True,)]
