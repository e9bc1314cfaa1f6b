"""App Store Server Notifications V2 payloads, transactions and renewal info, as Apple shapes them.

Realistic defaults that each test overrides where it matters; `AppleTestCA.sign` signs them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from opstestkit.apple_ca import AppleTestCA
from opstestkit.defaults import DEFAULT_APP_APPLE_ID, DEFAULT_BUNDLE_ID, now_ms


def apple_transaction_info(
    *,
    original_transaction_id: str = "2000000123456789",
    transaction_id: str | None = None,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    environment: str = "Sandbox",
    product_id: str = "com.example.couplediary.premium.monthly",
    product_type: str = "Auto-Renewable Subscription",
    purchase_date: int | None = None,
    expires_date: int | None = None,
    signed_date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A decoded JWSTransactionDecodedPayload."""
    signed = signed_date or now_ms()
    purchased = purchase_date or signed - 60_000
    info: dict[str, Any] = {
        "transactionId": transaction_id or original_transaction_id,
        "originalTransactionId": original_transaction_id,
        "bundleId": bundle_id,
        "productId": product_id,
        "purchaseDate": purchased,
        "originalPurchaseDate": purchased,
        "quantity": 1,
        "type": product_type,
        "inAppOwnershipType": "PURCHASED",
        "signedDate": signed,
        "environment": environment,
        "transactionReason": "PURCHASE",
        "storefront": "USA",
        "storefrontId": "143441",
        "price": 4990,
        "currency": "USD",
    }
    if product_type == "Auto-Renewable Subscription":
        info["webOrderLineItemId"] = f"{original_transaction_id}1"
        info["subscriptionGroupIdentifier"] = "21000001"
        info["expiresDate"] = expires_date or purchased + 30 * 86_400_000
    info.update(extra)
    return info


def apple_renewal_info(
    *,
    original_transaction_id: str = "2000000123456789",
    environment: str = "Sandbox",
    product_id: str = "com.example.couplediary.premium.monthly",
    auto_renew_status: int = 1,
    signed_date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A decoded JWSRenewalInfoDecodedPayload."""
    signed = signed_date or now_ms()
    info: dict[str, Any] = {
        "originalTransactionId": original_transaction_id,
        "autoRenewProductId": product_id,
        "productId": product_id,
        "autoRenewStatus": auto_renew_status,
        "signedDate": signed,
        "environment": environment,
        "recentSubscriptionStartDate": signed - 60_000,
        "renewalDate": signed + 30 * 86_400_000,
    }
    info.update(extra)
    return info


def apple_notification(
    notification_type: str,
    subtype: str | None = None,
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    signed_transaction_info: str | None = None,
    signed_renewal_info: str | None = None,
    status: int | None = None,
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """A decoded responseBodyV2DecodedPayload with a `data` object."""
    data = _app_fields(
        {"bundleId": bundle_id, "bundleVersion": "42", "environment": environment},
        app_apple_id,
        signedTransactionInfo=signed_transaction_info,
        signedRenewalInfo=signed_renewal_info,
        status=status,
    )
    return _envelope(notification_type, subtype, notification_uuid, signed_date, data=data)


def _app_fields(fields: dict[str, Any], app_apple_id: int | None, **optional: Any) -> dict[str, Any]:
    """`fields` with appAppleId and each of `optional` that is given (Apple leaves absent ones out)."""
    given = {"appAppleId": app_apple_id, **optional}
    fields.update({name: value for name, value in given.items() if value is not None})
    return fields


def _envelope(
    notification_type: str,
    subtype: str | None,
    notification_uuid: str | None,
    signed_date: int | None,
    **body: dict[str, Any],
) -> dict[str, Any]:
    """The decoded responseBodyV2DecodedPayload around `body` (`data`, `summary`, ...)."""
    payload: dict[str, Any] = {
        "notificationType": notification_type,
        "notificationUUID": notification_uuid or str(uuid.uuid4()),
        "version": "2.0",
        "signedDate": signed_date or now_ms(),
        **body,
    }
    if subtype is not None:
        payload["subtype"] = subtype
    return payload


def apple_subscription_notification(
    ca: AppleTestCA,
    notification_type: str = "DID_RENEW",
    subtype: str | None = None,
    *,
    original_transaction_id: str = "2000000123456789",
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
    transaction: Mapping[str, Any] | None = None,
    renewal: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A notification whose signedTransactionInfo and signedRenewalInfo are signed by `ca` too."""
    signed = signed_date or now_ms()
    transaction_payload = dict(
        transaction
        or apple_transaction_info(
            original_transaction_id=original_transaction_id,
            bundle_id=bundle_id,
            environment=environment,
            signed_date=signed,
        )
    )
    renewal_payload = dict(
        renewal
        or apple_renewal_info(
            original_transaction_id=original_transaction_id, environment=environment, signed_date=signed
        )
    )
    return apple_notification(
        notification_type,
        subtype,
        bundle_id=bundle_id,
        app_apple_id=app_apple_id,
        environment=environment,
        signed_transaction_info=ca.sign(transaction_payload),
        signed_renewal_info=ca.sign(renewal_payload),
        status=1,
        notification_uuid=notification_uuid,
        signed_date=signed,
    )


def apple_test_notification(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    return apple_notification(
        "TEST",
        bundle_id=bundle_id,
        app_apple_id=app_apple_id,
        environment=environment,
        notification_uuid=notification_uuid,
        signed_date=signed_date,
    )


def apple_renewal_extension_summary(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """RENEWAL_EXTENSION / SUMMARY: a `summary` object instead of `data`."""
    summary = _app_fields(
        {
            "requestIdentifier": str(uuid.uuid4()),
            "environment": environment,
            "bundleId": bundle_id,
            "productId": "com.example.couplediary.premium.monthly",
            "storefrontCountryCodes": ["USA", "CAN"],
            "succeededCount": 5,
            "failedCount": 0,
        },
        app_apple_id,
    )
    return _envelope("RENEWAL_EXTENSION", "SUMMARY", notification_uuid, signed_date, summary=summary)


def apple_external_purchase_token(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """EXTERNAL_PURCHASE_TOKEN / UNREPORTED: an `externalPurchaseToken` object.

    It has no environment field; Apple marks sandbox tokens with a `SANDBOX` externalPurchaseId prefix.
    """
    signed = signed_date or now_ms()
    prefix = "SANDBOX_" if environment == "Sandbox" else ""
    token = _app_fields(
        {
            "externalPurchaseId": f"{prefix}{uuid.uuid4()}",
            "tokenCreationDate": signed - 1000,
            "bundleId": bundle_id,
        },
        app_apple_id,
    )
    return _envelope(
        "EXTERNAL_PURCHASE_TOKEN", "UNREPORTED", notification_uuid, signed, externalPurchaseToken=token
    )


def apple_rescind_consent(
    *,
    bundle_id: str = DEFAULT_BUNDLE_ID,
    app_apple_id: int | None = DEFAULT_APP_APPLE_ID,
    environment: str = "Sandbox",
    notification_uuid: str | None = None,
    signed_date: int | None = None,
) -> dict[str, Any]:
    """RESCIND_CONSENT: an `appData` object (app metadata, no transaction)."""
    app_data = _app_fields({"bundleId": bundle_id, "environment": environment}, app_apple_id)
    return _envelope("RESCIND_CONSENT", None, notification_uuid, signed_date, appData=app_data)


def apple_request_body(signed_payload: str) -> str:
    """The POST body App Store Server Notifications V2 sends."""
    return json.dumps({"signedPayload": signed_payload})
