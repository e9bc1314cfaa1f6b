"""One chaos run: the whole cutover on a world of its own, with live traffic and injected faults,
judged by the history checker (`ops.demo.history`).

What a seed decides: the application instances (their flag-cache TTLs — one is very stale — and
how slow their DynamoDB puts are), when DynamoDB refuses writes (the outbox fills), when SSM is
unreachable for an instance, when the replica pauses, whether and when the backfill, an outbox
repair and a verification repair are SIGKILLed, and the flag flips made along the way (back to
`postgres` and forward again before the copy; a reads rollback drill after the switch). The
traffic runs across every transition: the fenced flip into `dynamodb`, and (in most seeds) the
rollback out of it and forward again.

The verdict: for DynamoDB and for PostgreSQL (in `dynamodb` mode once reverse replication has
applied the stream), lost writes, writes overwritten by older ones and resurrected rows, all 0.
A run that cannot finish the procedure (a gate that never passes) is a failure too, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ops import aws
from ops.demo.history import ABSENT, FAIL, INFO, History, Verdict, check
from ops.dualwrite import Metrics, NotFound, Repository
from ops.exceptions import OpsError
from ops.flags import FlagReader, FlagStore, FlagUnavailable, Mode, WritesPaused, mode_path
from ops.migrate.config import MigrateConfig
from ops.migrate.phases import Phase, PhaseState
from ops.migrate.runner import Cutover, Interaction, PhaseOptions
from ops.replica import LogicalReplicaDriver
from ops.reverse import control as reverse_control
from ops.sandbox.provision import LOCAL_NAME, provision_local
from ops.schema import apply_migrations
from ops.settings import Settings
from tests.chaos.faults import FaultyDynamoDB, FaultySSM, Window

COUPLES, QUESTIONS = 4, 5
TABLES = ["couples", "users", "questions", "answers"]
REPO_ROOT = Path(__file__).resolve().parents[2]
Key = tuple[int, int, int]


class Stalled(Exception):
    """The procedure could not get past a phase: its gate kept refusing."""


@dataclass
class SeedReport:
    seed: int
    seconds: float = 0.0
    ops: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    dynamodb: Verdict | None = None
    postgres: Verdict | None = None
    stalled: str = ""

    @property
    def lost(self) -> int:
        return sum(v.lost for v in (self.dynamodb, self.postgres) if v)

    @property
    def overwritten(self) -> int:
        return sum(v.overwritten for v in (self.dynamodb, self.postgres) if v)

    @property
    def resurrected(self) -> int:
        return sum(v.resurrected for v in (self.dynamodb, self.postgres) if v)

    @property
    def ok(self) -> bool:
        return (
            not self.stalled
            and self.dynamodb is not None
            and not (self.lost or self.overwritten or self.resurrected)
        )

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "ops": self.ops,
            "lost": self.lost,
            "overwritten_by_older": self.overwritten,
            "resurrected": self.resurrected,
            "faults": self.faults,
            "modes": self.modes,
            "stalled": self.stalled,
            "violations": [
                *(self.dynamodb.to_dict()["violations"] if self.dynamodb else []),
                *(self.postgres.to_dict()["violations"] if self.postgres else []),
            ][:10],
        }


def _classify(exc: BaseException) -> str:
    """`fail` when the write certainly did not happen (refused before anything was written)."""
    if isinstance(exc, NotFound | FlagUnavailable | WritesPaused | psycopg.errors.UniqueViolation):
        return FAIL
    if isinstance(exc, OpsError) and ("already exists" in str(exc) or "kept racing" in str(exc)):
        return FAIL
    return INFO


class AppInstance:
    """One application server: its own repository, flag cache, faults and share of the traffic."""

    def __init__(  # noqa: PLR0917 - each argument is one of the instance's traits
        self,
        name: str,
        prod_url: str,
        target: str,
        rng: random.Random,
        history: History,
        ttl: float,
        max_delay: float,
        ddb_outage: Window,
        ssm_outage: Window,
    ) -> None:
        self.name = name
        self.rng = rng
        self.history = history
        ssm = FaultySSM(aws.client("ssm"), ssm_outage)
        self.repo = Repository(
            "answers",
            conninfo=prod_url,
            dynamodb=FaultyDynamoDB(
                aws.client("dynamodb"), random.Random(rng.random()), outage=ddb_outage, max_delay=max_delay
            ),
            target_table=target,
            settings=Settings.from_env(),
            modes=FlagReader("answers", ttl_seconds=ttl, ssm=ssm, settings=Settings.from_env()),
            # Published like the application's, so the shadow-read gate has comparisons to count.
            metrics=Metrics(
                Settings.from_env().metrics_namespace, dimensions={"Table": "answers"}, interval_seconds=1.0
            ),
            pause_wait_seconds=10,
            drain_interval_seconds=0.5,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"app-{name}", daemon=True)
        self.count = 0
        self.crash: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self.one()
                time.sleep(self.rng.uniform(0.005, 0.04))
        except BaseException as exc:  # reported by the harness
            self.crash = exc

    def one(self) -> None:
        couple = self.rng.randint(1, COUPLES)
        key = (couple, self.rng.randint(1, QUESTIONS), 2 * couple - self.rng.randint(0, 1))
        where = {"couple_id": key[0], "question_id": key[1], "user_id": key[2]}
        self.count += 1
        value = f"{self.name}-{self.count}"
        roll = self.rng.random()
        if roll < 0.2:
            with contextlib.suppress(Exception):  # reads are not judged, writes are
                self.repo.get(where)  # shadow comparisons while dual-writing
            return
        try:
            if roll < 0.35:
                row = {"body": value, "tag": value}
                self.history.write(
                    self.name,
                    "create",
                    key,
                    row,
                    lambda: self.repo.create({**where, "body": value, "metadata": {"tag": value}}),
                    classify=_classify,
                )
            elif roll < 0.85:
                # One attribute at a time: a stale copy of the whole row written over a newer one
                # shows as the other attribute going back.
                if self.rng.random() < 0.5:
                    change, written = {"body": value}, {"body": value}
                else:
                    change, written = {"metadata": {"tag": value}}, {"tag": value}
                self.history.write(
                    self.name,
                    "update",
                    key,
                    written,
                    lambda: self.repo.update(where, change),
                    classify=_classify,
                )
            else:
                self.history.write(
                    self.name, "delete", key, None, lambda: _delete(self.repo, where), classify=_classify
                )
        except Exception:
            pass

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        self.repo.close()


def _delete(repo: Repository, where: dict[str, int]) -> None:
    if not repo.delete(where):
        raise NotFound(f"nothing to delete at {where}")


class ChaosRun:
    def __init__(self, seed: int, stack_env: dict[str, str], prod_cluster: str, v2_cluster: str) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.report = SeedReport(seed)
        self.history = History()
        self.tag = f"c{seed}{uuid.uuid4().hex[:6]}"
        self.prod_url = _fresh_database(prod_cluster, self.tag)
        self.v2_url = _fresh_database(v2_cluster, self.tag)
        self.target, self.control_name = f"tgt-{self.tag}", f"ctl-{self.tag}"
        self.env = {
            **stack_env,
            "PROD_DATABASE_URL": self.prod_url,
            "V2_DATABASE_URL": self.v2_url,
            "OPS_CONTROL_TABLE": self.control_name,
            "OPS_TARGET_TABLE": self.target,
            "OPS_DATASET": "answers",
            "OPS_FLAG_PREFIX": f"/{self.tag}/migration",
            "OPS_ALARM_PREFIXES": f"{LOCAL_NAME}-",
            "OPS_ERROR_ALARM_PREFIXES": f"{LOCAL_NAME}-backfill",
            "OPS_SNAPSHOT_DIR": str(REPO_ROOT / ".sandbox" / "chaos" / self.tag),
            "OPS_REPLICA_NAME": f"r_{self.tag}",
            "OPS_FLAG_READER_TTL_SECONDS": "5",
            "OPS_FLAG_PROPAGATION_SECONDS": "9",
            "OPS_REVERSE_LOG_DIR": str(REPO_ROOT / ".sandbox" / "chaos" / "logs"),
            "OPS_OPERATOR": "chaos",
            "OPS_METRICS_NAMESPACE": f"Chaos/{self.tag}",
            "OPS_PITR_UNSUPPORTED": "accept",
            "OPS_SOAK_SECONDS": "1",
            # Shadow-read false alarms are not this run's business (the shadow gate has tests of
            # its own); the data is judged by the history.
            "OPS_SHADOW_MAX_MISMATCHES": "1000000000",
            "OPS_SHADOW_WINDOW_SECONDS": "120",
        }
        self.ddb_outage = Window()
        self.apps: list[AppInstance] = []
        self.initial: dict[Key, dict[str, str | None] | None] = {}
        self.replica: LogicalReplicaDriver | None = None

    # ------------------------------------------------------------------ world

    def setup(self) -> None:
        os.environ.update(self.env)
        aws.reset()
        apply_migrations(self.prod_url)
        provision_local(Settings.from_env())  # the tables, the flag and the alarms, as Terraform would
        with psycopg.connect(self.prod_url, autocommit=True) as conn:
            for c in range(1, COUPLES + 1):
                conn.execute("INSERT INTO couples (id, name) VALUES (%s, %s)", (c, f"c{c}"))
                for u in (2 * c - 1, 2 * c):
                    conn.execute(
                        "INSERT INTO users (id, couple_id, external_id, display_name) "
                        "VALUES (%s, %s, %s, %s)",
                        (u, c, uuid.uuid4(), f"u{u}"),
                    )
            for q in range(1, QUESTIONS + 1):
                conn.execute(
                    "INSERT INTO questions (id, body, category) VALUES (%s, %s, 'daily')", (q, f"q{q}")
                )
            for c in range(1, COUPLES + 1):
                for q in range(1, QUESTIONS + 1):
                    for u in (2 * c - 1, 2 * c):
                        if self.rng.random() < 0.5:
                            body = f"seed-{c}-{q}-{u}"
                            conn.execute(
                                "INSERT INTO answers (couple_id, question_id, user_id, body) "
                                "VALUES (%s, %s, %s, %s)",
                                (c, q, u, body),
                            )
                            self.initial[(c, q, u)] = {"body": body, "tag": None}
            conn.execute("SELECT setval('answers_id_seq', 1000)")

    def teardown(self) -> None:
        for app in self.apps:
            app.close()
        with contextlib.suppress(Exception):
            reverse_control.stop(Settings.from_env())
        # Best effort: the databases are dropped next, the tables are per run.
        if self.replica is not None:
            with contextlib.suppress(Exception):
                self.replica.teardown()
        ddb = aws.client("dynamodb")
        for table in (self.target, self.control_name):
            with contextlib.suppress(Exception):
                ddb.delete_table(TableName=table)
        for url in (self.prod_url, self.v2_url):
            _drop_database(url)

    # ------------------------------------------------------------------ the run

    def run(self) -> SeedReport:
        started = time.monotonic()
        try:
            self.setup()
            self.start_traffic()
            self.procedure()
            self.finish()
        except Stalled as exc:
            self.report.stalled = str(exc)
            self.stop_traffic()
        finally:
            self.report.seconds = time.monotonic() - started
            self.report.ops = self.history.counts()
            self.teardown()
        return self.report

    def start_traffic(self) -> None:
        # The last instance keeps its flag for 5 s, as long as the application may (the cutover's
        # OPS_FLAG_READER_TTL_SECONDS). PostgreSQL writers are held by the fence whatever their
        # cache; `dynamodb`-mode writers by that TTL, which the rollback from dynamodb waits out.
        ttls = [0.3, 1.0, self.rng.choice([2.0, 3.0]), 5.0]
        for i, ttl in enumerate(ttls):
            ssm_outage = Window()
            app = AppInstance(
                f"i{i}",
                self.prod_url,
                self.target,
                random.Random(self.rng.random()),
                self.history,
                ttl,
                max_delay=self.rng.choice([0.0, 0.05, 0.3]) if i else 0.0,
                ddb_outage=self.ddb_outage,
                ssm_outage=ssm_outage,
            )
            if i == 1:
                self.ssm_outage_for_i1 = ssm_outage
            self.apps.append(app)
            app.start()

    def stop_traffic(self) -> None:
        for app in self.apps:
            app.stop.set()
        for app in self.apps:
            app.thread.join(60)

    def fault(self, text: str) -> None:
        self.report.faults.append(text)

    def maybe(self, probability: float, action: Callable[[], None]) -> None:
        if self.rng.random() < probability:
            action()

    def outage(self) -> None:
        seconds = self.rng.uniform(1.0, 3.0)
        self.ddb_outage.open(seconds)
        self.fault(f"DynamoDB refuses puts for {seconds:.1f} s")

    def ssm_outage(self) -> None:
        seconds = self.rng.uniform(1.0, 4.0)
        self.ssm_outage_for_i1.open(seconds)
        self.fault(f"SSM unreachable for i1 for {seconds:.1f} s")

    def cutover(self) -> Cutover:
        return Cutover(
            MigrateConfig.from_env(Settings.from_env()),
            interaction=Interaction(yes=True, confirm_name="answers"),
        )

    def advance(self, phase: Phase, options: PhaseOptions | None = None, attempts: int = 5) -> None:
        failed: list[str] = []
        for _ in range(attempts):
            cut = self.cutover()
            result = cut.run(phase, options=options or PhaseOptions(progress=False))
            position = cut.ledger.position()
            if position.phase == phase and position.state == PhaseState.DONE:
                self.report.modes.append(str(FlagStore(settings=Settings.from_env()).get()))
                return
            failed = [f"{c.name}: {c.measured}" for c in (result.gate.failed if result.gate else [])]
            failed += [f"{s.name}: {s.detail}" for s in result.steps if s.status == "failed"]
            if any(f.startswith("differences") for f in failed):
                self.ops(["verify", "run", "--repair", "--yes", "--recheck-delay", "0.3", "--segments", "2"])
            time.sleep(1.0)
        raise Stalled(f"{phase}: {'; '.join(failed)[:500]}")

    def ops(self, argv: list[str], kill_after: float | None = None) -> int:
        """`ops ...` in a subprocess, as an operator runs it; SIGKILLed after `kill_after` seconds."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "ops", *argv],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if kill_after is None:
            return proc.wait(300)
        try:
            return proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            self.fault(f"SIGKILL `ops {' '.join(argv[:2])}` after {kill_after:.1f} s")
            return -9

    def flip_noise(self, store: FlagStore, modes: list[Mode]) -> None:
        """An operator's quick rollback and forward again, made with `ops flags` while writes run."""
        current = store.get()
        back = modes[0]
        store.set(back, reason="chaos: rollback")
        time.sleep(self.rng.uniform(0.3, 1.5))
        store.set(current, reason="chaos: forward again")
        self.fault(f"flag {current} -> {back} -> {current}")

    def postgres_spell(self, store: FlagStore) -> None:
        current = store.get()
        for mode in mode_path(current, Mode.POSTGRES):
            store.set(mode, reason="chaos: back to postgres")
        time.sleep(self.rng.uniform(0.5, 2.0))
        for mode in mode_path(Mode.POSTGRES, current):
            store.set(mode, reason="chaos: dual-write again")
        self.fault(f"flag {current} -> postgres -> {current}")

    def procedure(self) -> None:
        time.sleep(0.5)
        self.advance(Phase.PREFLIGHT)
        self.advance(Phase.DUAL_WRITE)
        store = FlagStore(settings=Settings.from_env())
        self.maybe(0.5, lambda: self.flip_noise(store, [Mode.DUAL_WRITE]))
        # Back to `postgres` for a while: writes of that spell never reach DynamoDB. The copy does
        # not overwrite items, so only the verification (and its repair) can put them right, and
        # its gate must not pass before it has.
        self.maybe(0.35, lambda: self.postgres_spell(store))
        self.maybe(0.5, self.ssm_outage)
        self.advance(Phase.REPLICATE, PhaseOptions(wait_seconds=60, progress=False))
        self.replica = LogicalReplicaDriver(
            self.prod_url, self.v2_url, TABLES, name=os.environ["OPS_REPLICA_NAME"]
        )
        self.maybe(0.5, self.pause_replica)
        if self.rng.random() < 0.6:
            self.ops(
                ["backfill", "run", "--no-progress", "--concurrency", "8"],
                kill_after=self.rng.uniform(0.8, 2.5),
            )
        self.maybe(0.4, self.outage)
        self.advance(Phase.BACKFILL, PhaseOptions(backfill={"concurrency": 8}, progress=False))
        self.maybe(0.5, lambda: self.ops(["repair", "outbox"], kill_after=self.rng.uniform(0.5, 2.0)))
        self.maybe(0.3, lambda: self.flip_noise(store, [Mode.DUAL_WRITE]))
        self.maybe(0.5, self.pause_replica)
        self.maybe(
            0.5,
            lambda: self.ops(
                ["verify", "run", "--repair", "--yes", "--recheck-delay", "0.3", "--segments", "2"],
                kill_after=self.rng.uniform(1.0, 4.0),
            ),
        )
        self.advance(Phase.VERIFY, PhaseOptions(verify={"recheck_delay": 0.3, "segments": 2}, progress=False))
        self.maybe(0.4, self.outage)
        self.advance(Phase.SWITCH_READS)
        if self.rng.random() < 0.5:
            self.cutover().rollback()
            self.fault("rollback drill: reads back to PostgreSQL")
            time.sleep(self.rng.uniform(0.5, 2.0))
            self.advance(Phase.SWITCH_READS)
        self.advance(Phase.SOAK, PhaseOptions(wait_seconds=10, progress=False))
        self.maybe(0.5, self.outage)
        self.maybe(0.5, self.ssm_outage)
        self.advance(Phase.STOP_PG_WRITES)
        time.sleep(self.rng.uniform(1.0, 3.0))  # traffic in `dynamodb` mode
        if self.rng.random() < 0.6:
            self.maybe(0.5, self.outage)
            result = self.cutover().rollback()
            if not result.ok:
                raise Stalled(
                    f"rollback from dynamodb: {[s.detail for s in result.steps if s.status == 'failed']}"
                )
            self.fault("rollback from dynamodb")
            self.report.modes.append(str(FlagStore(settings=Settings.from_env()).get()))
            time.sleep(self.rng.uniform(1.0, 2.0))  # dual-writing again
            self.advance(Phase.STOP_PG_WRITES)
            time.sleep(self.rng.uniform(1.0, 2.0))

    def pause_replica(self) -> None:
        assert self.replica is not None
        self.replica.stop()
        seconds = self.rng.uniform(1.0, 4.0)
        self.fault(f"replica paused for {seconds:.1f} s")
        threading.Timer(seconds, self.replica.resume).start()

    def finish(self) -> None:
        self.stop_traffic()
        crashed = [f"{a.name}: {a.crash!r}" for a in self.apps if a.crash]
        if crashed:
            raise Stalled(f"application instance crashed: {crashed}")
        mode = FlagStore(settings=Settings.from_env()).get()
        deadline = time.monotonic() + 60
        while _outbox(self.prod_url) and time.monotonic() < deadline:
            time.sleep(0.3)  # the instances' drainers deliver what an outage left
        final_ddb = _dynamodb_state(self.target)
        self.report.dynamodb = check(self.history.ops, self.initial, final_ddb)
        if mode is Mode.DYNAMODB:
            # PostgreSQL is kept by reverse replication: judged once it has applied the stream.
            self.wait_reverse_caught_up(time.time())
            reverse_control.stop(Settings.from_env())
        self.report.postgres = check(self.history.ops, self.initial, _postgres_state(self.prod_url))

    def wait_reverse_caught_up(self, after: float) -> None:
        deadline = time.monotonic() + 60
        while (reverse_control.status(Settings.from_env()).caught_up_at or 0) <= after:
            if time.monotonic() > deadline:
                raise Stalled("reverse replication did not catch up within 60 s")
            time.sleep(0.2)


