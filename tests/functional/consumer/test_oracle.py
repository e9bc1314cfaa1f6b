"""The oracle: fake stores hold the truth, notifications lie by omission, reconciliation repairs.

A model drives the test kit's fake App Store and fake Play API through sixty simulated days of a
few users' lives: subscriptions bought (by the app's client purchase route, as in production),
renewed, failing into grace and billing retry, recovering, canceled, expiring, refunded (a whole
period or a past renewal), revoked; lifetime passes bought and refunded; Google plan changes whose
new token replaces an old one, paid or left pending. Every change emits what the store would send.
Between the stores and the receiver sits an adversary that drops, delays, duplicates and reorders
the notifications (across linked tokens too). The real receiver verifies them into moto's SQS
FIFO queue; the real consumer applies them to PostgreSQL; the reconciler runs once a simulated
day, as the scheduled Lambda would. At the end, after the last reconciliation (and after the
delayed stragglers still arrive), every user's entitlement must equal the stores' truth - no
wrongful premium, no wrongful loss - and every acknowledgeable Google purchase must have been
acknowledged within Play's three days.

`make oracle` runs many more seeds (ORACLE_RUNS); the numbers it prints go in the README.
"""

from __future__ import annotations

import copy
import io
import json
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import opstestkit as kit
import pytest
from opstestkit.fake_app_store import AppleOneTime, AppleSubscription, FakeAppStore
from opstestkit.fake_play import (
    ACK_DONE,
    FakePlay,
    product_purchase,
    rfc3339,
    subscription_purchase,
    voided_purchase,
)

from lambdas.consumer.handler import Consumer
from lambdas.consumer.reconcile import ReconcileOptions, Reconciler
from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.google import JwksCache
from lambdas.receiver.handler import Receiver
from lambdas.shared.metrics import Metrics
from ops import aws
from ops.notifications.pipeline import lambda_record
from tests.functional.consumer.conftest import Db, fifo_queue, make_service

DAY = 86_400_000
HOUR = 3_600_000
ACK_DEADLINE = 3 * DAY
APPLE_MONTHLY = "com.example.couplediary.premium.monthly"
APPLE_LIFETIME = "com.example.couplediary.lifetime"
GOOGLE_MONTHLY = "premium_monthly"
GOOGLE_LIFETIME = "lifetime_premium"
EVENT_TEMPLATE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "notifications" / "apigw_http_v2_event.json"
)
RUNS = int(os.environ.get("ORACLE_RUNS", "3"))
USERS = int(os.environ.get("ORACLE_USERS", "6"))
DAYS = int(os.environ.get("ORACLE_DAYS", "60"))


@dataclass
class Post:
    """Something a store (or the app) sends the receiver: a route and a body (Google: + a token)."""

    path: str
    body: str
    google: bool = False
    reliable: bool = False  # the app retries its own posts until they are accepted


@dataclass
class Stats:
    runs: int = 0
    users: int = 0
    store_events: int = 0
    notifications: int = 0
    dropped: int = 0
    delayed: int = 0
    duplicated: int = 0
    client_posts: int = 0
    reconciliations: int = 0
    repaired: int = 0
    checks: int = 0
    wrongful_premium: int = 0
    wrongful_loss: int = 0
    late_acknowledgements: int = 0
    acknowledgeable: int = 0

    def line(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in vars(self).items())


# --- the world: what the stores know --------------------------------------------------------------------


@dataclass
class GooglePurchase:
    token: str
    account: str
    lifetime: bool
    bought_ms: int
    acknowledged_ms: int | None = None


