"""Cleanup with the V2 replica on RDS (moto's server over HTTP): the final RDS snapshot is taken
before the instance is deleted; --dry-run names the instance and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ops import aws
from ops.migrate.phases import Phase, PhaseState
from ops.schema import apply_migrations

from .conftest import World, create_rds_instance

pytestmark = pytest.mark.stack


@pytest.fixture
def rds_instance(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"v2-{world.prefix}"
    create_rds_instance(name, "db.t3.micro", 20)
    monkeypatch.setenv("OPS_V2_RDS_INSTANCE", name)
    yield name


def instances(name: str) -> list[str]:
    found = aws.client("rds").describe_db_instances()["DBInstances"]
    return [i["DBInstanceIdentifier"] for i in found if i["DBInstanceIdentifier"] == name]


def snapshots(name: str) -> list[str]:
    found = aws.client("rds").describe_db_snapshots(DBInstanceIdentifier=name)["DBSnapshots"]
    return [s["DBSnapshotIdentifier"] for s in found if s.get("SnapshotType") != "automated"]


def test_preflight_checks_the_rds_instance(
    world: World, rds_instance: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, doc = world.ops_json("preflight")
    assert code == 0, doc
    monkeypatch.setenv("OPS_V2_RDS_INSTANCE", "no-such-instance")
    world.ledger.set_phase(Phase.PREFLIGHT, PhaseState.FAILED, "t")
    code, doc = world.ops_json("preflight")
    assert code == 1
    failed = {c["name"]: c for c in doc["gate"]["checks"] if not c["ok"]}
    assert failed["V2 RDS instance"]["measured"] == "no-such-instance not found"


def test_cleanup_snapshots_then_deletes_the_rds_instance(world: World, rds_instance: str) -> None:
    apply_migrations(world.v2_url)
    world.advance(Phase.STOP_PG_WRITES)
    before = world.state()
    code, doc = world.ops_json("cleanup", "--dry-run")
    assert code == 0, doc
    planned = [s["name"] for s in doc["steps"] if s["status"] == "planned"]
    assert f"snapshot RDS instance {rds_instance} (V2 replica)" in planned
    assert f"DELETE RDS instance {rds_instance}" in planned
    assert world.state() == before
    assert instances(rds_instance) == [rds_instance] and snapshots(rds_instance) == []

    code, doc = world.ops_json("cleanup", "--yes", "--confirm-name", "answers")
    assert code == 0, doc
    [rds_snapshot] = [s for s in doc["evidence"]["snapshots"] if s["kind"] == "rds"]
    assert rds_snapshot["location"].startswith(f"{rds_instance}-final-")
    assert instances(rds_instance) == []
    assert rds_snapshot["location"] in snapshots(rds_instance)
    steps = [s["name"] for s in doc["steps"]]
    assert steps.index("snapshot (rds)") < steps.index(f"delete RDS {rds_instance}")
