"""Fuzz both routes: malformed bodies and tokens are never accepted, never crash, always get a 4xx."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import opstestkit as kit
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.receiver.handler import Receiver

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

_b64url_text = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=200
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


_jws_like = st.one_of(
    st.text(max_size=300),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _b64url_text, _b64url_text, _b64url_text),
    st.builds(
        lambda header, payload, sig: f"{_segment(header)}.{_segment(payload)}.{sig}",
        st.fixed_dictionaries(
            {"alg": st.sampled_from(["ES256", "none", "HS256", "RS256"]), "x5c": _json_values}
        ),
        _json_values,
        _b64url_text,
    ),
)
_apple_bodies = st.one_of(
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
    _json_values.map(json.dumps),
    _jws_like.map(lambda token: json.dumps({"signedPayload": token})),
)
_authorization = st.one_of(
    st.none(),
    st.text(max_size=100),
    _jws_like.map(lambda token: f"Bearer {token}"),
)
_google_bodies = st.one_of(
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
    _json_values.map(json.dumps),
    _json_values.map(
        lambda value: json.dumps(
            {"message": {"messageId": "1", "data": base64.b64encode(json.dumps(value).encode()).decode()}}
        )
    ),
)


def _assert_refused(response: dict[str, Any], metrics: io.StringIO) -> None:
    assert 400 <= response["statusCode"] < 500, response
    # Every enqueue is counted as NotificationVerified; none may have happened.
    assert "NotificationVerified" not in metrics.getvalue()


@FUZZ
@given(body=_apple_bodies, base64_encoded=st.booleans())
def test_apple_route_refuses_garbage(
    receiver: Receiver, make_event: Any, metrics_stream: io.StringIO, body: str, base64_encoded: bool
) -> None:
    _assert_refused(
        receiver.handle(make_event("/notifications/apple", body, base64_encoded=base64_encoded)),
        metrics_stream,
    )


@FUZZ
@given(authorization=_authorization, body=_google_bodies)
def test_google_route_refuses_garbage(
    receiver: Receiver, make_event: Any, metrics_stream: io.StringIO, authorization: str | None, body: str
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    _assert_refused(
        receiver.handle(make_event("/notifications/google", body, headers=headers)), metrics_stream
    )


@FUZZ
@given(data=st.data())
def test_any_single_character_change_to_a_genuine_apple_token_is_refused(
    receiver: Receiver,
    make_event: Any,
    metrics_stream: io.StringIO,
    apple_ca: kit.AppleTestCA,
    data: st.DataObject,
) -> None:
    token = apple_ca.sign(kit.apple_test_notification(notification_uuid="fixed-uuid"))
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCabc012-_.="))
    mutated = token[:position] + replacement + token[position + 1 :]
    if mutated == token:
        return
    _assert_refused(
        receiver.handle(make_event("/notifications/apple", json.dumps({"signedPayload": mutated}))),
        metrics_stream,
    )


def _rs256(claims: Any, signer: kit.GoogleSigner) -> str:
    # Signed by hand: PyJWT refuses to encode some of the claim values the fuzzer draws.
    signing_input = f"{_segment({'alg': 'RS256', 'kid': signer.kid})}.{_segment(claims)}"
    signature = signer.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


_claims = st.one_of(
    _json_values,
    st.dictionaries(
        st.sampled_from(["aud", "iss", "email", "email_verified", "exp", "iat", "nbf"]), _json_values
    ),
)


@FUZZ
@given(claims=_claims)
def test_google_tokens_with_arbitrary_claims_signed_by_the_real_key_are_refused(
    receiver: Receiver,
    make_event: Any,
    metrics_stream: io.StringIO,
    google_signer: kit.GoogleSigner,
    claims: Any,
) -> None:
    headers = {"authorization": f"Bearer {_rs256(claims, google_signer)}"}
    body = json.dumps(kit.pubsub_push_body(kit.google_test_notification()))
    _assert_refused(
        receiver.handle(make_event("/notifications/google", body, headers=headers)), metrics_stream
    )
