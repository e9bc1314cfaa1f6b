"""The operator's side of reconciliation: `ops notifications reconcile`, `import-lifetime`, `reprocess`.

Each builds the consumer's own configuration (the same environment variables the Lambdas read; a
`--state` folder of `ops notifications serve` supplies the local ones) and returns a PhaseResult.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lambdas.consumer.config import ENV_VARS, ConsumerConfig
from lambdas.consumer.handler import build_service
from lambdas.consumer.reconcile import Reconciled, ReconcileOptions, Reconciler
from lambdas.consumer.repository import DueSubscription
from lambdas.shared.exceptions import ConfigurationError
from lambdas.shared.messages import NotificationMessage
from ops import aws
from ops.exceptions import ConfigError
from ops.results import PhaseResult, StepStatus

LOCAL_ENV_FILE = "consumer-env.json"


def consumer_config(database_url: str, state: Path | None) -> ConsumerConfig:
    """The consumer's configuration from the environment, over a local serve's (`state`) if given."""
    env: dict[str, str] = {}
    if state is not None:
        local = state / LOCAL_ENV_FILE
        try:
            env.update(json.loads(local.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            raise ConfigError(
                f"no {LOCAL_ENV_FILE} in {state}: start `ops notifications serve` first"
            ) from None
    env.update({k: v for k, v in os.environ.items() if k in ENV_VARS})
    if database_url:
        env["DATABASE_URL"] = database_url
        env.pop("DATABASE_SECRET_ARN", None)
    try:
        return ConsumerConfig.from_env(env)
    except ConfigurationError as exc:
        raise ConfigError(str(exc)) from None


@contextmanager
def reconciler(config: ConsumerConfig) -> Iterator[Reconciler]:
    service = build_service(config)
    try:
        yield Reconciler(service)
    finally:
        service.repository.close()


def _step(result: PhaseResult, item: Reconciled) -> None:
    status = StepStatus.FAILED if item.outcome == "failed" else StepStatus.OK
    change = f"{item.status_before or '-'} -> {item.status_after or '-'}"
    result.add(
        f"{item.provider} {item.key[:40]}", status, f"{item.reason}: {item.outcome}, {change} {item.detail}"
    )


def reconcile(
    config: ConsumerConfig,
    options: ReconcileOptions,
    *,
    dry_run: bool,
    progress: Callable[[Reconciled], None] | None = None,
) -> PhaseResult:
    result = PhaseResult(phase="notifications reconcile", dry_run=dry_run)
    with reconciler(config) as run:
        if dry_run:
            due = run.due(options)
            for row in due:
                result.add(f"{row.provider} {row.key[:40]}", StepStatus.PLANNED, row.reason)
            result.evidence = {"due": len(due)}
            return result
        report = run.run(options, progress)
    for item in report.items:
        if item.repaired or item.outcome in ("failed", "not-found"):
            _step(result, item)
    for error in report.errors:
        result.add("store API", StepStatus.FAILED, error)
    result.add(
        "summary",
        StepStatus.FAILED if report.failed else StepStatus.OK,
        f"{report.checked} checked, {report.repaired} repaired, {report.failed} failed; Apple history "
        f"{report.history_applied}/{report.history_fetched} applied; Google voided "
        f"{report.voided_applied}/{report.voided_fetched} applied",
    )
    result.evidence = report.summary()
    return result


@dataclass(frozen=True)
class PassToImport:
    provider: str
    key: str
    product_id: str
    account_id: str | None


def read_passes(path: Path) -> list[PassToImport]:
    """CSV with a header: provider (apple|google), id (Apple transactionId / Google purchaseToken),
    product_id, account_id (the app's user id, for purchases made before the app sent one)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror})") from None
    passes, problems = [], []
    for number, row in enumerate(rows, start=2):
        provider, key = (row.get("provider") or "").strip(), (row.get("id") or "").strip()
        product = (row.get("product_id") or "").strip()
        if provider not in ("apple", "google") or not key or not product:
            problems.append(f"line {number}: needs provider (apple|google), id and product_id")
            continue
        passes.append(PassToImport(provider, key, product, (row.get("account_id") or "").strip() or None))
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems[:10]) + ". Fix the file and run again.")
    return passes


def import_lifetime(
    config: ConsumerConfig,
    passes: list[PassToImport],
    *,
    dry_run: bool,
    progress: Callable[[Reconciled], None] | None = None,
) -> PhaseResult:
    """Grant the lifetime passes bought before this service existed, each verified with its store."""
    result = PhaseResult(phase="notifications import-lifetime", dry_run=dry_run)
    lifetime = {"apple": config.apple_lifetime_product_ids, "google": config.google_lifetime_product_ids}
    unknown = sorted({p.product_id for p in passes if p.product_id not in lifetime[p.provider]})
    if unknown:
        raise ConfigError(
            f"not lifetime products: {', '.join(unknown)}; "
            "add them to APPLE_/GOOGLE_LIFETIME_PRODUCT_IDS first"
        )
    if dry_run:
        for item in passes:
            result.add(f"{item.provider} {item.key[:40]}", StepStatus.PLANNED, item.product_id)
        return result
    with reconciler(config) as run:
        for item in passes:
            row = DueSubscription(item.provider, item.key, "lifetime", item.product_id, "import")
            checked = run.check(row, account_id=item.account_id)
            granted = checked.status_after == "active"
            status = (
                StepStatus.OK
                if granted
                else StepStatus.FAILED
                if checked.outcome == "failed"
                else StepStatus.SKIPPED
            )
            result.add(
                f"{item.provider} {item.key[:40]}",
                status,
                f"{checked.outcome}: {checked.status_after or 'not granted'} {checked.detail}".strip(),
            )
            if progress:
                progress(checked)
    return result


def reprocess(
    config: ConsumerConfig,
    queue_name: str,
    *,
    outcome: str | None,
    event_type: str | None,
    limit: int,
    dry_run: bool,
) -> PhaseResult:
    """Send stored notifications (e.g. of a type no strategy knew) to the queue again, in their
    original FIFO groups, once their processed ids are forgotten so the consumer applies them."""
    result = PhaseResult(phase="notifications reprocess", dry_run=dry_run)
    service = build_service(config)
    repository = service.repository
    try:
        stored = repository.stored_payloads(outcome=outcome, event_type=event_type, limit=limit)
        sqs = aws.client("sqs") if not dry_run else None
        queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"] if sqs is not None else ""
        for row in stored:
            label = f"{row['provider']} {row['notification_id'][:40]}"
            if dry_run or sqs is None:
                result.add(label, StepStatus.PLANNED, f"{row['event_type']} ({row['outcome']})")
                continue
            message = NotificationMessage(
                provider=row["provider"],
                notification_id=row["notification_id"],
                group_id=row["subscription_key"] or f"{row['provider']}:reprocess",
                received_at=row["received_at"].isoformat().replace("+00:00", "Z"),
                payload=row["payload"],
            )
            with repository.transaction():
                repository.forget_processed(row["provider"], row["notification_id"])
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=message.to_json(),
                MessageGroupId=message.message_group_id,
                MessageDeduplicationId=f"reprocess-{time.time_ns()}-{message.deduplication_id}"[:128],
                MessageAttributes={"provider": {"DataType": "String", "StringValue": message.provider}},
            )
            result.add(label, StepStatus.OK, f"{row['event_type']}: enqueued")
        if not stored:
            result.add("stored notifications", StepStatus.SKIPPED, "none match")
    finally:
        repository.close()
    result.evidence = {"matched": len(stored)}
    return result
