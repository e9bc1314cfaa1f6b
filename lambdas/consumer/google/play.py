"""A small Play Developer API client: service-account OAuth (google-auth) over `requests`.

The token URI comes from the service-account JSON (`token_uri`) and the API root from
GOOGLE_PLAY_API_ROOT, so the local fake (ops/notifications/fake_play.py) stands in for both.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from lambdas.consumer.exceptions import PlayApiError, PlayPurchaseNotFound

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
DEFAULT_API_ROOT = "https://androidpublisher.googleapis.com/androidpublisher/v3/"
_TIMEOUT = (3.05, 10)


class PlayClient:
    def __init__(self, credentials_info: dict[str, Any], api_root: str = DEFAULT_API_ROOT) -> None:
        credentials = service_account.Credentials.from_service_account_info(credentials_info, scopes=[SCOPE])
        self._session = AuthorizedSession(credentials)
        self._root = api_root.rstrip("/") + "/"

    def subscription_v2(self, package_name: str, token: str) -> dict[str, Any]:
        """purchases.subscriptionsv2.get: the SubscriptionPurchaseV2 resource."""
        return self._call(
            "GET", f"applications/{_q(package_name)}/purchases/subscriptionsv2/tokens/{_q(token)}"
        )

    def acknowledge_subscription(self, package_name: str, subscription_id: str, token: str) -> None:
        """purchases.subscriptions.acknowledge (required within 3 days or Play refunds the purchase)."""
        self._call(
            "POST",
            f"applications/{_q(package_name)}/purchases/subscriptions/{_q(subscription_id)}"
            f"/tokens/{_q(token)}:acknowledge",
            json={},
        )

    def product_purchase(self, package_name: str, product_id: str, token: str) -> dict[str, Any]:
        """purchases.products.get: a one-time product purchase."""
        return self._call(
            "GET", f"applications/{_q(package_name)}/purchases/products/{_q(product_id)}/tokens/{_q(token)}"
        )

    def acknowledge_product(self, package_name: str, product_id: str, token: str) -> None:
        """purchases.products.acknowledge."""
        self._call(
            "POST",
            f"applications/{_q(package_name)}/purchases/products/{_q(product_id)}/tokens/{_q(token)}:acknowledge",
            json={},
        )

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._session.request(method, self._root + path, json=json, timeout=_TIMEOUT)
        except (requests.RequestException, GoogleAuthError) as exc:
            raise PlayApiError(
                f"Play Developer API {method} failed ({exc.__class__.__name__}); the message is retried. "
                "If it persists, check GOOGLE_PLAY_CREDENTIALS_* and the API root."
            ) from None
        if response.status_code in (404, 410):
            raise PlayPurchaseNotFound(f"Play Developer API answered {response.status_code} for {method}")
        if response.status_code >= 400:
            raise PlayApiError(
                f"Play Developer API {method} answered {response.status_code}; the message is retried. "
                "401/403: grant the service account access in Play Console > Users and permissions."
            )
        if not response.content:
            return {}
        body = response.json()
        return body if isinstance(body, dict) else {}


def _q(value: str) -> str:
    return quote(value, safe="")
