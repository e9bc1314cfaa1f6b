"""Typed access to a decoded App Store Server Notification V2 payload (see messages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.consumer.exceptions import InvalidNotification
from lambdas.consumer.model import ms_to_datetime


@dataclass(frozen=True)
class AppleNotification:
    payload: dict[str, Any]

    @property
    def notification_type(self) -> str:
        return str(self.payload.get("notificationType") or "")

    @property
    def subtype(self) -> str | None:
        value = self.payload.get("subtype")
        return str(value) if value else None

    @property
    def signed_date(self) -> datetime:
        signed = ms_to_datetime(self.payload.get("signedDate"))
        if signed is None:
            raise InvalidNotification(
                "Apple notification has no signedDate; it cannot be ordered. Inspect it in the DLQ."
            )
        return signed

    @property
    def data(self) -> dict[str, Any]:
        data = self.payload.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def transaction(self) -> dict[str, Any]:
        info = self.data.get("transactionInfo")
        return info if isinstance(info, dict) else {}

    @property
    def renewal(self) -> dict[str, Any]:
        info = self.data.get("renewalInfo")
        return info if isinstance(info, dict) else {}

    @property
    def original_transaction_id(self) -> str | None:
        for info in (self.transaction, self.renewal):
            value = info.get("originalTransactionId")
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def product_id(self) -> str | None:
        value = self.transaction.get("productId") or self.renewal.get("productId")
        return str(value) if value else None

    @property
    def expires_at(self) -> datetime | None:
        return ms_to_datetime(self.transaction.get("expiresDate"))

    @property
    def grace_period_expires_at(self) -> datetime | None:
        return ms_to_datetime(self.renewal.get("gracePeriodExpiresDate"))

    @property
    def auto_renew(self) -> bool | None:
        status = self.renewal.get("autoRenewStatus")
        return None if status is None else int(status) == 1

    @property
    def account_id(self) -> str | None:
        """appAccountToken: the UUID the app sets at purchase (the user's external id)."""
        value = self.transaction.get("appAccountToken")
        return str(value) if value else None

    def require_transaction(self) -> None:
        if not self.transaction:
            raise InvalidNotification(
                f"Apple {self.notification_type} has no data.transactionInfo; the receiver should have "
                "decoded signedTransactionInfo. Inspect the message in the DLQ."
            )
