"""The notification part of the rehearsal: signed Apple and Google notifications through the local
API -> receiver -> SQS FIFO -> poller -> consumer -> PostgreSQL, then the resulting entitlements.

The scenarios show what the service must get right: a subscriber, a lifetime-pass holder (granted
through the app's purchase route, as in production) whose subscription expires (keeps premium), a
refund followed by a late renewal signed before it (stays refunded), a duplicate delivery (applied
once), a Google subscription, a renewal whose notification was lost (repaired by reconciliation
with the fake App Store Server API), and a forged notification (refused, never enqueued). Test
signing material is made for the run; nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import requests
from rich.console import Console
from rich.table import Table

from lambdas.consumer.reconcile import ReconcileOptions, Reconciler
from lambdas.consumer.repository import apply_migrations
from ops import aws
from ops.notifications.devkit import require_testkit
from ops.notifications.local import LocalOptions, build
from ops.notifications.pipeline import ensure_queues
from ops.settings import Settings

if TYPE_CHECKING:
    from opstestkit import AppleTestCA
    from opstestkit.identity import SigningIdentity

LIFETIME_PRODUCT = "com.example.couplediary.lifetime"
MONTHLY_PRODUCT = "com.example.couplediary.premium.monthly"
DATABASE = "subscriptions"


@dataclass(frozen=True)
class Expected:
    who: str
    account: str
    premium: bool
    source: str


def _database(prod_url: str) -> str:
    base = prod_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f"CREATE DATABASE {DATABASE}")
    url = f"{base}/{DATABASE}"
    apply_migrations(url)
    return url


class _Sender:
    def __init__(self, front_url: str, identity: SigningIdentity, console: Console) -> None:
        import opstestkit as kit

        self.kit = kit
        self.url = front_url
        self.identity = identity
        self.console = console
        self.responses: list[tuple[str, int]] = []

    def apple(
        self,
        label: str,
        notification_type: str,
        subtype: str | None,
        *,
        otid: str,
        account: str,
        signed: int,
        product_id: str | None = None,
        ca: AppleTestCA | None = None,
        notification_uuid: str | None = None,
    ) -> int:
        ca = ca or self.identity.apple_ca
        extra: dict[str, Any] = {}
        if product_id == LIFETIME_PRODUCT:
            extra = {"product_id": LIFETIME_PRODUCT, "product_type": "Non-Consumable"}
        transaction = self.kit.apple_transaction_info(
            original_transaction_id=otid,
            signed_date=signed,
            purchase_date=signed,
            appAccountToken=account,
            **extra,
        )
        payload = self.kit.apple_subscription_notification(
            ca,
            notification_type,
            subtype,
            original_transaction_id=otid,
            signed_date=signed,
            transaction=transaction,
            notification_uuid=notification_uuid,
        )
        response = requests.post(
            f"{self.url}/notifications/apple", data=self.kit.apple_request_body(ca.sign(payload)), timeout=15
        )
        return self._record(
            f"apple {notification_type}{'/' + subtype if subtype else ''} — {label}", response.status_code
        )

    def google(self, label: str, code: int, token: str, event_ms: int) -> int:
        notification = self.kit.google_subscription_notification(
            purchase_token=token, notification_type=code, event_time_millis=event_ms
        )
        response = requests.post(
            f"{self.url}/notifications/google",
            data=json.dumps(self.kit.pubsub_push_body(notification)),
            headers={"Authorization": f"Bearer {self.identity.google.oidc_token()}"},
            timeout=15,
        )
        return self._record(f"google type {code} — {label}", response.status_code)

    def purchase(self, label: str, signed_transaction: str | None) -> int:
        """What the app does after a purchase or restore: POST the signed transaction."""
        response = requests.post(
            f"{self.url}/purchases/apple", json={"signedTransaction": signed_transaction}, timeout=15
        )
        return self._record(f"app purchase — {label}", response.status_code)

    def _record(self, what: str, status: int) -> int:
        self.responses.append((what, status))
        colour = "green" if status == 200 else "yellow"
        self.console.print(f"  POST {what}: [{colour}]{status}[/]")
        return status


def run_notifications_demo(settings: Settings, console: Console, log_path: Path) -> dict[str, Any]:
    """Run the scenarios; the Lambdas' JSON logs and EMF metrics (stdout, as on Lambda) go to `log_path`."""
    terminal = Console(file=console.file, width=console.width)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        result = _run(settings, terminal)
    console.print(f"[dim]the Lambdas' logs and metrics: {log_path}[/]")
    return result


