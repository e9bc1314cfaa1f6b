"""A Play outage: bounded retries inside the invocation (Retry-After honoured), then the messages go
back to SQS with a growing visibility timeout, so a 30-minute outage dead-letters nothing.

Against moto's SQS server and the fake Play API; fails on the consumer that only retried through
the queue's 360 s visibility timeout (5 receives = 30 minutes, then the DLQ).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hcl2
import pytest
from opstestkit.fake_app_store import FakeAppStore
from opstestkit.fake_play import FakePlay, subscription_purchase

from lambdas.consumer.exceptions import PlayApiError
from lambdas.consumer.google.play import PlayClient
from lambdas.consumer.handler import Consumer, store_backoff
from ops import aws
from ops.notifications.pipeline import lambda_record
from tests.fixtures.notifications.consumer import events as ev
from tests.functional.consumer.conftest import Db, fifo_queue, make_service

VARIABLES = Path(__file__).resolve().parents[3] / "terraform" / "modules" / "notifications" / "variables.tf"


def _default(name: str) -> Any:
    with VARIABLES.open() as handle:
        for block in hcl2.load(handle)["variable"]:
            for key, body in block.items():
                if key.strip('"') == name:
                    return str(body["default"]).strip('"')
    raise AssertionError(f"variable {name} not in {VARIABLES}")


def test_a_thirty_minute_outage_does_not_reach_the_dlq_with_the_module_defaults() -> None:
    receives = int(_default("max_receive_count"))
    # Each receive fails (after at most the in-invocation budget); the waits between receives are the
    # hand-back delays. The message is dead-lettered on the receive after the last one.
    survives = sum(store_backoff(n) for n in range(1, receives))
    assert survives >= 30 * 60 * 2, f"only {survives}s of outage before the DLQ"
    # A bug (not an outage) still reaches the DLQ within a few hours: the queue's own timeout.
    visibility = int(_default("consumer_timeout")) * 6
    assert visibility * receives <= 4 * 3600


def test_retry_after_is_honoured_inside_the_invocation(fake_play: FakePlay) -> None:
    fake_play.subscriptions["tok"] = subscription_purchase()
    fake_play.fail_next, fake_play.fail_status, fake_play.retry_after = 2, 429, "3"
    slept: list[float] = []
    client = PlayClient(fake_play.credentials_info(), fake_play.api_root, sleep=slept.append)
    client.deadline(20)
    assert client.subscription_v2(ev.PACKAGE, "tok")["subscriptionState"] == "SUBSCRIPTION_STATE_ACTIVE"
    assert slept == [3.0, 3.0]


def test_an_outage_longer_than_the_budget_fails_fast_and_says_when_to_come_back(fake_play: FakePlay) -> None:
    fake_play.unavailable, fake_play.fail_status, fake_play.retry_after = True, 503, "600"
    client = PlayClient(fake_play.credentials_info(), fake_play.api_root, sleep=lambda _s: None)
    client.deadline(20)
    with pytest.raises(PlayApiError) as first:
        client.subscription_v2(ev.PACKAGE, "tok")
    assert first.value.retry_after == 600.0
    calls = len(fake_play.requests)
    with pytest.raises(PlayApiError):
        client.subscription_v2(ev.PACKAGE, "other")  # same invocation: Play is known to be down
    assert len(fake_play.requests) == calls


def test_failed_groups_go_back_to_sqs_for_later_not_for_the_default_timeout(
    db: Db, fake_play: FakePlay, app_store: FakeAppStore, unique_name: str
) -> None:
    sqs = aws.client("sqs")
    url, arn = fifo_queue(unique_name)
    messages = [
        ev.google_subscription(4, token="tok-a", event=ev.T0),
        ev.google_subscription(2, token="tok-a", event=ev.T0 + 1),
        ev.google_subscription(4, token="tok-b", event=ev.T0),
    ]
    for message in messages:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=message.to_json(),
            MessageGroupId=message.message_group_id,
            MessageDeduplicationId=message.deduplication_id,
        )
    received: list[dict[str, Any]] = []
    while len(received) < 3:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=2,
            AttributeNames=["All"],
            WaitTimeSeconds=1,
        ).get("Messages", [])
        assert batch, "the messages did not come back from SQS"
        received += batch
    fake_play.subscriptions.update({"tok-a": subscription_purchase(), "tok-b": subscription_purchase()})
    fake_play.unavailable = True
    service = make_service(db, fake_play, app_store)
    consumer = Consumer(service, sqs_client=sqs, store_budget_s=0.5)
    event = {"Records": [lambda_record(m, arn, aws.region()) for m in received]}
    started = time.monotonic()
    response = consumer.handle(event)
    assert len(response["batchItemFailures"]) == 3
    assert time.monotonic() - started < 5, "one outage must not cost every message its own retries"
    time.sleep(3)  # past the 2 s the messages were received with
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    assert again == [], "handed back for store_backoff(1) = 60 s, not visible after the receive timeout"
    service.repository.close()
