"""The App Store Server API through Apple's own `app-store-server-library`: its client for the calls
and its SignedDataVerifier for every signed answer.

Calls: Get All Subscription Statuses, Get Transaction Info, Get Notification History and Send
Consumption Information. Answers come back as the decoded JWS payloads (Apple's field names, the
same dicts the receiver hands the consumer), so strategies read store answers and notifications
alike. 429 and 5xx are retried with backoff a bounded number of times, then AppStoreUnavailable.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, partial
from typing import Any, TypeVar

import requests
from appstoreserverlibrary.api_client import APIError, APIException, AppStoreServerAPIClient
from appstoreserverlibrary.models.ConsumptionRequest import ConsumptionRequest
from appstoreserverlibrary.models.DeliveryStatus import DeliveryStatus
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.models.NotificationHistoryRequest import NotificationHistoryRequest
from appstoreserverlibrary.models.RefundPreference import RefundPreference
from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier, VerificationException

from lambdas.consumer.exceptions import AppStoreUnavailable, StoreApiError, StoreDataInvalid

T = TypeVar("T")
_NOT_FOUND = {
    APIError.TRANSACTION_ID_NOT_FOUND,
    APIError.ORIGINAL_TRANSACTION_ID_NOT_FOUND,
    APIError.INVALID_TRANSACTION_ID,
    APIError.INVALID_ORIGINAL_TRANSACTION_ID,
}
_MAX_ATTEMPTS = 4
_MAX_WAIT_S = 20.0


@dataclass(frozen=True)
class AppStoreKey:
    """An App Store Connect in-app purchase key: the .p8 PEM, its key id and the team's issuer id."""

    key_id: str
    issuer_id: str
    private_key_pem: bytes

    @classmethod
    def from_json(cls, text: str) -> AppStoreKey:
        """`{"key_id": ..., "issuer_id": ..., "private_key": "-----BEGIN PRIVATE KEY-----..."}`."""
        info = json.loads(text)
        if not isinstance(info, dict) or not all(
            isinstance(info.get(k), str) and info[k] for k in ("key_id", "issuer_id", "private_key")
        ):
            raise ValueError("expected a JSON object with key_id, issuer_id and private_key")
        return cls(info["key_id"], info["issuer_id"], info["private_key"].encode("ascii"))


@dataclass(frozen=True)
class SubscriptionStatus:
    """One subscription from Get All Subscription Statuses, its signed data verified and decoded."""

    original_transaction_id: str
    status: int  # 1 active, 2 expired, 3 billing retry, 4 billing grace period, 5 revoked
    transaction: dict[str, Any]
    renewal: dict[str, Any]


def _payload(jws: str) -> dict[str, Any]:
    """The payload of a JWS the SignedDataVerifier has just accepted, as Apple sent it."""
    segment = jws.split(".")[1]
    value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(value, dict):
        raise StoreDataInvalid("App Store signed data is not a JSON object")
    return value


