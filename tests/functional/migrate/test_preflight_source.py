"""Preflight's checks of the replica's source, against real PostgreSQL: each prerequisite refused
when it is missing, with a fix that works when run as printed.

The roles, slots and settings made here are cluster-wide on the session's `prod` server, so each
test removes what it made. The Amazon RDS cases are real PostgreSQL dressed as RDS the way RDS
shows itself over SQL: an `rds.logical_replication` setting and an `rds_replication` role.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ops import aws
from ops.migrate.phases import Phase, PhaseState
from ops.sandbox import postgres
from ops.sandbox.processes import free_port
from ops.schema import apply_migrations

from .conftest import World, create_rds_instance

pytestmark = pytest.mark.stack

SOURCE_CHECKS = (
    "source wal_level",
    "source replication slots free",
    "source WAL senders free",
    "replication user grants",
    "WAL held by replication slots",
    "source free storage",
    "LOB sizes vs replication LOB limit",
)


def checks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["gate"]["checks"]}


def failed(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: c for name, c in checks(doc).items() if not c["ok"]}


def again(world: World) -> tuple[int, dict[str, Any]]:
    """Preflight once more (a refused run leaves the phase running, a passed one done)."""
    if world.ledger.position().state == PhaseState.DONE:
        world.ledger.set_phase(Phase.PREFLIGHT, PhaseState.FAILED, "test")
    return world.ops_json("preflight")


def run_fix(url: str, fix: str) -> None:
    """Execute the SQL statements a check's fix prints, exactly as printed."""
    statements = re.findall(r"((?:ALTER|GRANT|SELECT)\b[^;]*;)", fix)
    assert statements, fix
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def role(world: World) -> Iterator[str]:
    """A login role with the dual-write privileges but no REPLICATION and no SELECT on answers."""
    name = f"repl_{uuid.uuid4().hex[:8]}"
    world.sql(world.prod_url, f"CREATE ROLE {name} LOGIN")
    for grant in (
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"REVOKE SELECT ON answers FROM {name}",
    ):
        world.sql(world.prod_url, grant)
    yield name
    world.sql(world.prod_url, f"DROP OWNED BY {name}")
    world.sql(world.prod_url, f"DROP ROLE {name}")


def test_preflight_measures_every_source_prerequisite(world: World) -> None:
    code, doc = world.ops_json("preflight")
    assert code == 0, failed(doc)
    rows = checks(doc)
    assert set(SOURCE_CHECKS) <= set(rows)
    assert rows["source wal_level"]["measured"] == "wal_level=logical"
    assert re.fullmatch(
        r"\d+ of max_replication_slots=20 in use, \d+ free", rows["source replication slots free"]["measured"]
    )
    assert (
        rows["source replication slots free"]["threshold"]
        == ">= 3 free (the subscription's + 2 table-sync workers')"
    )
    assert rows["replication user grants"]["measured"] == (
        "postgres (from PROD_DATABASE_URL, which the subscription connects as): "
        "superuser, SELECT on every mapped table"
    )
    assert rows["source free storage"]["measured"].startswith("free disk is not measurable over SQL")
    assert "WAL folder" in rows["source free storage"]["measured"]
    assert rows["LOB sizes vs replication LOB limit"]["measured"] == (
        "logical: logical replication copies every value whole: no LOB size limit"
    )


