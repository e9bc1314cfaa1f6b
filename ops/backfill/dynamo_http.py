"""The lean PutItem path: SigV4 with a cached signing key over raw keep-alive HTTP/1.1 connections.

boto3 spends most of a PutItem's CPU on request/response modelling, event hooks and validation
(0.6-0.9 ms here); the backfill sends one request shape millions of times, so it builds the JSON
body from a fixed prefix/suffix around `orjson.dumps(item)`, signs it with a signing key derived
once per day, and speaks HTTP/1.1 on asyncio protocols (one request in flight per connection).
Credentials come from botocore's credential chain (environment, profile, SSO, instance role) and
are re-read every minute so temporary credentials rotate. Everything else keeps using boto3.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

import orjson

from ops.exceptions import OpsError
from ops.mapping.codec import wire_json

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
PUT_ITEM_TARGET = "DynamoDB_20120810.PutItem"
_CREDENTIALS_TTL = 60.0


class DynamoHttpError(OpsError):
    """The endpoint or the credentials are unusable (not a per-row problem)."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def botocore_credentials() -> Credentials:
    """Credentials from botocore's chain, as the rest of `ops` (through `ops.aws`) would use."""
    from ops import aws

    found = aws.session().get_credentials()
    if found is None:
        raise DynamoHttpError(
            "No AWS credentials found (environment, profile, SSO or instance role). "
            "Configure credentials (e.g. `aws configure` or AWS_PROFILE) and run again."
        )
    frozen = found.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    k_date = _hmac(("AWS4" + secret_key).encode(), day)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


