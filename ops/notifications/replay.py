"""Re-fetch App Store notifications that never reached us and feed them through the receiver.

Get Notification History (at most 180 days back) through Apple's app-store-server-library, with an
App Store Connect in-app purchase key. Each `signedPayload` is POSTed to the receiver exactly as
Apple would post it, so it is verified, enqueued and applied by the same path; already applied
notifications are skipped by the consumer's idempotency.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from lambdas.consumer.apple.store_api import AppStoreApi, AppStoreKey
from lambdas.consumer.exceptions import ConsumerError
from ops.exceptions import ConfigError, OpsError

MAX_HISTORY_DAYS = 180
_TIMEOUT = (5, 30)


def load_key(*, issuer_id: str, key_id: str, key_path: Path, bundle_id: str) -> AppStoreKey:
    """The in-app purchase key from its .p8 file, every missing piece named at once."""
    missing = [
        n for n, v in (("issuer id", issuer_id), ("key id", key_id), ("bundle id", bundle_id)) if not v
    ]
    if missing:
        raise ConfigError(
            f"App Store Server API credentials incomplete: {', '.join(missing)} missing; set "
            "APP_STORE_CONNECT_ISSUER_ID / APP_STORE_CONNECT_KEY_ID / APPLE_BUNDLE_ID or pass the options"
        )
    try:
        pem = key_path.read_bytes()
    except OSError:
        raise ConfigError(
            f"cannot read the App Store Connect key {key_path}; download the .p8 in-app purchase key "
            "from App Store Connect > Users and Access > Integrations"
        ) from None
    return AppStoreKey(key_id=key_id, issuer_id=issuer_id, private_key_pem=pem)


def notification_history(api: AppStoreApi, start: datetime, end: datetime) -> Iterator[str]:
    """Every signedPayload Apple sent (or tried to send) between `start` and `end`."""
    if end <= start:
        raise OpsError(f"--since {start.isoformat()} must be before --until {end.isoformat()}")
    if start < datetime.now(UTC) - timedelta(days=MAX_HISTORY_DAYS):
        raise OpsError(f"Apple keeps notification history for {MAX_HISTORY_DAYS} days; use a later --since")
    try:
        yield from api.notification_history(start, end)
    except ConsumerError as exc:
        raise OpsError(f"{exc}") from None


@dataclass
class ReplayResult:
    fetched: int = 0
    accepted: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.refused


def replay(
    payloads: Iterator[str],
    receiver_url: str,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """POST each payload to `<receiver_url>/notifications/apple` as Apple does."""
    result = ReplayResult(dry_run=dry_run)
    url = receiver_url.rstrip("/")
    if not url.endswith("/notifications/apple"):
        url += "/notifications/apple"
    with requests.Session() as session:
        for signed_payload in payloads:
            result.fetched += 1
            if not dry_run:
                response = session.post(
                    url, data=json.dumps({"signedPayload": signed_payload}), timeout=_TIMEOUT
                )
                if response.status_code == 200:
                    result.accepted += 1
                else:
                    result.refused[response.status_code] = result.refused.get(response.status_code, 0) + 1
            if progress:
                progress(result.fetched)
    return result
