"""`ops notifications`: run the pipeline locally, inspect and re-drive the DLQ, replay from Apple."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ops.cli.common import JsonOption, YesOption, current_settings, emit_json
from ops.exceptions import ConfigError
from ops.results import PhaseResult, StepStatus, render
from ops.sandbox.stack import default_root

app = typer.Typer(help="Operate the subscription notification pipeline.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and re-drive the notifications dead-letter queue.", no_args_is_help=True)
send_app = typer.Typer(help="Send a signed test notification to a running `serve`.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(send_app, name="send")
console = Console()

# Inside the local stack's folder (OPS_SANDBOX_DIR), where `ops sandbox env` finds a running serve.
DEFAULT_STATE = default_root() / "notifications"
StateOption = typer.Option(
    DEFAULT_STATE, "--state", help="Folder for the local signing material and settings."
)
IdsOption = typer.Option([], "--id", help="Only these message/notification ids (repeatable).")
KeyFileOption = typer.Option(
    Path("AuthKey.p8"), envvar="APP_STORE_CONNECT_PRIVATE_KEY_PATH", help="The .p8 private key."
)


def _parse_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} {value!r} is not an ISO-8601 date or time, e.g. 2026-11-20T00:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def migrate(
    database_url: str = typer.Option(
        "", envvar="NOTIFICATIONS_DATABASE_URL", help="PostgreSQL URL of the consumer's database."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List pending migrations; change nothing."),
    as_json: bool = JsonOption,
) -> None:
    """Apply the consumer's SQL migrations (subscriptions, entitlements, events, processed ids)."""
    from lambdas.consumer.repository import apply_migrations

    if not database_url:
        raise ConfigError("--database-url (or NOTIFICATIONS_DATABASE_URL) is required")
    versions = apply_migrations(database_url, dry_run=dry_run)
    result = PhaseResult(phase="notifications migrate", dry_run=dry_run, evidence={"versions": versions})
    for version in versions:
        result.add(version, StepStatus.PLANNED if dry_run else StepStatus.OK)
    if not versions:
        result.add("schema", StepStatus.SKIPPED, "already up to date")
    render(result, console, as_json)


@app.command()
def serve(  # noqa: PLR0917 - one parameter per CLI option
    port: int = typer.Option(8080, help="Port of the local HTTP front on 127.0.0.1 (0: any free)."),
    batch_size: int = typer.Option(10, help="Event source mapping batch size (1-10 for FIFO)."),
    visibility_timeout: int = typer.Option(30, help="Queue visibility timeout in seconds."),
    max_receive_count: int = typer.Option(5, help="Receives before SQS moves a message to the DLQ."),
    database_url: str = typer.Option(
        "", envvar="PROD_DATABASE_URL", help="PostgreSQL for the consumer (default: the sandbox's prod)."
    ),
    state: Path = StateOption,
) -> None:
    """Receiver behind a local HTTP front + SQS poller + consumer, on the local stack, until Ctrl-C.

    Uses test signing material (saved in --state for `ops notifications send`) and a local fake
    Play Developer API; the queues get a RedrivePolicy to the FIFO DLQ.
    """
    from lambdas.consumer.repository import apply_migrations
    from ops.notifications.devkit import require_testkit
    from ops.notifications.local import LocalOptions, build, write_serve_state
    from ops.notifications.pipeline import ensure_queues

    require_testkit()
    from opstestkit.fake_app_store import FakeAppStore
    from opstestkit.fake_play import FakePlay
    from opstestkit.identity import SigningIdentity
    from opstestkit.local import local_trust

    if not database_url:
        raise ConfigError(
            'no database: start the local stack (`ops sandbox up`, then `eval "$(ops sandbox env)"`)'
        )
    settings = current_settings()
    queues = ensure_queues(
        settings.notifications_queue,
        settings.notifications_dlq,
        visibility_timeout=visibility_timeout,
        max_receive_count=max_receive_count,
    )
    apply_migrations(database_url)
    options = LocalOptions(
        database_url=database_url,
        queues=queues,
        state_dir=state.resolve(),
        batch_size=batch_size,
        visibility_timeout=visibility_timeout,
        port=port,
    )
    identity = SigningIdentity.create()
    identity.save(options.state_dir)
    with FakePlay() as fake_play, FakeAppStore(identity.apple_ca) as app_store:
        trust = local_trust(identity, fake_play, app_store)
        pipeline, _consumer = build(options, trust)
        with pipeline:
            serve_state = write_serve_state(options, trust, pipeline.front.url, fake_play.api_root)
            console.print(
                f"receiver: [bold]{pipeline.front.url}[/]/notifications/apple | /notifications/google"
                " | /purchases/apple | /purchases/google"
            )
            console.print(
                f"queue: {queues.queue_url}\nDLQ:   {queues.dlq_url}\nfake Play API: {fake_play.api_root}\n"
                f"fake App Store Server API: {app_store.base_url}"
            )
            console.print(
                "Send one: [bold]ops notifications send apple SUBSCRIBED --subtype INITIAL_BUY[/]; "
                'other shells: [bold]eval "$(ops sandbox env)"[/] picks up these settings. Ctrl-C stops.'
            )
            last = None
            try:
                while True:
                    time.sleep(1)
                    stats = pipeline.poller.stats
                    now = (stats.received, stats.succeeded, stats.failed)
                    if now != last:
                        console.print(
                            f"batches {stats.batches}  received {stats.received}  applied {stats.succeeded}  "
                            f"failed {stats.failed}  function errors {stats.handler_errors}"
                        )
                        last = now
            except KeyboardInterrupt:
                console.print("stopping")
            finally:
                serve_state.unlink(missing_ok=True)


