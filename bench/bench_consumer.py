"""Consumer throughput: notifications/s of one consumer process on a real PostgreSQL.

Contender: the Lambda handler as deployed — SQS batches of 10, one transaction per batch with a
savepoint per message. Baseline, same run, same messages: the naive shape — one message per
invocation and per transaction (BatchSize=1), so one commit per notification. Both apply every
notification fully (idempotency row, subscription lock/upsert, entitlement recompute, history).

Workload: BENCH_CONSUMER_SUBSCRIPTIONS (default 200) Apple subscriptions x 10 lifecycle events,
interleaved across subscriptions like a FIFO queue delivers them; 5 % are duplicates.
Target: the batched handler processes >= 1.5x the baseline's notifications/s.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SPEEDUP = 1.5
SUBSCRIPTIONS = int(os.environ.get("BENCH_CONSUMER_SUBSCRIPTIONS", "200"))
LIFECYCLE = [
    ("SUBSCRIBED", "INITIAL_BUY"),
    ("DID_RENEW", None),
    ("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_DISABLED"),
    ("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_ENABLED"),
    ("DID_RENEW", None),
    ("DID_FAIL_TO_RENEW", "GRACE_PERIOD"),
    ("DID_RENEW", "BILLING_RECOVERY"),
    ("PRICE_INCREASE", "ACCEPTED"),
    ("DID_RENEW", None),
    ("EXPIRED", "VOLUNTARY"),
]


def _workload() -> list[Any]:
    from tests.fixtures.notifications.consumer import events as ev

    rng = random.Random(7)
    messages = []
    for step, (kind, subtype) in enumerate(LIFECYCLE):
        for sub in range(SUBSCRIPTIONS):
            messages.append(
                ev.apple(
                    kind,
                    subtype,
                    original_transaction_id=f"30000000{sub:08d}",
                    account=f"00000000-0000-4000-8000-{sub:012d}",
                    signed=ev.T0 + step * 60_000,
                )
            )
    duplicates = rng.sample(messages, len(messages) // 20)
    return messages + duplicates


def _run(
    database_url: str, messages: list[Any], batch_size: int, batch_transaction: bool
) -> dict[str, float]:
    from lambdas.consumer.apple.strategies import AppleContext
    from lambdas.consumer.handler import Consumer
    from lambdas.consumer.repository import Repository, apply_migrations
    from lambdas.consumer.service import NotificationService
    from lambdas.shared.metrics import Metrics
    from tests.fixtures.notifications.consumer import events as ev

    apply_migrations(database_url)
    repository = Repository(database_url)
    service = NotificationService(
        repository, AppleContext(frozenset()), lambda: (_ for _ in ()).throw(RuntimeError("no Google here"))
    )
    consumer = Consumer(service, batch_transaction=batch_transaction, metrics=Metrics(stream=io.StringIO()))
    events = [ev.sqs_event(messages[i : i + batch_size]) for i in range(0, len(messages), batch_size)]
    import logging

    logging.getLogger("consumer").setLevel(logging.WARNING)
    failed = 0
    started, cpu = time.perf_counter(), time.process_time()
    for event in events:
        failed += len(consumer.handle(event)["batchItemFailures"])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    row = repository.conn.execute("SELECT count(*) AS n FROM notification_events").fetchone()
    repository.close()
    applied = row["n"] if row else 0
    return {"wall": wall, "cpu": cpu, "failed": failed, "events": applied, "rate": len(messages) / wall}


def main() -> bool:
    import psycopg

    from ops.sandbox import postgres, processes
    from ops.sandbox.postgres import PostgresCluster, find_bindir, prepare_data_root

    # The sandbox turns durability off; RDS commits are durable, and what batching saves is mostly
    # the WAL flush per commit, so this cluster (this process's own) flushes like production.
    postgres.SERVER_SETTINGS.update(fsync="on", synchronous_commit="on", full_page_writes="on")

    messages = _workload()
    unique = len({m.notification_id for m in messages})
    with tempfile.TemporaryDirectory(prefix="bench-consumer-") as tmp:
        pg_root = prepare_data_root(
            Path(tmp) / "pg", Path(tempfile.gettempdir()) / f"bench-consumer-pg-{os.getpid()}"
        )
        cluster = PostgresCluster(
            "bench", pg_root / "bench", processes.free_port(), pg_root / "bench.log", find_bindir()
        )
        try:
            cluster.init()
            cluster.start()
            urls = {}
            with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
                for name in ("bench_batched", "bench_baseline"):
                    conn.execute(f"CREATE DATABASE {name}")
                    urls[name] = cluster.admin_url.rsplit("/", 1)[0] + f"/{name}"
            print(
                f"{len(messages):,} notifications ({unique:,} unique, {SUBSCRIPTIONS} subscriptions)",
                flush=True,
            )
            baseline = _run(urls["bench_baseline"], messages, batch_size=1, batch_transaction=False)
            batched = _run(urls["bench_batched"], messages, batch_size=10, batch_transaction=True)
        finally:
            cluster.stop()
    for name, result in (
        ("baseline: 1 message/transaction", baseline),
        ("handler: batch of 10, 1 tx", batched),
    ):
        print(
            f"{name:<34} {result['rate']:>8.0f} notifications/s  {result['wall']:>6.2f} s wall  "
            f"{result['cpu'] * 1e6 / len(messages):>6.0f} us CPU/notification  "
            f"failures {result['failed']:.0f}"
        )
    speedup = batched["rate"] / baseline["rate"]
    correct = (
        batched["events"] == baseline["events"] == unique and batched["failed"] == baseline["failed"] == 0
    )
    met = speedup >= TARGET_SPEEDUP and correct
    print(
        f"speed-up {speedup:.2f}x (target >= {TARGET_SPEEDUP}x); each applied "
        f"{batched['events']:.0f} of {unique} unique notifications once: {'yes' if correct else 'NO'} "
        f"-> {'met' if met else 'MISSED'}"
    )
    return met
