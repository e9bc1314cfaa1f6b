"""Fill the couple-diary schema fast with realistic, skewed data through COPY.

Shape of the data: answer counts per couple follow a power law (a few couples have thousands of
answers, most have a handful), both partners answer the same questions, bodies are unicode
(Korean, Japanese, emoji, accents) and include empty strings, ~15% of moods/scores are NULL, a
third of the photo arrays are empty, metadata jsonb ranges from `null` to ~20 KB documents with
exact decimals. Everything is deterministic for a given `--seed`.

Speed: rows are formatted as COPY text from pre-escaped value pools (the per-row work is one
string join) and streamed in ~1 MB chunks while PostgreSQL ingests them. The generated rows are
consistent by construction, so when the session may (superuser) foreign-key triggers are skipped
with `session_replication_role = replica`; constraints and unique indexes still apply.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ops.exceptions import OpsError
from ops.schema import apply_migrations

Progress = Callable[[int], None]
CHUNK_BYTES = 1 << 20
_ANSWER_COLUMNS = (
    "id, couple_id, question_id, user_id, body, mood, score, photo_urls, metadata, created_at, updated_at, "
    "version"
)

_BODIES = [
    "오늘 하루도 고마웠어 ❤️",
    "今日は一緒に散歩できて嬉しかった",
    "We should plan the trip to Jeju 🏝️",
    "¿Recuerdas nuestra primera cita? Fue en otoño.",
    "",
    "Ça va mieux maintenant — merci d'avoir écouté.",
    "I love how you laugh at your own jokes 😂😂",
    "Line one\nline two with a tab\tand a backslash \\ inside",
    "짧게: 좋아",
    "Долгий день, но ты сделал его лучше.",
]


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@dataclass
class SeedResult:
    answers: int
    couples: int
    users: int
    questions: int
    seconds: float
    fk_triggers_skipped: bool

    @property
    def rows_per_second(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second)}


@dataclass(frozen=True)
class SeedPlan:
    rows: int
    couples: int
    questions: int
    counts: list[int]  # answers per couple, couple id = index + 1

    @classmethod
    def build(cls, rows: int, couples: int | None = None, seed: int = 42) -> SeedPlan:
        if rows < 1:
            raise OpsError("--rows must be at least 1")
        n_couples = couples or max(1, rows // 150)
        n_questions = max(200, min(5000, rows // 20))
        capacity = 2 * n_questions
        # Leave room: live traffic must still find unanswered questions to create answers for.
        if n_couples * capacity < 2 * rows:
            n_couples = -(-2 * rows // capacity)
        rng = random.Random(seed)  # noqa: S311 - reproducible demo data
        ranks = list(range(1, n_couples + 1))
        rng.shuffle(ranks)
        weights = [1.0 / r**1.1 for r in ranks]
        total = sum(weights)
        counts = [min(capacity, int(rows * w / total)) for w in weights]
        short = rows - sum(counts)
        i = 0
        while short > 0:
            if counts[i % n_couples] < capacity:
                counts[i % n_couples] += 1
                short -= 1
            i += 1
        return cls(rows, n_couples, n_questions, counts)


class _Pools:
    """Pre-escaped COPY fields, so a row is a join of ready strings."""

    def __init__(self, rng: random.Random) -> None:
        self.bodies = [_copy_text(b) for b in _BODIES]
        # About 1% of answers are long letters (up to ~8 KB of UTF-8).
        self.long_bodies = [_copy_text(("긴 이야기 " * rng.randint(50, 400)).strip()) for _ in range(6)]
        self.moods = ["\\N", "1", "2", "3", "4", "5", "3", "4"]
        self.scores = ["\\N", "0", "4.5", "3.14159265358979323846264338327950288", "-12.000001", "100"]
        self.photos = [
            "{}",
            "{}",
            "{}",
            "{https://cdn.example.com/p/1.jpg}",
            "{https://cdn.example.com/p/2.jpg,https://cdn.example.com/p/3.jpg}",
            '{""}',
        ]
        metas: list[Any] = [
            None,
            {},
            {"device": "ios", "app": "5.12.0", "lat": "37.5665", "w": 0.1},
            {
                "device": "android",
                "tags": ["날씨", "산책"],
                "rating": 4.25,
                "nested": {"a": [1, 2, {"b": None}]},
            },
            {
                "exact": "1.000000000000000000000000000000000001",
                "n": 1e-7,
                "big": 123456789012345678901234567890,
            },
        ]
        self.metadata = ["\\N" if m is None else _copy_text(json.dumps(m, ensure_ascii=False)) for m in metas]
        large = {"history": [{"i": i, "text": "❤" * 20, "v": i / 7} for i in range(400)]}
        self.large_metadata = _copy_text(json.dumps(large, ensure_ascii=False))
        base = datetime(2022, 1, 1, tzinfo=UTC)
        self.times = [
            (
                base
                + timedelta(seconds=rng.randint(0, 3 * 365 * 86400), microseconds=rng.randint(0, 999_999))
            ).isoformat(sep=" ")
            for _ in range(997)
        ]


def answer_chunks(plan: SeedPlan, seed: int, couples: range | None = None) -> Iterator[tuple[str, int]]:
    """COPY text for the answers of `couples` (couple indexes), in ~1 MB chunks with their row counts."""
    couples = couples if couples is not None else range(len(plan.counts))
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible demo data
    p = _Pools(rng)
    bodies, moods, scores, photos, metas, times = p.bodies, p.moods, p.scores, p.photos, p.metadata, p.times
    nb, nm, ns, np_, nmeta, nt = len(bodies), len(moods), len(scores), len(photos), len(metas), len(times)
    lines: list[str] = []
    size = 0
    row_id = sum(plan.counts[: couples.start]) + 1
    for couple_index in couples:
        count = plan.counts[couple_index]
        couple = couple_index + 1
        users = (str(2 * couple - 1), str(2 * couple))
        c = str(couple)
        for n in range(count):
            q = n // 2 + 1
            h = row_id * 2654435761
            meta = p.large_metadata if h % 5003 == 0 else metas[h % nmeta]
            body = p.long_bodies[h % 6] if h % 101 == 0 else bodies[h % nb]
            line = (
                f"{row_id}\t{c}\t{q}\t{users[n & 1]}\t{body}\t{moods[(h >> 3) % nm]}\t"
                f"{scores[(h >> 5) % ns]}\t{photos[(h >> 7) % np_]}\t{meta}\t{times[(h >> 9) % nt]}\t"
                f"{times[(h >> 11) % nt]}\t{row_id}\n"
            )
            lines.append(line)
            size += len(line)
            row_id += 1
            if size >= CHUNK_BYTES:
                yield "".join(lines), len(lines)
                lines, size = [], 0
    if lines:
        yield "".join(lines), len(lines)


def _copy(conn: psycopg.Connection[Any], table: str, columns: str, rows: list[str]) -> None:
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for start in range(0, len(rows), 10_000):
            copy.write("".join(rows[start : start + 10_000]))


def _reference_rows(plan: SeedPlan, seed: int) -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(seed + 2)  # noqa: S311 - reproducible demo data
    couples, users, questions = [], [], []
    for c in range(1, plan.couples + 1):
        anniversary = (
            "\\N" if c % 7 == 0 else (datetime(2015, 1, 1) + timedelta(days=rng.randint(0, 3000))).date()
        )
        couples.append(f"{c}\tcouple {c}\t{anniversary}\t{'premium' if c % 5 == 0 else 'free'}\t{c}\n")
        for u in (2 * c - 1, 2 * c):
            email = "\\N" if u % 9 == 0 else f"user{u}@example.com"
            avatar = "\\N" if u % 3 else "\\\\x" + rng.randbytes(16).hex()
            ext = uuid.UUID(int=rng.getrandbits(128), version=4)
            users.append(
                f"{u}\t{c}\t{ext}\t{_copy_text(rng.choice(['민지', 'Haruto', 'Ana', 'Léa', 'Sam']))}"
                f"\t{email}\t{avatar}\t{'t' if u % 11 else 'f'}\t{u}\n"
            )
    categories = ["daily", "memories", "future", "deep", "fun"]
    for qid in range(1, plan.questions + 1):
        publish = (datetime(2022, 1, 1) + timedelta(days=qid)).date()
        questions.append(
            f"{qid}\tQuestion #{qid}: 오늘 가장 좋았던 순간은?\t{categories[qid % 5]}\t"
            f"{rng.choice([0.5, 1.0, 1.5, 2.25])}\t{publish}\t{qid}\n"
        )
    return couples, users, questions


def split_couples(plan: SeedPlan, jobs: int) -> list[range]:
    """Contiguous couple ranges with about the same number of answers each."""
    per_job = plan.rows / jobs
    ranges: list[range] = []
    start, running = 0, 0
    for index, count in enumerate(plan.counts):
        running += count
        if running >= per_job * (len(ranges) + 1) and len(ranges) < jobs - 1:
            ranges.append(range(start, index + 1))
            start = index + 1
    ranges.append(range(start, len(plan.counts)))
    return [r for r in ranges if len(r)]


# Unique indexes of `answers` are built after the load (one sort beats a million inserts into a btree).
_ANSWER_INDEXES = {
    "answers_pkey": ("PRIMARY KEY", "id"),
    "answers_couple_question_user_key": ("UNIQUE", "couple_id, question_id, user_id"),
}


def _copy_answers(
    conninfo: str, plan: SeedPlan, seed: int, couples: range, *, skip_fk: bool, progress: Progress | None
) -> None:
    with psycopg.connect(conninfo) as conn:
        if skip_fk:
            conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy(f"COPY answers ({_ANSWER_COLUMNS}) FROM STDIN") as copy:
            for chunk, count in answer_chunks(plan, seed, couples):
                copy.write(chunk)
                if progress:
                    progress(count)


def _build_index(conninfo: str, name: str, columns: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON answers ({columns})")


def _restore_answer_constraints(conninfo: str, executor: ThreadPoolExecutor) -> None:
    list(executor.map(lambda kv: _build_index(conninfo, kv[0], kv[1][1]), _ANSWER_INDEXES.items()))
    with psycopg.connect(conninfo) as conn:
        present = {
            r[0]
            for r in conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'answers'::regclass")
        }
        for name, (kind, _) in _ANSWER_INDEXES.items():
            if name not in present:
                conn.execute(f"ALTER TABLE answers ADD CONSTRAINT {name} {kind} USING INDEX {name}")


def seed_database(
    conninfo: str,
    rows: int,
    *,
    couples: int | None = None,
    seed: int = 42,
    truncate: bool = False,
    jobs: int = 2,
    progress: Progress | None = None,
) -> SeedResult:
    """Apply migrations, then COPY `rows` answers (and their couples, users, questions).

    `jobs` COPY streams run in parallel (one PostgreSQL backend each); the answers' unique
    indexes are dropped for the load and rebuilt afterwards, also when the load fails.
    """
    apply_migrations(conninfo)
    plan = SeedPlan.build(rows, couples, seed)
    couple_rows, user_rows, question_rows = _reference_rows(plan, seed)
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn:
        if truncate:
            conn.execute("TRUNCATE answers, users, questions, couples, outbox RESTART IDENTITY")
        else:
            existing = conn.execute(
                "SELECT (SELECT count(*) FROM answers) + (SELECT count(*) FROM couples)"
            ).fetchone()
            if existing and existing[0]:
                raise OpsError(
                    "the database already has couple-diary data; re-run with --truncate to replace it"
                )
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        skip_fk = bool(superuser and superuser[0])
        if skip_fk:
            conn.execute("SET session_replication_role = replica")
        _copy(conn, "couples", "id, name, anniversary, plan, version", couple_rows)
        _copy(
            conn,
            "users",
            "id, couple_id, external_id, display_name, email, avatar, is_active, version",
            user_rows,
        )
        _copy(conn, "questions", "id, body, category, weight, publish_on, version", question_rows)
        conn.execute("ALTER TABLE answers " + ", ".join(f"DROP CONSTRAINT {n}" for n in _ANSWER_INDEXES))
    with ThreadPoolExecutor(max_workers=max(jobs, len(_ANSWER_INDEXES))) as executor:
        try:
            futures = [
                executor.submit(_copy_answers, conninfo, plan, seed, r, skip_fk=skip_fk, progress=progress)
                for r in split_couples(plan, max(1, jobs))
            ]
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            with psycopg.connect(conninfo) as conn:
                conn.execute("TRUNCATE answers")
            raise
        finally:
            _restore_answer_constraints(conninfo, executor)
    with psycopg.connect(conninfo) as conn:
        for table, top in (
            ("couples", plan.couples),
            ("users", 2 * plan.couples),
            ("questions", plan.questions),
            ("answers", rows),
        ):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (top,))
            conn.execute(f"SELECT setval('{table}_version_seq', %s)", (max(top, 1) + 1,))
    seconds = time.perf_counter() - started
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ANALYZE couples, users, questions, answers")
    return SeedResult(rows, plan.couples, 2 * plan.couples, plan.questions, seconds, skip_fk)
