"""Identifiers the test doubles share: the example app, Google's RTDN codes, Apple's marker OIDs."""

from __future__ import annotations

import time

APPLE_LEAF_OID = "1.2.840.113635.100.6.11.1"
APPLE_INTERMEDIATE_OID = "1.2.840.113635.100.6.2.1"

GOOGLE_ISSUER = "https://accounts.google.com"

DEFAULT_BUNDLE_ID = "com.example.couplediary"
DEFAULT_APP_APPLE_ID = 1234567890
DEFAULT_PACKAGE_NAME = "com.example.couplediary"
DEFAULT_AUDIENCE = "https://notifications.example.com/notifications/google"
DEFAULT_SERVICE_ACCOUNT = "rtdn-push@example-project.iam.gserviceaccount.com"
DEFAULT_SUBSCRIPTION = "projects/example-project/subscriptions/play-rtdn-push"
# Purchase tokens are opaque strings from Play; these are stand-ins, not credentials.
SAMPLE_SUBSCRIPTION_PURCHASE = "opaque-purchase-token-subscription-0001"
SAMPLE_ONE_TIME_PURCHASE = "opaque-purchase-token-one-time-0001"


# Google RTDN codes (developer.android.com/google/play/billing/rtdn-reference).
SUBSCRIPTION_NOTIFICATION_TYPES: dict[str, int] = {
    "SUBSCRIPTION_RECOVERED": 1,
    "SUBSCRIPTION_RENEWED": 2,
    "SUBSCRIPTION_CANCELED": 3,
    "SUBSCRIPTION_PURCHASED": 4,
    "SUBSCRIPTION_ON_HOLD": 5,
    "SUBSCRIPTION_IN_GRACE_PERIOD": 6,
    "SUBSCRIPTION_RESTARTED": 7,
    "SUBSCRIPTION_PRICE_CHANGE_CONFIRMED": 8,
    "SUBSCRIPTION_DEFERRED": 9,
    "SUBSCRIPTION_PAUSED": 10,
    "SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED": 11,
    "SUBSCRIPTION_REVOKED": 12,
    "SUBSCRIPTION_EXPIRED": 13,
    "SUBSCRIPTION_ITEMS_CHANGED": 17,
    "SUBSCRIPTION_CANCELLATION_SCHEDULED": 18,
    "SUBSCRIPTION_PRICE_CHANGE_UPDATED": 19,
    "SUBSCRIPTION_PENDING_PURCHASE_CANCELED": 20,
    "SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED": 22,
}
ONE_TIME_PRODUCT_NOTIFICATION_TYPES: dict[str, int] = {
    "ONE_TIME_PRODUCT_PURCHASED": 1,
    "ONE_TIME_PRODUCT_CANCELED": 2,
}


def now_ms() -> int:
    return int(time.time() * 1000)