class SigV4Signer:
    """AWS Signature Version 4 for JSON-protocol POSTs to "/", the key derived once per day."""

    def __init__(
        self,
        region: str,
        host: str,
        credentials: Callable[[], Credentials] = botocore_credentials,
        service: str = "dynamodb",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.host = host
        self.service = service
        self._credentials_source = credentials
        self._clock = clock
        self._credentials: Credentials | None = None
        self._credentials_at = 0.0
        self._key_for: tuple[str, str] | None = None
        self._key = b""
        self._inner = self._outer = hashlib.sha256()
        self._prepared: dict[str, tuple[Any, ...]] = {}

    def credentials(self) -> Credentials:
        now = time.monotonic()
        if self._credentials is None or now - self._credentials_at > _CREDENTIALS_TTL:
            self._credentials = self._credentials_source()
            self._credentials_at = now
        return self._credentials

    def refresh(self) -> None:
        """Forget the cached credentials (after the endpoint rejected them)."""
        self._credentials = None

    def _prepare(self, target: str, creds: Credentials, amz_date: str) -> tuple[str, str, str, bytes]:
        day = amz_date[:8]
        if self._key_for != (day, creds.secret_key):
            self._key = signing_key(creds.secret_key, day, self.region, self.service)
            self._key_for = (day, creds.secret_key)
            # HMAC-SHA256 with the key's inner and outer pads hashed once: a copy per signature
            # instead of the key setup hmac.digest repeats every time (1 us less per request).
            padded = self._key.ljust(64, b"\0")
            self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
            self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        signed = [
            ("content-type", JSON_CONTENT_TYPE),
            ("host", self.host),
            ("x-amz-date", amz_date),
        ]
        if creds.token:
            signed.append(("x-amz-security-token", creds.token))
        signed.append(("x-amz-target", target))
        names = ";".join(n for n, _ in signed)
        canonical_prefix = "POST\n/\n\n{}\n{}\n".format("".join(f"{n}:{v}\n" for n, v in signed), names)
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        sts_prefix = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
        head = "POST / HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in signed)
        head += f"authorization: AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
        head += f"SignedHeaders={names}, Signature="
        return amz_date, canonical_prefix, sts_prefix, head.encode()

    def sign(self, target: str, body: bytes) -> tuple[bytes, str]:
        """(request head up to and including "Signature=", the signature) for a body.

        The header block only changes once a second, so it is prepared once per second and target.
        """
        creds = self.credentials()
        now = int(self._clock())
        cached = self._prepared.get(target)
        if cached is None or cached[0] != now or cached[1] is not creds:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
            cached = (now, creds, *self._prepare(target, creds, amz_date))
            self._prepared[target] = cached
        _, _, _, canonical_prefix, sts_prefix, head = cached
        canonical = canonical_prefix + hashlib.sha256(body).hexdigest()
        inner = self._inner.copy()
        inner.update((sts_prefix + hashlib.sha256(canonical.encode()).hexdigest()).encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return head, outer.hexdigest()

    def headers(self, target: str, body: bytes) -> list[tuple[str, str]]:
        """The signed headers as (name, value) pairs, Authorization last (for inspection and tests)."""
        head, signature = self.sign(target, body)
        lines = head.decode().split("\r\n")[1:]
        pairs = [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines)]
        name, value = pairs[-1]
        pairs[-1] = (name, value + signature)
        return pairs


class Response(NamedTuple):
    """An HTTP response (a tuple: cheaper to create than a frozen dataclass, once per request)."""

    status: int
    body: bytes

    @property
    def error_type(self) -> str:
        """DynamoDB's error name (the part of `__type` after '#'), or "" on success."""
        if self.status == 200:
            return ""
        try:
            doc = orjson.loads(self.body)
            name = str(doc.get("__type") or doc.get("code") or "")
        except (orjson.JSONDecodeError, AttributeError):
            return f"HTTP{self.status}"
        return name.rsplit("#", 1)[-1] or f"HTTP{self.status}"

    @property
    def message(self) -> str:
        try:
            doc = orjson.loads(self.body)
            return str(doc.get("message") or doc.get("Message") or "")
        except (orjson.JSONDecodeError, AttributeError):
            return self.body[:200].decode(errors="replace")


ResponseCallback = Callable[["Response | BaseException"], None]


class HttpProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; responses parsed from Content-Length or chunked bodies.

    The request in flight is answered either through `waiter` (a future, for `Connection.send`)
    or through `callback` (called from `data_received`, for `Connection.start`): the callback
    form lets the backfill send the next request straight from the response handler, without a
    future and a task wake-up per request.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Response] | None = None
        self.callback: ResponseCallback | None = None
        self.deadline = 0.0
        self.closed = False
        self.must_close = False

    @property
    def busy(self) -> bool:
        return self.waiter is not None or self.callback is not None

    @property
    def usable(self) -> bool:
        return not (self.closed or self.must_close) and self.transport is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only compatible.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None or self.callback is not None:
            self.parse()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(ConnectionError(f"connection closed: {exc or 'by peer'}"))

    def deliver(self, outcome: Response | BaseException) -> None:
        """Hand the outcome of the request in flight to whoever waits for it (once)."""
        callback, self.callback = self.callback, None
        if callback is not None:
            callback(outcome)
            return
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if isinstance(outcome, BaseException):
                waiter.set_exception(outcome)
            else:
                waiter.set_result(outcome)

    def fail(self, exc: BaseException) -> None:
        # The stream's state is unknown after a failed request: never reuse the connection.
        self.must_close = True
        self.deliver(exc)

    def parse(self) -> None:
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        status = int(head[9:12])
        start = end + 4
        if b"chunked" in head:
            parsed = _dechunk(buf, start)
            if parsed is None:
                return
            body, consumed = parsed
        else:
            at = head.find(b"\r\ncontent-length:")
            length = 0
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop > 0 else len(head)])
            if len(buf) < start + length:
                return
            body, consumed = bytes(buf[start : start + length]), start + length
        if b"\r\nconnection: close" in head:
            self.must_close = True
        del buf[:consumed]
        self.deliver(Response(status, body))


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    out = bytearray()
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n", pos)
            return (bytes(out), trailer_end + 2) if trailer_end >= 0 else None
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        pos += size + 2


