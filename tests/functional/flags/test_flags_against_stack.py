"""The flag store and `ops flags` against moto's SSM server and a DynamoDB Local control table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from ops import aws
from ops.cli.main import app
from ops.control import ControlTable
from ops.flags import FlagReader, FlagStore, IllegalTransition, Mode
from ops.settings import Settings

pytestmark = pytest.mark.stack


@pytest.fixture
def control(stack: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ControlTable]:
    monkeypatch.setenv("OPS_CONTROL_TABLE", unique_name)
    table = ControlTable(unique_name)
    table.ensure()
    yield table
    aws.client("dynamodb").delete_table(TableName=unique_name)


@pytest.fixture
def dataset() -> str:
    return f"ds{uuid.uuid4().hex[:8]}"


def test_walk_forward_and_back_records_every_change(control: ControlTable, dataset: str) -> None:
    store = FlagStore(dataset, settings=Settings.from_env(), control=control)
    assert store.get() is Mode.POSTGRES
    path = ["dual_write", "dual_write_shadow", "dual_write_read_dynamodb", "dual_write_shadow"]
    for i, target in enumerate(path):
        change = store.set(target, reason=f"step {i}", who="alice")
        assert change.changed and change.generation == i + 1
    assert store.get() is Mode.DUAL_WRITE_SHADOW
    ssm_value = aws.client("ssm").get_parameter(Name=f"/platform-ops/migration/{dataset}/mode")["Parameter"][
        "Value"
    ]
    assert json.loads(ssm_value) == {"mode": "dual_write_shadow", "generation": 4}
    history = store.history()
    assert [(h.from_mode, h.to_mode, h.generation) for h in history] == [
        ("postgres", "dual_write", 1),
        ("dual_write", "dual_write_shadow", 2),
        ("dual_write_shadow", "dual_write_read_dynamodb", 3),
        ("dual_write_read_dynamodb", "dual_write_shadow", 4),
    ]
    assert all(h.who == "alice" and h.at for h in history)
    assert history[3].reason == "step 3"


def test_a_plain_flag_change_never_moves_the_source_of_truth(control: ControlTable, dataset: str) -> None:
    store = FlagStore(dataset, settings=Settings.from_env(), control=control)
    for target in ("dual_write", "dual_write_shadow", "dual_write_read_dynamodb"):
        store.set(target, reason="forward")
    with pytest.raises(IllegalTransition, match="ops migrate stop-pg-writes"):
        store.set(Mode.DYNAMODB, reason="by hand")
    runner = CliRunner()
    refused = runner.invoke(app, ["flags", "set", "dynamodb", "--reason", "x", "--yes", "--dataset", dataset])
    assert refused.exit_code != 0 and "ops migrate stop-pg-writes" in str(refused.exception)
    assert store.get() is Mode.DUAL_WRITE_READ_DYNAMODB


def test_a_hand_set_dynamodb_flag_without_a_generation_stops_writers(
    control: ControlTable, dataset: str
) -> None:
    from ops.flags import FlagUnavailable

    aws.client("ssm").put_parameter(
        Name=f"/platform-ops/migration/{dataset}/mode", Value="dynamodb", Type="String", Overwrite=True
    )
    with pytest.raises(FlagUnavailable, match="without a generation"):
        FlagReader(dataset, ttl_seconds=0, settings=Settings.from_env()).state()


def test_jump_is_refused_and_nothing_changes(control: ControlTable, dataset: str) -> None:
    store = FlagStore(dataset, settings=Settings.from_env(), control=control)
    with pytest.raises(IllegalTransition, match="'dual_write' is missing"):
        store.set(Mode.DUAL_WRITE_READ_DYNAMODB, reason="too fast")
    assert store.get() is Mode.POSTGRES
    assert store.history() == []


def test_a_stale_concurrent_change_is_refused(control: ControlTable, dataset: str) -> None:
    a = FlagStore(dataset, settings=Settings.from_env(), control=control)
    a.set(Mode.DUAL_WRITE, reason="start")
    # Another operator's view was taken before the first change landed in the control table.
    control.put(f"FLAG#{dataset}", "CURRENT", {"mode": "dual_write_shadow"})
    with pytest.raises(Exception, match="changed by someone else"):
        a.set(Mode.DUAL_WRITE_SHADOW, reason="race")


def test_reader_sees_changes_after_its_ttl(control: ControlTable, dataset: str) -> None:
    store = FlagStore(dataset, settings=Settings.from_env(), control=control)
    reader = FlagReader(dataset, ttl_seconds=0, settings=Settings.from_env())
    assert reader.mode() is Mode.POSTGRES
    store.set("dual_write", reason="go")
    assert reader.mode() is Mode.DUAL_WRITE


def test_cli_get_set_history(control: ControlTable, dataset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    jump = runner.invoke(
        app, ["flags", "set", "dual_write_shadow", "--reason", "x", "--yes", "--dataset", dataset]
    )
    assert jump.exit_code != 0
    assert "'dual_write' is missing" in str(jump.exception)
    dry = runner.invoke(
        app, ["flags", "set", "dual_write", "--reason", "x", "--dry-run", "--dataset", dataset]
    )
    assert dry.exit_code == 0, dry.output
    assert "would change" in dry.output
    assert FlagStore(dataset, settings=Settings.from_env(), control=control).get() is Mode.POSTGRES
    done = runner.invoke(
        app,
        ["flags", "set", "dual_write", "--reason", "start", "--yes", "--who", "bob", "--dataset", dataset],
    )
    assert done.exit_code == 0, done.output
    got = runner.invoke(app, ["flags", "get", "--json", "--dataset", dataset])
    assert json.loads(got.output)["mode"] == "dual_write"
    hist = runner.invoke(app, ["flags", "history", "--json", "--dataset", dataset])
    records = json.loads(hist.output)
    assert [(r["from_mode"], r["to_mode"], r["who"]) for r in records] == [("postgres", "dual_write", "bob")]
    # Without --who, the CLI names OPS_OPERATOR (read at its edge), for a rollback too.
    monkeypatch.setenv("OPS_OPERATOR", "frank")
    back = runner.invoke(app, ["flags", "rollback", "--reason", "back", "--yes", "--dataset", dataset])
    assert back.exit_code == 0, back.output
    hist = runner.invoke(app, ["flags", "history", "--json", "--dataset", dataset])
    assert [(r["to_mode"], r["who"]) for r in json.loads(hist.output)][-1] == ("postgres", "frank")


def test_gate_refusal_changes_nothing_and_evidence_is_recorded(control: ControlTable, dataset: str) -> None:
    from ops.exceptions import GateFailed

    store = FlagStore(dataset, settings=Settings.from_env(), control=control)

    def refuse(current: Mode, target: Mode) -> None:
        raise GateFailed(f"gate for {current}->{target} refused")

    with pytest.raises(GateFailed):
        store.set(Mode.DUAL_WRITE, reason="try", gate=refuse)
    assert store.get() is Mode.POSTGRES
    store.set(Mode.DUAL_WRITE, reason="ok", gate=lambda a, b: None, evidence={"outbox_pending": 0})
    assert control.query(f"FLAG#{dataset}", "CHANGE#")[0]["evidence"] == {"outbox_pending": 0}


def test_rollback_moves_back_exactly_one_step(control: ControlTable, dataset: str) -> None:
    store = FlagStore(dataset, settings=Settings.from_env(), control=control)
    with pytest.raises(IllegalTransition, match="nothing to roll back"):
        store.rollback(reason="none")
    for target in ("dual_write", "dual_write_shadow", "dual_write_read_dynamodb"):
        store.set(target, reason="forward")
    runner = CliRunner()
    out = runner.invoke(
        app, ["flags", "rollback", "--reason", "latency", "--yes", "--dataset", dataset, "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["to_mode"] == "dual_write_shadow"
    assert store.get() is Mode.DUAL_WRITE_SHADOW


def test_first_change_creates_the_control_table(stack: Any, unique_name: str, dataset: str) -> None:
    control = ControlTable(unique_name)
    store = FlagStore(dataset, settings=Settings.from_env(), control=control)
    assert store.history() == []
    store.set(Mode.DUAL_WRITE, reason="first ever change")
    assert [h.to_mode for h in store.history()] == ["dual_write"]
    aws.client("dynamodb").delete_table(TableName=unique_name)


def test_a_change_the_fence_refuses_leaves_the_flag_changeable(
    control: ControlTable, dataset: str, prod_db: str
) -> None:
    """The fence is written after the control table's CURRENT record; when it refuses (someone
    moved it meanwhile), CURRENT goes back, so the next change is not blocked by a phantom."""
    from ops.fence import FenceConflict, PgFence
    from ops.flags import FlagState
    from ops.schema import apply_migrations

    apply_migrations(prod_db)
    fence = PgFence(prod_db)
    store = FlagStore(dataset, settings=Settings.from_env(), control=control, fence=fence)
    store.set(Mode.DUAL_WRITE, reason="start")
    fence.write(dataset, FlagState(Mode.DUAL_WRITE, 5))  # another writer of the fence, ahead
    aws.client("ssm").put_parameter(
        Name=f"/platform-ops/migration/{dataset}/mode", Value="dual_write", Type="String", Overwrite=True
    )
    stale = FlagStore(dataset, settings=Settings.from_env(), control=control, fence=fence)
    stale.state = lambda: FlagState(Mode.DUAL_WRITE, 1)  # type: ignore[method-assign]
    stale.heal = stale.state  # type: ignore[method-assign]
    with pytest.raises(FenceConflict):
        stale.set(Mode.DUAL_WRITE_SHADOW, reason="raced")
    assert control.get(f"FLAG#{dataset}", "CURRENT")["mode"] == "dual_write"  # type: ignore[index]
    change = FlagStore(dataset, settings=Settings.from_env(), control=control, fence=fence).set(
        Mode.DUAL_WRITE_SHADOW, reason="again"
    )
    assert change.generation == 6 and fence.read(dataset) == FlagState(Mode.DUAL_WRITE_SHADOW, 6)
