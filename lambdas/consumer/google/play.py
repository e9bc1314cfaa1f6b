"""The Play Developer API through Google's `google-api-python-client` (androidpublisher v3, the
discovery document shipped in the package), authorised by a service account (google-auth).

Errors: 404/410 are PlayPurchaseNotFound (recorded, not retried). 429, 5xx and network failures
are retried inside the invocation with exponential backoff, honouring Retry-After, within a time
budget the consumer sets per invocation (`deadline`); past it, PlayApiError carries the wait Play
asked for, and further calls in the same invocation fail at once (one outage costs one message's
retries, not the whole batch's), so the consumer can hand the messages back to SQS for later.
The token URI comes from the service-account JSON and the API endpoint from GOOGLE_PLAY_API_ROOT,
so the local fake stands in for both.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httplib2
from google.auth.exceptions import GoogleAuthError
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from lambdas.consumer.exceptions import PlayApiError, PlayPurchaseNotFound

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
DEFAULT_API_ROOT = "https://androidpublisher.googleapis.com/"
_TIMEOUT_S = 10
_BASE_DELAY_S = 0.5
_MAX_DELAY_S = 8.0
_DEFAULT_BUDGET_S = 20.0
# Without a Retry-After, how long Play is assumed down once the budget is spent.
_ASSUMED_OUTAGE_S = 60.0


def _retry_after(exc: HttpError) -> float | None:
    raw = exc.resp.get("retry-after") if exc.resp is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


class PlayClient:
    def __init__(
        self,
        credentials_info: dict[str, Any],
        api_root: str = DEFAULT_API_ROOT,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        credentials = service_account.Credentials.from_service_account_info(credentials_info, scopes=[SCOPE])
        http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=_TIMEOUT_S))
        self._service: Any = build(
            "androidpublisher",
            "v3",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": api_root.rstrip("/") + "/"},
        )
        self._sleep = sleep
        self._clock = clock
        self._deadline = clock() + _DEFAULT_BUDGET_S
        self._down_until = 0.0
        self.calls = 0
        self.retries = 0

    def deadline(self, seconds: float) -> None:
        """Start a new invocation: retries may take at most `seconds` from now, all calls together."""
        self._deadline = self._clock() + max(0.0, seconds)
        self._down_until = 0.0

    # --- the API ------------------------------------------------------------------------------

    def subscription_v2(self, package_name: str, token: str) -> dict[str, Any]:
        """purchases.subscriptionsv2.get: the SubscriptionPurchaseV2 resource."""
        purchases = self._service.purchases()
        return self._execute(
            "subscriptionsv2.get", purchases.subscriptionsv2().get(packageName=package_name, token=token)
        )

    def acknowledge_subscription(self, package_name: str, subscription_id: str, token: str) -> None:
        """purchases.subscriptions.acknowledge (required within 3 days or Play refunds the purchase)."""
        request = (
            self._service.purchases()
            .subscriptions()
            .acknowledge(packageName=package_name, subscriptionId=subscription_id, token=token, body={})
        )
        self._execute("subscriptions.acknowledge", request)

    def product_purchase(self, package_name: str, product_id: str, token: str) -> dict[str, Any]:
        """purchases.products.get: a one-time product purchase."""
        request = (
            self._service.purchases()
            .products()
            .get(packageName=package_name, productId=product_id, token=token)
        )
        return self._execute("products.get", request)

    def acknowledge_product(self, package_name: str, product_id: str, token: str) -> None:
        """purchases.products.acknowledge."""
        request = (
            self._service.purchases()
            .products()
            .acknowledge(packageName=package_name, productId=product_id, token=token, body={})
        )
        self._execute("products.acknowledge", request)

    def voided_purchases(self, package_name: str, start_ms: int) -> list[dict[str, Any]]:
        """purchases.voidedpurchases.list since `start_ms` (subscriptions and one-time products)."""
        voided: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "packageName": package_name,
                "startTime": start_ms,
                "type": 1,
                "maxResults": 1000,
            }
            if token:
                arguments["token"] = token
            page = self._execute(
                "voidedpurchases.list", self._service.purchases().voidedpurchases().list(**arguments)
            )
            voided.extend(v for v in page.get("voidedPurchases", []) if isinstance(v, dict))
            token = (page.get("tokenPagination") or {}).get("nextPageToken")
            if not token:
                return voided

    # --- transport ----------------------------------------------------------------------------

    def _execute(self, what: str, request: Any) -> dict[str, Any]:
        now = self._clock()
        if now < self._down_until:
            raise PlayApiError(
                f"Play Developer API {what} not tried: Play failed earlier in this invocation; "
                "the message is retried later",
                retry_after=self._down_until - now,
            )
        attempt = 0
        while True:
            self.calls += 1
            try:
                body = request.execute(num_retries=0)
                return body if isinstance(body, dict) else {}
            except HttpError as exc:
                status = int(exc.resp.status)
                if status in (404, 410):
                    raise PlayPurchaseNotFound(f"Play Developer API answered {status} for {what}") from None
                if status != 429 and status < 500:
                    raise PlayApiError(
                        f"Play Developer API {what} answered {status}; the message is retried. "
                        "401/403: grant "
                        "the service account access in Play Console > Users and permissions."
                    ) from None
                wait, reason = _retry_after(exc), f"HTTP {status}"
            except GoogleAuthError as exc:
                raise PlayApiError(
                    f"Play Developer API {what}: the service account cannot get a token "
                    f"({exc.__class__.__name__}); check GOOGLE_PLAY_CREDENTIALS_*"
                ) from None
            except (httplib2.HttpLib2Error, OSError) as exc:
                wait, reason = None, exc.__class__.__name__
            delay = wait if wait is not None else min(_MAX_DELAY_S, _BASE_DELAY_S * 2**attempt)
            delay *= 1.0 if wait is not None else random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            if self._clock() + delay > self._deadline:
                self._down_until = self._clock() + (wait if wait is not None else _ASSUMED_OUTAGE_S)
                raise PlayApiError(
                    f"Play Developer API {what} failed ({reason}) after {attempt + 1} attempt(s) in this "
                    "invocation; the message is handed back to SQS and retried later",
                    retry_after=wait,
                )
            self.retries += 1
            attempt += 1
            self._sleep(delay)