def _load_identity(state: Path) -> Any:
    from ops.notifications.devkit import require_testkit

    require_testkit()
    from opstestkit.identity import IdentityMissing, SigningIdentity

    try:
        return SigningIdentity.load(state.resolve())
    except IdentityMissing as exc:
        raise ConfigError(str(exc)) from None


def _serve_state(state: Path, key: str = "url") -> str:
    try:
        return str(json.loads((state / "serve.json").read_text(encoding="utf-8"))[key])
    except (OSError, ValueError, KeyError):
        raise ConfigError(f"no running `ops notifications serve` found in {state}; start it first") from None


@send_app.command("apple")
def send_apple(  # noqa: PLR0917 - one parameter per CLI option
    notification_type: str = typer.Argument(
        ..., help="notificationType, e.g. SUBSCRIBED, DID_RENEW, REFUND."
    ),
    subtype: str = typer.Option("", help="subtype, e.g. INITIAL_BUY, GRACE_PERIOD, AUTO_RENEW_DISABLED."),
    original_transaction_id: str = typer.Option("2000000123456789", help="The subscription's identity."),
    account: str = typer.Option(
        "7d4e8f1a-0000-4000-8000-000000000001", help="appAccountToken (user external id)."
    ),
    product_id: str = typer.Option("com.example.couplediary.premium.monthly", help="Product id."),
    missed: bool = typer.Option(
        False,
        "--missed",
        help="Do not deliver it: only the local App Store keeps it in its notification history, as "
        "when the receiver was down (`replay-apple` then fetches it).",
    ),
    state: Path = StateOption,
) -> None:
    """Sign an App Store Server Notification V2 with the local test CA and POST it to `serve`."""
    identity = _load_identity(state)
    import opstestkit as kit

    signed = kit.now_ms()
    transaction = kit.apple_transaction_info(
        original_transaction_id=original_transaction_id,
        product_id=product_id,
        signed_date=signed,
        purchase_date=signed,
        appAccountToken=account,
    )
    payload = kit.apple_subscription_notification(
        identity.apple_ca,
        notification_type,
        subtype or None,
        original_transaction_id=original_transaction_id,
        signed_date=signed,
        transaction=transaction,
    )
    if missed:
        from ops.notifications.rehearsal import keep_in_history

        keep_in_history(_serve_state(state.resolve(), "app_store_api"), identity.apple_ca.sign(payload))
        console.print(
            f"kept in the App Store's notification history, not delivered "
            f"(notificationUUID {payload['notificationUUID']}); `ops notifications replay-apple` fetches it"
        )
        return
    _post_to_serve(
        state,
        "apple",
        kit.apple_request_body(identity.apple_ca.sign(payload)),
        note=f" (notificationUUID {payload['notificationUUID']})",
    )


def _post_to_serve(
    state: Path, route: str, body: str, *, headers: dict[str, str] | None = None, note: str = ""
) -> None:
    """POST `body` to the running `serve`'s /notifications/<route>, print its answer; exit 1 unless 200."""
    import requests

    response = requests.post(
        f"{_serve_state(state.resolve())}/notifications/{route}", data=body, headers=headers, timeout=10
    )
    console.print(f"{response.status_code} {response.text}{note}")
    if response.status_code != 200:
        raise typer.Exit(1)


