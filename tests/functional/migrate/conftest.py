"""A private cutover world per test on the local stack: fresh prod/v2 databases, control and target
tables, a flag parameter, CloudWatch alarms and a replication name of its own, so tests never see
each other's ledger, flag or slot."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from ops import aws
from ops.cli.main import app
from ops.control import ControlTable
from ops.flags import FlagStore, Mode, mode_path
from ops.migrate.config import MigrateConfig
from ops.migrate.ledger import Ledger
from ops.migrate.phases import MODE_AFTER, ORDER, Phase, PhaseState
from ops.schema import apply_migrations
from ops.settings import Settings
from ops.tables import ensure_pk_sk_table, ensure_target_table

ALARMS = ("errors", "latency", "throttles")


@dataclass
class World:
    prefix: str
    prod_url: str
    v2_url: str
    control: ControlTable
    target_table: str
    alarm_prefix: str
    snapshot_dir: Path
    replica_name: str
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def cfg(self) -> MigrateConfig:
        return MigrateConfig.from_env(Settings.from_env())

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.control, self.cfg.dataset)

    def ops(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, ["migrate", *args], input=input, catch_exceptions=False)

    def ops_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.ops(*args, "--json")
        return result.exit_code, json.loads(result.stdout)

    def mode(self) -> str:
        return FlagStore(settings=Settings.from_env()).get().value

    def set_mode(self, target: str) -> None:
        """Test setup: straight to a mode (the fenced protocol into `dynamodb` has tests of its own)."""
        store = FlagStore(settings=Settings.from_env())
        for step in mode_path(store.get(), Mode(target)):
            store.set(step, reason="test setup", who="test", fenced_protocol=True)

    def advance(self, upto: Phase) -> None:
        """Record every phase up to and including `upto` as done, with the flag to match (and, from
        stop-pg-writes on, reverse replication running, as that phase leaves it)."""
        for phase in ORDER[: ORDER.index(upto) + 1]:
            self.ledger.set_phase(phase, PhaseState.DONE, "test", {"seeded": True}, started=True)
        self.set_mode(MODE_AFTER[upto])
        if ORDER.index(upto) >= ORDER.index(Phase.STOP_PG_WRITES):
            from ops.reverse import control

            control.start(Settings.from_env(), "test")

    def alarm(self, name: str, state: str) -> None:
        aws.client("cloudwatch").set_alarm_state(
            AlarmName=f"{self.alarm_prefix}{name}", StateValue=state, StateReason="test"
        )

    def shadow(
        self, compared: int, mismatches: int = 0, not_copied: int = 0, read_at: float | None = None
    ) -> None:
        """Record shadow reads in the control table exactly as the dual-write layer does."""
        from ops.dualwrite.shadow_log import Mismatch, ShadowLog, stamp

        at = time.time() if read_at is None else read_at
        log = ShadowLog("answers", self.control)
        for _ in range(compared):
            log.compared(at)
        key = {"couple_id": 1, "question_id": 1, "user_id": 1}
        for _ in range(not_copied):
            log.not_copied(at, key)
        for _ in range(mismatches):
            log.mismatch(Mismatch("answers", key, "COUPLE#1/ANSWER#1#1", "test", stamp(at), 2, 2, {}))
        log.flush()

    def sql(self, url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def seed(self, couples: int = 20, per_couple: int = 10) -> int:
        """A small, valid couple-diary dataset in prod; returns the number of answers."""
        with psycopg.connect(self.prod_url, autocommit=True) as conn:
            for c in range(couples):
                couple = conn.execute(
                    "INSERT INTO couples (name) VALUES (%s) RETURNING id", (f"c{c}",)
                ).fetchone()
                assert couple is not None
                users = [
                    conn.execute(
                        "INSERT INTO users (couple_id, external_id, display_name) "
                        "VALUES (%s, %s, %s) RETURNING id",
                        (couple[0], uuid.uuid4(), f"u{c}-{u}"),
                    ).fetchone()[0]  # type: ignore[index]
                    for u in range(2)
                ]
                for q in range(per_couple // 2):
                    question = conn.execute(
                        "INSERT INTO questions (body, category) VALUES (%s, 'daily') RETURNING id",
                        (f"q{c}-{q}",),
                    ).fetchone()
                    assert question is not None
                    for user in users:
                        conn.execute(
                            "INSERT INTO answers (couple_id, question_id, user_id, body, mood, metadata) "
                            "VALUES (%s, %s, %s, %s, %s, %s)",
                            (couple[0], question[0], user, f"answer {c}/{q}", q % 5, json.dumps({"q": q})),
                        )
        return couples * (per_couple // 2) * 2

    def state(self) -> dict[str, Any]:
        """Everything a cutover step could change, for before/after comparisons."""
        ddb = aws.client("dynamodb")
        items = ddb.scan(TableName=self.control.name).get("Items", [])
        param = aws.client("ssm").get_parameters(Names=[self.cfg.settings.flag_parameter()])["Parameters"]
        tables_sql = (
            "SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
        )
        # REVERSE# items are the reverse-replication poller's live status, not a cutover step's doing.
        items = [i for i in items if not i["pk"]["S"].startswith("REVERSE#")]
        return {
            "control": sorted(json.dumps(i, sort_keys=True) for i in items),
            "flag": [p["Value"] for p in param],
            "prod": self._tables_with_counts(self.prod_url, tables_sql),
            "v2": self._tables_with_counts(self.v2_url, tables_sql),
            "target_items": ddb.scan(TableName=self.target_table, Select="COUNT")["Count"],
            "snapshots": sorted(p.name for p in self.snapshot_dir.glob("*"))
            if self.snapshot_dir.exists()
            else [],
            "subscriptions": self.sql(self.v2_url, "SELECT subname, subenabled FROM pg_subscription"),
        }

    def _tables_with_counts(self, url: str, tables_sql: str) -> dict[str, int]:
        names = [r[0] for r in self.sql(url, tables_sql)]
        return {n: self.sql(url, f'SELECT count(*) FROM "{n}"')[0][0] for n in names}


@pytest.fixture
def world(
    stack: Any, prod_db: str, v2_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    tag = uuid.uuid4().hex[:10]
    apply_migrations(prod_db)
    control_name, target_name = f"ctl-{tag}", f"tgt-{tag}"
    alarm_prefix = f"t{tag}-"
    env = {
        "PROD_DATABASE_URL": prod_db,
        "V2_DATABASE_URL": v2_db,
        "OPS_CONTROL_TABLE": control_name,
        "OPS_TARGET_TABLE": target_name,
        "OPS_FLAG_PREFIX": f"/t{tag}/migration",
        "OPS_ALARM_PREFIXES": alarm_prefix,
        "OPS_ERROR_ALARM_PREFIXES": f"{alarm_prefix}errors",
        "OPS_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
        "OPS_REPLICA_NAME": f"r_{tag}",
        "OPS_FLAG_READER_TTL_SECONDS": "0.2",
        "OPS_FLAG_PROPAGATION_SECONDS": "5",
        "OPS_OPERATOR": "test-operator",
        "OPS_METRICS_NAMESPACE": f"Test/{tag}",
        # DynamoDB Local has no backups API; the PITR check itself is tested against moto's server.
        "OPS_PITR_UNSUPPORTED": "accept",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ddb = aws.client("dynamodb")
    ensure_pk_sk_table(control_name, ddb)
    ensure_target_table(target_name, ddb)
    aws.client("ssm").put_parameter(Name=f"/t{tag}/migration/answers/mode", Value="postgres", Type="String")
    cw = aws.client("cloudwatch")
    for name in ALARMS:
        cw.put_metric_alarm(
            AlarmName=f"{alarm_prefix}{name}",
            MetricName=name,
            Namespace="PlatformOps/Migration",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cw.set_alarm_state(AlarmName=f"{alarm_prefix}{name}", StateValue="OK", StateReason="test")
    w = World(
        prefix=tag,
        prod_url=prod_db,
        v2_url=v2_db,
        control=ControlTable(control_name, ddb),
        target_table=target_name,
        alarm_prefix=alarm_prefix,
        snapshot_dir=tmp_path / "snapshots",
        replica_name=f"r_{tag}",
    )
    try:
        yield w
    finally:
        # Reverse replication runs as a poller process of its own: stop it whether the test
        # started it (`advance`) or a phase under test did (stop-pg-writes starts it).
        from ops.reverse import control

        with contextlib.suppress(Exception):
            control.stop(Settings.from_env())
        _drop_replication(w)
        for name in (control_name, target_name):
            ddb.delete_table(TableName=name)


def _drop_replication(w: World) -> None:
    """A subscription left behind would keep a slot (and WAL) on the shared prod cluster."""
    try:
        subs = w.sql(w.v2_url, "SELECT subname FROM pg_subscription WHERE subname = %s", (w.replica_name,))
    except psycopg.Error:
        return
    if subs:
        from ops.mapping import load_mapping
        from ops.replica import LogicalReplicaDriver

        tables = list(load_mapping().tables)
        LogicalReplicaDriver(w.prod_url, w.v2_url, tables, name=w.replica_name).teardown()


def create_rds_instance(name: str, instance_class: str, allocated_gib: int) -> None:
    """A PostgreSQL RDS instance on moto's server."""
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass=instance_class,
        Engine="postgres",
        MasterUsername="ops",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=allocated_gib,
    )