def test_a_replication_user_without_replication_is_refused_with_the_grants_to_run(
    world: World, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_REPLICATION_USER", role)
    code, doc = world.ops_json("preflight")
    assert code == 1
    assert set(failed(doc)) == {"replication user grants"}
    check = failed(doc)["replication user grants"]
    assert (
        check["measured"]
        == f"{role} (from OPS_REPLICATION_USER): no REPLICATION attribute; no SELECT on answers"
    )
    assert check["fix"] == (
        "run on the production database as an administrator: "
        f"ALTER ROLE {role} WITH REPLICATION; GRANT SELECT ON answers TO {role};"
    )
    run_fix(world.prod_url, check["fix"])
    code, doc = again(world)
    assert code == 0, failed(doc)
    assert checks(doc)["replication user grants"]["measured"] == (
        f"{role} (from OPS_REPLICATION_USER): REPLICATION, SELECT on every mapped table"
    )


def test_without_a_named_user_the_role_of_prod_database_url_is_checked(
    world: World, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.sql(world.prod_url, f"GRANT SELECT ON answers TO {role}")
    monkeypatch.setenv("PROD_DATABASE_URL", world.prod_url.replace("postgres@", f"{role}@"))
    code, doc = world.ops_json("preflight")
    assert code == 1
    assert set(failed(doc)) == {"replication user grants"}
    assert failed(doc)["replication user grants"]["measured"] == (
        f"{role} (from PROD_DATABASE_URL, which the subscription connects as): no REPLICATION attribute"
    )
    # A role without pg_monitor cannot size the WAL folder: said, not guessed.
    assert (
        "WAL folder unknown (pg_ls_waldir needs pg_monitor)" in checks(doc)["source free storage"]["measured"]
    )


def test_an_abandoned_slot_holding_wal_is_refused_with_the_drop(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = f"abandoned_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OPS_MAX_SLOT_WAL_MB", "1")
    world.sql(world.prod_url, "SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    try:
        world.sql(
            world.prod_url,
            "CREATE TABLE wal_filler AS SELECT repeat('w', 1000) AS w FROM generate_series(1, 3000)",
        )
        code, doc = world.ops_json("preflight")
        assert code == 1
        check = failed(doc)["WAL held by replication slots"]
        assert re.search(rf"inactive: {slot} [\d.]+ MiB", check["measured"]), check["measured"]
        assert check["threshold"] == "no inactive slot holding more than 1 MB"
        assert f"SELECT pg_drop_replication_slot('{slot}');" in check["fix"]
        run_fix(world.prod_url, check["fix"])
        code, doc = again(world)
        assert code == 0, failed(doc)
    finally:
        world.sql(
            world.prod_url,
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
            (slot,),
        )


@pytest.fixture
def bare_source(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL server as it comes, not set up for replication: wal_level=replica, two slots
    and two WAL senders at most, both slots taken. PROD_DATABASE_URL points at it."""
    for key, value in {"wal_level": "replica", "max_replication_slots": "2", "max_wal_senders": "2"}.items():
        monkeypatch.setitem(postgres.SERVER_SETTINGS, key, value)
    root = postgres.prepare_data_root(
        tmp_path / "bare", Path(tempfile.gettempdir()) / f"platform-ops-test-{uuid.uuid4().hex[:8]}"
    )
    cluster = postgres.PostgresCluster(
        "bare", root / "data", free_port(), root / "bare.log", postgres.find_bindir()
    )
    cluster.init()
    try:
        cluster.start()
        apply_migrations(cluster.url)
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            for n in range(2):
                conn.execute("SELECT pg_create_physical_replication_slot(%s)", (f"standby_{n}",))
        monkeypatch.setenv("PROD_DATABASE_URL", cluster.url)
        yield cluster.url
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_source_not_set_up_for_logical_replication_is_refused(
    world: World, bare_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, doc = world.ops_json("preflight")
    assert code == 1
    refused = failed(doc)
    assert set(refused) == {"source wal_level", "source replication slots free", "source WAL senders free"}
    assert refused["source wal_level"]["measured"] == "wal_level=replica"
    assert (
        refused["source wal_level"]["fix"] == "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"
    )
    assert (
        refused["source replication slots free"]["measured"] == "2 of max_replication_slots=2 in use, 0 free"
    )
    assert (
        "raise max_replication_slots and restart PostgreSQL"
        in refused["source replication slots free"]["fix"]
    )
    # Logical replication needs 3 senders during the initial copy; DMS needs one.
    assert refused["source WAL senders free"]["measured"] == "0 of max_wal_senders=2 in use, 2 free"
    monkeypatch.setenv("OPS_REPLICA_DRIVER", "dms")
    monkeypatch.setenv("OPS_DMS_TASK_ARN", "arn:aws:dms:us-east-1:123456789012:task:UNUSED")
    monkeypatch.setenv("OPS_REPLICATION_USER", "postgres")
    code, doc = world.ops_json("preflight")
    assert checks(doc)["source WAL senders free"]["ok"]
    assert checks(doc)["source WAL senders free"]["threshold"] == ">= 1 free (one for the DMS task)"
    assert not checks(doc)["source replication slots free"]["ok"]


@pytest.fixture
def rds_like(world: World) -> Iterator[None]:
    """The production database as Amazon RDS shows itself over SQL, logical replication off."""
    database = world.prod_url.rsplit("/", 1)[1]
    world.sql(world.prod_url, f"ALTER DATABASE {database} SET rds.logical_replication = 'off'")
    world.sql(world.prod_url, "CREATE ROLE rds_replication")
    yield
    world.sql(world.prod_url, "DROP ROLE rds_replication")


def _rds_instance(name: str, free_gib: list[float]) -> None:
    create_rds_instance(name, "db.r6g.large", 100)
    _free_storage(name, free_gib)


def _free_storage(name: str, free_gib: list[float]) -> None:
    now = datetime.now(UTC)
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "FreeStorageSpace",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": name}],
                "Timestamp": now - timedelta(minutes=10 - i),
                "Value": gib * 2**30,
                "Unit": "Bytes",
            }
            for i, gib in enumerate(free_gib)
        ],
    )


def test_an_rds_source_is_judged_by_its_parameter_role_and_storage(
    world: World, role: str, rds_like: None, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_REPLICATION_USER", role)
    world.sql(world.prod_url, f"GRANT SELECT ON answers TO {role}")
    code, doc = world.ops_json("preflight")
    assert code == 1
    refused = failed(doc)
    assert set(refused) == {"source wal_level", "replication user grants", "source free storage"}
    assert refused["source wal_level"]["measured"] == "rds.logical_replication=off, wal_level=logical"
    assert (
        "rds.logical_replication = 1 in the production instance's DB parameter group"
        in refused["source wal_level"]["fix"]
    )
    assert refused["replication user grants"]["measured"] == (
        f"{role} (from OPS_REPLICATION_USER): no REPLICATION attribute, not in rds_replication"
    )
    assert refused["replication user grants"]["fix"].endswith(f"GRANT rds_replication TO {role};")
    assert refused["source free storage"]["measured"] == (
        "the source is Amazon RDS and OPS_SOURCE_RDS_INSTANCE is not set: free storage not measured"
    )

    run_fix(world.prod_url, refused["replication user grants"]["fix"])
    _rds_instance(unique_name, [60.0, 50.0])
    monkeypatch.setenv("OPS_SOURCE_RDS_INSTANCE", unique_name)
    code, doc = again(world)
    assert set(failed(doc)) == {"source wal_level"}
    assert checks(doc)["replication user grants"]["measured"].endswith(
        "rds_replication, SELECT on every mapped table"
    )
    assert checks(doc)["source free storage"]["measured"] == (
        f"{unique_name}: 50.0 GiB free of 100.0 GiB (50%), lowest FreeStorageSpace of the last hour"
    )

    _free_storage(unique_name, [12.5])
    code, doc = again(world)
    storage = failed(doc)["source free storage"]
    assert storage["measured"].startswith(f"{unique_name}: 12.5 GiB free of 100.0 GiB (12%)")
    assert storage["threshold"] == "20% of allocated storage free"
    assert f"aws rds modify-db-instance --db-instance-identifier {unique_name}" in storage["fix"]