class AppStoreApi:
    def __init__(
        self,
        key: AppStoreKey | Callable[[], AppStoreKey],
        *,
        bundle_id: str,
        app_apple_id: int | None,
        environment: str,
        root_certificates: list[bytes],
        base_url: str | None = None,
        online_checks: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        env = Environment(environment)
        self._key = key
        self._bundle_id, self._environment, self._base_url = bundle_id, env, base_url
        self._verifier_args = (root_certificates, online_checks, env, bundle_id, app_apple_id)
        self._sleep = sleep

    @cached_property
    def client(self) -> AppStoreServerAPIClient:
        """Apple's client, built on first use: the key (a secret) is read only when a call needs it."""
        key = self._key() if callable(self._key) else self._key
        client = AppStoreServerAPIClient(
            key.private_key_pem, key.key_id, key.issuer_id, self._bundle_id, self._environment
        )
        if self._base_url:
            # The library fixes its URL by environment; a local fake of the API is reached this way.
            client._base_url = self._base_url.rstrip("/")
        return client

    @cached_property
    def verifier(self) -> SignedDataVerifier:
        """Apple's verifier for what the API signs (built on first use: history replay needs none)."""
        return SignedDataVerifier(*self._verifier_args)

    # --- calls --------------------------------------------------------------------------------

    def subscription_statuses(self, transaction_id: str) -> list[SubscriptionStatus] | None:
        """Every subscription of the customer who made `transaction_id`; None when Apple knows no such id."""
        response = self._call(lambda: self.client.get_all_subscription_statuses(transaction_id))
        if response is None:
            return None
        found: list[SubscriptionStatus] = []
        for group in response.data or []:
            for item in group.lastTransactions or []:
                if not (item.signedTransactionInfo and item.signedRenewalInfo and item.rawStatus is not None):
                    continue
                found.append(
                    SubscriptionStatus(
                        original_transaction_id=str(item.originalTransactionId),
                        status=int(item.rawStatus),
                        transaction=self.verify_transaction(item.signedTransactionInfo),
                        renewal=self.verify_renewal(item.signedRenewalInfo),
                    )
                )
        return found

    def transaction(self, transaction_id: str) -> dict[str, Any] | None:
        """Get Transaction Info, verified and decoded; None when Apple knows no such transaction."""
        response = self._call(lambda: self.client.get_transaction_info(transaction_id))
        if response is None or not response.signedTransactionInfo:
            return None
        return self.verify_transaction(response.signedTransactionInfo)

    def notification_history(self, start: datetime, end: datetime) -> Iterator[str]:
        """Every signedPayload Apple sent (or tried to send) between `start` and `end`, page by page."""
        request = NotificationHistoryRequest(
            startDate=int(start.timestamp() * 1000), endDate=int(end.timestamp() * 1000)
        )
        token: str | None = None
        while True:
            page = self._call(partial(self.client.get_notification_history, token, request))
            if page is None:
                return
            for item in page.notificationHistory or []:
                if item.signedPayload:
                    yield item.signedPayload
            token = page.paginationToken
            if not page.hasMore or not token:
                return

    def send_consumption(
        self, transaction_id: str, *, customer_consented: bool, refund_preference: str | None
    ) -> None:
        """Send Consumption Information (v2) for a CONSUMPTION_REQUEST about `transaction_id`."""
        request = ConsumptionRequest(
            customerConsented=customer_consented,
            sampleContentProvided=False,
            deliveryStatus=DeliveryStatus.DELIVERED,
            refundPreference=RefundPreference(refund_preference) if refund_preference else None,
        )
        self._call(lambda: self.client.send_consumption_information(transaction_id, request))

    # --- verification -------------------------------------------------------------------------

    def verify_notification(self, signed_payload: str) -> dict[str, Any]:
        """A notification from the history, verified with its nested signed data, in the shape the
        receiver hands the consumer (`data.transactionInfo` / `data.renewalInfo` added)."""
        payload = self._verified("notification", self.verifier.verify_and_decode_notification, signed_payload)
        data = payload.get("data")
        if isinstance(data, dict):
            if isinstance(data.get("signedTransactionInfo"), str):
                data["transactionInfo"] = self.verify_transaction(data["signedTransactionInfo"])
            if isinstance(data.get("signedRenewalInfo"), str):
                data["renewalInfo"] = self.verify_renewal(data["signedRenewalInfo"])
        return payload

    def verify_transaction(self, jws: str) -> dict[str, Any]:
        return self._verified("transaction", self.verifier.verify_and_decode_signed_transaction, jws)

    def verify_renewal(self, jws: str) -> dict[str, Any]:
        return self._verified("renewal info", self.verifier.verify_and_decode_renewal_info, jws)

    @staticmethod
    def _verified(what: str, verify: Callable[[str], object], jws: str) -> dict[str, Any]:
        """The JWS's payload once Apple's library has verified it; StoreDataInvalid if it does not."""
        try:
            verify(jws)
        except VerificationException as exc:
            raise StoreDataInvalid(f"App Store {what} did not verify ({exc.status.name})") from None
        return _payload(jws)

    # --- transport ----------------------------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T | None:
        """Run `call`; None for "no such transaction"; 429/5xx/network retried, then StoreApiError."""
        for attempt in range(_MAX_ATTEMPTS):
            try:
                return call()
            except APIException as exc:
                if exc.api_error in _NOT_FOUND:
                    return None
                if exc.http_status_code != 429 and exc.http_status_code < 500:
                    raise StoreApiError(
                        f"App Store Server API answered {exc.http_status_code} "
                        f"({exc.api_error.name if exc.api_error else exc.raw_api_error}); 401: check the "
                        "in-app purchase key id, issuer id and bundle id"
                    ) from None
                reason = f"HTTP {exc.http_status_code}"
            except requests.RequestException as exc:
                reason = exc.__class__.__name__
            if attempt + 1 < _MAX_ATTEMPTS:
                self._sleep(min(2.0**attempt, _MAX_WAIT_S))
        raise AppStoreUnavailable(
            f"App Store Server API unavailable ({reason}) after {_MAX_ATTEMPTS} attempts; retry later"
        )
