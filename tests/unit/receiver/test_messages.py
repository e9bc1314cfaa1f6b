"""The NotificationMessage contract shared by the receiver and the consumer."""

from __future__ import annotations

import json

import pytest

from lambdas.shared.exceptions import LambdaError, MessageFormatError
from lambdas.shared.messages import NotificationMessage, fifo_id, utc_now_iso


def _message(**overrides: object) -> NotificationMessage:
    values: dict[str, object] = {
        "provider": "apple",
        "notification_id": "002e14d5-51f5-4503-b5a8-c3a1af68eb20",
        "group_id": "2000000123456789",
        "received_at": "2026-11-25T14:00:00.123Z",
        "payload": {"notificationType": "DID_RENEW", "data": {"bundleId": "com.example"}},
    }
    values.update(overrides)
    return NotificationMessage(**values)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    message = _message()
    assert NotificationMessage.from_json(message.to_json()) == message


def test_json_is_compact_and_sorted() -> None:
    body = _message().to_json()
    assert " " not in body.split('"payload"')[0]
    assert list(json.loads(body)) == sorted(json.loads(body))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON list"),
        ('{"provider": "amazon"}', "provider must be one of apple, google"),
        (
            '{"provider": "google", "notification_id": "", "group_id": "g", '
            '"received_at": "2026-11-25T14:00:00Z", "payload": {}}',
            "notification_id must be a non-empty string",
        ),
        (
            '{"provider": "google", "notification_id": "1", "group_id": "g", '
            '"received_at": "yesterday", "payload": {}}',
            "received_at 'yesterday' is not ISO-8601 UTC",
        ),
        (
            '{"provider": "google", "notification_id": "1", "group_id": "g", '
            '"received_at": "2026-11-25T14:00:00+02:00", "payload": {}}',
            "is not ISO-8601 UTC",
        ),
        (
            '{"provider": "google", "notification_id": "1", "group_id": "g", '
            '"received_at": "2026-11-25T14:00:00Z", "payload": []}',
            "payload must be an object",
        ),
        (
            '{"provider": "google", "notification_id": "1", "group_id": "g", '
            '"received_at": "2026-11-25T14:00:00Z", "payload": {}, "extra": 1}',
            "unknown field(s) extra",
        ),
    ],
)
def test_from_json_rejects_bad_bodies_with_a_clear_error(body: str, expected: str) -> None:
    with pytest.raises(MessageFormatError) as info:
        NotificationMessage.from_json(body)
    assert expected in str(info.value)
    assert isinstance(info.value, LambdaError)


def test_constructor_validates_too() -> None:
    with pytest.raises(MessageFormatError, match="group_id must be a non-empty string"):
        _message(group_id="  ")


def test_fifo_ids_pass_through_when_valid_and_hash_when_not() -> None:
    assert fifo_id("2000000123456789") == "2000000123456789"
    long_token = "a" * 200
    hashed = fifo_id(long_token)
    assert hashed.startswith("sha256:") and len(hashed) == 71
    assert fifo_id(long_token) == hashed
    assert fifo_id("ünïcode").startswith("sha256:")
    message = _message(provider="google", group_id=long_token)
    assert message.message_group_id == hashed
    assert message.deduplication_id == message.notification_id


def test_utc_now_iso_is_accepted_by_the_contract() -> None:
    stamp = utc_now_iso()
    assert stamp.endswith("Z")
    assert _message(received_at=stamp).received_at == stamp