class Connection:
    """A reconnecting HTTP/1.1 connection to the endpoint; one request at a time.

    Timeouts are enforced by the client's watchdog (one timer for all connections) rather than a
    timer per request, which would cost more CPU than the request itself.
    """

    def __init__(self, client: DynamoHttpClient) -> None:
        self._client = client
        self._protocol: HttpProtocol | None = None

    async def _ensure(self) -> HttpProtocol:
        proto = self._protocol
        if proto is None or not proto.usable:
            if proto is not None and proto.transport is not None:
                proto.transport.close()
            c = self._client
            loop = asyncio.get_running_loop()
            transport, proto = await asyncio.wait_for(
                loop.create_connection(
                    HttpProtocol, c.hostname, c.port, ssl=c.ssl_context, server_hostname=c.server_hostname
                ),
                c.connect_timeout,
            )
            assert proto is not None
            # uvloop calls connection_made only after create_connection has returned.
            proto.transport = transport
            self._protocol = proto
            c.watch(proto)
        return proto

    def _write(self, proto: HttpProtocol, request: bytes) -> None:
        assert proto.transport is not None
        proto.deadline = time.monotonic() + self._client.read_timeout
        try:
            proto.transport.write(request)
        except (RuntimeError, OSError) as exc:  # uvloop raises RuntimeError on a closed transport
            proto.fail(ConnectionError(f"connection lost while sending: {exc}"))
            return
        if proto.buffer:
            proto.parse()

    async def send(self, request: bytes) -> Response:
        proto = self._protocol
        if proto is None or not proto.usable:
            proto = await self._ensure()
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        proto.waiter = waiter
        self._write(proto, request)
        try:
            return await waiter
        except BaseException:
            # A request whose response never came leaves the stream in an unknown state.
            self.close()
            raise

    def start(self, request: bytes, callback: ResponseCallback) -> bool:
        """Send without waiting: `callback` later gets the Response, or the exception that ended it.

        Returns False, sending nothing, when the connection is not open: open it with `send`.
        After a failed request the connection is not reused (`send` opens a new one).
        """
        proto = self._protocol
        if proto is None or not proto.usable:
            return False
        proto.callback = callback
        self._write(proto, request)
        return True

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


class DynamoHttpClient:
    """Builds signed PutItem requests for one endpoint and table; connections come from `connect()`."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        table: str,
        *,
        credentials: Callable[[], Credentials] = botocore_credentials,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DynamoHttpError(f"DynamoDB endpoint {endpoint!r} is not an http(s) URL")
        secure = parts.scheme == "https"
        self.hostname = parts.hostname
        self.port = parts.port or (443 if secure else 80)
        default_port = parts.port is None or parts.port == (443 if secure else 80)
        self.host_header = self.hostname if default_port else f"{self.hostname}:{self.port}"
        self.ssl_context: ssl.SSLContext | None = ssl.create_default_context() if secure else None
        self.server_hostname = self.hostname if secure else None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.table = table
        self.signer = SigV4Signer(region, self.host_header, credentials)
        self._prefix = b'{"TableName":' + orjson.dumps(table) + b',"Item":'
        self._suffix = b',"ConditionExpression":"attribute_not_exists(pk)"}'
        self._watched: set[HttpProtocol] = set()
        self._watchdog: asyncio.Task[None] | None = None

    def put_item_body(self, item: dict[str, Any]) -> bytes:
        """The JSON body of a conditional PutItem (`attribute_not_exists(pk)`) for a wire item.

        Binary values (B, BS) go base64-encoded, as DynamoDB's JSON protocol carries them."""
        return self._prefix + wire_json(item) + self._suffix

    def put_item_body_from_json(self, item_json: bytes) -> bytes:
        """The same body around an item already in wire JSON (`TableMapping.encode_json`)."""
        return self._prefix + item_json + self._suffix

    def request(self, body: bytes, target: str = PUT_ITEM_TARGET) -> bytes:
        head, signature = self.signer.sign(target, body)
        return b"".join(
            (head, signature.encode(), b"\r\ncontent-length: ", str(len(body)).encode(), b"\r\n\r\n", body)
        )

    def connect(self) -> Connection:
        return Connection(self)

    def watch(self, protocol: HttpProtocol) -> None:
        self._watched.add(protocol)
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._expire())

    async def _expire(self) -> None:
        while self._watched:
            await asyncio.sleep(min(1.0, self.read_timeout / 4))
            now = time.monotonic()
            for proto in list(self._watched):
                if proto.closed:
                    self._watched.discard(proto)
                elif proto.busy and now > proto.deadline:
                    proto.fail(TimeoutError(f"no response from {self.host_header} in {self.read_timeout}s"))
                    if proto.transport is not None:
                        proto.transport.close()
