"""The codec, control table and schema against the real parts: PostgreSQL 15 and DynamoDB Local."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from ops import aws
from ops.control import ConditionFailed, ControlTable
from ops.mapping import RowError, configure_connection, is_tombstone, load_mapping
from ops.schema import applied_versions, apply_migrations, migration_files
from ops.tables import ensure_target_table

pytestmark = pytest.mark.stack


@pytest.fixture
def ddb(stack: Any) -> Any:
    return aws.client("dynamodb")


@pytest.fixture
def target(ddb: Any, unique_name: str) -> Iterator[str]:
    ensure_target_table(unique_name, ddb)
    yield unique_name
    ddb.delete_table(TableName=unique_name)


@pytest.fixture
def diary_db(prod_db: str) -> str:
    apply_migrations(prod_db)
    return prod_db


def test_migrations_are_idempotent_and_recorded(prod_db: str) -> None:
    shipped = [version for version, _ in migration_files()]
    assert shipped[0] == "0001_couple_diary" and shipped == sorted(shipped)
    assert apply_migrations(prod_db) == shipped
    assert apply_migrations(prod_db) == []
    assert applied_versions(prod_db) == shipped
    with psycopg.connect(prod_db) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {
        "couples",
        "users",
        "questions",
        "answers",
        "outbox",
        "migration_fence",
        "reverse_deletes",
        "schema_migrations",
    } <= tables


def _insert_answer(conn: psycopg.Connection[Any], **values: Any) -> dict[str, Any]:
    conn.execute("INSERT INTO couples (id, name) VALUES (1, 'a') ON CONFLICT DO NOTHING")
    conn.execute("INSERT INTO questions (id, body, category) VALUES (1, 'q', 'c') ON CONFLICT DO NOTHING")
    conn.execute(
        "INSERT INTO users (id, couple_id, external_id, display_name) VALUES (1, 1, %s, 'u') "
        "ON CONFLICT DO NOTHING",
        (uuid.uuid4(),),
    )
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    cur.execute(
        f"INSERT INTO answers (couple_id, question_id, user_id, {cols}) "
        f"VALUES (1, 1, 1, {marks}) RETURNING *",
        list(values.values()),
    )
    row = cur.fetchone()
    assert row is not None
    return row


def test_a_real_row_survives_dynamodb_local_unchanged(diary_db: str, ddb: Any, target: str) -> None:
    tm = load_mapping().table("answers")
    with psycopg.connect(diary_db) as conn:
        configure_connection(conn)
        row = _insert_answer(
            conn,
            body="héllo 👋 — 日本語",
            score=Decimal("12345678901234567890.123456789012345678"),
            photo_urls=["https://cdn/x.jpg", ""],
            metadata=psycopg.types.json.Jsonb(
                {"f": Decimal("0.30000000000000000000001"), "n": None, "l": [], "m": {}, "e": ""}
            ),
        )
    assert row["metadata"]["f"] == Decimal("0.30000000000000000000001")
    item = tm.encode(row)
    ddb.put_item(TableName=target, Item=item)
    stored = ddb.get_item(TableName=target, Key=tm.key(row), ConsistentRead=True)["Item"]
    assert tm.diff(item, stored) == {}
    assert tm.decode(stored) == row
    assert tm.item_size(stored) == tm.item_size(item)


def test_numeric_past_38_digits_from_postgres_is_a_row_error(diary_db: str) -> None:
    tm = load_mapping().table("answers")
    with psycopg.connect(diary_db) as conn:
        configure_connection(conn)
        row = _insert_answer(conn, body="x", score=Decimal("1" * 45))
    with pytest.raises(RowError) as err:
        tm.encode(row)
    assert err.value.key == {"id": row["id"]}


def test_dynamodb_rejects_what_the_codec_rejects(ddb: Any, target: str) -> None:
    # Why the codec refuses empty keys and empty JSON object keys: DynamoDB fails the whole write.
    with pytest.raises(ClientError):
        ddb.put_item(TableName=target, Item={"pk": {"S": ""}, "sk": {"S": "x"}})
    with pytest.raises(ClientError):
        ddb.put_item(
            TableName=target, Item={"pk": {"S": "a"}, "sk": {"S": "x"}, "m": {"M": {"": {"N": "1"}}}}
        )


def test_tombstone_blocks_attribute_not_exists_replay(ddb: Any, target: str) -> None:
    tm = load_mapping().table("answers")
    row = {"couple_id": 5, "question_id": 6, "user_id": 7}
    ddb.put_item(TableName=target, Item=tm.tombstone(row, 3, 2_000_000_000))
    with pytest.raises(ClientError) as err:
        ddb.put_item(
            TableName=target,
            Item={**tm.key(row), "body": {"S": "stale"}, "_ver": {"N": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert err.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert is_tombstone(ddb.get_item(TableName=target, Key=tm.key(row))["Item"])


def test_target_table_is_idempotent_with_ttl(ddb: Any, target: str) -> None:
    ensure_target_table(target, ddb)
    ttl = ddb.describe_time_to_live(TableName=target)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "_ttl"


def test_control_table_put_get_query_update_delete(ddb: Any, unique_name: str) -> None:
    control = ControlTable(unique_name, ddb)
    control.ensure()
    control.ensure()
    control.put("FLAG#answers", "CHANGE#1", {"from": "postgres", "to": "dual_write", "at": 1.5, "n": 3})
    control.put("FLAG#answers", "CHANGE#2", {"from": "dual_write", "to": "dual_write_shadow"})
    control.put("FLAG#other", "CHANGE#1", {"x": 1})
    assert control.get("FLAG#answers", "CHANGE#1") == {
        "pk": "FLAG#answers",
        "sk": "CHANGE#1",
        "from": "postgres",
        "to": "dual_write",
        "at": Decimal("1.5"),
        "n": 3,
    }
    assert [i["sk"] for i in control.query("FLAG#answers", "CHANGE#")] == ["CHANGE#1", "CHANGE#2"]
    with pytest.raises(ConditionFailed):
        control.put("FLAG#answers", "CHANGE#1", {"x": 1}, condition="attribute_not_exists(pk)")
    after = control.update("BACKFILL#r1", "SEG#0001", set_={"last_key": [10]}, add={"rows": 5})
    after = control.update("BACKFILL#r1", "SEG#0001", add={"rows": 7})
    assert after["rows"] == 12 and after["last_key"] == [10]
    with pytest.raises(ConditionFailed):
        control.update(
            "BACKFILL#r1",
            "SEG#0001",
            set_={"x": 1},
            condition="#r > :n",
            names={"#r": "rows"},
            values={":n": 100},
        )
    control.delete("FLAG#other", "CHANGE#1")
    assert control.get("FLAG#other", "CHANGE#1") is None
    for i in range(30):
        control.put("VERIFY#answers", f"RUN#{i:03d}", {"blob": "x" * 40_000})
    assert len(control.query("VERIFY#answers")) == 30  # more than one 1 MB page
    ddb.delete_table(TableName=unique_name)


def test_leases_are_exclusive_renewable_and_expire(ddb: Any, unique_name: str) -> None:
    control = ControlTable(unique_name, ddb)
    control.ensure()
    assert control.acquire_lease("backfill-seg-1", "host-a", 30)
    assert control.acquire_lease("backfill-seg-1", "host-a", 30)
    assert not control.acquire_lease("backfill-seg-1", "host-b", 30)
    assert control.renew_lease("backfill-seg-1", "host-a", 30)
    assert not control.renew_lease("backfill-seg-1", "host-b", 30)
    control.release_lease("backfill-seg-1", "host-b")
    assert not control.acquire_lease("backfill-seg-1", "host-b", 30)
    control.release_lease("backfill-seg-1", "host-a")
    assert control.acquire_lease("backfill-seg-1", "host-b", 0)
    # host-b's lease expired immediately (ttl 0): host-a may take it over.
    assert control.acquire_lease("backfill-seg-1", "host-a", 30)
    assert not control.renew_lease("backfill-seg-1", "host-b", 30)
    ddb.delete_table(TableName=unique_name)
