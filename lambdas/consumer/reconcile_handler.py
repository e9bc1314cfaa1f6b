"""The scheduled reconciler (EventBridge Scheduler -> this Lambda, in the consumer's package).

Hourly by default with the rule's input `{}` (due subscriptions, the last two hours of Apple's
notification history, two days of Google voided purchases); weekly `{"every": true}` sweeps every
subscription. The event's optional keys are those of `ReconcileOptions.from_event`.
"""

from __future__ import annotations

from typing import Any

from lambdas.consumer.config import ConsumerConfig
from lambdas.consumer.handler import build_service
from lambdas.consumer.reconcile import ReconcileOptions, Reconciler
from lambdas.shared.metrics import Metrics

_reconciler: Reconciler | None = None
_metrics = Metrics()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _reconciler  # noqa: PLW0603 - one Reconciler per container, built on the first (cold) call
    if _reconciler is None:
        _reconciler = Reconciler(build_service(ConsumerConfig.from_env()))
    report = _reconciler.run(ReconcileOptions.from_event(event if isinstance(event, dict) else {}))
    summary = report.summary()
    for name in ("checked", "repaired", "failed", "history_applied", "voided_applied"):
        _metrics.count(f"Reconcile{name.title().replace('_', '')}", {"Function": "reconcile"}, summary[name])
    return summary