@send_app.command("google")
def send_google(
    code: int = typer.Argument(..., help="Subscription notificationType code, e.g. 4 PURCHASED, 2 RENEWED."),
    token: str = typer.Option("opaque-purchase-token-subscription-0001", help="purchaseToken."),
    state: Path = StateOption,
) -> None:
    """Sign a Pub/Sub push of a Google RTDN with the local test key and POST it to `serve`.

    The consumer reads the subscription's state from serve's fake Play API, which knows no purchase
    until one is set there, so it records the notification as not-found.
    """
    identity = _load_identity(state)
    import opstestkit as kit

    notification = kit.google_subscription_notification(purchase_token=token, notification_type=code)
    _post_to_serve(
        state,
        "google",
        json.dumps(kit.pubsub_push_body(notification)),
        headers={"Authorization": f"Bearer {identity.google.oidc_token()}"},
    )


@send_app.command("unreadable")
def send_unreadable(
    notification_id: str = typer.Option("local-unreadable-0001", "--id", help="Its notification id."),
    wait: float = typer.Option(60.0, "--wait", help="Seconds to wait for it to reach the DLQ."),
) -> None:
    """Put on the queue a message this consumer cannot read (as a receiver of another version would
    write it) and wait until the consumer has failed it into the DLQ: something for the DLQ runbook
    to work on (start `serve` with a small --max-receive-count)."""
    from ops.notifications.rehearsal import send_unreadable as send

    settings = current_settings()
    seconds = send(settings.notifications_queue, settings.notifications_dlq, notification_id, wait)
    console.print(
        f"dead-lettered after {seconds:.0f} s: `ops notifications dlq show {notification_id}` shows it"
    )


@dlq_app.command("list")
def dlq_list(
    limit: int = typer.Option(100, help="At most this many messages."), as_json: bool = JsonOption
) -> None:
    """Messages in the DLQ: id, group, provider, notification id and type, receive count."""
    from ops.notifications.dlq import DeadLetterQueue

    settings = current_settings()
    messages = DeadLetterQueue.from_names(
        settings.notifications_queue, settings.notifications_dlq
    ).list_messages(limit)
    if as_json:
        emit_json([m.summary() for m in messages])
        return
    table = Table(title=f"{settings.notifications_dlq}: {len(messages)} message(s)")
    for column in (
        "message_id",
        "group_id",
        "provider",
        "notification_id",
        "type",
        "receive_count",
        "sent_at",
    ):
        table.add_column(column)
    for m in messages:
        table.add_row(*(str(v) for v in m.summary().values()))
    console.print(table)


@dlq_app.command("show")
def dlq_show(message_id: str = typer.Argument(..., help="SQS message id or notification id.")) -> None:
    """One DLQ message with its full body."""
    from ops.notifications.dlq import DeadLetterQueue

    settings = current_settings()
    message = DeadLetterQueue.from_names(settings.notifications_queue, settings.notifications_dlq).show(
        message_id
    )
    emit_json({**message.summary(), "body": _json_or_text(message.body)})


def _json_or_text(body: str) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return body


