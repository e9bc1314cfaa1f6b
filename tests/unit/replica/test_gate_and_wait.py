"""The `replica ready` gate and `wait` on hand-built statuses (no engine involved)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ops.exceptions import GateFailed
from ops.replica import ReplicaStatus, TableSync, replica_gate, wait_for_replica


def _status(state: str = "running", lag: float | None = 1.0, **overrides: TableSync) -> ReplicaStatus:
    tables = {n: TableSync(n, True, 10, 10, "clean") for n in ("couples", "answers")}
    tables.update(overrides)
    return ReplicaStatus("logical", state, list(tables.values()), lag)


def test_ready_replica_passes_and_carries_evidence() -> None:
    gate = replica_gate(_status())
    assert gate.ok
    assert gate.evidence["status"]["tables"][1]["table"] == "answers"
    assert gate.evidence["max_lag_seconds"] == 30.0


def test_count_mismatch_is_refused_with_counts_and_fix() -> None:
    gate = replica_gate(_status(answers=TableSync("answers", True, 10, 9, "mismatched")))
    (check,) = gate.failed
    assert check.name == "answers: validation"
    assert check.measured == "mismatched (source 10, target 9)"
    assert "ops replica" in check.fix
    with pytest.raises(GateFailed, match=r"answers: validation: measured mismatched \(source 10, target 9\)"):
        gate.raise_if_failed()


def test_unknown_lag_and_lag_over_threshold_are_refused() -> None:
    assert [c.measured for c in replica_gate(_status(lag=None)).failed] == ["unknown"]
    assert [c.measured for c in replica_gate(_status(lag=31.0)).failed] == ["31.0s"]
    assert replica_gate(_status(lag=31.0), max_lag_seconds=60).ok


def test_expected_table_missing_from_the_replica() -> None:
    gate = replica_gate(_status(), expected_tables=["couples", "answers", "users"])
    assert [(c.name, c.measured) for c in gate.failed] == [("users: replicated", "absent")]


def test_no_tables_at_all_is_refused() -> None:
    gate = replica_gate(ReplicaStatus("logical", "running", [], 0.0))
    assert [c.name for c in gate.failed] == ["tables replicated"]


class _Scripted:
    name = "logical"

    def __init__(self, statuses: list[ReplicaStatus]) -> None:
        self.statuses = statuses
        self.calls = 0

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def resume(self) -> None: ...

    def status(self) -> ReplicaStatus:
        self.calls += 1
        return self.statuses[min(self.calls - 1, len(self.statuses) - 1)]


def test_wait_polls_until_the_gate_passes() -> None:
    loading = _status(answers=TableSync("answers", False, 10, 4, "pending", "copying data"))
    driver = _Scripted([loading, loading, _status()])
    sleeps: list[float] = []
    gate = wait_for_replica(
        driver, timeout=60, poll_interval=2, sleep=sleeps.append, console=Console(file=io.StringIO())
    )
    assert gate.ok and driver.calls == 3 and sleeps == [2, 2]


def test_wait_timeout_says_what_is_missing() -> None:
    loading = _status(answers=TableSync("answers", False, 10, 4, "pending", "copying data"))
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(GateFailed, match=r"not ready after 5s: answers: full load: copying data"):
        wait_for_replica(
            _Scripted([loading]),
            timeout=5,
            poll_interval=2,
            clock=lambda: now[0],
            sleep=sleep,
            console=Console(file=io.StringIO()),
        )


def test_make_driver_explains_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.exceptions import ConfigError
    from ops.mapping import load_mapping
    from ops.replica import make_driver

    # Set in the process, the variable is still not read here: the caller passes the ARN.
    monkeypatch.setenv("OPS_DMS_TASK_ARN", "arn:aws:dms:us-east-1:123456789012:task:IGNORED")
    monkeypatch.delenv("PROD_DATABASE_URL", raising=False)
    tables = list(load_mapping().tables)
    with pytest.raises(ConfigError, match="choose one of: logical, dms"):
        make_driver("pglogical", tables=tables)
    with pytest.raises(ConfigError, match="--task-arn"):
        make_driver("dms", tables=tables)
    with pytest.raises(ConfigError, match="PROD_DATABASE_URL and V2_DATABASE_URL"):
        make_driver("logical", tables=tables)
    driver = make_driver(
        "logical", tables=tables, source_url="postgresql://a/x", target_url="postgresql://b/y"
    )
    assert driver.name == "logical"
    assert driver.tables == ("couples", "users", "questions", "answers")  # type: ignore[attr-defined]
