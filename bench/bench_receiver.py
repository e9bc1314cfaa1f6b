"""Receiver cost: Apple verification CPU per notification (uncached vs cached chain) and handler latency.

Baseline: the uncached path (every JWS re-verifies its certificate chain), measured in the same
run. Target: a notification from a known chain costs under 1 ms of CPU. Handler latency is
measured in-process against an in-process SQS stub (no network), so it is the receiver's own
cost: body parsing, verification, message building, logging and metrics.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import opstestkit as kit
from rich.console import Console
from rich.table import Table

from lambdas.receiver.apple import AppleVerifier
from lambdas.receiver.config import ReceiverConfig
from lambdas.receiver.google import JwksCache
from lambdas.receiver.handler import Receiver
from lambdas.shared.metrics import Metrics
from tests.fixtures.notifications.receiver import apigw_event, apple_verifier, receiver_env

TARGET_CACHED_CPU_MS = 1.0
ROUNDS = 300
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "notifications"


class _SqsStub:
    """Accepts every SendMessage in-process, like a healthy queue that answers instantly."""

    def __init__(self) -> None:
        self.sent = 0

    def send_message(self, **_: Any) -> dict[str, str]:
        self.sent += 1
        return {"MessageId": str(uuid.uuid4())}


def _cpu_ms_per_call(work: Callable[[], object], rounds: int) -> float:
    start = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - start) * 1000 / rounds


def _latencies_ms(receiver: Receiver, events: list[dict[str, Any]]) -> list[float]:
    out: list[float] = []
    # The handler logs one JSON line per request; keep it off the benchmark's console.
    with contextlib.redirect_stdout(io.StringIO()):
        for event in events:
            start = time.perf_counter()
            status = receiver.handle(event)["statusCode"]
            out.append((time.perf_counter() - start) * 1000)
            if status != 200:
                raise RuntimeError(f"benchmark request refused with {status}")
    return out


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> bool:
    console = Console()
    ca = kit.make_apple_test_ca()
    google = kit.make_google_signer("bench-kid")
    subscription = ca.sign(kit.apple_subscription_notification(ca))
    test_only = ca.sign(kit.apple_test_notification())

    # cache_size=0 keeps nothing: every JWS walks and checks its chain (the baseline path).
    uncached = apple_verifier(ca.root_der, cache_size=0)
    cached = apple_verifier(ca.root_der, cache_size=64)
    cached.verify_notification(subscription)
    rows = [
        ("TEST (1 JWS)", test_only),
        ("DID_RENEW (3 JWS)", subscription),
    ]
    cpu: dict[str, tuple[float, float]] = {}
    for label, token in rows:
        cold = _cpu_ms_per_call(lambda t=token: uncached.verify_notification(t), ROUNDS // 3)  # type: ignore[misc]
        warm = _cpu_ms_per_call(lambda t=token: cached.verify_notification(t), ROUNDS)  # type: ignore[misc]
        cpu[label] = (cold, warm)
    # Apple's real chain (P-384 root and intermediate) on a real sandbox transaction.
    real_root = (FIXTURES / "apple" / "AppleRootCA-G3.cer").read_bytes()
    real_token = (FIXTURES / "apple" / "sandbox-transaction.jws").read_text().strip()
    real = {
        size: AppleVerifier(
            real_root, bundle_id="com.goodheartapp", app_apple_id=None, environment="Sandbox", cache_size=size
        )
        for size in (0, 64)
    }
    cpu["real sandbox transaction (1 JWS)"] = (
        _cpu_ms_per_call(lambda: real[0].verify_jws(real_token), ROUNDS // 3),
        _cpu_ms_per_call(lambda: real[64].verify_jws(real_token), ROUNDS),
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root.der"
        root.write_bytes(ca.root_der)
        config = ReceiverConfig.from_env(
            receiver_env("https://sqs.us-east-1.amazonaws.com/123456789012/bench.fifo", root)
        )
    stub = _SqsStub()
    receiver = Receiver(
        config,
        sqs_client=stub,
        jwks=JwksCache("https://jwks.invalid/", fetch=lambda _: google.jwks()),
        metrics=Metrics(stream=io.StringIO()),
    )
    apple_events = [
        apigw_event(
            "/notifications/apple",
            kit.apple_request_body(ca.sign(kit.apple_subscription_notification(ca))),
        )
        for _ in range(ROUNDS)
    ]
    auth = {"authorization": f"Bearer {google.oidc_token()}"}
    google_events = [
        apigw_event(
            "/notifications/google",
            json.dumps(kit.pubsub_push_body(kit.google_subscription_notification())),
            auth,
        )
        for _ in range(ROUNDS)
    ]
    apple_latency = _latencies_ms(receiver, apple_events)
    google_latency = _latencies_ms(receiver, google_events)

    table = Table(title="receiver: Apple verification CPU per notification (baseline = uncached chain check)")
    table.add_column("notification")
    table.add_column("uncached ms CPU", justify="right")
    table.add_column("cached ms CPU", justify="right")
    table.add_column("speed-up", justify="right")
    table.add_column(f"target cached < {TARGET_CACHED_CPU_MS} ms", justify="center")
    met = True
    for label, (cold, warm) in cpu.items():
        ok = warm < TARGET_CACHED_CPU_MS
        met &= ok
        table.add_row(label, f"{cold:.3f}", f"{warm:.3f}", f"{cold / warm:.1f}x", "ok" if ok else "MISSED")
    console.print(table)

    latency = Table(title=f"receiver: handler latency, {ROUNDS} requests each, in-process SQS stub")
    latency.add_column("route")
    latency.add_column("p50 ms", justify="right")
    latency.add_column("p99 ms", justify="right")
    latency.add_column("mean ms", justify="right")
    for route, values in (
        ("POST /notifications/apple (DID_RENEW)", apple_latency),
        ("POST /notifications/google", google_latency),
    ):
        latency.add_row(
            route,
            f"{_percentile(values, 0.5):.3f}",
            f"{_percentile(values, 0.99):.3f}",
            f"{statistics.fmean(values):.3f}",
        )
    console.print(latency)
    console.print(f"messages sent to the stub: {stub.sent}")
    return met
