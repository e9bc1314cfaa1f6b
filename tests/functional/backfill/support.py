"""Seeding and comparison helpers for the backfill tests on the real stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ops import aws
from ops.backfill.options import BackfillOptions
from ops.control import ControlTable
from ops.mapping import TableMapping, configure_connection

COUPLES = 40
QUESTIONS = 50


def seed(conninfo: str, answers: int, body_chars: int = 64) -> None:
    """Couples, users, questions and `answers` answer rows (ids 1..answers)."""
    assert answers <= 2 * COUPLES * QUESTIONS
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO couples (name) SELECT 'couple ' || g FROM generate_series(1, %s) g", (COUPLES,)
        )
        conn.execute(
            "INSERT INTO users (couple_id, external_id, display_name) "
            "SELECT (g + 1) / 2, gen_random_uuid(), 'user ' || g FROM generate_series(1, %s) g",
            (2 * COUPLES,),
        )
        conn.execute(
            "INSERT INTO questions (body, category) "
            "SELECT 'question ' || g, 'daily' FROM generate_series(1, %s) g",
            (QUESTIONS,),
        )
        conn.execute(
            """
            INSERT INTO answers (id, couple_id, question_id, user_id, body, mood, score, photo_urls, metadata)
            SELECT g,
                   (g - 1) %% %(c)s + 1,
                   ((g - 1) / (2 * %(c)s)) %% %(q)s + 1,
                   2 * ((g - 1) %% %(c)s + 1) - 1 + ((g - 1) / %(c)s) %% 2,
                   left(repeat(md5(g::text), %(rep)s), %(chars)s),
                   (g %% 5)::smallint,
                   g * 1.5,
                   ARRAY['https://img.example/' || g || '.jpg'],
                   jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'))
            FROM generate_series(1, %(n)s) g
            """,
            {"c": COUPLES, "q": QUESTIONS, "n": answers, "rep": body_chars // 32 + 1, "chars": body_chars},
        )


@dataclass
class Env:
    source_url: str
    target_table: str
    control_table: str
    control: ControlTable
    tm: TableMapping

    def options(self, **kwargs: Any) -> BackfillOptions:
        base: dict[str, Any] = {
            "source_url": self.source_url,
            "table": "answers",
            "target_table": self.target_table,
            "control_table": self.control_table,
            "run_id": "answers",
            "segments": 4,
            "concurrency": 16,
            "page_rows": 50,
            "metrics": False,
        }
        base.update(kwargs)
        return BackfillOptions(**base)

    def rows(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.source_url, row_factory=dict_row) as conn:
            configure_connection(conn)
            cols = ", ".join(self.tm.columns)
            return list(conn.execute(f"SELECT {cols} FROM answers ORDER BY id").fetchall())

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        client = aws.client("dynamodb")
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for page in client.get_paginator("scan").paginate(TableName=self.target_table, ConsistentRead=True):
            for item in page["Items"]:
                out[(item["pk"]["S"], item["sk"]["S"])] = item
        return out

    def assert_copy_equals_source(self, skip: set[tuple[str, str]] | None = None) -> None:
        items = self.items()
        rows = self.rows()
        assert len(items) == len(rows)
        for row in rows:
            expected = self.tm.encode(row)
            key = (expected["pk"]["S"], expected["sk"]["S"])
            if skip and key in skip:
                continue
            assert key in items, f"row {row['id']} missing in DynamoDB"
            assert self.tm.diff(expected, items[key]) == {}, f"row {row['id']} differs"