@dlq_app.command("redrive")
def dlq_redrive(
    message_ids: list[str] = IdsOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would move; change nothing."),
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Move DLQ messages back to the main queue (group order kept); the consumer applies each once."""
    from ops.notifications.dlq import DeadLetterQueue

    settings = current_settings()
    dlq = DeadLetterQueue.from_names(settings.notifications_queue, settings.notifications_dlq)
    if not dry_run and not yes:
        planned = dlq.redrive(message_ids or None, dry_run=True)
        typer.confirm(
            f"Move {len(planned.moved)} message(s) from {settings.notifications_dlq} "
            f"to {settings.notifications_queue}?",
            abort=True,
        )
    outcome = dlq.redrive(message_ids or None, dry_run=dry_run)
    result = PhaseResult(phase="dlq redrive", dry_run=dry_run, evidence={"moved": outcome.moved})
    status = StepStatus.PLANNED if dry_run else StepStatus.OK
    for message_id in outcome.moved:
        result.add(message_id, status, f"to {settings.notifications_queue}")
    for message_id in outcome.kept:
        result.add(message_id, StepStatus.SKIPPED, "not selected; stays in the DLQ")
    render(result, console, as_json)


@app.command("replay-apple")
def replay_apple(  # noqa: PLR0917 - one parameter per CLI option
    since: str = typer.Option(..., "--since", help="Start of the window, ISO-8601 (at most 180 days ago)."),
    until: str = typer.Option("", "--until", help="End of the window (default: now)."),
    receiver_url: str = typer.Option(
        "",
        "--receiver-url",
        envvar="NOTIFICATIONS_RECEIVER_URL",
        help="Receiver base URL (API Gateway or serve).",
    ),
    environment: str = typer.Option(
        "Production", envvar="APPLE_ENVIRONMENT", help="Production or Sandbox App Store Server API."
    ),
    api_url: str = typer.Option(
        "",
        envvar="APP_STORE_API_URL",
        help="Another App Store Server API base URL (the local stack's, from `ops sandbox env`).",
    ),
    key_id: str = typer.Option("", envvar="APP_STORE_CONNECT_KEY_ID", help="In-app purchase key id."),
    issuer_id: str = typer.Option(
        "", envvar="APP_STORE_CONNECT_ISSUER_ID", help="App Store Connect issuer id."
    ),
    key_file: Path = KeyFileOption,
    bundle_id: str = typer.Option("", envvar="APPLE_BUNDLE_ID", help="The app's bundle id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Fetch and count; send nothing."),
    as_json: bool = JsonOption,
) -> None:
    """Fetch notifications since --since from Apple's Notification History and send each through the
    receiver (verified, enqueued, applied once)."""
    from lambdas.consumer.apple.store_api import AppStoreApi
    from lambdas.receiver.config import DEFAULT_ROOT_CA_PATH
    from ops.notifications.replay import load_key, notification_history
    from ops.notifications.replay import replay as run_replay

    if environment not in ("Production", "Sandbox"):
        raise ConfigError(f"--environment must be Production or Sandbox, got {environment!r}")
    if not receiver_url and not dry_run:
        raise ConfigError("--receiver-url (or NOTIFICATIONS_RECEIVER_URL) is required unless --dry-run")
    start = _parse_time(since, "--since")
    end = _parse_time(until, "--until") if until else datetime.now(UTC)
    key = load_key(issuer_id=issuer_id, key_id=key_id, key_path=key_file, bundle_id=bundle_id)
    api = AppStoreApi(
        key,
        bundle_id=bundle_id,
        app_apple_id=None,
        environment=environment,
        root_certificates=[DEFAULT_ROOT_CA_PATH.read_bytes()],
        base_url=api_url or None,
    )
    base = api.client._base_url
    with console.status("replaying ...") as status:
        outcome = run_replay(
            notification_history(api, start, end),
            receiver_url,
            dry_run=dry_run,
            progress=lambda n: status.update(f"replaying ... {n} notification(s)"),
        )
    result = PhaseResult(phase="replay-apple", dry_run=dry_run, evidence=vars(outcome))
    result.add("fetch history", StepStatus.OK, f"{outcome.fetched} notification(s) from {base}")
    if dry_run:
        result.add("send to receiver", StepStatus.PLANNED, f"{outcome.fetched} to {receiver_url or '-'}")
    else:
        refused = ", ".join(f"{n} x HTTP {code}" for code, n in sorted(outcome.refused.items()))
        result.add(
            "send to receiver",
            StepStatus.OK if outcome.ok else StepStatus.FAILED,
            f"{outcome.accepted} accepted"
            + (f"; refused {refused} (see the receiver logs)" if refused else ""),
        )
    render(result, console, as_json)
    if not result.ok:
        raise typer.Exit(1)


LocalStateOption = typer.Option(
    None,
    "--state",
    help="The --state folder of a running `ops notifications serve`: reconcile against its local fakes.",
)
DatabaseOption = typer.Option(
    "", envvar="NOTIFICATIONS_DATABASE_URL", help="PostgreSQL URL of the consumer's database."
)


def _lambda_logs_to_stderr() -> Any:
    """The Lambdas' code logs JSON lines to stdout (CloudWatch's way); here they would corrupt --json."""
    import contextlib
    import sys

    return contextlib.redirect_stdout(sys.stderr)


def _progress_bar(total: int, what: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn(f"[bold]{what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f}/s repaired {task.fields[repaired]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(what, total=total or None, rate=0.0, repaired=0)
    started = time.monotonic()
    counts = {"done": 0, "repaired": 0}

    def advance(item: Any) -> None:
        counts["done"] += 1
        counts["repaired"] += int(getattr(item, "repaired", False))
        rate = counts["done"] / max(time.monotonic() - started, 1e-6)
        progress.update(task, advance=1, rate=rate, repaired=counts["repaired"])

    return progress, advance


@app.command()
def reconcile(  # noqa: PLR0917 - one parameter per CLI option
    database_url: str = DatabaseOption,
    state: Path | None = LocalStateOption,
    lookback_days: float = typer.Option(7, help="Also check subscriptions whose access ended this recently."),
    horizon_hours: float = typer.Option(24, help="Check subscriptions whose access ends within this."),
    stale_days: float = typer.Option(
        30, help="Check anything the stores were not asked about for this long."
    ),
    history_hours: float = typer.Option(2, help="Apply Apple's notification history of this window."),
    voided_days: float = typer.Option(2, help="Apply Google's voided purchases of this window."),
    limit: int = typer.Option(500, help="At most this many subscriptions per run."),
    every: bool = typer.Option(False, "--all", help="Check every subscription (a full sweep)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be checked; call no store."),
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask Apple and Google for the truth about due subscriptions and repair entitlements.

    Uses the consumer's environment variables (GOOGLE_PLAY_CREDENTIALS_*, APP_STORE_API_KEY_*,
    APPLE_*); repairs go through the same strategies, ordering and history as notifications.
    """
    from datetime import timedelta

    from lambdas.consumer.reconcile import ReconcileOptions
    from ops.notifications.reconcile import consumer_config
    from ops.notifications.reconcile import reconcile as run_reconcile

    config = consumer_config(database_url, state.resolve() if state else None)
    options = ReconcileOptions(
        lookback=timedelta(days=lookback_days),
        horizon=timedelta(hours=horizon_hours),
        stale_after=timedelta(days=stale_days),
        history_window=timedelta(hours=history_hours),
        voided_window=timedelta(days=voided_days),
        limit=limit,
        every=every,
    )
    if not dry_run and not yes:
        planned = run_reconcile(config, options, dry_run=True)
        typer.confirm(
            f"Ask the stores about {planned.evidence['due']} subscription(s) and repair them?", abort=True
        )
    if dry_run:
        result = run_reconcile(config, options, dry_run=True)
    else:
        progress, advance = _progress_bar(limit, "reconciling")
        with _lambda_logs_to_stderr(), progress:
            result = run_reconcile(config, options, dry_run=False, progress=advance)
    render(result, console, as_json)
    if not result.ok:
        raise typer.Exit(1)