def _fresh_database(cluster_url: str, tag: str) -> str:
    name = f"{tag}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(cluster_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return cluster_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
    except psycopg.Error:
        pass


def _outbox(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM outbox").fetchone()
    return int(row[0]) if row else 0


def _dynamodb_state(table: str) -> dict[Key, dict[str, str | None] | None]:
    """What the application reads: live items by key (tombstones read as absent)."""
    out: dict[Key, dict[str, str | None] | None] = {}
    client = aws.client("dynamodb")
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            if not item["sk"]["S"].startswith("ANSWER#"):
                continue
            _, q, u = item["sk"]["S"].split("#")
            key = (int(item["pk"]["S"].split("#")[1]), int(q), int(u))
            if item.get("_deleted", {}).get("BOOL"):
                out[key] = ABSENT
                continue
            tag = item.get("metadata", {}).get("M", {}).get("tag", {}).get("S")
            out[key] = {"body": item["body"]["S"], "tag": tag}
    return out


def _postgres_state(url: str) -> dict[Key, dict[str, str | None] | None]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT couple_id, question_id, user_id, body, metadata ->> 'tag' FROM answers"
        ).fetchall()
    return {(c, q, u): {"body": body, "tag": tag} for c, q, u, body, tag in rows}


def run_seed(seed: int, stack_env: dict[str, str], prod_cluster: str, v2_cluster: str) -> SeedReport:
    saved = dict(os.environ)
    try:
        return ChaosRun(seed, stack_env, prod_cluster, v2_cluster).run()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        aws.reset()


def dump(report: SeedReport) -> str:
    return json.dumps(report.summary(), default=str)
