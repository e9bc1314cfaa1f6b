"""The logical driver against the real `prod` and `v2` clusters of the local stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ops.exceptions import GateFailed
from ops.replica import LogicalReplicaDriver, replica_gate, wait_for_replica
from ops.schema import apply_migrations
from tests.functional.replica.seed import WriteLoad, seed_domain

pytestmark = pytest.mark.stack
TABLES = ["couples", "users", "questions", "answers"]


def _rows(url: str, table: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(f"SELECT * FROM {table} ORDER BY id"))


@pytest.fixture
def driver(prod_db: str, v2_db: str) -> Iterator[LogicalReplicaDriver]:
    apply_migrations(prod_db)
    seed_domain(prod_db, answers=300)
    d = LogicalReplicaDriver(prod_db, v2_db, TABLES, name=f"t_{uuid.uuid4().hex[:8]}", heartbeat_wait=1.0)
    yield d
    d.teardown()


def test_absent_subscription_fails_the_gate(driver: LogicalReplicaDriver) -> None:
    status = driver.status()
    assert status.state == "absent"
    gate = replica_gate(status, 30, TABLES)
    assert not gate.ok
    assert {c.name for c in gate.failed} >= {"replica running", "answers: full load", "lag"}


def test_brings_v2_up_to_date_under_traffic_and_gate_passes(
    driver: LogicalReplicaDriver, prod_db: str
) -> None:
    with WriteLoad(prod_db) as load:
        driver.start()  # the v2 schema comes from the project's migrations
        gate = wait_for_replica(driver, timeout=60, poll_interval=0.5, expected_tables=TABLES)
        assert gate.ok
        status = driver.status()
        assert status.lag_seconds is not None and status.lag_seconds < 5
    assert not load.errors and load.writes > 20
    gate = wait_for_replica(driver, timeout=30, poll_interval=0.5, expected_tables=TABLES)
    answers = gate.evidence["status"]["tables"][TABLES.index("answers")]
    assert answers["validation"] == "clean" and answers["source_rows"] == answers["target_rows"]
    for table in TABLES:
        assert _rows(prod_db, table) == _rows(driver.target_url, table)


def test_stop_pauses_and_resume_catches_up(driver: LogicalReplicaDriver, prod_db: str) -> None:
    driver.start()
    wait_for_replica(driver, timeout=60, poll_interval=0.5, expected_tables=TABLES)
    driver.stop()
    with psycopg.connect(prod_db, autocommit=True) as conn:
        conn.execute("UPDATE answers SET body = 'while stopped' WHERE id = (SELECT min(id) FROM answers)")
    stopped = driver.status()
    assert stopped.state == "stopped"
    assert stopped.lag_seconds is not None and stopped.lag_seconds >= 1.0  # the heartbeat did not arrive
    gate = replica_gate(stopped, 30, TABLES)
    assert gate.failed[0].name == "replica running"
    with pytest.raises(GateFailed, match="replica running"):
        wait_for_replica(driver, timeout=0, expected_tables=TABLES)
    driver.resume()
    wait_for_replica(driver, timeout=60, poll_interval=0.5, expected_tables=TABLES)
    assert _rows(prod_db, "answers") == _rows(driver.target_url, "answers")


def test_high_lag_fails_the_gate(driver: LogicalReplicaDriver) -> None:
    driver.start()
    status = wait_for_replica(driver, timeout=60, poll_interval=0.5, expected_tables=TABLES)
    assert status.ok
    measured = driver.status()
    measured.lag_seconds = 45.0
    gate = replica_gate(measured, 30, TABLES)
    assert [c.name for c in gate.failed] == ["lag"]
    assert "45.0s" in gate.failed[0].measured
