"""The rehearsal's real shape: traffic dual-writes to prod, prod replicates to v2 (logical), and
verification compares v2 with DynamoDB while all of it runs. Replication lag makes v2 trail
DynamoDB for a moment; the re-check must absorb that, and nothing else may be reported."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from ops.demo.traffic import TrafficResult, run_traffic
from ops.replica import LogicalReplicaDriver, wait_for_replica
from tests.functional.verify.conftest import World

pytestmark = pytest.mark.stack
TABLES = ["couples", "users", "questions", "answers"]


def test_verify_v2_replica_under_traffic(world: World, v2_db: str) -> None:
    world.copy_all()
    driver = LogicalReplicaDriver(
        world.url, v2_db, TABLES, name=f"t_{uuid.uuid4().hex[:8]}", heartbeat_wait=1.0
    )
    repo = world.dual_write_repository()
    box: dict[str, TrafficResult] = {}
    try:
        driver.start()
        wait_for_replica(driver, timeout=60, poll_interval=0.5, expected_tables=TABLES)
        traffic = threading.Thread(target=lambda: box.update(r=run_traffic(repo, rps=60, duration=8, seed=5)))
        traffic.start()
        try:
            time.sleep(0.5)
            during = world.verify(source_url=v2_db, recheck_delay=1.0, segments=2, batch_size=20)
        finally:
            traffic.join()
        assert box["r"].error_count == 0, box["r"].error_examples
        assert (during.mismatched, during.missing, during.extra, during.errors) == (0, 0, 0, 0), (
            during.samples
        )
        wait_for_replica(driver, timeout=60, poll_interval=0.5, expected_tables=TABLES)
        after = world.verify(source_url=v2_db)
        assert after.clean, after.samples
    finally:
        repo.close()
        driver.teardown()
