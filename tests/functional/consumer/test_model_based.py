"""Model-based test: random orderings, duplicates, batches and poison messages of one couple's
notifications; after every step, the stored state equals the one computed from the notifications
applied so far taken in event-time order.

The model is independent of the strategies: each generated notification carries the status it
implies on its own (`ALPHABET`), so the model is "the status of the newest applied notification".
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from lambdas.consumer.handler import Consumer
from lambdas.consumer.model import is_entitled
from lambdas.shared.messages import NotificationMessage
from tests.fixtures.notifications.consumer import events as ev
from tests.functional.consumer.conftest import Db

OTID = "2000000000000001"
LIFETIME_OTID = "2000000000000900"

# (type, subtype, auto-renew in the signed renewal info, the subscription status it implies)
ALPHABET: list[tuple[str, str | None, bool, str]] = [
    ("SUBSCRIBED", "INITIAL_BUY", True, "active"),
    ("SUBSCRIBED", "RESUBSCRIBE", True, "active"),
    ("DID_RENEW", None, True, "active"),
    ("DID_FAIL_TO_RENEW", None, True, "billing-retry"),
    ("DID_FAIL_TO_RENEW", "GRACE_PERIOD", True, "grace"),
    ("GRACE_PERIOD_EXPIRED", None, True, "billing-retry"),
    ("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_DISABLED", False, "canceled-until-expiry"),
    ("DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_ENABLED", True, "active"),
    ("DID_CHANGE_RENEWAL_PREF", "DOWNGRADE", True, "active"),
    ("PRICE_INCREASE", "ACCEPTED", True, "active"),
    ("EXPIRED", "VOLUNTARY", False, "expired"),
    ("REFUND", None, True, "refunded"),
    ("REVOKE", None, True, "revoked"),
    ("REFUND_REVERSED", None, True, "active"),
    ("RENEWAL_EXTENDED", None, True, "active"),
]
# Lifetime pass: (type, status of the pass it implies)
LIFETIME_ALPHABET: list[tuple[str, str]] = [
    ("ONE_TIME_CHARGE", "active"),
    ("REFUND", "refunded"),
    ("REFUND_REVERSED", "active"),
]


@dataclass(frozen=True)
class Generated:
    message: NotificationMessage
    time: int
    key: str
    status: str


class NotificationMachine(RuleBasedStateMachine):
    consumer: Consumer
    db: Db

    def __init__(self) -> None:
        super().__init__()
        self.db.conn.execute(
            "DELETE FROM notification_processed; DELETE FROM notification_events; "
            "DELETE FROM notification_entitlements; DELETE FROM notification_subscriptions"
        )
        self.notifications: list[Generated] = []
        self.applied: set[int] = set()

    @initialize(
        subscription=st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=8),
        lifetime=st.lists(st.sampled_from(LIFETIME_ALPHABET), max_size=3),
        times=st.permutations(range(11)),
    )
    def generate(
        self,
        subscription: list[tuple[str, str | None, bool, str]],
        lifetime: list[tuple[str, str]],
        times: list[int],
    ) -> None:
        for index, (kind, subtype, auto_renew, status) in enumerate(subscription):
            signed = ev.T0 + times[index] * 1000
            message = ev.apple(
                kind, subtype, signed=signed, expires=ev.T0 + 30 * ev.DAY, auto_renew=auto_renew
            )
            self.notifications.append(Generated(message, signed, OTID, status))
        for index, (kind, status) in enumerate(lifetime):
            signed = ev.T0 + times[len(subscription) + index] * 1000 + 1
            self.notifications.append(
                Generated(ev.apple_lifetime(kind, signed=signed), signed, LIFETIME_OTID, status)
            )

    @rule(data=st.data())
    def deliver_a_batch(self, data: st.DataObject) -> None:
        """Any notifications (repeats allowed), in any order, optionally with a poison message."""
        picks = data.draw(st.lists(st.integers(0, len(self.notifications) - 1), min_size=1, max_size=6))
        poison_at = data.draw(st.none() | st.integers(0, len(picks)))
        batch: list[NotificationMessage | str] = [self.notifications[i].message for i in picks]
        if poison_at is not None:
            # Newer than everything, so it is never skipped as stale and its strategy always fails.
            poison = ev.apple("DID_RENEW", signed=ev.T0 + 3_600_000)
            del poison.payload["data"]["transactionInfo"]
            batch.insert(poison_at, poison)
            picks = [*picks[:poison_at], -1, *picks[poison_at:]]
        event = ev.sqs_event(batch)
        failed = set(ev.failed_indexes(self.consumer.handle(event), event))
        groups = [m.message_group_id for m in batch if not isinstance(m, str)]
        for position, pick in enumerate(picks):
            if position in failed:
                # FIFO: everything after the poison in its group failed too; other groups went on.
                assert (
                    poison_at is not None and position >= poison_at and groups[position] == groups[poison_at]
                )
            elif pick >= 0:
                self.applied.add(pick)
        if poison_at is not None:
            assert poison_at in failed

    def expected(self, key: str) -> str | None:
        applied = sorted(
            (self.notifications[i] for i in self.applied if self.notifications[i].key == key),
            key=lambda g: g.time,
        )
        return applied[-1].status if applied else None

    @invariant()
    def state_equals_the_in_order_model(self) -> None:
        subscription, lifetime = self.expected(OTID), self.expected(LIFETIME_OTID)
        assert self.db.status(OTID) == subscription
        assert self.db.status(LIFETIME_OTID) == lifetime
        premium = (lifetime is not None and is_entitled("lifetime", lifetime)) or (
            subscription is not None and is_entitled("subscription", subscription)
        )
        stored = self.db.premium()
        assert (stored[0] if stored else False) == premium
        processed = self.db.one("SELECT count(*) AS n FROM notification_processed")
        assert processed == {"n": len({self.notifications[i].message.notification_id for i in self.applied})}


def test_random_orderings_and_duplicates_converge_to_the_in_order_state(consumer: Consumer, db: Db) -> None:
    NotificationMachine.consumer = consumer
    NotificationMachine.db = db
    run_state_machine_as_test(
        NotificationMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
