"""Verification under live dual-write traffic, and resuming an interrupted run."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ops.demo.traffic import TrafficResult, run_traffic
from ops.exceptions import ConfigError
from ops.settings import Settings
from ops.verify import Verifier, VerifyOptions, verify_gate
from tests.functional.verify.conftest import World

pytestmark = pytest.mark.stack


def test_live_traffic_gives_no_false_mismatches_after_recheck(world: World) -> None:
    world.copy_all()
    repo = world.dual_write_repository()
    box: dict[str, TrafficResult] = {}
    traffic = threading.Thread(target=lambda: box.update(r=run_traffic(repo, rps=60, duration=8, seed=3)))
    traffic.start()
    try:
        time.sleep(0.5)
        during = world.verify(recheck_delay=0.5, segments=2, batch_size=20)
    finally:
        traffic.join()
        repo.close()
    load = box["r"]
    assert load.error_count == 0, load.error_examples
    writes = sum(load.done[op] for op in ("create", "update", "delete"))
    assert writes > 50
    assert (during.mismatched, during.missing, during.extra, during.errors) == (0, 0, 0, 0), (
        during.samples,
        load.dual_write,
        load.outbox_pending,
    )
    print(f"verify under traffic: {during.rows_compared} rows, {during.transient} transient, {writes} writes")
    after = world.verify()
    assert after.clean, after.samples
    assert after.rows_compared == len(world.rows())


def test_interrupted_run_resumes_from_checkpoints(world: World) -> None:
    world.copy_all()
    rows = world.rows()
    world.ddb.delete_item(TableName=world.target, Key=world.tm.key(rows[-1]))
    options: dict[str, Any] = {
        "source_url": world.url,
        "primary_url": world.url,
        "dataset": f"answers-{world.target}",
        "table": "answers",
        "target_table": world.target,
        "segments": 3,
        "threads": 1,
        "recheck_delay": 0.1,
        "batch_size": 20,
        "progress": False,
    }
    first = Verifier(
        VerifyOptions(**options), settings=Settings.from_env(), control=world.control, dynamodb=world.ddb
    )
    real = first.items.batch_get
    calls = {"n": 0}

    def failing(keys: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("connection lost")
        return real(keys)

    first.items.batch_get = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="connection lost"):
        first.run()

    with pytest.raises(ConfigError, match="different options"):
        Verifier(
            VerifyOptions(**{**options, "segments": 2, "resume": True}),
            settings=Settings.from_env(),
            control=world.control,
            dynamodb=world.ddb,
        ).run()
    interrupted = first.store.latest_unfinished()
    assert interrupted is not None
    resumed = Verifier(
        VerifyOptions(**{**options, "resume": True}),
        settings=Settings.from_env(),
        control=world.control,
        dynamodb=world.ddb,
    )
    read_again: list[int] = []
    real_pages = resumed.reader.pages

    def pages(segment: Any, after: Any) -> Any:
        for page in real_pages(segment, after):
            read_again.extend(r["id"] for r in page)
            yield page

    resumed.reader.pages = pages  # type: ignore[method-assign]
    result = resumed.run()
    assert result.run_id == interrupted["run_id"]
    assert result.rows_compared == len(rows) and result.missing == 1
    assert len(read_again) < len(rows)  # checkpointed pages were not read again
    assert (
        verify_gate(world.control, f"answers-{world.target}", table="answers").evidence["run_id"]
        == result.run_id
    )
