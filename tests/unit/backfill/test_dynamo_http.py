"""The lean PutItem path: signatures identical to botocore's, HTTP parsing, outcomes and retries."""

from __future__ import annotations

import asyncio
import datetime
import json
import urllib.request
from collections.abc import Callable

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from ops.backfill import dynamo_http
from ops.backfill.dynamo_http import Credentials, DynamoHttpClient, HttpProtocol, Response, SigV4Signer
from ops.backfill.throttle import Throttle
from ops.backfill.writer import Outcome, PutResult, PutWriter, WriteStopped

NOW = datetime.datetime(2026, 11, 25, 14, 40, 7, tzinfo=datetime.UTC)


@pytest.mark.parametrize("token", [None, "session-token-value"])
def test_signature_matches_botocore(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    body = b'{"TableName":"t","Item":{"pk":{"S":"a"},"sk":{"S":"b"}}}'
    signer = SigV4Signer(
        "eu-west-1",
        "dynamodb.eu-west-1.amazonaws.com",
        credentials=lambda: Credentials("AKIDEXAMPLE", "secret/key+value", token),
        clock=NOW.timestamp,
    )
    ours = dict(signer.headers(dynamo_http.PUT_ITEM_TARGET, body))

    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(
        method="POST",
        url="https://dynamodb.eu-west-1.amazonaws.com/",
        data=body,
        headers={"Content-Type": dynamo_http.JSON_CONTENT_TYPE, "X-Amz-Target": dynamo_http.PUT_ITEM_TARGET},
    )
    SigV4Auth(BotoCredentials("AKIDEXAMPLE", "secret/key+value", token), "dynamodb", "eu-west-1").add_auth(
        request
    )
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    if token:
        assert ours["x-amz-security-token"] == token


def test_signing_key_is_derived_once_per_day() -> None:
    calls: list[int] = []

    def creds() -> Credentials:
        calls.append(1)
        return Credentials("a", "b")

    clock = [NOW.timestamp()]
    signer = SigV4Signer("us-east-1", "h", credentials=creds, clock=lambda: clock[0])
    signer.sign("T", b"{}")
    key = signer._key
    clock[0] += 3600
    signer.sign("T", b"{}")
    assert signer._key is key
    clock[0] += 86400
    signer.sign("T", b"{}")
    assert signer._key != key
    assert len(calls) == 1  # credentials are cached too (re-read every minute)


def _feed(*chunks: bytes) -> Response:
    proto = HttpProtocol()
    loop = asyncio.new_event_loop()
    try:
        proto.waiter = loop.create_future()
        waiter = proto.waiter
        for chunk in chunks:
            proto.data_received(chunk)
        return waiter.result()
    finally:
        loop.close()


def test_parses_content_length_and_chunked_responses_split_anywhere() -> None:
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Amz-Crc32: 1\r\n\r\n{}"
    assert _feed(plain[:10], plain[10:40], plain[40:]) == Response(200, b"{}")
    body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"no"}'
    chunked = (
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{20:x}\r\n".encode()
        + body[:20]
        + b"\r\n"
        + f"{len(body) - 20:x}\r\n".encode()
        + body[20:]
        + b"\r\n0\r\n\r\n"
    )
    response = _feed(chunked[:50], chunked[50:])
    assert response.status == 400
    assert response.error_type == "ConditionalCheckFailedException"
    assert response.message == "no"


def _put_all(
    url: str, items: list[dict[str, dict[str, str]]], base_delay: float = 0.05
) -> tuple[list[Outcome], PutWriter, Throttle]:
    client = DynamoHttpClient(url, "us-east-1", "tbl")
    throttle = Throttle()
    writer = PutWriter(client, throttle, base_delay=base_delay)

    async def go() -> list[Outcome]:
        connection = client.connect()
        try:
            return [(await writer.put(connection, client.put_item_body(i))).outcome for i in items]
        finally:
            connection.close()

    return asyncio.run(go()), writer, throttle


def _item(i: int) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"COUPLE#{i}"}, "sk": {"S": f"ANSWER#{i}"}, "body": {"S": "x" * 100}}


def _stats(url: str) -> dict[str, int]:
    return dict(json.loads(urllib.request.urlopen(f"{url}/stats").read()))


def test_written_then_already_present_through_a_signature_checking_endpoint(
    fake_dynamodb: Callable[..., str], dummy_credentials: None
) -> None:
    url = fake_dynamodb("--latency-ms", "1")
    outcomes, _, _ = _put_all(url, [_item(1), _item(2), _item(1)])
    assert outcomes == [Outcome.WRITTEN, Outcome.WRITTEN, Outcome.PRESENT]
    stats = _stats(url)
    assert stats["bad_signature"] == 0 and stats["written"] == 2 and stats["present"] == 1


def test_wrong_secret_is_refused_and_stops_the_run(
    fake_dynamodb: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fake_dynamodb("--latency-ms", "0")
    monkeypatch.setattr(dynamo_http, "botocore_credentials", lambda: Credentials("testing", "wrong"))
    client = DynamoHttpClient(url, "us-east-1", "tbl", credentials=lambda: Credentials("testing", "wrong"))
    writer = PutWriter(client, Throttle())

    async def go() -> None:
        await writer.put(client.connect(), client.put_item_body(_item(1)))

    with pytest.raises(WriteStopped, match="InvalidSignatureException"):
        asyncio.run(go())
    assert _stats(url)["bad_signature"] == 2  # once more after re-reading the credentials


def test_throttling_is_retried_with_backoff_and_slows_the_rate(
    fake_dynamodb: Callable[..., str], dummy_credentials: None
) -> None:
    url = fake_dynamodb("--latency-ms", "0", "--throttle-every", "3")
    outcomes, writer, throttle = _put_all(url, [_item(i) for i in range(12)], base_delay=0.001)
    assert outcomes == [Outcome.WRITTEN] * 12
    assert writer.retries >= 5
    assert throttle.throttle_events >= 5
    _, throttled, _ = throttle.take_window()
    assert throttled >= 5  # counted for the throttler's next decision about the rate
    assert _stats(url)["throttled"] >= 5


def test_validation_errors_are_per_row_failures(
    fake_dynamodb: Callable[..., str], dummy_credentials: None
) -> None:
    url = fake_dynamodb("--latency-ms", "0", "--reject-pk-prefix", "BAD#")
    client = DynamoHttpClient(url, "us-east-1", "tbl")
    writer = PutWriter(client, Throttle())

    rejected = {"pk": {"S": "BAD#1"}, "sk": {"S": "A"}}

    async def go() -> list[PutResult]:
        connection = client.connect()
        return [await writer.put(connection, client.put_item_body(i)) for i in (rejected, _item(2))]

    bad, good = asyncio.run(go())
    assert bad.outcome is Outcome.FAILED
    assert bad.kind == "too_large" and "ValidationException" in bad.reason
    assert good.outcome is Outcome.WRITTEN


def test_persistent_unavailability_stops_after_max_attempts(dummy_credentials: None) -> None:
    from ops.sandbox.processes import free_port

    client = DynamoHttpClient(f"http://127.0.0.1:{free_port()}", "us-east-1", "tbl", connect_timeout=0.5)
    writer = PutWriter(client, Throttle(), max_attempts=3, base_delay=0.001)

    async def go() -> None:
        await writer.put(client.connect(), client.put_item_body(_item(1)))

    with pytest.raises(WriteStopped, match="checkpoints are saved"):
        asyncio.run(go())