CsvArgument = typer.Argument(..., help="CSV: provider,id,product_id,account_id (header row).")


@app.command("import-lifetime")
def import_lifetime(  # noqa: PLR0917 - one parameter per CLI option
    csv_file: Path = CsvArgument,
    database_url: str = DatabaseOption,
    state: Path | None = LocalStateOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the file; call no store, grant nothing."),
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Grant lifetime passes bought before this service existed, each verified with its store.

    Apple: Get Transaction Info (the pass is granted unless revoked). Google: purchases.products.get
    (granted when purchased; acknowledged if Play still waits). account_id names the app user when
    the store has none for an old purchase.
    """
    from ops.notifications.reconcile import consumer_config, read_passes
    from ops.notifications.reconcile import import_lifetime as run_import

    passes = read_passes(csv_file)
    config = consumer_config(database_url, state.resolve() if state else None)
    if not dry_run and not yes:
        typer.confirm(f"Verify and grant {len(passes)} lifetime pass(es)?", abort=True)
    if dry_run:
        result = run_import(config, passes, dry_run=True)
    else:
        progress, advance = _progress_bar(len(passes), "importing")
        with _lambda_logs_to_stderr(), progress:
            result = run_import(config, passes, dry_run=False, progress=advance)
    render(result, console, as_json)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def reprocess(  # noqa: PLR0917 - one parameter per CLI option
    database_url: str = DatabaseOption,
    state: Path | None = LocalStateOption,
    outcome: str = typer.Option("unknown-type", help="Stored notifications with this outcome ('' = any)."),
    event_type: str = typer.Option("", "--type", help="Only this type, e.g. SUBSCRIPTION_21 or DID_PAUSE."),
    limit: int = typer.Option(1000, help="At most this many."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be sent again; send nothing."),
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Send stored notifications through the consumer again (after deploying a strategy for a type
    it did not know); each is applied once more, in its own FIFO group."""
    from ops.notifications.reconcile import consumer_config
    from ops.notifications.reconcile import reprocess as run_reprocess

    queue = current_settings().notifications_queue
    config = consumer_config(database_url, state.resolve() if state else None)

    def run(dry: bool) -> PhaseResult:
        return run_reprocess(
            config, queue, outcome=outcome or None, event_type=event_type or None, limit=limit, dry_run=dry
        )

    if not dry_run and not yes:
        typer.confirm(f"Send {run(True).evidence['matched']} stored notification(s) again?", abort=True)
    render(run(dry_run), console, as_json)