def _run(settings: Settings, console: Console) -> dict[str, Any]:
    kit = require_testkit()
    from opstestkit.fake_app_store import AppleOneTime, AppleSubscription, FakeAppStore
    from opstestkit.fake_play import FakePlay, subscription_purchase
    from opstestkit.identity import SigningIdentity
    from opstestkit.local import local_trust

    assert settings.prod_database_url, "PROD_DATABASE_URL is not set"
    db_url = _database(settings.prod_database_url)
    queues = ensure_queues(settings.notifications_queue, settings.notifications_dlq, visibility_timeout=5)
    accounts = {
        name: str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{name}"))
        for name in ("alice", "bob", "carol", "dave", "erin")
    }
    expected = [
        Expected("alice: monthly subscriber (sent twice)", accounts["alice"], True, "subscription"),
        Expected("bob: lifetime pass, his subscription expired", accounts["bob"], True, "lifetime"),
        Expected("carol: refunded, then a late renewal", accounts["carol"], False, "none"),
        Expected("dave: Google monthly subscriber", accounts["dave"], True, "subscription"),
        Expected("erin: renewal notification lost, reconciled", accounts["erin"], True, "subscription"),
    ]
    identity = SigningIdentity.create()
    with (
        tempfile.TemporaryDirectory(prefix="notifications-demo-") as state,
        FakePlay() as fake_play,
        FakeAppStore(identity.apple_ca) as app_store,
    ):
        options = LocalOptions(
            database_url=db_url,
            queues=queues,
            state_dir=Path(state),
            visibility_timeout=5,
            apple_lifetime_product_ids=LIFETIME_PRODUCT,
        )
        pipeline, consumer = build(options, local_trust(identity, fake_play, app_store))
        with pipeline:
            console.print(f"local API {pipeline.front.url} -> {settings.notifications_queue} -> consumer")
            send = _Sender(pipeline.front.url, identity, console)
            t0 = kit.now_ms() - 600_000
            duplicate = str(uuid.uuid4())
            for _ in range(2):
                send.apple(
                    "alice subscribes",
                    "SUBSCRIBED",
                    "INITIAL_BUY",
                    otid="3000000000000001",
                    account=accounts["alice"],
                    signed=t0,
                    notification_uuid=duplicate,
                )
            # Production sends no ONE_TIME_CHARGE: the app posts the signed transaction.
            app_store.one_time["3000000000000002"] = AppleOneTime(
                "3000000000000002", LIFETIME_PRODUCT, accounts["bob"], t0
            )
            send.purchase(
                "bob buys the lifetime pass in the app", app_store.signed_transaction("3000000000000002")
            )
            send.apple(
                "bob's old subscription",
                "SUBSCRIBED",
                "INITIAL_BUY",
                otid="3000000000000003",
                account=accounts["bob"],
                signed=t0 + 1_000,
            )
            send.apple(
                "bob's subscription ends",
                "EXPIRED",
                "VOLUNTARY",
                otid="3000000000000003",
                account=accounts["bob"],
                signed=t0 + 2_000,
            )
            send.apple(
                "carol subscribes",
                "SUBSCRIBED",
                "INITIAL_BUY",
                otid="3000000000000004",
                account=accounts["carol"],
                signed=t0,
            )
            send.apple(
                "carol is refunded",
                "REFUND",
                None,
                otid="3000000000000004",
                account=accounts["carol"],
                signed=t0 + 20_000,
            )
            send.apple(
                "a renewal signed before the refund arrives late",
                "DID_RENEW",
                None,
                otid="3000000000000004",
                account=accounts["carol"],
                signed=t0 + 10_000,
            )
            token = f"demo-token-{uuid.uuid4().hex[:8]}"
            fake_play.subscriptions[token] = subscription_purchase(
                acknowledged=False, account_id=accounts["dave"]
            )
            send.google("dave subscribes", 4, token, t0)
            forged_ca = kit.make_apple_test_ca()
            forged = send.apple(
                "forged: signed by an untrusted CA",
                "DID_RENEW",
                None,
                otid="3000000000000001",
                account=accounts["alice"],
                signed=t0 + 30_000,
                ca=forged_ca,
            )
            # Erin's subscription renewed at the App Store; the DID_RENEW never reached us.
            day = 86_400_000
            app_store.subscriptions["3000000000000005"] = AppleSubscription(
                "3000000000000005", MONTHLY_PRODUCT, accounts["erin"], t0 - 40 * day, t0 - 10 * day
            )
            send.purchase("erin subscribed in the app", app_store.signed_transaction("3000000000000005"))
            app_store.subscriptions["3000000000000005"].renewals = 1
            app_store.subscriptions["3000000000000005"].expires_ms = t0 + 20 * day
            pipeline.poller.wait_until_drained(timeout=120)
            report = Reconciler(consumer.service).run(ReconcileOptions())
            console.print(
                f"reconciliation: {report.checked} checked with the stores, {report.repaired} repaired, "
                f"{report.failed} failed"
            )
    return _report(
        console,
        db_url=db_url,
        dlq_url=queues.dlq_url,
        expected=expected,
        responses=send.responses,
        forged_status=forged,
    )


