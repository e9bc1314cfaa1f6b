"""Reverse replication against real PostgreSQL and DynamoDB Local's stream: every change made in
`dynamodb` mode reaches PostgreSQL, in order, exactly once in effect — records delivered again,
late, or after a newer one change nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from ops import aws
from ops.aws import streams_client
from ops.control import ControlTable
from ops.dualwrite import Metrics, Repository
from ops.flags import FixedMode, Mode
from ops.mapping import load_mapping
from ops.reverse import Change, ReverseApplier, ReverseState
from ops.reverse.control import make_pool
from ops.reverse.poller import StreamPoller, start_positions, stream_arn
from ops.schema import apply_migrations
from ops.settings import Settings
from ops.tables import ensure_pk_sk_table, ensure_target_table
from tests.functional.replica.seed import AnswerKey, answers_in_dynamodb, answers_in_postgres, seed_domain

pytestmark = pytest.mark.stack

ANSWERS = load_mapping().table("answers")
NOW = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)


class World:
    def __init__(self, url: str, target: str, control: ControlTable) -> None:
        self.url, self.target, self.control = url, target, control
        self.pool = make_pool(url)
        self.applier = ReverseApplier(load_mapping(), self.pool)

    def rows(self) -> dict[AnswerKey, dict[str, Any]]:
        return answers_in_postgres(self.url)

    def items(self) -> dict[AnswerKey, dict[str, Any]]:
        return answers_in_dynamodb(self.target)


@pytest.fixture
def world(stack: Any, prod_db: str, unique_name: str) -> Iterator[World]:
    apply_migrations(prod_db)
    seed_domain(prod_db, 0, couples=3, questions=6)
    ensure_target_table(unique_name)
    control = ControlTable(f"{unique_name}-ctl")
    ensure_pk_sk_table(control.name)
    w = World(prod_db, unique_name, control)
    yield w
    w.pool.close()
    for table in (unique_name, control.name):
        aws.client("dynamodb").delete_table(TableName=table)


def _item(couple: int, question: int, user: int, version: int, body: str, **extra: Any) -> dict[str, Any]:
    row = dict.fromkeys(ANSWERS.columns)
    row.update(
        id=1_000_000 + couple * 100 + question * 10 + user,
        couple_id=couple,
        question_id=question,
        user_id=user,
        body=body,
        photo_urls=[],
        version=version,
        created_at=NOW,
        updated_at=NOW,
        **extra,
    )
    return ANSWERS.encode(row)


def _change(item: dict[str, Any], seq: int) -> Change:
    return Change(str(seq), "MODIFY", item)


def test_the_writer_applies_only_newer_versions_and_remembers_deletes(world: World) -> None:
    user = 1
    couple = 1
    v1 = _item(couple, 1, user, 100, "first")
    v2 = _item(couple, 1, user, 200, "second")
    stone = ANSWERS.tombstone(v2, 300, 0)
    result = world.applier.apply([_change(v1, 1), _change(v2, 2)])
    assert (result.applied, result.failed) == (2, [])
    assert world.rows()[(couple, 1, user)]["body"] == "second"
    again = world.applier.apply([_change(v1, 1)])  # redelivered, older
    assert again.stale == 1 and world.rows()[(couple, 1, user)]["body"] == "second"
    assert world.applier.apply([_change(stone, 3)]).deleted == 1
    assert (couple, 1, user) not in world.rows()
    late = world.applier.apply([_change(v2, 2), _change(v1, 1)])  # a parent shard read late
    assert late.stale == 2 and (couple, 1, user) not in world.rows()
    reborn = _item(couple, 1, user, 400, "created again")
    assert world.applier.apply([_change(reborn, 4)]).applied == 1
    assert world.rows()[(couple, 1, user)]["body"] == "created again"


def test_a_key_recreated_under_a_new_id_replaces_the_old_row(world: World) -> None:
    old = _item(1, 2, 1, 100, "old id")
    world.applier.apply([_change(old, 1)])
    new = ANSWERS.encode({**ANSWERS.decode(old), "id": 9_999_999, "version": 150, "body": "new id"})
    assert world.applier.apply([_change(new, 2)]).applied == 1
    row = world.rows()[(1, 2, 1)]
    assert (row["id"], row["body"]) == (9_999_999, "new id")


def test_every_mapped_type_survives_the_way_back(world: World) -> None:
    from decimal import Decimal

    from ops.mapping.codec import JSON_NULL

    item = _item(
        2,
        3,
        3,
        100,
        "types",
        mood=4,
        score=Decimal("12345678901234567890.123456789"),
        metadata={"n": Decimal("1.5"), "tags": ["a", None, {"deep": True}]},
    )
    item["photoUrls"] = {"L": [{"S": "https://x/1.jpg"}, {"NULL": True}]}
    nulls = _item(2, 4, 3, 100, "", metadata=JSON_NULL)
    assert world.applier.apply([_change(item, 1), _change(nulls, 2)]).applied == 2
    rows = world.rows()
    for key, source in (((2, 3, 3), item), ((2, 4, 3), nulls)):
        assert ANSWERS.diff(ANSWERS.encode(rows[key]), source) == {}, key


def test_the_poller_applies_dynamodb_mode_traffic_and_resumes_after_a_restart(world: World) -> None:
    state = ReverseState(world.control, "answers")
    arn = stream_arn(aws.client("dynamodb"), world.target)
    streams = streams_client()
    start_positions(state, streams, arn)
    repo = Repository(
        ANSWERS,
        world.pool,
        target_table=world.target,
        settings=Settings.from_env(),
        modes=FixedMode(Mode.DYNAMODB, generation=5),
        metrics=Metrics("PlatformOps/Test", enabled=False),
        auto_drain=False,
    )
    users = {1: (1, 2), 2: (3, 4), 3: (5, 6)}
    created = 0
    for couple, pair in users.items():
        for question in range(1, 4):
            repo.create({"couple_id": couple, "question_id": question, "user_id": pair[0], "body": "new"})
            created += 1
    first = StreamPoller(state, world.applier, streams, arn)
    while not first.poll_once():
        pass
    assert len(world.rows()) == created
    # More changes while no poller runs; a new poller continues from the checkpoints.
    repo.update({"couple_id": 1, "question_id": 1, "user_id": 1}, {"body": "edited"})
    repo.delete({"couple_id": 2, "question_id": 2, "user_id": 3})
    second = StreamPoller(state, world.applier, streams, arn)
    restarted = time.time()
    stop = threading.Event()
    runner = threading.Thread(target=second.run, args=(stop.is_set,), kwargs={"idle_seconds": 0.05})
    runner.start()
    deadline = time.monotonic() + 30
    while (state.status().caught_up_at or 0) <= restarted and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    runner.join(10)
    rows = world.rows()
    assert rows[(1, 1, 1)]["body"] == "edited"
    assert (2, 2, 3) not in rows
    assert {k: r["body"] for k, r in rows.items()} == {k: r["body"] for k, r in world.items().items()}
    status = state.status()
    assert status.applied >= created + 1 and status.deleted == 1 and status.lag_seconds == 0


def test_a_failed_change_goes_to_the_failure_log_and_retry_failed_applies_it(world: World) -> None:
    """A change PostgreSQL refuses (here: its couple does not exist there yet) is logged with the
    reason, the stream moves on, and `retry-failed` applies the item once the cause is fixed."""
    from ops.reverse import control

    state = ReverseState(world.control, "answers")
    orphan = _item(77, 1, 1, 100, "for a couple PostgreSQL does not have yet")
    aws.client("dynamodb").put_item(TableName=world.target, Item=orphan)
    result = world.applier.apply([_change(orphan, 1)])
    assert len(result.failed) == 1 and "couple" in result.failed[0][1]
    state.record_failure(orphan["pk"]["S"], orphan["sk"]["S"], "answers", 100, result.failed[0][1])
    settings = Settings(
        **{
            **vars(Settings.from_env()),
            "control_table": world.control.name,
            "target_table": world.target,
            "prod_database_url": world.url,
        }
    )
    assert control.retry_failed(settings) == (0, 1)
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute("INSERT INTO couples (id, name) VALUES (77, 'late couple')")
        conn.execute("UPDATE users SET couple_id = 77 WHERE id = 1")
    assert control.retry_failed(settings) == (1, 0)
    assert state.failures() == []
    assert world.rows()[(77, 1, 1)]["body"] == "for a couple PostgreSQL does not have yet"
