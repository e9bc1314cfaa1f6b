"""Typed access to a decoded App Store Server Notification V2 payload (see messages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.consumer.exceptions import InvalidNotification
from lambdas.consumer.model import ms_to_datetime, ordering_time, text_or_none


@dataclass(frozen=True)
class AppleNotification:
    payload: dict[str, Any]

    @property
    def notification_type(self) -> str:
        return str(self.payload.get("notificationType") or "")

    @property
    def subtype(self) -> str | None:
        value = self.payload.get("subtype")
        return text_or_none(value)

    @property
    def signed_date(self) -> datetime:
        return ordering_time(self.payload, "signedDate", "Apple")

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
        return text_or_none(value)

    @property
    def transaction_id(self) -> str | None:
        value = self.transaction.get("transactionId")
        return text_or_none(value)

    @property
    def status(self) -> int | None:
        """`data.status`: 1 active, 2 expired, 3 billing retry, 4 billing grace period, 5 revoked."""
        value = self.data.get("status")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def prorated(self) -> bool:
        return self.transaction.get("revocationType") == "REFUND_PRORATED"

    @property
    def revoked(self) -> bool:
        """The transaction was refunded in full or revoked (a prorated refund leaves part of the period)."""
        return self.transaction.get("revocationDate") is not None and not self.prorated

    @property
    def expires_at(self) -> datetime | None:
        """The end of access the transaction gives: its expiresDate, cut short by a prorated refund.

        revocationPercentage (milliunits) is the share of the period refunded; the refunded share is
        the end of the period, so access runs for the rest.
        """
        expires = ms_to_datetime(self.transaction.get("expiresDate"))
        share = self.transaction.get("revocationPercentage")
        if expires is None or not self.prorated or not isinstance(share, int):
            return expires
        purchased = ms_to_datetime(self.transaction.get("purchaseDate")) or expires
        refunded = min(max(share, 0), 100_000) / 100_000
        return expires - (expires - purchased) * refunded

    @property
    def grace_period_expires_at(self) -> datetime | None:
        return ms_to_datetime(self.renewal.get("gracePeriodExpiresDate"))

    @property
    def auto_renew(self) -> bool | None:
        status = self.renewal.get("autoRenewStatus")
        return None if status is None else int(status) == 1

    @property
    def app_transaction_id(self) -> str | None:
        """The customer's appTransactionId: on the transaction, or on RESCIND_CONSENT's app transaction."""
        value = self.transaction.get("appTransactionId")
        if not value:
            app_data = self.payload.get("appData")
            info = app_data.get("appTransactionInfo") if isinstance(app_data, dict) else None
            value = info.get("appTransactionId") if isinstance(info, dict) else None
        return text_or_none(value)

    @property
    def account_id(self) -> str | None:
        """appAccountToken: the UUID the app sets at purchase (the user's external id); for a pass bought
        before the app set one, the account an import names (`accountId`, never from the store)."""
        value = self.transaction.get("appAccountToken") or self.payload.get("accountId")
        return text_or_none(value)

    def require_transaction(self) -> None:
        if not self.transaction:
            raise InvalidNotification(
                f"Apple {self.notification_type} has no data.transactionInfo; the receiver should have "
                "decoded signedTransactionInfo. Inspect the message in the DLQ."
            )