def _report(
    console: Console,
    *,
    db_url: str,
    dlq_url: str,
    expected: list[Expected],
    responses: list[tuple[str, int]],
    forged_status: int,
) -> dict[str, Any]:
    with psycopg.connect(db_url) as conn:
        entitlements = {
            row[0]: (row[1], row[2])
            for row in conn.execute("SELECT owner_key, premium, source FROM notification_entitlements")
        }
        outcomes: dict[str, int] = dict(
            conn.execute("SELECT outcome, count(*) FROM notification_events GROUP BY outcome").fetchall()
        )
    dlq = aws.client("sqs").get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    dead_lettered = int(dlq.get("ApproximateNumberOfMessages", 0))
    table = Table(title="Entitlements after the notifications")
    for column in ("who", "premium", "source", "expected", "result"):
        table.add_column(column)
    all_ok = forged_status in (401, 403)
    for e in expected:
        premium, source = entitlements.get(f"account:{e.account}", (None, None))
        ok = premium == e.premium and source == e.source
        all_ok &= ok
        table.add_row(
            e.who,
            str(premium),
            str(source),
            f"{e.premium} / {e.source}",
            "[green]ok[/]" if ok else "[red]WRONG[/]",
        )
    console.print(table)
    console.print(
        f"events: {outcomes}; forged notification answered {forged_status}; dead-lettered: {dead_lettered}"
    )
    return {
        "ok": all_ok and dead_lettered == 0,
        "sent": len(responses),
        "accepted": sum(1 for _, status in responses if status == 200),
        "rejected": sum(1 for _, status in responses if status != 200),
        "applied": int(outcomes.get("applied", 0)),
        "ignored": int(outcomes.get("ignored-stale", 0)),
        "recorded": int(outcomes.get("recorded", 0)),
        "dead_lettered": dead_lettered,
        "entitlements": {e.who: entitlements.get(f"account:{e.account}") for e in expected},
    }
