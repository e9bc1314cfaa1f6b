"""Verification across a fleet: workers x processes share one run's segments through leases and
reach the same result, stored once as the gate's evidence, as a single process."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from ops.settings import Settings
from ops.verify import VerifyOptions, VerifyResult, verify_gate
from ops.verify.checkpoint import CheckpointStore
from ops.verify.engine import MIN_SCAN_SEGMENTS, run_verify_processes
from tests.functional.verify.conftest import World
from tests.functional.verify.test_verify_differences import _inject

pytestmark = pytest.mark.stack

COUNTS = ("rows_compared", "matching", "mismatched", "missing", "extra", "stale_tombstones", "errors")


def _summary(result: VerifyResult) -> dict[str, Any]:
    return {
        **{name: getattr(result, name) for name in COUNTS},
        "items_scanned": result.items_scanned,
        "complete": result.complete,
        "full": result.full,
        "samples": sorted((s["kind"], str(s.get("key")), s.get("pk"), s.get("sk")) for s in result.samples),
    }


def test_two_workers_of_two_processes_agree_with_one_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.copy_all()
    _inject(world)
    single = world.verify(segments=6)
    assert not single.clean and single.full

    # The processes are spawned: they find the stack and this control table through the environment.
    monkeypatch.setenv("OPS_CONTROL_TABLE", world.control.name)
    options = VerifyOptions(
        source_url=world.url,
        primary_url=world.url,
        dataset=f"answers-{world.target}",
        table="answers",
        target_table=world.target,
        segments=6,
        recheck_delay=0.2,
        batch_size=40,
        progress=False,
        run_id="fleet-run",
        workers=2,
    )
    results: dict[int, VerifyResult] = {}

    def worker(i: int) -> None:
        results[i] = run_verify_processes(
            replace(options, worker=i), processes=2, settings=Settings.from_env()
        )

    hosts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for host in hosts:
        host.start()
    for host in hosts:
        host.join(timeout=300)
    assert sorted(results) == [0, 1]
    assert _summary(results[0]) == _summary(results[1]) == _summary(single)

    # Every segment was verified by exactly one worker, and the evidence was stored once.
    store = CheckpointStore(world.control, f"answers-{world.target}")
    states = store.segments("fleet-run")
    # A small table's Scan is cut into the minimum number of segments, the same for every worker.
    assert sorted((s.phase, s.index) for s in states) == [("ROWS", i) for i in range(6)] + [
        ("SCAN", i) for i in range(MIN_SCAN_SEGMENTS)
    ]
    assert all(s.done and not s.lease_owner for s in states)
    assert [r.run_id for r in store.history()].count("fleet-run") == 1
    gate = verify_gate(world.control, f"answers-{world.target}", table="answers")
    assert gate.evidence["run_id"] == "fleet-run"
    assert gate.evidence["rows_compared"] == single.rows_compared


def test_a_fleet_needs_one_run_id(world: World) -> None:
    from ops.exceptions import ConfigError

    with pytest.raises(ConfigError, match="same --run-id"):
        world.verify(workers=2)
