"""Test doubles for platform-ops (Apple, Google, their APIs); development only, never in the product.

The names tests use most are re-exported here, so `import opstestkit as kit` reaches them all.
"""

from opstestkit.apple_ca import AppleTestCA, es256_sign, make_apple_test_ca
from opstestkit.apple_payloads import (
    apple_external_purchase_token,
    apple_notification,
    apple_renewal_extension_summary,
    apple_renewal_info,
    apple_request_body,
    apple_rescind_consent,
    apple_subscription_notification,
    apple_test_notification,
    apple_transaction_info,
)
from opstestkit.clock import ManualClock
from opstestkit.defaults import (
    APPLE_INTERMEDIATE_OID,
    APPLE_LEAF_OID,
    DEFAULT_APP_APPLE_ID,
    DEFAULT_AUDIENCE,
    DEFAULT_BUNDLE_ID,
    DEFAULT_PACKAGE_NAME,
    DEFAULT_SERVICE_ACCOUNT,
    DEFAULT_SUBSCRIPTION,
    GOOGLE_ISSUER,
    ONE_TIME_PRODUCT_NOTIFICATION_TYPES,
    SUBSCRIPTION_NOTIFICATION_TYPES,
    now_ms,
)
from opstestkit.google import (
    GoogleSigner,
    google_one_time_product_notification,
    google_subscription_notification,
    google_test_notification,
    google_voided_purchase_notification,
    jwks_document,
    make_google_signer,
    pubsub_push_body,
)
from opstestkit.jwks_server import JwksServer
from opstestkit.ocsp_responder import OcspResponder

__all__ = [
    "APPLE_INTERMEDIATE_OID",
    "APPLE_LEAF_OID",
    "DEFAULT_APP_APPLE_ID",
    "DEFAULT_AUDIENCE",
    "DEFAULT_BUNDLE_ID",
    "DEFAULT_PACKAGE_NAME",
    "DEFAULT_SERVICE_ACCOUNT",
    "DEFAULT_SUBSCRIPTION",
    "GOOGLE_ISSUER",
    "ONE_TIME_PRODUCT_NOTIFICATION_TYPES",
    "SUBSCRIPTION_NOTIFICATION_TYPES",
    "AppleTestCA",
    "GoogleSigner",
    "JwksServer",
    "ManualClock",
    "OcspResponder",
    "apple_external_purchase_token",
    "apple_notification",
    "apple_renewal_extension_summary",
    "apple_renewal_info",
    "apple_request_body",
    "apple_rescind_consent",
    "apple_subscription_notification",
    "apple_test_notification",
    "apple_transaction_info",
    "es256_sign",
    "google_one_time_product_notification",
    "google_subscription_notification",
    "google_test_notification",
    "google_voided_purchase_notification",
    "jwks_document",
    "make_apple_test_ca",
    "make_google_signer",
    "now_ms",
    "pubsub_push_body",
]