@dataclass
class World:
    rng: random.Random
    app_store: FakeAppStore
    play: FakePlay
    now_ms: int
    posts: list[Post] = field(default_factory=list)
    google: dict[str, GooglePurchase] = field(default_factory=dict)
    events: int = 0

    # notifications -----------------------------------------------------------------------------

    def apple(self, kind: str, subtype: str | None, key: str) -> None:
        self.events += 1
        signed = self.app_store.notify(kind, subtype, key)
        self.posts.append(Post("/notifications/apple", kit.apple_request_body(signed)))

    def rtdn(self, code: int, token: str, kind: str = "subscription") -> None:
        self.events += 1
        if kind == "subscription":
            note = kit.google_subscription_notification(
                purchase_token=token, notification_type=code, event_time_millis=self.now_ms
            )
        elif kind == "product":
            note = kit.google_one_time_product_notification(
                purchase_token=token, notification_type=code, event_time_millis=self.now_ms
            )
        else:
            order = self.play.subscriptions.get(token, {}).get("latestOrderId") or f"GPA.{token}"
            note = kit.google_voided_purchase_notification(
                purchase_token=token, order_id=order, product_type=code, event_time_millis=self.now_ms
            )
        self.posts.append(Post("/notifications/google", json.dumps(kit.pubsub_push_body(note)), google=True))

    def client(self, body: dict[str, Any], provider: str) -> None:
        self.posts.append(Post(f"/purchases/{provider}", json.dumps(body), reliable=True))

    # actions a customer takes ------------------------------------------------------------------

    def apple_subscribe(self, account: str) -> None:
        otid = str(2_000_000_000_000_000 + self.rng.randrange(10**12))
        self.app_store.subscriptions[otid] = AppleSubscription(
            otid, APPLE_MONTHLY, account, purchase_ms=self.now_ms, expires_ms=self.now_ms + 30 * DAY
        )
        self.apple("SUBSCRIBED", "INITIAL_BUY", otid)
        self.client({"signedTransaction": self.app_store.signed_transaction(otid)}, "apple")

    def apple_lifetime(self, account: str) -> None:
        tid = str(3_000_000_000_000_000 + self.rng.randrange(10**12))
        self.app_store.one_time[tid] = AppleOneTime(tid, APPLE_LIFETIME, account, self.now_ms)
        # Production sends no ONE_TIME_CHARGE: the app's post is the only way we learn of it.
        self.client({"signedTransaction": self.app_store.signed_transaction(tid)}, "apple")

    def google_subscribe(self, account: str, linked: str | None = None, pending: bool = False) -> str:
        token = f"gtok-{uuid.uuid4().hex[:12]}"
        state = "SUBSCRIPTION_STATE_PENDING" if pending else "SUBSCRIPTION_STATE_ACTIVE"
        self.play.subscriptions[token] = subscription_purchase(
            state,
            acknowledged=False,
            account_id=account,
            expiry=self._at(self.now_ms + 30 * DAY),
            linked_purchase_token=linked,
            latest_order_id=f"GPA.{token}..0",
        )
        self.google[token] = GooglePurchase(token, account, False, self.now_ms)
        self.rtdn(4, token)
        self.client(
            {"purchaseToken": token, "productId": GOOGLE_MONTHLY, "productType": "subscription"}, "google"
        )
        return token

    def google_lifetime(self, account: str) -> None:
        token = f"glife-{uuid.uuid4().hex[:12]}"
        self.play.products[(GOOGLE_LIFETIME, token)] = product_purchase(account_id=account)
        self.google[token] = GooglePurchase(token, account, True, self.now_ms)
        self.rtdn(1, token, "product")
        self.client(
            {"purchaseToken": token, "productId": GOOGLE_LIFETIME, "productType": "product"}, "google"
        )

    def act(self, account: str) -> None:
        """One random thing this customer does today."""
        mine_apple = [s for s in self.app_store.subscriptions.values() if s.account == account]
        mine_google = [g for g in self.google.values() if g.account == account and not g.lifetime]
        choice = self.rng.randrange(12)
        if choice == 0:
            self.apple_subscribe(account)
        elif choice == 1:
            self.google_subscribe(account)
        elif choice == 2 and self.rng.random() < 0.3:
            if self.rng.random() < 0.5:
                self.apple_lifetime(account)
            else:
                self.google_lifetime(account)
        elif choice in (3, 4) and mine_apple:
            sub = self.rng.choice(mine_apple)
            if sub.revocation_ms is None and sub.expires_ms > self.now_ms:
                sub.auto_renew = not sub.auto_renew
                self.apple(
                    "DID_CHANGE_RENEWAL_STATUS",
                    "AUTO_RENEW_ENABLED" if sub.auto_renew else "AUTO_RENEW_DISABLED",
                    sub.original_transaction_id,
                )
        elif choice == 5 and mine_apple:
            sub = self.rng.choice(mine_apple)
            if sub.revocation_ms is None and sub.expires_ms > self.now_ms:
                sub.revocation_ms = self.now_ms  # refund of the running period
                sub.auto_renew = False
                self.apple("REFUND", None, sub.original_transaction_id)
        elif choice == 6 and mine_google:
            self._google_cancel_or_revoke(self.rng.choice(mine_google).token)
        elif choice == 7 and mine_google:
            self._google_plan_change(self.rng.choice(mine_google), pending=self.rng.random() < 0.4)
        elif choice == 8:
            self._refund_a_lifetime_pass(account)

    def _google_cancel_or_revoke(self, token: str) -> None:
        purchase = self.play.subscriptions[token]
        if purchase["subscriptionState"] not in (
            "SUBSCRIPTION_STATE_ACTIVE",
            "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
        ):
            return
        if self.rng.random() < 0.6:
            purchase["subscriptionState"] = "SUBSCRIPTION_STATE_CANCELED"
            purchase["lineItems"][0]["autoRenewingPlan"]["autoRenewEnabled"] = False
            self.rtdn(3, token)
        else:
            purchase["subscriptionState"] = "SUBSCRIPTION_STATE_EXPIRED"
            self.play.voided.append(
                voided_purchase(token, purchase["latestOrderId"], voided_at=self._at(self.now_ms))
            )
            self.rtdn(12, token)
            self.rtdn(1, token, "voided")

    def _google_plan_change(self, old: GooglePurchase, pending: bool) -> None:
        if self.play.subscriptions[old.token]["subscriptionState"] != "SUBSCRIPTION_STATE_ACTIVE":
            return
        new = self.google_subscribe(old.account, linked=old.token, pending=pending)
        if not pending:
            self._replace(old.token, new)
        elif self.rng.random() < 0.5:
            self.pending_changes.append((old.token, new))
        else:
            self.play.subscriptions[new]["subscriptionState"] = "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED"
            self.rtdn(20, new)

    def _replace(self, old: str, new: str) -> None:
        self.play.subscriptions[old]["subscriptionState"] = "SUBSCRIPTION_STATE_EXPIRED"
        self.rtdn(13, old)

    def _refund_a_lifetime_pass(self, account: str) -> None:
        apple = [
            p for p in self.app_store.one_time.values() if p.account == account and p.revocation_ms is None
        ]
        google = [g for g in self.google.values() if g.account == account and g.lifetime]
        if apple and self.rng.random() < 0.5:
            item = self.rng.choice(apple)
            item.revocation_ms = self.now_ms
            self.apple("REFUND", None, item.transaction_id)
        elif google:
            item_g = self.rng.choice(google)
            product = self.play.products[(GOOGLE_LIFETIME, item_g.token)]
            if product["purchaseState"] == 0:
                product["purchaseState"] = 1
                self.play.voided.append(
                    voided_purchase(
                        item_g.token,
                        product["orderId"] + item_g.token,
                        voided_at=self._at(self.now_ms),
                        product_type=2,
                    )
                )
                self.rtdn(2, item_g.token, "voided")

    # time passing ------------------------------------------------------------------------------

    pending_changes: list[tuple[str, str]] = field(default_factory=list)

    def advance(self, to_ms: int) -> None:
        """What the stores do on their own as time passes: renewals, billing failures, expiries."""
        self.now_ms = to_ms
        for sub in self.app_store.subscriptions.values():
            self._apple_tick(sub)
        for token, purchase in list(self.play.subscriptions.items()):
            self._google_tick(token, purchase)
        for old, new in list(self.pending_changes):
            if self.rng.random() < 0.5:  # the slow payment completes
                self.pending_changes.remove((old, new))
                self.play.subscriptions[new]["subscriptionState"] = "SUBSCRIPTION_STATE_ACTIVE"
                self.google[new].bought_ms = self.now_ms  # Play's three days start with the payment
                self.rtdn(1, new)
                self._replace(old, new)

    def _apple_tick(self, sub: AppleSubscription) -> None:
        if sub.revocation_ms is not None:
            return
        key = sub.original_transaction_id
        if sub.billing_retry:
            if (
                sub.grace_expires_ms
                and sub.grace_expires_ms <= self.now_ms
                and not getattr(sub, "_grace_told", False)
            ):
                sub._grace_told = True  # type: ignore[attr-defined]
                self.apple("GRACE_PERIOD_EXPIRED", None, key)
            if self.rng.random() < 0.3:  # the card works again
                sub.billing_retry, sub.grace_expires_ms = False, None
                sub.renewals += 1
                sub.purchase_ms, sub.expires_ms = self.now_ms, self.now_ms + 30 * DAY
                self.apple("DID_RENEW", "BILLING_RECOVERY", key)
            elif self.now_ms - sub.expires_ms > 20 * DAY:
                sub.billing_retry, sub.auto_renew = False, False
                self.apple("EXPIRED", "BILLING_RETRY", key)
            return
        if sub.expires_ms > self.now_ms:
            return
        if not sub.auto_renew:
            if not getattr(sub, "_expired_told", False):
                sub._expired_told = True  # type: ignore[attr-defined]
                self.apple("EXPIRED", "VOLUNTARY", key)
            return
        if self.rng.random() < 0.75:
            sub.renewals += 1
            sub.purchase_ms, sub.expires_ms = sub.expires_ms, sub.expires_ms + 30 * DAY
            if sub.expires_ms <= self.now_ms:  # a long sleep: renew up to now
                sub.purchase_ms, sub.expires_ms = self.now_ms, self.now_ms + 30 * DAY
            self.apple("DID_RENEW", None, key)
        else:
            sub.billing_retry, sub.grace_expires_ms = True, sub.expires_ms + 6 * DAY
            self.apple("DID_FAIL_TO_RENEW", "GRACE_PERIOD", key)

    def _google_tick(self, token: str, purchase: dict[str, Any]) -> None:
        state = purchase["subscriptionState"]
        item = purchase["lineItems"][0]
        expiry = _ms(item["expiryTime"])
        if expiry > self.now_ms or state not in (
            "SUBSCRIPTION_STATE_ACTIVE",
            "SUBSCRIPTION_STATE_CANCELED",
            "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
            "SUBSCRIPTION_STATE_ON_HOLD",
        ):
            return
        if state == "SUBSCRIPTION_STATE_CANCELED":
            purchase["subscriptionState"] = "SUBSCRIPTION_STATE_EXPIRED"
            self.rtdn(13, token)
        elif state == "SUBSCRIPTION_STATE_ACTIVE" and self.rng.random() < 0.75:
            item["expiryTime"] = rfc3339(self._at(max(expiry, self.now_ms) + 30 * DAY))
            purchase["latestOrderId"] = f"GPA.{token}..{self.rng.randrange(10**6)}"
            self.rtdn(2, token)
        elif state == "SUBSCRIPTION_STATE_ACTIVE":
            purchase["subscriptionState"] = "SUBSCRIPTION_STATE_IN_GRACE_PERIOD"
            item["expiryTime"] = rfc3339(self._at(expiry + 3 * DAY))  # access through the grace period
            self.rtdn(6, token)
        elif state == "SUBSCRIPTION_STATE_IN_GRACE_PERIOD":
            purchase["subscriptionState"] = "SUBSCRIPTION_STATE_ON_HOLD"
            self.rtdn(5, token)
        elif self.rng.random() < 0.4:  # on hold: recovers, or ends
            purchase["subscriptionState"] = "SUBSCRIPTION_STATE_ACTIVE"
            item["expiryTime"] = rfc3339(self._at(self.now_ms + 30 * DAY))
            self.rtdn(1, token)
        elif self.now_ms - expiry > 20 * DAY:
            purchase["subscriptionState"] = "SUBSCRIPTION_STATE_EXPIRED"
            self.rtdn(13, token)

    @staticmethod
    def _at(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC)

    # the truth -----------------------------------------------------------------------------------

    def entitled(self, account: str) -> bool:
        for sub in self.app_store.subscriptions.values():
            if sub.account == account and sub.status(self.now_ms) in (1, 4):
                return True
        for item in self.app_store.one_time.values():
            if item.account == account and item.revocation_ms is None:
                return True
        for purchase in self.google.values():
            if purchase.account != account:
                continue
            if purchase.lifetime:
                if self.play.products[(GOOGLE_LIFETIME, purchase.token)]["purchaseState"] == 0:
                    return True
                continue
            sub = self.play.subscriptions[purchase.token]
            running = sub["subscriptionState"] in (
                "SUBSCRIPTION_STATE_ACTIVE",
                "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
                "SUBSCRIPTION_STATE_CANCELED",
            )
            if running and _ms(sub["lineItems"][0]["expiryTime"]) > self.now_ms:
                return True
        return False


