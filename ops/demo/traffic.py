"""Live application traffic through the dual-write layer: the load the migration must survive.

A fixed-rate schedule (`rps` operations per second, spread over worker threads) of a realistic
mix: answers created, edited, deleted, read one by one and read per couple. Expected outcomes
of a live app (answering a question twice, editing an answer another request just deleted) are
counted as conflicts; everything else that goes wrong is an error and is reported, grouped.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg.errors

from ops.demo.history import FAIL, INFO, History
from ops.dualwrite import NotFound, Repository
from ops.exceptions import OpsError
from ops.flags import FlagUnavailable, WritesPaused

DEFAULT_MIX = {"create": 0.20, "update": 0.30, "delete": 0.05, "get": 0.30, "query": 0.15}
_KEY_SAMPLE = 5000
_ERROR_EXAMPLES = 5


def _classify(exc: BaseException) -> str:
    """`fail` when the write certainly did not happen (refused before anything was written)."""
    refused = (NotFound, FlagUnavailable, WritesPaused, psycopg.errors.UniqueViolation)
    if isinstance(exc, refused) or (isinstance(exc, OpsError) and "already exists" in str(exc)):
        return FAIL
    return INFO


_BODIES = [
    "오늘도 고마워",
    "Let's cook together 🍝",
    "今日は雨だったね",
    "¡Te extraño!",
    "",
    "Long day, love you",
]


@dataclass
class TrafficResult:
    planned: int = 0
    done: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, list[str]] = field(default_factory=dict)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    mode: str = ""
    # Every mode the traffic followed, in order (it reads the flag like the application).
    modes: list[str] = field(default_factory=list)
    dual_write: dict[str, int] = field(default_factory=dict)
    outbox_pending: int = 0

    @property
    def total(self) -> int:
        return sum(self.done.values()) + sum(self.conflicts.values()) + sum(self.errors.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def latency(self, op: str) -> dict[str, float]:
        values = sorted(self.latencies_ms.get(op, []))
        if not values:
            return {}
        pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
        return {"p50": statistics.median(values), "p95": pick(0.95), "p99": pick(0.99)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "modes": self.modes,
            "planned": self.planned,
            "total": self.total,
            "seconds": round(self.seconds, 2),
            "achieved_rps": round(self.total / self.seconds, 1) if self.seconds else 0,
            "done": dict(self.done),
            "conflicts": dict(self.conflicts),
            "errors": dict(self.errors),
            "error_examples": self.error_examples,
            "latency_ms": {op: self.latency(op) for op in sorted(self.latencies_ms)},
            "dual_write": self.dual_write,
            "outbox_pending": self.outbox_pending,
        }


class _Keys:
    """Item keys the traffic knows to exist (shared by the workers)."""

    def __init__(self, keys: list[dict[str, int]], rng: random.Random) -> None:
        self._keys = keys
        self._rng = rng
        self._lock = threading.Lock()

    def pick(self) -> dict[str, int] | None:
        with self._lock:
            return self._rng.choice(self._keys) if self._keys else None

    def take(self) -> dict[str, int] | None:
        with self._lock:
            if not self._keys:
                return None
            i = self._rng.randrange(len(self._keys))
            self._keys[i], self._keys[-1] = self._keys[-1], self._keys[i]
            return self._keys.pop()

    def add(self, key: dict[str, int]) -> None:
        with self._lock:
            self._keys.append(key)


def _domain(repo: Repository) -> tuple[list[dict[str, int]], int, int]:
    with repo.pool.connection() as conn:
        estimate = conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'answers'::regclass").fetchone()
        rows = float(estimate[0]) if estimate and estimate[0] and estimate[0] > 0 else 0.0
        percent = min(100.0, 100.0 * 2 * _KEY_SAMPLE / rows) if rows else 100.0
        keys = [
            {"couple_id": c, "question_id": q, "user_id": u}
            for c, q, u in conn.execute(
                "SELECT couple_id, question_id, user_id FROM answers TABLESAMPLE BERNOULLI (%s) LIMIT %s",
                (percent, _KEY_SAMPLE),
            )
        ]
        top = conn.execute("SELECT coalesce(max(id), 0) FROM couples").fetchone()
        questions = conn.execute("SELECT coalesce(max(id), 0) FROM questions").fetchone()
    couples, n_questions = (top[0] if top else 0), (questions[0] if questions else 0)
    if not couples or not n_questions:
        raise OpsError(
            "no couples or questions to write answers for; run `ops demo seed --rows 100000` first"
        )
    return keys, couples, n_questions


def run_traffic(
    repo: Repository,
    *,
    rps: float,
    duration: float,
    mix: dict[str, float] | None = None,
    workers: int | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    history: History | None = None,
    stop: threading.Event | None = None,
) -> TrafficResult:
    """Drive `repo` at `rps` operations per second for `duration` seconds, or until `stop` is set
    (operations in progress finish); report what happened.

    With `history`, every write is recorded there (with a body no other write uses), for the
    history checker (`ops.demo.history.check`)."""
    if rps <= 0 or duration <= 0:
        raise OpsError("--rps and --duration must be positive")
    mix = mix or DEFAULT_MIX
    unknown = set(mix) - set(DEFAULT_MIX)
    if unknown:
        raise OpsError(
            f"unknown operation(s) {', '.join(sorted(unknown))} in the mix; use {', '.join(DEFAULT_MIX)}"
        )
    run = _TrafficRun(
        repo,
        rps=rps,
        duration=duration,
        mix=mix,
        seed=seed,
        progress=progress,
        history=history,
        stop=stop or threading.Event(),
    )
    # Enough workers that a slow request (DynamoDB Local, a busy machine) does not stall the schedule.
    count = workers or max(4, min(32, int(rps // 5) + 2))
    threads = [threading.Thread(target=run.worker, args=(i,), name=f"traffic-{i}") for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = run.result
    result.seconds = time.monotonic() - run.started
    repo.settle()
    repo.metrics.flush()
    result.dual_write = dict(sorted(repo.metrics.totals.items()))
    with repo.pool.connection() as conn:
        pending = conn.execute("SELECT count(*) FROM outbox").fetchone()
    result.outbox_pending = int(pending[0]) if pending else 0
    return result


class _TrafficRun:
    def __init__(
        self,
        repo: Repository,
        *,
        rps: float,
        duration: float,
        mix: dict[str, float],
        seed: int | None,
        progress: Callable[[int], None] | None,
        history: History | None,
        stop: threading.Event,
    ) -> None:
        self.repo = repo
        self.stop = stop
        self.history = history
        self.rps = rps
        self.seed = seed or 0
        self.progress = progress
        rng = random.Random(seed)  # noqa: S311 - load generation, not security
        known, self.couples, self.questions = _domain(repo)
        self.keys = _Keys(known, rng)
        self.planned = int(rps * duration)
        self.schedule = rng.choices(list(mix), list(mix.values()), k=self.planned)
        mode = repo.modes.state(strict=False).mode.value
        self.result = TrafficResult(planned=self.planned, mode=mode, modes=[mode])
        self.lock = threading.Lock()
        self.next_index = 0
        self.written = 0
        self.started = time.monotonic()
        self.handlers: dict[str, Callable[[random.Random], str]] = {
            "create": self.create,
            "update": self.update,
            "delete": self.delete,
            "get": self.get,
            "query": self.query,
        }

    def worker(self, number: int) -> None:
        local = random.Random(self.seed * 1000 + number)  # noqa: S311 - load generation
        while True:
            with self.lock:
                index = self.next_index
                self.next_index += 1
            if index >= self.planned or self.stop.is_set():
                return
            delay = self.started + index / self.rps - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return
            op = self.schedule[index]
            self.follow_mode()
            t0 = time.perf_counter()
            try:
                outcome = self.handlers[op](local)
            except Exception as exc:
                self.record(op, "error", 0.0, exc)
                continue
            self.record(op, outcome, (time.perf_counter() - t0) * 1000)

    def follow_mode(self) -> None:
        mode = self.repo.modes.state(strict=False).mode.value
        with self.lock:
            if self.result.modes[-1] != mode:
                self.result.modes.append(mode)

    def record(self, op: str, outcome: str, elapsed_ms: float, error: BaseException | None = None) -> None:
        result = self.result
        with self.lock:
            if outcome == "ok":
                result.done[op] += 1
                result.latencies_ms[op].append(elapsed_ms)
            elif outcome == "conflict":
                result.conflicts[op] += 1
            else:
                name = f"{op}: {type(error).__name__}"
                result.errors[name] += 1
                examples = result.error_examples.setdefault(name, [])
                if len(examples) < _ERROR_EXAMPLES:
                    examples.append(str(error)[:300])
        if self.progress:
            self.progress(1)

    def _body(self, local: random.Random) -> str:
        body = local.choice(_BODIES)
        if self.history is None:
            return body
        with self.lock:
            self.written += 1
            return f"{body} #{self.seed}.{self.written}"  # unique: the checker tells writes apart

    def _write(self, f: str, key: dict[str, int], body: str | None, call: Callable[[], Any]) -> Any:
        if self.history is None:
            return call()
        ident = (key["couple_id"], key["question_id"], key["user_id"])
        value = None if body is None else {"body": body}
        return self.history.write("traffic", f, ident, value, call, classify=_classify)

    def create(self, local: random.Random) -> str:
        for _ in range(3):
            couple = local.randint(1, self.couples)
            key = {
                "couple_id": couple,
                "question_id": local.randint(1, self.questions),
                "user_id": 2 * couple - local.randint(0, 1),
            }
            body = self._body(local)
            values = {
                **key,
                "body": body,
                "mood": local.randint(1, 5),
                "photo_urls": [],
                "metadata": {"src": "traffic", "w": Decimal("0.5")},
            }
            try:
                self._write("create", key, body, lambda: self.repo.create(values))  # noqa: B023
            except (psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation):
                continue
            except OpsError as exc:
                if "already exists" not in str(exc):
                    raise
                continue
            self.keys.add(key)
            return "ok"
        return "conflict"

    def update(self, local: random.Random) -> str:
        key = self.keys.pick()
        if key is None:
            return "conflict"
        body = self._body(local)
        changes = {"body": body, "metadata": {"edited": True, "n": local.random()}}
        try:
            self._write("update", key, body, lambda: self.repo.update(key, changes))
        except NotFound:
            return "conflict"
        return "ok"

    def delete(self, local: random.Random) -> str:
        key = self.keys.take()
        if key is None:
            return "conflict"
        try:
            self._write("delete", key, None, lambda: self._delete(key))
        except NotFound:
            return "conflict"
        return "ok"

    def _delete(self, key: dict[str, int]) -> None:
        if not self.repo.delete(key):
            raise NotFound(f"{key} was already gone")

    def get(self, local: random.Random) -> str:
        key = self.keys.pick()
        if key is None:
            return "conflict"
        self.repo.get(key)
        return "ok"

    def query(self, local: random.Random) -> str:
        self.repo.query(couple_id=local.randint(1, self.couples))
        return "ok"
