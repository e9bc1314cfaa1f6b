"""Signed notifications over HTTP -> receiver -> SQS FIFO (moto's server) -> poller -> consumer ->
PostgreSQL, with redrive to the FIFO DLQ by the queue's RedrivePolicy and back by `dlq redrive`."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import opstestkit as kit
import psycopg
import pytest
import requests
from opstestkit.fake_app_store import AppleSubscription, FakeAppStore
from opstestkit.fake_play import FakePlay, subscription_purchase
from opstestkit.identity import SigningIdentity
from opstestkit.local import local_trust

from lambdas.consumer.repository import apply_migrations
from ops.notifications.dlq import DeadLetterQueue
from ops.notifications.local import LocalOptions, build
from ops.notifications.pipeline import LocalPipeline, ensure_queues
from ops.notifications.replay import replay

pytestmark = pytest.mark.stack

OTID = "2000000000007777"
ACCOUNT = "7d4e8f1a-0000-4000-8000-00000000e2e0"


class Env:
    def __init__(
        self,
        *,
        pipeline: LocalPipeline,
        identity: SigningIdentity,
        fake_play: FakePlay,
        db_url: str,
        dlq: DeadLetterQueue,
        app_store: FakeAppStore,
    ) -> None:
        self.app_store = app_store
        self.pipeline = pipeline
        self.identity = identity
        self.fake_play = fake_play
        self.db_url = db_url
        self.dlq = dlq

    def apple(
        self, notification_type: str, subtype: str | None, signed: int, **kwargs: Any
    ) -> requests.Response:
        ca = self.identity.apple_ca
        transaction = kit.apple_transaction_info(
            original_transaction_id=OTID, signed_date=signed, purchase_date=signed, appAccountToken=ACCOUNT
        )
        payload = kit.apple_subscription_notification(
            ca,
            notification_type,
            subtype,
            original_transaction_id=OTID,
            signed_date=signed,
            transaction=transaction,
            **kwargs,
        )
        body = kit.apple_request_body(ca.sign(payload))
        return requests.post(f"{self.pipeline.front.url}/notifications/apple", data=body, timeout=10)

    def google(self, code: int, token: str, event_ms: int) -> requests.Response:
        notification = kit.google_subscription_notification(
            purchase_token=token, notification_type=code, event_time_millis=event_ms
        )
        return requests.post(
            f"{self.pipeline.front.url}/notifications/google",
            data=json.dumps(kit.pubsub_push_body(notification)),
            headers={"Authorization": f"Bearer {self.identity.google.oidc_token()}"},
            timeout=10,
        )

    def row(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute(sql, args).fetchone()

    def status(self, key: str) -> str | None:
        row = self.row("SELECT status FROM notification_subscriptions WHERE subscription_key = %s", key)
        return row[0] if row else None


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def env(prod_db: str, unique_name: str, tmp_path: Path) -> Iterator[Env]:
    apply_migrations(prod_db)
    queues = ensure_queues(
        f"{unique_name}.fifo", f"{unique_name}-dlq.fifo", visibility_timeout=1, max_receive_count=2
    )
    options = LocalOptions(
        database_url=prod_db,
        queues=queues,
        state_dir=tmp_path / "state",
        visibility_timeout=1,
        store_budget_s=0.5,
        store_backoff_base_s=1,
    )
    identity = SigningIdentity.create()
    with FakePlay() as fake_play, FakeAppStore(identity.apple_ca) as app_store:
        pipeline, _consumer = build(options, local_trust(identity, fake_play, app_store))
        with pipeline:
            yield Env(
                pipeline=pipeline,
                identity=identity,
                fake_play=fake_play,
                db_url=prod_db,
                dlq=DeadLetterQueue(queues.dlq_url, queues.queue_url),
                app_store=app_store,
            )


def test_apple_notifications_flow_end_to_end_and_a_late_renewal_does_not_reactivate(env: Env) -> None:
    t0 = kit.now_ms() - 60_000
    assert env.apple("SUBSCRIBED", "INITIAL_BUY", t0).status_code == 200
    assert env.apple("REFUND", None, t0 + 20_000).status_code == 200
    wait_for(lambda: env.status(OTID) == "refunded")
    # A renewal signed before the refund arrives late: recorded, ignored.
    assert env.apple("DID_RENEW", None, t0 + 10_000).status_code == 200
    wait_for(
        lambda: env.row("SELECT count(*) FROM notification_events WHERE outcome = 'ignored-stale'") == (1,)
    )
    assert env.status(OTID) == "refunded"
    assert env.row(
        "SELECT premium FROM notification_entitlements_now WHERE owner_key = %s", f"account:{ACCOUNT}"
    ) == (False,)
    env.pipeline.poller.wait_until_drained()
    assert env.dlq.list_messages() == []


def test_forged_notification_is_refused_and_never_enqueued(env: Env) -> None:
    forged = kit.make_apple_test_ca()  # not the CA the receiver trusts
    body = kit.apple_request_body(forged.sign(kit.apple_subscription_notification(forged)))
    assert requests.post(
        f"{env.pipeline.front.url}/notifications/apple", data=body, timeout=10
    ).status_code in (
        401,
        403,
    )
    assert env.pipeline.poller.stats.received == 0


def test_google_failure_dead_letters_then_redrive_applies_it(env: Env) -> None:
    token = "e2e-google-token"
    env.fake_play.subscriptions[token] = subscription_purchase(acknowledged=False, account_id=ACCOUNT)
    env.fake_play.unavailable = True  # Play is down: every attempt fails
    assert env.google(4, token, kit.now_ms()).status_code == 200
    wait_for(lambda: len(env.dlq.list_messages()) == 1, timeout=30)
    [dead] = env.dlq.list_messages()
    assert (dead.provider, dead.notification_type, dead.receive_count >= 2) == (
        "google",
        "subscriptionNotification:4",
        True,
    )
    assert env.status(token) is None
    env.fake_play.unavailable = False
    assert env.dlq.redrive(dry_run=True).moved == [dead.message_id]
    assert len(env.dlq.list_messages()) == 1
    assert env.dlq.redrive().moved == [dead.message_id]
    wait_for(lambda: env.status(token) == "active")
    assert env.fake_play.acknowledged == [("subscriptions", "premium_monthly", token)]
    assert env.dlq.list_messages() == []


def test_replay_apple_feeds_missed_notifications_through_the_same_path(env: Env) -> None:
    from datetime import UTC, datetime, timedelta

    from ops.notifications.replay import notification_history

    store = env.app_store
    now_ms = kit.now_ms()
    store.subscriptions[OTID] = AppleSubscription(
        OTID, "com.example.couplediary.premium.monthly", ACCOUNT, now_ms - 60_000, now_ms + 30 * 86_400_000
    )
    store.notify("SUBSCRIBED", "INITIAL_BUY", OTID)  # all three were never delivered
    store.notify("DID_RENEW", None, OTID)
    store.subscriptions[OTID].expires_ms = now_ms - 1000
    store.subscriptions[OTID].auto_renew = False
    store.notify("EXPIRED", "VOLUNTARY", OTID)
    api = store.api_client(app_apple_id=None)
    now = datetime.now(UTC)
    window = (now - timedelta(hours=1), now + timedelta(minutes=1))
    result = replay(notification_history(api, *window), env.pipeline.front.url)
    # A second replay of the same window changes nothing: the notifications are already applied.
    again = replay(notification_history(api, *window), env.pipeline.front.url)
    assert (result.fetched, result.accepted, result.ok) == (3, 3, True)
    assert (again.fetched, again.accepted) == (3, 3)
    wait_for(lambda: env.status(OTID) == "expired")
    env.pipeline.poller.wait_until_drained()
    assert env.row("SELECT count(*) FROM notification_events") == (3,)


def test_ops_notifications_serve_send_and_dlq_commands(
    prod_db: str, unique_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from typer.testing import CliRunner

    from ops.cli.main import app

    monkeypatch.setenv("OPS_NOTIFICATIONS_QUEUE", f"{unique_name}.fifo")
    monkeypatch.setenv("OPS_NOTIFICATIONS_DLQ", f"{unique_name}-dlq.fifo")
    monkeypatch.setenv("PROD_DATABASE_URL", prod_db)
    state = tmp_path / "state"
    serve = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ops"),
            "notifications",
            "serve",
            "--port",
            "0",
            "--state",
            str(state),
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: (state / "serve.json").exists() or serve.poll() is not None, timeout=60)
        assert serve.poll() is None, serve.stdout.read() if serve.stdout else ""
        runner = CliRunner()
        sent = runner.invoke(
            app,
            [
                "notifications",
                "send",
                "apple",
                "SUBSCRIBED",
                "--subtype",
                "INITIAL_BUY",
                "--state",
                str(state),
            ],
        )
        assert sent.exit_code == 0, sent.output
        assert sent.output.startswith("200")

        def applied() -> bool:
            with psycopg.connect(prod_db) as conn:
                row = conn.execute("SELECT status FROM notification_subscriptions").fetchone()
            return row == ("active",)

        wait_for(applied, timeout=30)
        listed = runner.invoke(app, ["notifications", "dlq", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        assert json.loads(listed.output) == []
        redriven = runner.invoke(app, ["notifications", "dlq", "redrive", "--dry-run", "--json"])
        assert redriven.exit_code == 0, redriven.output
        assert json.loads(redriven.output)["dry_run"] is True
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(timeout=10)


def test_lifetime_passes_bought_in_the_app_are_granted_through_the_purchase_routes(env: Env) -> None:
    from opstestkit.fake_app_store import AppleOneTime
    from opstestkit.fake_play import product_purchase

    apple_account, google_account = "acct-apple-lifetime", "acct-google-lifetime"
    env.app_store.one_time["4000000000000001"] = AppleOneTime(
        "4000000000000001", "com.example.couplediary.lifetime", apple_account, kit.now_ms()
    )
    signed = env.app_store.signed_transaction("4000000000000001")
    url = env.pipeline.front.url
    assert (
        requests.post(f"{url}/purchases/apple", json={"signedTransaction": signed}, timeout=10).status_code
        == 200
    )
    env.fake_play.products[("lifetime_premium", "lifetime-token")] = product_purchase(
        account_id=google_account
    )
    body = {"purchaseToken": "lifetime-token", "productId": "lifetime_premium", "productType": "product"}
    assert requests.post(f"{url}/purchases/google", json=body, timeout=10).status_code == 200
    forged = kit.make_apple_test_ca().sign(
        env.app_store.one_time_transaction(env.app_store.one_time["4000000000000001"])
    )
    assert (
        requests.post(f"{url}/purchases/apple", json={"signedTransaction": forged}, timeout=10).status_code
        == 401
    )

    def premium(account: str) -> tuple[Any, ...] | None:
        return env.row(
            "SELECT premium, source FROM notification_entitlements_now WHERE owner_key = %s",
            f"account:{account}",
        )

    wait_for(
        lambda: premium(apple_account) == (True, "lifetime") and premium(google_account) == (True, "lifetime")
    )
    assert env.fake_play.acknowledged == [("products", "lifetime_premium", "lifetime-token")]


def test_ops_notifications_reconcile_repairs_what_a_lost_notification_left_wrong(
    env: Env, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from ops.cli.main import app

    now = kit.now_ms()
    env.app_store.subscriptions[OTID] = AppleSubscription(
        OTID, "com.example.couplediary.premium.monthly", ACCOUNT, now - 40 * 86_400_000, now - 10 * 86_400_000
    )
    # The app posted the first period's transaction; the renewal notification never came.
    signed = env.app_store.signed_transaction(OTID)
    assert (
        requests.post(
            f"{env.pipeline.front.url}/purchases/apple", json={"signedTransaction": signed}, timeout=10
        ).status_code
        == 200
    )
    wait_for(lambda: env.status(OTID) == "expired")
    env.app_store.subscriptions[OTID].renewals = 1
    env.app_store.subscriptions[OTID].purchase_ms = now - 10 * 86_400_000
    env.app_store.subscriptions[OTID].expires_ms = now + 20 * 86_400_000
    runner = CliRunner()
    state = str(tmp_path / "state")
    planned = runner.invoke(app, ["notifications", "reconcile", "--state", state, "--dry-run", "--json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["evidence"] == {"due": 1}
    result = runner.invoke(
        app, ["notifications", "reconcile", "--state", state, "--yes", "--json", "--history-hours", "0"]
    )
    assert result.exit_code == 0, result.output
    evidence = json.loads(result.stdout)["evidence"]
    assert (evidence["checked"], evidence["repaired"], evidence["failed"]) == (1, 1, 0)
    assert env.status(OTID) == "active"


def test_the_demo_scenarios_end_with_the_expected_entitlements(
    stack: Any, unique_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from ops.demo.notifications_demo import run_notifications_demo
    from ops.settings import Settings

    # The Lambdas the demo runs in-process read their own configuration from the environment.
    monkeypatch.setenv("OPS_NOTIFICATIONS_QUEUE", f"{unique_name}.fifo")
    monkeypatch.setenv("OPS_NOTIFICATIONS_DLQ", f"{unique_name}-dlq.fifo")
    monkeypatch.setenv("PROD_DATABASE_URL", stack.prod_url)
    settings = Settings.from_env()
    console = Console(file=io.StringIO(), width=160)
    result = run_notifications_demo(settings, console, tmp_path / "notifications.log")
    assert result["ok"], (result, console.file.getvalue())
    assert (result["rejected"], result["ignored"], result["dead_lettered"]) == (1, 1, 0)