def _ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


# --- the path from the stores to the database ---------------------------------------------------------------


class Pipeline:
    """Receiver (real, in-process) -> moto's SQS FIFO queue -> consumer (real), as Lambda would run them."""

    def __init__(
        self, receiver: Receiver, consumer: Consumer, queue_url: str, queue_arn: str, signer: kit.GoogleSigner
    ) -> None:
        self.receiver, self.consumer, self.queue_url, self.queue_arn = (
            receiver,
            consumer,
            queue_url,
            queue_arn,
        )
        self.signer = signer
        self.sqs = aws.client("sqs")
        self.template = json.loads(EVENT_TEMPLATE.read_text())

    def post(self, post: Post) -> int:
        event = copy.deepcopy(self.template)
        event["rawPath"] = event["requestContext"]["http"]["path"] = post.path
        event["body"] = post.body
        if post.google:
            event["headers"]["authorization"] = f"Bearer {self.signer.oidc_token()}"
        return int(self.receiver.handle(event)["statusCode"])

    def drain(self) -> None:
        """Batches of up to 10 until the queue is empty; failures come back at once (visibility 0).

        A minute of visibility while the consumer works: a slow machine must not see a message twice.
        """
        for _ in range(200):
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return
            records = [lambda_record(m, self.queue_arn, aws.region()) for m in messages]
            failed = {
                f["itemIdentifier"] for f in self.consumer.handle({"Records": records})["batchItemFailures"]
            }
            done = [r for r in records if r["messageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)],
                )
            if failed:
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0}
                        for i, r in enumerate(records)
                        if r["messageId"] in failed
                    ],
                )
        raise AssertionError("the queue did not drain")


