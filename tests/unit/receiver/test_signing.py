"""The test signing material is itself correct: chains verify, JWS and OIDC tokens verify."""

from __future__ import annotations

import base64
import json

import jwt
import opstestkit as kit
from cryptography import x509


def _oids(cert: x509.Certificate) -> set[str]:
    return {ext.oid.dotted_string for ext in cert.extensions}


def test_test_ca_chain_is_shaped_like_apples() -> None:
    ca = kit.make_apple_test_ca()
    ca.intermediate.verify_directly_issued_by(ca.root)
    ca.leaf.verify_directly_issued_by(ca.intermediate)
    assert kit.APPLE_INTERMEDIATE_OID in _oids(ca.intermediate)
    assert kit.APPLE_LEAF_OID in _oids(ca.leaf)
    assert ca.intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not ca.leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    x5c = ca.x5c()
    assert len(x5c) == 3
    assert base64.b64decode(x5c[2]) == ca.root_der


def test_broken_variants_drop_the_markers() -> None:
    ca = kit.make_apple_test_ca(leaf_oid=None, intermediate_oid="1.2.3.4")
    assert kit.APPLE_LEAF_OID not in _oids(ca.leaf)
    assert kit.APPLE_INTERMEDIATE_OID not in _oids(ca.intermediate)


def test_apple_jws_verifies_with_the_leaf_key() -> None:
    ca = kit.make_apple_test_ca()
    payload = kit.apple_subscription_notification(ca, "SUBSCRIBED", "INITIAL_BUY")
    token = ca.sign(payload)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    decoded = jwt.decode(token, ca.leaf.public_key(), algorithms=["ES256"])  # type: ignore[arg-type]
    assert decoded["notificationType"] == "SUBSCRIBED"
    nested = jwt.decode(
        decoded["data"]["signedTransactionInfo"],
        ca.leaf.public_key(),  # type: ignore[arg-type]
        algorithms=["ES256"],
    )
    assert nested["originalTransactionId"] == "2000000123456789"


def test_no_transaction_builders_use_their_own_objects() -> None:
    assert "summary" in kit.apple_renewal_extension_summary()
    assert kit.apple_external_purchase_token()["externalPurchaseToken"]["externalPurchaseId"].startswith(
        "SANDBOX_"
    )
    assert "appData" in kit.apple_rescind_consent()
    assert kit.apple_test_notification()["notificationType"] == "TEST"


def test_google_token_verifies_against_its_jwks() -> None:
    signer = kit.make_google_signer("kid-1")
    token = signer.oidc_token()
    jwks = jwt.PyJWKSet.from_dict(signer.jwks())
    claims = jwt.decode(
        token,
        jwks["kid-1"].key,
        algorithms=["RS256"],
        audience=kit.DEFAULT_AUDIENCE,
        issuer=kit.GOOGLE_ISSUER,
    )
    assert claims["email"] == kit.DEFAULT_SERVICE_ACCOUNT
    assert claims["email_verified"] is True


def test_pubsub_push_body_wraps_the_notification() -> None:
    notification = kit.google_subscription_notification(purchase_token="tok")
    body = kit.pubsub_push_body(notification, message_id="42")
    assert body["message"]["messageId"] == "42"
    assert json.loads(base64.b64decode(body["message"]["data"])) == notification
    assert body["subscription"].startswith("projects/")
