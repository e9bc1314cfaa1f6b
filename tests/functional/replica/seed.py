"""Sample rows of the couple-diary domain, a small write load, and the answers read back from either store."""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ops import aws
from ops.mapping import configure_connection, load_mapping

AnswerKey = tuple[int, int, int]  # (couple_id, question_id, user_id)


def seed_domain(url: str, answers: int, *, couples: int = 10, questions: int = 20) -> None:
    """`couples` couples with two users each, `questions` questions and `answers` answers."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO couples (name) VALUES (%s)", [(f"couple {i}",) for i in range(couples)])
        couple_ids = [r[0] for r in cur.execute("SELECT id FROM couples ORDER BY id")]
        cur.executemany(
            "INSERT INTO users (couple_id, external_id, display_name) VALUES (%s, %s, %s)",
            [(c, uuid.uuid4(), f"user {c}-{k}") for c in couple_ids for k in range(2)],
        )
        cur.executemany(
            "INSERT INTO questions (body, category) VALUES (%s, %s)",
            [(f"question {i}?", "daily") for i in range(questions)],
        )
        users: dict[int, list[int]] = {c: [] for c in couple_ids}
        for user_id, couple_id in cur.execute("SELECT id, couple_id FROM users"):
            users[couple_id].append(user_id)
        question_ids = [r[0] for r in cur.execute("SELECT id FROM questions ORDER BY id")]
        rows = []
        rng = random.Random(7)
        combos = [(c, q, u) for c in couple_ids for q in question_ids for u in users[c]]
        rng.shuffle(combos)
        for n, (c, q, u) in enumerate(combos[:answers]):
            rows.append(
                (c, q, u, f"answer {n}", n % 5, Jsonb({"n": n, "tags": ["a", "b"]}), [f"https://x/{n}.jpg"])
            )
        cur.executemany(
            "INSERT INTO answers (couple_id, question_id, user_id, body, mood, metadata, photo_urls) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


class WriteLoad:
    """Updates, inserts and deletes of answers on one database, in a thread, until stopped."""

    def __init__(self, url: str, seed: int = 1) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.writes = 0
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WriteLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                while not self.stop_event.is_set():
                    self._one(conn)
                    self.writes += 1
                    self.stop_event.wait(0.005)
        except BaseException as exc:  # surfaced by the test through .errors
            self.errors.append(exc)

    def _one(self, conn: psycopg.Connection[Any]) -> None:
        roll = self.rng.random()
        if roll < 0.6:
            conn.execute(
                "UPDATE answers SET body = %s, mood = %s, updated_at = now(), "
                "version = nextval('answers_version_seq') "
                "WHERE id = (SELECT id FROM answers ORDER BY random() LIMIT 1)",
                (f"edited {self.rng.random()}", self.rng.randint(0, 4)),
            )
        elif roll < 0.85:
            conn.execute(
                "INSERT INTO answers (couple_id, question_id, user_id, body) "
                "SELECT u.couple_id, q.id, u.id, 'new' FROM users u CROSS JOIN questions q "
                "WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.couple_id = u.couple_id "
                "AND a.question_id = q.id AND a.user_id = u.id) ORDER BY random() LIMIT 1"
            )
        else:
            conn.execute("DELETE FROM answers WHERE id = (SELECT id FROM answers ORDER BY random() LIMIT 1)")


def answers_in_postgres(url: str) -> dict[AnswerKey, dict[str, Any]]:
    """Every row of `answers`, by its key."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        configure_connection(conn)
        rows = conn.execute("SELECT * FROM answers").fetchall()
    return {(r["couple_id"], r["question_id"], r["user_id"]): r for r in rows}


def answers_in_dynamodb(table: str) -> dict[AnswerKey, dict[str, Any]]:
    """Every live answer item of `table` (tombstones left out), decoded to its row, by its key."""
    answers = load_mapping().table("answers")
    out = {}
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item["sk"]["S"].startswith("ANSWER#") and not item.get("_deleted"):
                row = answers.decode(item)
                out[(row["couple_id"], row["question_id"], row["user_id"])] = row
    return out
