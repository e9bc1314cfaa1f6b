"""Re-fetch App Store notifications that never reached us and feed them through the receiver.

App Store Server API, Get Notification History: `POST /inApps/v1/notifications/history` with a
JSON body (`startDate`, `endDate` in ms, at most 180 days back) and `paginationToken` as a query
parameter, authorised by a JWT signed ES256 with an App Store Connect in-app purchase key
(`iss` issuer id, `aud` "appstoreconnect-v1", `bid` bundle id, `kid` key id, lifetime <= 60 min).
Each `signedPayload` is POSTed to the receiver exactly as Apple would post it, so it is verified,
enqueued and applied by the same path; already applied notifications are skipped by the
consumer's idempotency.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import requests

from ops.exceptions import ConfigError, OpsError

PRODUCTION_URL = "https://api.storekit.itunes.apple.com"
SANDBOX_URL = "https://api.storekit-sandbox.itunes.apple.com"
HISTORY_PATH = "/inApps/v1/notifications/history"
MAX_HISTORY_DAYS = 180
_TOKEN_LIFETIME_S = 20 * 60
_TIMEOUT = (5, 30)


@dataclass(frozen=True)
class AppStoreCredentials:
    issuer_id: str
    key_id: str
    private_key_pem: bytes
    bundle_id: str

    @classmethod
    def from_files(
        cls, *, issuer_id: str, key_id: str, key_path: Path, bundle_id: str
    ) -> AppStoreCredentials:
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
        return cls(issuer_id=issuer_id, key_id=key_id, private_key_pem=pem, bundle_id=bundle_id)

    def token(self, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        return jwt.encode(
            {
                "iss": self.issuer_id,
                "iat": issued,
                "exp": issued + _TOKEN_LIFETIME_S,
                "aud": "appstoreconnect-v1",
                "bid": self.bundle_id,
            },
            self.private_key_pem,
            algorithm="ES256",
            headers={"kid": self.key_id, "typ": "JWT"},
        )


class AppStoreServerClient:
    def __init__(self, credentials: AppStoreCredentials, base_url: str = PRODUCTION_URL) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()

    def notification_history(self, start: datetime, end: datetime) -> Iterator[str]:
        """Every signedPayload Apple sent (or tried to send) between `start` and `end`, page by page."""
        if end <= start:
            raise OpsError(f"--since {start.isoformat()} must be before --until {end.isoformat()}")
        if start < datetime.now(UTC) - timedelta(days=MAX_HISTORY_DAYS):
            raise OpsError(
                f"Apple keeps notification history for {MAX_HISTORY_DAYS} days; use a later --since"
            )
        body = {"startDate": int(start.timestamp() * 1000), "endDate": int(end.timestamp() * 1000)}
        token: str | None = None
        while True:
            page = self._page(body, token)
            for item in page.get("notificationHistory", []):
                if isinstance(item, dict) and isinstance(item.get("signedPayload"), str):
                    yield item["signedPayload"]
            token = page.get("paginationToken")
            if not page.get("hasMore") or not token:
                return

    def _page(self, body: dict[str, Any], pagination_token: str | None) -> dict[str, Any]:
        params = {"paginationToken": pagination_token} if pagination_token else None
        for attempt in range(5):
            try:
                response = self._session.post(
                    self.base_url + HISTORY_PATH,
                    params=params,
                    json=body,
                    headers={"Authorization": f"Bearer {self.credentials.token()}"},
                    timeout=_TIMEOUT,
                )
            except requests.RequestException as exc:
                raise OpsError(
                    f"App Store Server API unreachable ({exc.__class__.__name__}); retry later"
                ) from None
            if response.status_code == 429 or response.status_code >= 500:
                time.sleep(min(float(response.headers.get("Retry-After", 2**attempt)), 30.0))
                continue
            if response.status_code == 401:
                raise OpsError(
                    "App Store Server API refused the token (401): check the key id, issuer id and that "
                    "the key is an in-app purchase key of this app's team"
                )
            if response.status_code >= 400:
                raise OpsError(f"App Store Server API answered {response.status_code}: {response.text[:200]}")
            result = response.json()
            return result if isinstance(result, dict) else {}
        raise OpsError("App Store Server API kept answering 429/5xx; retry later")


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
