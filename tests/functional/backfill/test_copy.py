"""A full copy equals the source; re-runs, dual-write items and tombstones are left alone."""

from __future__ import annotations

from typing import Any

from ops import aws
from ops.backfill.engine import run_backfill
from ops.backfill.status import backfill_gate, backfill_summary
from tests.functional.backfill.support import Env, seed


def test_full_copy_equals_source_item_by_item(env: Env) -> None:
    seed(env.source_url, 600)
    result = run_backfill(env.options())
    assert result.counters.rows_read == 600
    assert result.counters.rows_written == 600
    assert result.counters.rows_present == 0
    assert result.segments_complete == 4
    env.assert_copy_equals_source()
    summary = backfill_summary(env.control, "answers")
    assert summary is not None
    assert (summary.segments_complete, summary.rows_written, summary.failures_outstanding) == (4, 600, 0)
    assert summary.finished_at is not None
    assert backfill_gate(env.control, "answers").ok


def test_dual_write_items_and_tombstones_are_not_overwritten(env: Env) -> None:
    seed(env.source_url, 200)
    rows = env.rows()
    client = aws.client("dynamodb")
    newer: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows[:30]:
        item = env.tm.encode({**row, "body": "written by dual-write", "version": row["version"] + 1000})
        client.put_item(TableName=env.target_table, Item=item)
        newer[(item["pk"]["S"], item["sk"]["S"])] = item
    for row in rows[30:40]:
        stone = env.tm.tombstone(row, row["version"] + 1000, 2_000_000_000)
        client.put_item(TableName=env.target_table, Item=stone)
        newer[(stone["pk"]["S"], stone["sk"]["S"])] = stone
    result = run_backfill(env.options())
    assert result.counters.rows_written == 160
    assert result.counters.rows_present == 40
    items = env.items()
    for key, item in newer.items():
        assert env.tm.diff(item, items[key]) == {}, f"{key} was overwritten by the backfill"
    env.assert_copy_equals_source(skip=set(newer))


def test_second_run_after_restart_counts_already_present(env: Env) -> None:
    seed(env.source_url, 120)
    run_backfill(env.options())
    again = run_backfill(env.options(restart=True))
    assert again.counters.rows_written == 0
    assert again.counters.rows_present == 120


def test_binary_columns_are_copied_exactly(env: Env) -> None:
    """bytea values travel base64-encoded in the JSON body and arrive as the same bytes."""
    import psycopg
    from psycopg.rows import dict_row

    from ops.mapping import configure_connection, load_mapping

    seed(env.source_url, 10)
    with psycopg.connect(env.source_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET avatar = decode(md5(id::text) || '00ff', 'hex') WHERE id % 2 = 0")
    result = run_backfill(env.options(table="users", run_id="users"))
    assert (result.counters.rows_written, result.counters.rows_failed) == (80, 0)
    tm = load_mapping().table("users")
    with psycopg.connect(env.source_url, row_factory=dict_row) as conn:
        configure_connection(conn)
        rows = conn.execute(f"SELECT {', '.join(tm.columns)} FROM users").fetchall()
    client = aws.client("dynamodb")
    with_avatar = 0
    for row in rows:
        expected = tm.encode(row)
        key = {"pk": expected["pk"], "sk": expected["sk"]}
        actual = client.get_item(TableName=env.target_table, Key=key, ConsistentRead=True)["Item"]
        assert tm.diff(expected, actual) == {}, f"user {row['id']} differs"
        if row["avatar"] is not None:
            with_avatar += 1
            assert actual["avatar"]["B"] == bytes(row["avatar"])
    assert with_avatar == 40