@dataclass
class Adversary:
    """Between the stores and the receiver: drops, delays (by whole days), duplicates, reorders."""

    rng: random.Random
    stats: Stats
    delayed: list[tuple[int, Post]] = field(default_factory=list)

    def today(self, posts: list[Post], day: int) -> list[Post]:
        out: list[Post] = []
        for post in posts:
            if post.reliable:
                self.stats.client_posts += 1
            else:
                self.stats.notifications += 1
                roll = self.rng.random()
                if roll < 0.25:
                    self.stats.dropped += 1
                    continue
                if roll < 0.5:
                    self.stats.delayed += 1
                    self.delayed.append((day + self.rng.randrange(1, 6), post))
                    continue
            out.append(post)
            if self.rng.random() < 0.15:
                self.stats.duplicated += 1
                out.append(post)
        due = [p for d, p in self.delayed if d <= day]
        self.delayed = [(d, p) for d, p in self.delayed if d > day]
        out += due
        self.rng.shuffle(out)  # order across subscriptions and linked tokens is lost too
        return out

    def stragglers(self) -> list[Post]:
        posts = [p for _d, p in self.delayed]
        self.delayed = []
        self.rng.shuffle(posts)
        return posts


# --- the test ----------------------------------------------------------------------------------------


@pytest.fixture
def receiver_parts(tmp_path: Path) -> Iterator[tuple[kit.AppleTestCA, kit.GoogleSigner, Path]]:
    ca = kit.make_apple_test_ca()
    root = tmp_path / "root.der"
    root.write_bytes(ca.root_der)
    yield ca, kit.make_google_signer("oracle-kid"), root


