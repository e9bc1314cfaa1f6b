"""The dual-write layer against real PostgreSQL, DynamoDB Local and moto's CloudWatch."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ops import aws
from ops.control import ControlTable
from ops.dualwrite import (
    Metrics,
    Repository,
    conditional_put,
    drain_outbox,
    make_pool,
    outbox_remaining,
    pending_outbox,
)
from ops.dualwrite.shadow_log import ShadowLog, ShadowWindow, read_window
from ops.flags import FixedMode, Mode
from ops.mapping import is_tombstone, load_mapping
from ops.schema import apply_migrations
from ops.settings import Settings
from ops.tables import ensure_pk_sk_table, ensure_target_table

pytestmark = pytest.mark.stack

ANSWERS = load_mapping().table("answers")
COUPLES = 3
QUESTIONS = 40


@pytest.fixture(scope="module")
def diary(stack: Any) -> Iterator[ConnectionPool]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.prod_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = stack.prod_url.rsplit("/", 1)[0] + f"/{name}"
    apply_migrations(url)
    with psycopg.connect(url) as conn:
        for c in range(1, COUPLES + 1):
            conn.execute("INSERT INTO couples (id, name) VALUES (%s, %s)", (c, f"couple {c}"))
            for u in (2 * c - 1, 2 * c):
                conn.execute(
                    "INSERT INTO users (id, couple_id, external_id, display_name) VALUES (%s, %s, %s, %s)",
                    (u, c, uuid.uuid4(), f"user {u}"),
                )
        for qid in range(1, QUESTIONS + 1):
            conn.execute(
                "INSERT INTO questions (id, body, category) VALUES (%s, %s, 'daily')", (qid, f"q{qid}")
            )
    pool = make_pool(url, max_size=10)
    yield pool
    pool.close()


@pytest.fixture
def target(stack: Any, unique_name: str) -> Iterator[str]:
    ddb = aws.client("dynamodb")
    ensure_target_table(unique_name, ddb)
    yield unique_name
    ddb.delete_table(TableName=unique_name)


@pytest.fixture
def clean(diary: ConnectionPool) -> ConnectionPool:
    with diary.connection() as conn:
        conn.execute("TRUNCATE answers, outbox")
    return diary


def repo(pool: ConnectionPool, target: str, mode: Mode, **kwargs: Any) -> Repository:
    return Repository(
        ANSWERS,
        pool,
        target_table=target,
        settings=Settings.from_env(),
        modes=FixedMode(mode),
        metrics=Metrics("PlatformOps/Test", enabled=False),
        **kwargs,
    )


def key(couple: int, question: int, user: int | None = None) -> dict[str, int]:
    return {
        "couple_id": couple,
        "question_id": question,
        "user_id": user if user is not None else 2 * couple - 1,
    }


def new_answer(k: dict[str, int], body: str = "첫 답변 ✨") -> dict[str, Any]:
    return {
        **k,
        "body": body,
        "mood": 3,
        "score": Decimal("4.25"),
        "photo_urls": ["https://x/1.jpg"],
        "metadata": {"device": "ios", "w": Decimal("0.1")},
    }


def pg_row(pool: ConnectionPool, k: dict[str, int]) -> dict[str, Any] | None:
    with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        cur.execute(
            "SELECT * FROM answers WHERE couple_id = %s AND question_id = %s AND user_id = %s",
            (k["couple_id"], k["question_id"], k["user_id"]),
        )
        return cur.fetchone()


def ddb_item(target: str, k: dict[str, int]) -> dict[str, Any] | None:
    got = aws.client("dynamodb").get_item(TableName=target, Key=ANSWERS.key(k), ConsistentRead=True)
    item: dict[str, Any] | None = got.get("Item")
    return item


def assert_sides_equal(pool: ConnectionPool, target: str, keys: list[dict[str, int]]) -> None:
    for k in keys:
        row, item = pg_row(pool, k), ddb_item(target, k)
        if row is None:
            assert item is None or is_tombstone(item), (k, item)
        else:
            assert item is not None and not is_tombstone(item), (k, row)
            assert ANSWERS.diff(ANSWERS.encode(row), item) == {}, k


def tamper(target: str, k: dict[str, int], body: str) -> None:
    aws.client("dynamodb").update_item(
        TableName=target,
        Key=ANSWERS.key(k),
        UpdateExpression="SET body = :b",
        ExpressionAttributeValues={":b": {"S": body}},
    )


# ---------------------------------------------------------------- routing per mode


def test_postgres_mode_touches_only_postgres(clean: ConnectionPool, target: str) -> None:
    r = repo(clean, target, Mode.POSTGRES)
    k = key(1, 1)
    r.create(new_answer(k))
    r.update(k, {"body": "edited"})
    assert r.get(k)["body"] == "edited"  # type: ignore[index]
    assert ddb_item(target, k) is None
    assert pending_outbox(clean) == 0


def test_dual_write_writes_both_and_reads_postgres(clean: ConnectionPool, target: str) -> None:
    r = repo(clean, target, Mode.DUAL_WRITE)
    k = key(1, 2)
    created = r.create(new_answer(k))
    assert ANSWERS.diff(ANSWERS.encode(created), ddb_item(target, k)) == {}
    updated = r.update(k, {"body": "second", "photo_urls": []})
    assert updated["version"] > created["version"]
    assert_sides_equal(clean, target, [k])
    assert pending_outbox(clean) == 0
    tamper(target, k, "only in dynamodb")
    assert r.get(k)["body"] == "second"  # type: ignore[index]
    assert [a["question_id"] for a in r.query(couple_id=1)] == [2]
    assert r.metrics.count("ShadowCompared") == 0
    assert r.delete(k)
    assert is_tombstone(ddb_item(target, k))
    assert r.get(k) is None


@pytest.fixture
def control(stack: Any, unique_name: str) -> Iterator[ControlTable]:
    ddb = aws.client("dynamodb")
    ensure_pk_sk_table(f"ctl-{unique_name}", ddb)
    yield ControlTable(f"ctl-{unique_name}", ddb)
    ddb.delete_table(TableName=f"ctl-{unique_name}")


def shadow_repo(
    pool: ConnectionPool, target: str, control: ControlTable, recheck: float = 0.2, **kwargs: Any
) -> Repository:
    metrics = Metrics("PlatformOps/Test", enabled=False)
    return Repository(
        ANSWERS,
        pool,
        target_table=target,
        settings=Settings.from_env(),
        modes=FixedMode(Mode.DUAL_WRITE_SHADOW),
        metrics=metrics,
        shadow_recheck_seconds=recheck,
        shadow_log=ShadowLog("answers", control, metrics=metrics, interval_seconds=3600),
        **kwargs,
    )


def recorded(control: ControlTable) -> ShadowWindow:
    return read_window(control, "answers", time.time() - 600)


def test_shadow_mode_compares_records_and_never_changes_the_answer(
    clean: ConnectionPool, target: str, control: ControlTable
) -> None:
    r = shadow_repo(clean, target, control)
    k1, k2 = key(2, 1), key(2, 2)
    r.create(new_answer(k1))
    r.create(new_answer(k2))
    assert r.get(k1)["body"] == "첫 답변 ✨"  # type: ignore[index]
    assert len(r.query(couple_id=2)) == 2
    assert r.metrics.count("ShadowCompared") == 2
    tamper(target, k1, "drifted")  # same version, other values: no write can explain it
    assert r.get(k1)["body"] == "첫 답변 ✨"  # type: ignore[index]
    r.settle()
    assert r.metrics.count("ShadowMismatches") == 1
    (mismatch,) = recorded(control).mismatches
    assert mismatch["key"] == k1
    assert mismatch["item"] == "COUPLE#2/ANSWER#1#3"
    assert mismatch["diff"]["body"] == ["첫 답변 ✨", "drifted"]
    assert "values differ" in mismatch["reason"]
    assert mismatch["postgres_version"] == mismatch["dynamodb_version"]
    seen = recorded(control)
    assert (seen.compared, seen.mismatch_count, seen.not_copied) == (3, 1, 0)
    r.close()


def test_a_row_without_an_item_is_not_copied_yet_not_a_mismatch(
    clean: ConnectionPool, target: str, control: ControlTable
) -> None:
    # A row the backfill has not reached: no item at all, and no write of it in the outbox.
    r = shadow_repo(clean, target, control)
    k = key(2, 3)
    r.create(new_answer(k))
    aws.client("dynamodb").delete_item(TableName=target, Key=ANSWERS.key(k))
    assert len(r.query(couple_id=2)) == 1
    r.settle()
    assert r.metrics.count("ShadowNotCopied") == 1
    assert r.metrics.count("ShadowMismatches") == 0
    seen = recorded(control)
    assert (seen.not_copied, seen.mismatch_count) == (1, 0)
    assert seen.not_copied_keys() == [k]
    r.close()


def test_dynamodb_behind_with_the_write_in_the_outbox_is_read_again_until_it_lands(
    clean: ConnectionPool, target: str, control: ControlTable
) -> None:
    r = shadow_repo(clean, target, control, recheck=0.3, auto_drain=False)
    k = key(3, 2)
    r.create(new_answer(k))
    # The update reaches PostgreSQL and the outbox; its DynamoDB put fails (DynamoDB unreachable).
    down = repo(clean, target, Mode.DUAL_WRITE, dynamodb=unreachable_dynamodb(), auto_drain=False)
    down.update(k, {"body": "in flight"})
    assert pending_outbox(clean) == 1
    r.get(k)
    time.sleep(0.6)  # a re-check or two find it in the outbox; then the drainer delivers it
    drain_outbox(load_mapping(), clean, aws.client("dynamodb"), target, min_age_seconds=0)
    r.settle()
    assert r.metrics.count("ShadowMismatches") == 0
    assert r.metrics.count("ShadowTransient") == 1
    assert recorded(control).mismatch_count == 0
    r.close()


def test_a_write_still_in_the_outbox_after_every_re_read_counts_in_flight_not_mismatched(
    clean: ConnectionPool, target: str, control: ControlTable
) -> None:
    r = shadow_repo(clean, target, control, recheck=0.05, auto_drain=False)
    down = repo(clean, target, Mode.DUAL_WRITE, dynamodb=unreachable_dynamodb(), auto_drain=False)
    k = key(3, 3)
    down.create(new_answer(k))
    r.get(k)
    r.settle()
    assert (r.metrics.count("ShadowInFlight"), r.metrics.count("ShadowMismatches")) == (1, 0)
    assert r.metrics.count("ShadowNotCopied") == 0
    r.close()


def test_dynamodb_behind_with_no_write_in_flight_is_a_mismatch(
    clean: ConnectionPool, target: str, control: ControlTable
) -> None:
    # A row changed while the flag was back on `postgres`: PostgreSQL moved on, nothing will ever
    # bring the item up to date (the backfill never overwrites an item).
    r = shadow_repo(clean, target, control)
    k = key(3, 4)
    r.create(new_answer(k))
    repo(clean, target, Mode.POSTGRES).update(k, {"body": "written in postgres mode"})
    r.get(k)
    r.settle()
    (mismatch,) = recorded(control).mismatches
    assert "no write in flight" in mismatch["reason"]
    assert mismatch["postgres_version"] > mismatch["dynamodb_version"]
    assert mismatch["diff"]["body"] == ["written in postgres mode", "첫 답변 ✨"]
    r.close()


def test_shadow_difference_gone_by_the_recheck_is_transient_not_a_mismatch(
    clean: ConnectionPool, target: str, control: ControlTable
) -> None:
    # A write in flight between the PostgreSQL read and the DynamoDB read looks like a difference
    # for a moment; the re-check reads both sides again and only a lasting difference counts.
    r = shadow_repo(clean, target, control, recheck=1.0)
    k = key(3, 1)
    r.create(new_answer(k))
    good = aws.client("dynamodb").get_item(TableName=target, Key=ANSWERS.key(k))["Item"]
    tamper(target, k, "in flight")
    r.get(k)
    aws.client("dynamodb").put_item(TableName=target, Item=good)
    r.settle()
    assert r.metrics.count("ShadowSuspects") == 1
    assert r.metrics.count("ShadowTransient") == 1
    assert r.metrics.count("ShadowMismatches") == 0
    assert recorded(control).transient == 1
    r.close()


def test_shadow_mode_survives_dynamodb_errors(
    clean: ConnectionPool, target: str, control: ControlTable
) -> None:
    r = shadow_repo(clean, target, control, dynamodb=unreachable_dynamodb())
    k = key(1, 3)
    r.create(new_answer(k))
    assert r.get(k)["body"] == "첫 답변 ✨"  # type: ignore[index]
    assert r.metrics.count("ShadowErrors") == 1
    r.settle()
    assert recorded(control).errors == 1


def test_read_dynamodb_mode_reads_dynamodb_and_writes_both(clean: ConnectionPool, target: str) -> None:
    r = repo(clean, target, Mode.DUAL_WRITE_READ_DYNAMODB)
    k = key(3, 1, 6)
    created = r.create(new_answer(k))
    assert r.get(k) == created
    tamper(target, k, "dynamodb's copy")
    assert r.get(k)["body"] == "dynamodb's copy"  # type: ignore[index]
    r.update(k, {"mood": None})
    assert pg_row(clean, k)["mood"] is None  # type: ignore[index]
    assert r.query(couple_id=3)[0]["mood"] is None
    r.delete(k)
    assert pg_row(clean, k) is None
    assert r.get(k) is None
    assert r.query(couple_id=3) == []


def test_dynamodb_mode_leaves_postgres_alone(clean: ConnectionPool, target: str) -> None:
    r = repo(clean, target, Mode.DYNAMODB)
    k = key(1, 4)
    created = r.create(new_answer(k))
    assert pg_row(clean, k) is None
    assert r.get(k)["body"] == created["body"]  # type: ignore[index]
    updated = r.update(k, {"body": "ddb only"})
    assert updated["version"] == created["version"] + 1
    assert r.get(k)["body"] == "ddb only"  # type: ignore[index]
    assert r.delete(k)
    assert r.get(k) is None
    again = r.create(new_answer(k, "re-created"))
    assert again["version"] > updated["version"]
    assert r.get(k)["body"] == "re-created"  # type: ignore[index]
    assert pg_row(clean, k) is None
    assert pending_outbox(clean) == 0


# ---------------------------------------------------------------- ordering and versions


class SlowFirstPut:
    """A DynamoDB client whose first put waits until released: PG order != DynamoDB order."""

    def __init__(self, release: threading.Event) -> None:
        self._real = aws.client("dynamodb")
        self._release = release
        self._first = True
        self._lock = threading.Lock()

    def put_item(self, **kwargs: Any) -> Any:
        with self._lock:
            first, self._first = self._first, False
        if first:
            self._release.wait(10)
        return self._real.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_older_write_arriving_last_does_not_replace_newer(clean: ConnectionPool, target: str) -> None:
    repo(clean, target, Mode.DUAL_WRITE).create(new_answer(key(1, 5)))
    release = threading.Event()
    slow = repo(clean, target, Mode.DUAL_WRITE, dynamodb=SlowFirstPut(release))
    fast = repo(clean, target, Mode.DUAL_WRITE)
    k = key(1, 5)
    first = threading.Thread(target=lambda: slow.update(k, {"body": "older"}))
    first.start()
    deadline = time.time() + 10
    while pg_row(clean, k)["body"] != "older" and time.time() < deadline:  # type: ignore[index]
        time.sleep(0.01)
    fast.update(k, {"body": "newer"})
    release.set()
    first.join()
    assert ddb_item(target, k)["body"] == {"S": "newer"}  # type: ignore[index]
    assert slow.metrics.count("DynamoStaleSkips") == 1
    assert_sides_equal(clean, target, [k])
    assert pending_outbox(clean) == 0


def test_two_writers_in_opposite_orders_never_leave_dynamodb_older(
    clean: ConnectionPool, target: str
) -> None:
    keys = [key(2, q, u) for q in (10, 11) for u in (3, 4)]
    setup = repo(clean, target, Mode.DUAL_WRITE)
    for k in keys:
        setup.create(new_answer(k))
    errors: list[BaseException] = []

    def writer(name: str, order: list[dict[str, int]]) -> None:
        r = repo(clean, target, Mode.DUAL_WRITE)
        try:
            for i in range(15):
                for k in order:
                    r.update(k, {"body": f"{name}-{i}", "metadata": {"writer": name, "i": i}})
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=("a", keys)),
        threading.Thread(target=writer, args=("b", list(reversed(keys)))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_sides_equal(clean, target, keys)
    assert pending_outbox(clean) == 0


# ---------------------------------------------------------------- deletes and tombstones


def test_deleted_row_is_not_resurrected_by_a_stale_replay(clean: ConnectionPool, target: str) -> None:
    r = repo(clean, target, Mode.DUAL_WRITE)
    k = key(3, 7, 5)
    stale_row = r.create(new_answer(k))
    stale_item = ANSWERS.encode(stale_row)
    r.update(k, {"body": "newer"})
    assert r.delete(k)
    ddb = aws.client("dynamodb")
    with pytest.raises(ClientError) as err:
        # The backfill's write of a lagging replica's copy.
        ddb.put_item(TableName=target, Item=stale_item, ConditionExpression="attribute_not_exists(pk)")
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    # The dual-write/repair path with an old version is refused too.
    assert conditional_put(ddb, target, stale_item) is False
    stone = ddb_item(target, k)
    assert is_tombstone(stone)
    assert int(stone["_ttl"]["N"]) > time.time() + 24 * 3600  # type: ignore[index]
    assert repo(clean, target, Mode.DUAL_WRITE_READ_DYNAMODB).get(k) is None
    # Re-creating the same key later wins over the tombstone: versions keep increasing per key.
    again = r.create(new_answer(k, "second life"))
    assert int(stone["_ver"]["N"]) < again["version"]  # type: ignore[index]
    assert ddb_item(target, k)["body"] == {"S": "second life"}  # type: ignore[index]


def test_row_dynamodb_cannot_hold_stays_in_outbox_with_reason(clean: ConnectionPool, target: str) -> None:
    r = repo(clean, target, Mode.DUAL_WRITE)
    k = key(1, 8)
    created = r.create({**new_answer(k), "score": Decimal("1" * 45)})
    assert pg_row(clean, k)["id"] == created["id"]  # type: ignore[index]
    assert r.metrics.count("DynamoRowErrors") == 1
    with clean.connection() as conn:
        reason = conn.execute("SELECT last_error FROM outbox").fetchone()
    assert reason is not None and "45 significant digits" in reason[0]


# ---------------------------------------------------------------- outage and repair


def unreachable_dynamodb() -> Any:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return boto3.session.Session(region_name="us-east-1").client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=0.5, read_timeout=1),
    )


def test_outage_window_outbox_holds_repair_drains_nothing_lost(clean: ConnectionPool, target: str) -> None:
    healthy = repo(clean, target, Mode.DUAL_WRITE)
    before = [key(1, q) for q in range(20, 26)]
    for k in before:
        healthy.create(new_answer(k))
    down = repo(clean, target, Mode.DUAL_WRITE, dynamodb=unreachable_dynamodb())
    during = [key(2, q) for q in range(20, 30)]
    for k in during:
        down.create(new_answer(k, "written while DynamoDB was down"))
    for k in before[:3]:
        down.update(k, {"body": "updated while down"})
    for k in before[3:5] + during[:2]:
        assert down.delete(k)
    down.update(during[5], {"mood": 1})
    assert down.metrics.count("DynamoWriteFailures") == 10 + 3 + 4 + 1
    assert pending_outbox(clean) == 18
    touched = before + during
    with pytest.raises(AssertionError):
        assert_sides_equal(clean, target, touched)

    seen: list[int] = []
    result = drain_outbox(
        load_mapping(), clean, aws.client("dynamodb"), target, batch_size=5, progress=seen.append
    )
    assert result.remaining == 0
    assert result.failed == 0
    assert result.drained == 18
    assert sum(seen) == 18
    assert result.tombstones >= 4  # a key split across batches may get one per batch
    assert_sides_equal(clean, target, touched)
    assert healthy.get(during[0]) is None
    assert repo(clean, target, Mode.DUAL_WRITE_READ_DYNAMODB).get(during[5])["mood"] == 1  # type: ignore[index]


def test_repair_while_dynamodb_is_still_down_keeps_everything(clean: ConnectionPool, target: str) -> None:
    down = repo(clean, target, Mode.DUAL_WRITE, dynamodb=unreachable_dynamodb())
    down.create(new_answer(key(3, 30, 5)))
    result = drain_outbox(load_mapping(), clean, unreachable_dynamodb(), target)
    assert result.failed == 1 and result.remaining == 1
    with clean.connection() as conn:
        attempts = conn.execute("SELECT attempts FROM outbox").fetchone()
    assert attempts is not None and attempts[0] == 2
    assert drain_outbox(load_mapping(), clean, aws.client("dynamodb"), target).remaining == 0
    assert_sides_equal(clean, target, [key(3, 30, 5)])


def test_a_write_the_app_is_delivering_right_now_is_in_flight_not_remaining(
    clean: ConnectionPool, target: str
) -> None:
    """Under live traffic an operator's `ops repair outbox` ends with an application's fresh
    outbox row pending (committed after its last claim): in flight, not a failure. Once old, or
    once a drain has tried it, it remains."""
    pending = repo(clean, target, Mode.DUAL_WRITE, dynamodb=unreachable_dynamodb(), auto_drain=False)
    pending.create(new_answer(key(3, 32, 5)))
    # The application's put failed and marked the row; before it returned the row looked like this.
    assert outbox_remaining(clean, "answers", in_flight_seconds=10) == (1, 0)
    with clean.connection() as conn:
        conn.execute("UPDATE outbox SET attempts = 0, last_error = NULL")
    assert outbox_remaining(clean, "answers", in_flight_seconds=10) == (0, 1)
    assert outbox_remaining(clean, "answers", in_flight_seconds=0) == (1, 0)
    with clean.connection() as conn:
        conn.execute("UPDATE outbox SET created_at = now() - interval '11 seconds'")
    assert outbox_remaining(clean, "answers", in_flight_seconds=10) == (1, 0)
    with clean.connection() as conn:
        conn.execute("UPDATE outbox SET created_at = now(), attempts = 1, last_error = 'throttled'")
    assert outbox_remaining(clean, "answers", in_flight_seconds=10) == (1, 0)
    # A pass that fails to deliver a young row reports it remaining (it tried it), not in flight.
    with clean.connection() as conn:
        conn.execute("UPDATE outbox SET attempts = 0, last_error = NULL")
    failed = drain_outbox(load_mapping(), clean, unreachable_dynamodb(), target, in_flight_seconds=10)
    assert failed.failed == 1 and (failed.remaining, failed.in_flight) == (1, 0)
    drained = drain_outbox(load_mapping(), clean, aws.client("dynamodb"), target, in_flight_seconds=10)
    assert (drained.remaining, drained.in_flight) == (0, 0)
    assert_sides_equal(clean, target, [key(3, 32, 5)])


def test_the_drainer_leaves_the_outbox_alone_once_dynamodb_is_the_source(
    clean: ConnectionPool, target: str
) -> None:
    down = repo(clean, target, Mode.DUAL_WRITE, dynamodb=unreachable_dynamodb(), auto_drain=False)
    down.create(new_answer(key(3, 31, 5)))
    assert pending_outbox(clean) == 1
    source = repo(clean, target, Mode.DYNAMODB, drain_interval_seconds=0.1)
    time.sleep(1.0)
    assert source.drainer is not None and source.drainer.passes == 0
    assert pending_outbox(clean) == 1
    source.close()
    writing = repo(clean, target, Mode.DUAL_WRITE_SHADOW, drain_interval_seconds=0.1)
    deadline = time.monotonic() + 15
    while pending_outbox(clean) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pending_outbox(clean) == 0
    writing.close()
