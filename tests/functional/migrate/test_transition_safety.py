"""Data safety at the transitions, each with its adversary: an application instance whose flag is
stale, a DynamoDB put delayed past the flip, an outbox repair after the flip, a plain flag rollback
out of `dynamodb`, a verification repair while the replica lags, a DynamoDB outage that fills the
outbox. Every test here lost or corrupted data before the fence, the generations and the
lag-aware repair existed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from ops import aws
from ops.cli.main import app
from ops.dualwrite import Metrics, Repository
from ops.flags import FlagReader, FlagStore, Mode, WritesPaused, generation_of
from ops.mapping import is_tombstone, load_mapping
from ops.migrate import fenced
from ops.migrate.config import MigrateConfig
from ops.migrate.phases import Phase
from ops.replica import LogicalReplicaDriver
from ops.reverse import control as reverse
from ops.settings import Settings
from ops.verify import VerifyOptions, run_verify
from tests.chaos.faults import RefusingClient
from tests.functional.replica.seed import seed_domain

from .conftest import World

pytestmark = pytest.mark.stack

ANSWERS = load_mapping().table("answers")


def _app(
    world: World, ttl: float, *, ssm: Any = None, metrics: Metrics | None = None, **kwargs: Any
) -> Repository:
    """One application instance: its own pool, flag cache (`ttl` seconds, read through `ssm` when
    given) and outbox drainer."""
    return Repository(
        "answers",
        conninfo=world.prod_url,
        target_table=world.target_table,
        settings=Settings.from_env(),
        modes=FlagReader("answers", ttl_seconds=ttl, ssm=ssm, settings=Settings.from_env()),
        metrics=metrics or Metrics("PlatformOps/Test", enabled=False),
        **kwargs,
    )


def _item(world: World, key: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        aws.client("dynamodb")
        .get_item(TableName=world.target_table, Key=ANSWERS.key(key), ConsistentRead=True)
        .get("Item")
    )
    return found


def _row(world: World, key: dict[str, Any]) -> tuple[Any, ...] | None:
    rows = world.sql(
        world.prod_url,
        "SELECT body, mood, version FROM answers WHERE couple_id = %s AND question_id = %s AND user_id = %s",
        (key["couple_id"], key["question_id"], key["user_id"]),
    )
    return rows[0] if rows else None


def _written_to_both(world: World, key: dict[str, Any], body: str) -> None:
    """The row in PostgreSQL and the item in DynamoDB both hold `body`."""
    assert _row(world, key)[0] == body  # type: ignore[index]
    assert _item(world, key)["body"] == {"S": body}  # type: ignore[index]


@pytest.fixture
def reading_dynamodb(world: World) -> Iterator[tuple[World, dict[str, Any]]]:
    """Prod seeded, dual-writing, reads switched: one answer written through the dual-write layer."""
    seed_domain(world.prod_url, 0, couples=2, questions=3)
    world.advance(Phase.SOAK)
    writer = _app(world, ttl=0)
    try:
        couple, user = world.sql(world.prod_url, "SELECT couple_id, id FROM users ORDER BY id LIMIT 1")[0]
        question = world.sql(world.prod_url, "SELECT min(id) FROM questions")[0][0]
        row = writer.create(
            {"couple_id": couple, "question_id": question, "user_id": user, "body": "first", "mood": 1}
        )
    finally:
        writer.close()
    yield world, {c: row[c] for c in ANSWERS.item_key_columns}


def test_a_stale_instance_cannot_overwrite_a_dynamodb_mode_write(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    """Instance A cached `dual_write_read_dynamodb` for an hour; after the flip, instance B changes
    the mood in `dynamodb` mode, then A changes the body. A's write must build on B's, not on the
    stale PostgreSQL row (which would silently undo B's mood)."""
    world, key = reading_dynamodb
    stale = _app(world, ttl=3600)
    fresh = _app(world, ttl=0)
    try:
        assert stale.modes.state().mode is Mode.DUAL_WRITE_READ_DYNAMODB  # cached from now on
        fenced.stop_postgres_writes(MigrateConfig.from_env(Settings.from_env()), "test")
        # Reverse replication (started by the flip) would copy B's write to PostgreSQL in its own
        # time; stopped, PostgreSQL can only change by a write that should not happen.
        reverse.stop(Settings.from_env())
        fresh.update(key, {"mood": 4})
        stale.update(key, {"body": "written by the stale instance"})
        item = _item(world, key)
        assert item is not None
        assert item["mood"] == {"N": "4"} and item["body"] == {"S": "written by the stale instance"}
        # PostgreSQL was not written after the flip: its row is the one from before.
        assert _row(world, key)[:2] == ("first", 1)  # type: ignore[index]
    finally:
        stale.close()
        fresh.close()


class _HeldPuts:
    """A DynamoDB client whose first put waits until released (a slow instance's delayed write)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.held = threading.Event()
        self.release = threading.Event()
        self.first = True

    def put_item(self, **kwargs: Any) -> Any:
        if self.first:
            self.first = False
            self.held.set()
            self.release.wait(30)
        return self.real.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_put_delayed_past_the_flip_cannot_replace_a_newer_dynamodb_mode_write(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    world, key = reading_dynamodb
    held = _HeldPuts(aws.client("dynamodb"))
    slow = _app(world, ttl=0, dynamodb=held, auto_drain=False)
    fresh = _app(world, ttl=0)
    try:
        writer = threading.Thread(target=lambda: slow.update(key, {"body": "committed before the flip"}))
        writer.start()
        assert held.held.wait(10)  # committed in PostgreSQL, its DynamoDB put not sent yet
        # The flip drains the outbox (delivering the committed write) before DynamoDB takes writes.
        fenced.stop_postgres_writes(MigrateConfig.from_env(Settings.from_env()), "test")
        # Stopped, reverse replication cannot copy the next write into PostgreSQL (with the new
        # generation) before the last assertion reads the row.
        reverse.stop(Settings.from_env())
        assert _item(world, key)["body"] == {"S": "committed before the flip"}  # type: ignore[index]
        fresh.update(key, {"body": "dynamodb mode"})
        held.release.set()
        writer.join(10)
        item = _item(world, key)
        assert item is not None and item["body"] == {"S": "dynamodb mode"}
        assert generation_of(int(item["_ver"]["N"])) > generation_of(_row(world, key)[2])  # type: ignore[index]
    finally:
        held.release.set()
        slow.close()
        fresh.close()


def test_outbox_repair_after_the_flip_neither_overwrites_nor_drops(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    world, key = reading_dynamodb
    fenced.stop_postgres_writes(MigrateConfig.from_env(Settings.from_env()), "test")
    # The row must keep its version from before the flip: reverse replication would copy the next
    # DynamoDB write (and its version) into it.
    reverse.stop(Settings.from_env())
    fresh = _app(world, ttl=0)
    try:
        fresh.update(key, {"body": "dynamodb mode"})
    finally:
        fresh.close()
    version = _row(world, key)[2]  # type: ignore[index]
    # An outbox row for the key, as a write committed long ago and never delivered would leave.
    world.sql(
        world.prod_url,
        "INSERT INTO outbox (table_name, row_key, op, version) VALUES ('answers', %s, 'upsert', %s)",
        (
            json.dumps(key),
            version,
        ),
    )
    refused = CliRunner().invoke(app, ["repair", "outbox"])
    assert refused.exit_code != 0 and "mode 'dynamodb'" in str(refused.exception)
    # Even the library drain, which every app instance runs, cannot put the older row back.
    from ops.dualwrite import drain_outbox, make_pool

    pool = make_pool(world.prod_url)
    try:
        result = drain_outbox(load_mapping(), pool, aws.client("dynamodb"), world.target_table)
    finally:
        pool.close()
    assert result.written == 0 and result.already_current == 1
    assert _item(world, key)["body"] == {"S": "dynamodb mode"}  # type: ignore[index]
    item_version = int(_item(world, key)["_ver"]["N"])  # type: ignore[index]
    assert item_version > version and generation_of(item_version) > generation_of(version)


def test_a_plain_flag_rollback_out_of_dynamodb_is_refused(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    fenced.stop_postgres_writes(MigrateConfig.from_env(Settings.from_env()), "test")
    out = CliRunner().invoke(app, ["flags", "rollback", "--reason", "latency", "--yes"])
    assert out.exit_code != 0 and "ops migrate rollback" in str(out.exception)
    assert FlagStore(settings=Settings.from_env()).get() is Mode.DYNAMODB


def test_writes_wait_out_a_pause_and_continue_in_the_new_mode(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    world, key = reading_dynamodb
    store = FlagStore(settings=Settings.from_env())
    repo = _app(world, ttl=3600, pause_wait_seconds=10)
    try:
        repo.modes.state()
        store.pause(seconds=20, reason="test pause")
        done: dict[str, Any] = {}
        writer = threading.Thread(
            target=lambda: done.update(row=repo.update(key, {"body": "after the pause"}))
        )
        started = time.monotonic()
        writer.start()
        time.sleep(1.0)
        assert writer.is_alive()  # held by the fence, not failed
        store.set(Mode.DYNAMODB, reason="test flip", fenced_protocol=True)
        writer.join(10)
        assert done["row"]["body"] == "after the pause" and time.monotonic() - started >= 1.0
        assert _item(world, key)["body"] == {"S": "after the pause"}  # type: ignore[index]
        assert _row(world, key)[0] == "first"  # type: ignore[index]  # written in DynamoDB only
    finally:
        repo.close()


def test_a_pause_left_by_a_crashed_cutover_ends_by_itself(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    world, key = reading_dynamodb
    store = FlagStore(settings=Settings.from_env())
    repo = _app(world, ttl=0, pause_wait_seconds=0.5)
    try:
        store.pause(seconds=2, reason="cutover crashed after this")
        with pytest.raises(WritesPaused, match="paused"):
            repo.update(key, {"body": "too early"})
        time.sleep(2.1)
        repo.update(key, {"body": "after the deadline"})
        _written_to_both(world, key, "after the deadline")
    finally:
        repo.close()


def test_the_outbox_drains_by_itself_after_a_dynamodb_outage(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    world, key = reading_dynamodb
    outage = RefusingClient(aws.client("dynamodb"), "put_item", "ServiceUnavailable")
    metrics = Metrics("PlatformOps/Test", enabled=False)
    repo = _app(world, ttl=0, dynamodb=outage, metrics=metrics, drain_interval_seconds=0.3)
    try:
        repo.update(key, {"body": "during the outage"})
        assert world.sql(world.prod_url, "SELECT count(*) FROM outbox") == [(1,)]
        deadline = time.monotonic() + 30  # the drainer measures the backlog on every pass
        while metrics.gauges.get("OutboxOldestAgeSeconds", 0) < 2:
            assert time.monotonic() < deadline, metrics.gauges
            time.sleep(0.2)
        outage.down = False
        deadline = time.monotonic() + 60
        while world.sql(world.prod_url, "SELECT count(*) FROM outbox") != [(0,)]:
            assert time.monotonic() < deadline, "the drainer never delivered the outbox row"
            time.sleep(0.2)
        assert _item(world, key)["body"] == {"S": "during the outage"}  # type: ignore[index]
        assert metrics.gauges["OutboxPending"] == 0
    finally:
        repo.close()


def test_switch_reads_refuses_an_outbox_row_older_than_in_flight(world: World) -> None:
    from ops.migrate import gates

    world.sql(
        world.prod_url,
        "INSERT INTO outbox (table_name, row_key, op, version, created_at) "
        "VALUES ('answers', '{}', 'upsert', 1, now() - interval '30 seconds')",
    )
    check = gates.outbox_check(MigrateConfig.from_env(Settings.from_env()))
    assert not check.ok and "oldest 30 s" in check.measured and "10 s" in check.threshold


def test_verify_repair_leaves_a_row_the_lagging_replica_has_not_received(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row created by dual-write reaches DynamoDB at once and V2 only when the replica catches up.
    A repair run from V2 in that window must not tombstone it: the primary shows it is live."""
    seed_domain(world.prod_url, 20, couples=2, questions=10)
    replica = LogicalReplicaDriver(
        world.prod_url, world.v2_url, ["couples", "users", "questions", "answers"], name=world.replica_name
    )
    replica.start()
    deadline = time.monotonic() + 60
    while world.sql(world.v2_url, "SELECT count(*) FROM answers") != [(20,)]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    world.advance(Phase.VERIFY)  # dual-writing, reads still from PostgreSQL: repair is allowed
    replica.stop()  # the replica lags from here on
    repo = _app(world, ttl=0)
    try:
        couple, question, user = world.sql(
            world.prod_url,
            "SELECT u.couple_id, q.id, u.id FROM users u CROSS JOIN questions q WHERE NOT EXISTS ("
            "SELECT 1 FROM answers a WHERE (a.couple_id, a.question_id, a.user_id) = "
            "(u.couple_id, q.id, u.id)"
            ") LIMIT 1",
        )[0]
        row = repo.create({"couple_id": couple, "question_id": question, "user_id": user, "body": "new"})
    finally:
        repo.close()
    key = {c: row[c] for c in ANSWERS.item_key_columns}
    result = run_verify(
        VerifyOptions(
            source_url=world.v2_url,
            dataset="answers",
            target_table=world.target_table,
            segments=1,
            recheck_delay=0.2,
            repair=True,
            progress=False,
        ),
        settings=Settings.from_env(),
        control=world.control,
    )
    assert result.extra == 0 and result.lagging >= 1
    assert not any(a["action"] == "tombstone" for a in result.repair_actions)
    replica.resume()
    item = _item(world, key)
    assert item is not None and not is_tombstone(item) and item["body"] == {"S": "new"}


def _store_full_run(world: World, started_at: str, **counts: int) -> None:
    from ops.verify import VerifyResult
    from ops.verify.checkpoint import CheckpointStore

    result = VerifyResult(
        run_id=f"run-{started_at}",
        dataset="answers",
        table="answers",
        started_at=started_at,
        finished_at=started_at,
        rows_compared=10,
        matching=10,
        segments_planned=1,
        segments_done=1,
        scan_segments_planned=1,
        scan_segments_done=1,
        source="replica",
        **counts,
    )
    store = CheckpointStore(world.control, "answers")
    store.begin(result.run_id, "fingerprint", [], {})
    assert store.finish(result.run_id, result)


def test_the_verify_gate_refuses_a_run_from_before_the_backfill_finished(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    from ops.migrate import adapters

    before = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    world.advance(Phase.BACKFILL)
    _store_full_run(world, before)
    gate = adapters.verify_gate(MigrateConfig.from_env(Settings.from_env()), world.control)
    failed = {c.name: c for c in gate.failed}
    assert list(failed) == ["started after the last change"]
    assert failed["started after the last change"].threshold.startswith("after ")
    _store_full_run(world, datetime.now(UTC).isoformat())
    assert adapters.verify_gate(MigrateConfig.from_env(Settings.from_env()), world.control).ok


def test_the_tombstone_ttl_must_outlive_the_migration(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.migrate import gates

    world.advance(Phase.VERIFY)
    assert gates.tombstone_ttl_check(
        MigrateConfig.from_env(Settings.from_env()), world.ledger
    ).ok  # 30 days default
    monkeypatch.setenv("OPS_TOMBSTONE_TTL_SECONDS", str(7 * 86400))  # shorter than the 14-day soak
    check = gates.tombstone_ttl_check(MigrateConfig.from_env(Settings.from_env()), world.ledger)
    assert not check.ok and "OPS_TOMBSTONE_TTL_SECONDS" in check.fix


def test_without_ssm_a_writer_follows_the_fence_or_stops(
    reading_dynamodb: tuple[World, dict[str, Any]],
) -> None:
    """SSM unreachable past the cache TTL: a PostgreSQL writer takes the mode from the fence row
    (rewritten with every change); once the fence says `dynamodb`, there is nothing it may write
    under, and it fails closed."""
    from ops.flags import FlagUnavailable

    world, key = reading_dynamodb
    ssm = RefusingClient(aws.client("ssm"), "get_parameter", "InternalServerError", down=False)
    repo = _app(world, ttl=0, ssm=ssm)
    try:
        repo.modes.state()
        ssm.down = True
        repo.update(key, {"body": "written while SSM was down"})
        _written_to_both(world, key, "written while SSM was down")
        assert repo.metrics.count("FlagReadFromFence") == 1
        fenced.stop_postgres_writes(MigrateConfig.from_env(Settings.from_env()), "test")
        with pytest.raises(FlagUnavailable, match="refusing to write"):
            repo.update(key, {"body": "must not be written"})
        assert _item(world, key)["body"] == {"S": "written while SSM was down"}  # type: ignore[index]
    finally:
        repo.close()