def _run(
    seed: int, db: Db, unique_name: str, parts: tuple[kit.AppleTestCA, kit.GoogleSigner, Path], stats: Stats
) -> None:
    ca, signer, root = parts
    rng = random.Random(seed)
    db.conn.execute(
        "TRUNCATE notification_processed, notification_events, notification_entitlements, "
        "notification_subscriptions, notification_payloads, notification_consent_rescinded"
    )
    now = int(time.time() * 1000)
    start = now - DAYS * DAY
    world_clock = [start]
    sqs = aws.client("sqs")
    queue, arn = fifo_queue(f"{unique_name}-{seed}")
    with FakePlay() as play, FakeAppStore(ca, clock=lambda: world_clock[0]) as app_store:
        config = ReceiverConfig.from_env(
            {
                "NOTIFICATIONS_QUEUE_URL": queue,
                "APPLE_BUNDLE_ID": kit.DEFAULT_BUNDLE_ID,
                "APPLE_ENVIRONMENT": "Sandbox",
                "APPLE_ROOT_CA_PATH": str(root),
                "GOOGLE_PACKAGE_NAME": kit.DEFAULT_PACKAGE_NAME,
                "GOOGLE_PUBSUB_AUDIENCE": kit.DEFAULT_AUDIENCE,
                "GOOGLE_PUSH_SERVICE_ACCOUNT": kit.DEFAULT_SERVICE_ACCOUNT,
            }
        )
        jwks = signer.jwks()
        receiver = Receiver(
            config,
            sqs_client=sqs,
            jwks=JwksCache("https://x.invalid", fetch=lambda _u: jwks),
            metrics=Metrics(stream=io.StringIO()),
            clock=lambda: world_clock[0] / 1000,  # the app posts in simulated time
        )
        service = make_service(db, play, app_store)
        consumer = Consumer(service, metrics=Metrics(stream=io.StringIO()))
        reconciler = Reconciler(service, clock=lambda: world_clock[0] / 1000)
        pipeline = Pipeline(receiver, consumer, queue, arn, signer)
        world = World(rng, app_store, play, start)
        adversary = Adversary(rng, stats)
        accounts = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(USERS)]
        daily = ReconcileOptions(
            history_window=timedelta(hours=26), voided_window=timedelta(days=2), limit=1000
        )

        def compare(account: str, ours: bool) -> None:
            truth = world.entitled(account)
            stats.checks += 1
            stats.wrongful_premium += int(ours and not truth)
            stats.wrongful_loss += int(truth and not ours)
            if ours != truth:
                print(f"mismatch: {account} ours={ours} truth={truth} at {world.now_ms}")

        def deliver(posts: list[Post]) -> None:
            for post in posts:
                assert pipeline.post(post) == 200, post.path
            pipeline.drain()

        def stamp_acknowledgements() -> None:
            for purchase in world.google.values():
                if purchase.acknowledged_ms is not None:
                    continue
                resource = (
                    play.products[(GOOGLE_LIFETIME, purchase.token)]
                    if purchase.lifetime
                    else play.subscriptions[purchase.token]
                )
                if resource["acknowledgementState"] in (ACK_DONE, 1):
                    purchase.acknowledged_ms = world.now_ms

        for day in range(DAYS):
            world_clock[0] = world.now_ms = start + day * DAY + rng.randrange(HOUR)
            for account in accounts:
                if rng.random() < 0.35:
                    world.act(account)
            deliver(adversary.today(world.posts, day))
            world.posts.clear()
            stamp_acknowledgements()
            world_clock[0] = start + day * DAY + 12 * HOUR
            world.advance(world_clock[0])
            deliver(adversary.today(world.posts, day))
            world.posts.clear()
            world_clock[0] = start + day * DAY + 23 * HOUR
            world.now_ms = world_clock[0]
            report = reconciler.run(daily)
            stats.reconciliations += 1
            stats.repaired += report.repaired
            stamp_acknowledgements()
            # After every reconciliation, at that (simulated) moment: what the view computes with now().
            for account in accounts:
                row = db.one(
                    "SELECT COALESCE(entitled_until > %s, false) AS premium FROM notification_entitlements "
                    "WHERE owner_key = %s",
                    World._at(world.now_ms),
                    f"account:{account}",
                )
                compare(account, bool(row and row["premium"]))
        # The end of the run is now: the clock the database reads entitlements with.
        world_clock[0] = world.now_ms = int(time.time() * 1000)
        world.advance(world.now_ms)
        deliver(adversary.today(world.posts, DAYS))
        world.posts.clear()
        report = reconciler.run(daily)
        stats.reconciliations += 1
        stats.repaired += report.repaired
        stamp_acknowledgements()
        deliver(adversary.stragglers())  # late notifications after the reconciliation change nothing
        stats.runs += 1
        stats.users += len(accounts)
        stats.store_events += world.events
        for account in accounts:
            row = db.one(
                "SELECT premium FROM notification_entitlements_now WHERE owner_key = %s", f"account:{account}"
            )
            compare(account, bool(row and row["premium"]))
        for purchase in world.google.values():
            resource = (
                play.products[(GOOGLE_LIFETIME, purchase.token)]
                if purchase.lifetime
                else play.subscriptions[purchase.token]
            )
            state = resource.get("subscriptionState")
            if state in ("SUBSCRIPTION_STATE_PENDING", "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED"):
                continue
            stats.acknowledgeable += 1
            acked = purchase.acknowledged_ms
            late = acked is None or acked - purchase.bought_ms > ACK_DEADLINE
            stats.late_acknowledgements += int(late)
            if late:
                print(f"late acknowledgement: {purchase} state={state} now={world.now_ms}")
        service.repository.close()


def test_after_reconciliation_every_entitlement_equals_the_stores_truth(
    db: Db, unique_name: str, receiver_parts: tuple[kit.AppleTestCA, kit.GoogleSigner, Path]
) -> None:
    stats = Stats()
    seed0 = int(os.environ.get("ORACLE_SEED", "17"))
    for run in range(RUNS):
        _run(seed0 + run, db, unique_name, receiver_parts, stats)
    print(f"\noracle: {stats.line()}")
    assert stats.checks == RUNS * USERS * (DAYS + 1)
    assert stats.dropped > 0 and stats.delayed > 0 and stats.duplicated > 0
    assert stats.acknowledgeable > 0
    assert (stats.wrongful_premium, stats.wrongful_loss) == (0, 0), stats.line()
    assert stats.late_acknowledgements == 0, stats.line()
