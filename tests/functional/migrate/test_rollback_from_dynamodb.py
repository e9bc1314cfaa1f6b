"""Rollback at every step, the last one included: after stop-pg-writes, reverse replication carries
every change made in `dynamodb` mode back to PostgreSQL, `ops migrate rollback` returns to
reading DynamoDB with PostgreSQL written first again, and nothing written in `dynamodb` mode is
lost (checked row by row and against the history of the writes). Forward again works."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from typing import Any

import pytest

from ops import aws
from ops.demo.history import FAIL, INFO, History, check
from ops.dualwrite import Metrics, NotFound, Repository
from ops.flags import FlagReader, FlagStore, FlagUnavailable, Mode, WritesPaused
from ops.mapping import load_mapping
from ops.migrate.phases import Phase, PhaseState
from ops.reverse import control as reverse
from ops.settings import Settings
from tests.functional.replica.seed import answers_in_dynamodb, answers_in_postgres, seed_domain

from .conftest import World

pytestmark = pytest.mark.stack

ANSWERS = load_mapping().table("answers")
Key = tuple[int, int, int]


def _classify(exc: BaseException) -> str:
    return FAIL if isinstance(exc, NotFound | FlagUnavailable | WritesPaused) else INFO


class Traffic:
    """Updates and deletes of a few hot rows, and creates, through the dual-write layer."""

    def __init__(self, world: World, keys: list[Key]) -> None:
        self.repo = Repository(
            "answers",
            conninfo=world.prod_url,
            target_table=world.target_table,
            settings=Settings.from_env(),
            modes=FlagReader("answers", ttl_seconds=0.2, settings=Settings.from_env()),
            metrics=Metrics("PlatformOps/Test", enabled=False),
            pause_wait_seconds=20,
        )
        self.keys = keys
        self.history = History()
        self.rng = random.Random(4)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.n = 0

    def _run(self) -> None:
        while not self.stop.is_set():
            self.n += 1
            with contextlib.suppress(Exception):  # its outcome is in the history
                self._one(self.rng.choice(self.keys), f"v{self.n}", self.rng.random())
            time.sleep(0.02)

    def _one(self, key: Key, value: str, roll: float) -> None:
        where = {"couple_id": key[0], "question_id": key[1], "user_id": key[2]}
        if roll < 0.6:
            change = {"body": value}
            self.history.write(
                "app", "update", key, change, lambda: self.repo.update(where, change), classify=_classify
            )
        elif roll < 0.8:
            self.history.write("app", "delete", key, None, lambda: self._delete(where), classify=_classify)
        else:
            row = {**where, "body": value}
            self.history.write(
                "app", "create", key, {"body": value}, lambda: self.repo.create(row), classify=_classify
            )

    def _delete(self, where: dict[str, int]) -> None:
        if not self.repo.delete(where):
            raise NotFound(str(where))

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join(60)
        self.repo.close()


def _same_rows(world: World) -> None:
    pg, ddb = answers_in_postgres(world.prod_url), answers_in_dynamodb(world.target_table)
    assert set(pg) == set(ddb), set(pg) ^ set(ddb)
    for key, row in pg.items():
        assert ANSWERS.diff(ANSWERS.encode(row), ANSWERS.encode(ddb[key])) == {}, key


def _caught_up(after: float) -> None:
    deadline = time.monotonic() + 30
    while (reverse.status(Settings.from_env()).caught_up_at or 0) <= after:
        assert time.monotonic() < deadline, reverse.status(Settings.from_env())
        time.sleep(0.2)


def test_rollback_from_dynamodb_loses_nothing_and_forward_again_works(world: World) -> None:
    seed_domain(world.prod_url, 30, couples=3, questions=6)
    world.advance(Phase.SOAK)
    # Every row is in DynamoDB, as after a backfill.
    initial = answers_in_postgres(world.prod_url)
    ddb = aws.client("dynamodb")
    for row in initial.values():
        ddb.put_item(TableName=world.target_table, Item=ANSWERS.encode(row))
    keys = sorted(initial)[:12]
    try:
        with Traffic(world, keys) as traffic:
            time.sleep(1)
            code, doc = world.ops_json("stop-pg-writes", "--yes", "--confirm-name", "answers")
            assert code == 0, doc
            assert any(s["name"] == "reverse replication started" for s in doc["steps"])
            time.sleep(3)  # traffic in dynamodb mode; reverse replication carries it to PostgreSQL
            flipped_at = time.time()
            _caught_up(flipped_at)
            code, doc = world.ops_json("rollback", "--yes")
            assert code == 0, doc
            assert FlagStore(settings=Settings.from_env()).get() is Mode.DUAL_WRITE_READ_DYNAMODB
            assert world.ledger.record(Phase.STOP_PG_WRITES).state == PhaseState.ROLLED_BACK  # type: ignore[union-attr]
            assert world.ledger.position().completed == Phase.SOAK
            assert not reverse.status(Settings.from_env()).running
            time.sleep(2)  # dual-writing again
            code, doc = world.ops_json("stop-pg-writes", "--yes", "--confirm-name", "answers")
            assert code == 0, doc
            time.sleep(2)
        _caught_up(time.time())
        _same_rows(world)
        initial_rows = {k: {"body": r["body"]} for k, r in initial.items()}
        final = {k: {"body": r["body"]} for k, r in answers_in_postgres(world.prod_url).items()}
        verdict = check(traffic.history.ops, initial_rows, final)
        assert verdict.ok, verdict.to_dict()
        assert traffic.history.counts().get("ok", 0) > 50
    finally:
        reverse.stop(Settings.from_env())


def test_the_rollback_waits_for_a_reverse_replication_that_fell_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poller that stops reporting for a while (a busy host, a long pass) is caught up with,
    not refused: the rollback waits for it, then completes."""
    import os
    import signal

    from ops.reverse import state as reverse_state

    seed_domain(world.prod_url, 10, couples=2, questions=3)
    world.advance(Phase.SOAK)
    ddb = aws.client("dynamodb")
    for row in answers_in_postgres(world.prod_url).values():
        ddb.put_item(TableName=world.target_table, Item=ANSWERS.encode(row))
    code, doc = world.ops_json("stop-pg-writes", "--yes", "--confirm-name", "answers")
    assert code == 0, doc
    pid = reverse.status(Settings.from_env()).pid
    assert pid
    monkeypatch.setattr(reverse_state, "STALE_STATUS_SECONDS", 1.0)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(2)
        assert not reverse.status(Settings.from_env()).fresh  # the gate alone would refuse now
        threading.Timer(3.0, os.kill, (pid, signal.SIGCONT)).start()
        code, doc = world.ops_json("rollback", "--yes")
        assert code == 0, doc
        assert FlagStore(settings=Settings.from_env()).get() is Mode.DUAL_WRITE_READ_DYNAMODB
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        reverse.stop(Settings.from_env())
