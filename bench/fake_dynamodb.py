"""A fast DynamoDB-compatible endpoint for benchmarks: PutItem only, SigV4 checked, fixed latency.

It runs in its own process (`python -m bench.fake_dynamodb --port P --latency-ms 5`) so its CPU
is not charged to the client being measured. Every request's signature is recomputed with the
known dummy secret; a bad one gets DynamoDB's `InvalidSignatureException`. A PutItem whose
`pk`/`sk` it already holds gets `ConditionalCheckFailedException`, like `attribute_not_exists(pk)`.
`GET /stats` returns the counters as JSON. For tests, `--throttle-every N` throttles every N-th
request and `--reject-pk-prefix P` answers ValidationException for items whose pk starts with P.

`--wcu-limit W` enforces a table write limit the way DynamoDB meters it: an item costs one write
unit per started KB of its DynamoDB size (a conditional put that fails costs the same), a token
bucket holds at most one second of the limit, and `--partition-wcu 1000` adds the per-partition limit
over `--partitions` hash ranges of the partition key. A write over a limit gets DynamoDB's
answer, HTTP 400 with `ThrottlingException` (on-demand; `--throttle-answer provisioned`:
`ProvisionedThroughputExceededException`) and its `ThrottlingReasons`. `POST /limit` with
`{"wcu": W}` changes the limit while running; `/stats` has a per-second timeline (wall-clock
second -> write units and items accepted, requests throttled, limit in force). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import hmac
import math
import signal
import sys
import time
import uuid
import zlib
from collections import defaultdict
from typing import Any, cast

import orjson

from ops.mapping.codec import item_size

SECRETS = {"testing": "testing"}
_TYPE_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_CONTENT_TYPE = "application/x-amz-json-1.0"
_EMPTY_OBJECT = b"{}"
_OK_EMPTY = f"HTTP/1.1 200 OK\r\nContent-Type: {_CONTENT_TYPE}\r\nContent-Length: 2\r\n\r\n{{}}".encode()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@functools.lru_cache(maxsize=16)
def _signing_pads(secret: str, day: str, region: str, service: str) -> tuple[Any, Any]:
    """The SigV4 signing key's HMAC-SHA256 inner and outer pads, hashed (copied per request)."""
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), service), "aws4_request")
    padded = key.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in padded)), hashlib.sha256(bytes(b ^ 0x5C for b in padded))


@functools.lru_cache(maxsize=64)
def _auth_fields(credential_part: str) -> tuple[str, str, str, str, str]:
    """(access key, day, region, service, signed header names) from an Authorization header's
    part before "Signature=" (the same for every request signed in the same second)."""
    fields = dict(part.strip().split("=", 1) for part in credential_part.split(",") if "=" in part)
    access_key, day, region, service, _ = fields["Credential"].split("/")
    return access_key, day, region, service, fields["SignedHeaders"]


def expected_signature(secret: str, method: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """(access key, signature) the request should carry, recomputed from its own headers."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "", ""
    access_key, day, region, service, names = _auth_fields(
        auth[len("AWS4-HMAC-SHA256 ") :].rsplit("Signature=", 1)[0]
    )
    canonical_headers = "".join(f"{n}:{' '.join(headers.get(n, '').split())}\n" for n in names.split(";"))
    body_hash = hashlib.sha256(body).hexdigest()
    canonical = f"{method}\n/\n\n{canonical_headers}\n{names}\n{body_hash}"
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = (
        f"AWS4-HMAC-SHA256\n{headers.get('x-amz-date', '')}\n{scope}\n"
        + hashlib.sha256(canonical.encode()).hexdigest()
    )
    inner_pad, outer_pad = _signing_pads(secret, day, region, service)
    inner = inner_pad.copy()
    inner.update(to_sign.encode())
    outer = outer_pad.copy()
    outer.update(inner.digest())
    return access_key, outer.hexdigest()


def write_units(item: dict[str, Any]) -> int:
    """Write units of a put: one per started KB of the item's DynamoDB size."""
    return max(1, math.ceil(item_size(item) / 1024))


class Bucket:
    """Write units per second, refilled continuously, holding at most one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self, units: int, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < units:
            return False
        self.tokens -= units
        return True

    def give_back(self, units: int) -> None:
        self.tokens += units


class Store:
    def __init__(  # noqa: PLR0917 - one per command-line option
        self,
        latency: float,
        throttle_every: int = 0,
        reject_prefix: str = "",
        wcu_limit: float = 0,
        partition_wcu: float = 0,
        partitions: int = 1,
        throttle_answer: str = "on-demand",
    ) -> None:
        self.latency = latency
        self.throttle_every = throttle_every
        self.reject_prefix = reject_prefix
        self.keys: set[tuple[str, str, str]] = set()
        self.table = Bucket(wcu_limit) if wcu_limit else None
        self.partitions = [Bucket(partition_wcu) for _ in range(partitions)] if partition_wcu else []
        self.throttle_answer = throttle_answer
        self.timeline: dict[int, list[float]] = defaultdict(lambda: [0, 0, 0, 0])
        self.stats = {
            "requests": 0,
            "written": 0,
            "present": 0,
            "bad_signature": 0,
            "bad_request": 0,
            "throttled": 0,
            "rejected": 0,
        }

    def set_limit(self, wcu: float) -> None:
        if self.table is None:
            self.table = Bucket(wcu)
        self.table.rate = wcu
        self.table.tokens = min(self.table.tokens, wcu)

    def admit(self, table_name: str, item: dict[str, Any]) -> bytes | None:
        """None when the write fits the limits (its units are taken), else the throttle answer."""
        if self.table is None and not self.partitions:
            return None
        units = write_units(item)
        now = time.monotonic()
        second = self.timeline[int(time.time())]
        second[3] = self.table.rate if self.table else 0
        partition = (
            self.partitions[zlib.crc32(item["pk"]["S"].encode()) % len(self.partitions)]
            if self.partitions
            else None
        )
        if partition is not None and not partition.take(units, now):
            second[2] += 1
            return self._throttled(table_name, "TableWriteKeyRangeThroughputExceeded")
        if self.table is not None and not self.table.take(units, now):
            if partition is not None:
                partition.give_back(units)  # the write was refused: it consumed nothing
            second[2] += 1
            reason = (
                "TableWriteProvisionedThroughputExceeded"
                if self.throttle_answer == "provisioned"
                else "TableWriteAccountLimitExceeded"
            )
            return self._throttled(table_name, reason)
        second[0] += units
        second[1] += 1
        return None

    def _throttled(self, table_name: str, reason: str) -> bytes:
        self.stats["throttled"] += 1
        reasons = [
            {"reason": reason, "resource": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table_name}"}
        ]
        if self.throttle_answer == "provisioned" and reason != "TableWriteKeyRangeThroughputExceeded":
            return orjson.dumps(
                {
                    "__type": _TYPE_PREFIX + "ProvisionedThroughputExceededException",
                    "message": "The level of configured provisioned throughput for the table was exceeded. "
                    "Consider increasing your provisioning level with the UpdateTable API.",
                    "ThrottlingReasons": reasons,
                }
            )
        return orjson.dumps(
            {
                "__type": "com.amazon.coral.availability#ThrottlingException",
                "message": "Throughput exceeds the current capacity of your table or index. DynamoDB is "
                "automatically scaling your table or index so please try again shortly. If exceptions "
                "persist, check if you have a hot key: "
                "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
                "throttlingReasons": reasons,
            }
        )


class FakeDynamoProtocol(asyncio.Protocol):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are compatible with asyncio.Transport, not subclasses of it.
        self.transport = cast(asyncio.Transport, transport)
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            headers = {
                name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])
            }
            length = int(headers.get("content-length", "0"))
            if len(buf) < end + 4 + length:
                return
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            method, path = lines[0].split(" ")[:2]
            status, payload = self.handle(method, path, headers, body)
            if payload is _EMPTY_OBJECT:
                response = _OK_EMPTY
            else:
                response = (
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
                    f"x-amzn-RequestId: {uuid.uuid4().hex.upper()}\r\n"
                    f"x-amz-crc32: {zlib.crc32(payload)}\r\n"
                    f"Content-Type: {_CONTENT_TYPE}\r\nContent-Length: {len(payload)}\r\n\r\n"
                ).encode() + payload
            self.loop.call_later(self.store.latency, self._send, response)

    def _send(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def handle(  # noqa: PLR0911 - one answer per DynamoDB outcome
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        stats = self.store.stats
        if method == "GET" and path == "/stats":
            timeline = {str(k): v for k, v in sorted(self.store.timeline.items())}
            return 200, orjson.dumps({**stats, "items": len(self.store.keys), "timeline": timeline})
        if method == "POST" and path == "/limit":
            self.store.set_limit(float(orjson.loads(body)["wcu"]))
            return 200, orjson.dumps({"wcu": self.store.table.rate if self.store.table else 0})
        stats["requests"] += 1
        access_key, wanted = "", ""
        try:
            auth = headers.get("authorization", "")
            access_key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
            if access_key in SECRETS:
                _, wanted = expected_signature(SECRETS[access_key], method, headers, body)
        except (ValueError, KeyError, IndexError):
            wanted = ""
        given = headers.get("authorization", "").rsplit("Signature=", 1)[-1]
        if not wanted or not hmac.compare_digest(wanted, given):
            stats["bad_signature"] += 1
            return 400, _error(
                "InvalidSignatureException", "The request signature we calculated does not match"
            )
        if headers.get("x-amz-target") != "DynamoDB_20120810.PutItem":
            stats["bad_request"] += 1
            return 400, _error("UnknownOperationException", "only PutItem is implemented")
        try:
            request = orjson.loads(body)
            item = request["Item"]
            key = (str(request["TableName"]), item["pk"]["S"], item["sk"]["S"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            stats["bad_request"] += 1
            return 400, _error("ValidationException", "Item with pk and sk is required")
        if self.store.throttle_every and stats["requests"] % self.store.throttle_every == 0:
            stats["throttled"] += 1
            return 400, _error(
                "ProvisionedThroughputExceededException", "The level of configured throughput ..."
            )
        throttled = self.store.admit(key[0], item)
        if throttled is not None:
            return 400, throttled
        if self.store.reject_prefix and key[1].startswith(self.store.reject_prefix):
            stats["rejected"] += 1
            return 400, _error("ValidationException", "Item size has exceeded the maximum allowed size")
        if key in self.store.keys and request.get("ConditionExpression") == "attribute_not_exists(pk)":
            stats["present"] += 1
            return 400, _error("ConditionalCheckFailedException", "The conditional request failed")
        self.store.keys.add(key)
        stats["written"] += 1
        return 200, _EMPTY_OBJECT


def _error(name: str, message: str) -> bytes:
    return orjson.dumps({"__type": _TYPE_PREFIX + name, "message": message})


async def serve(port: int, store: Store) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FakeDynamoProtocol(store), "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--throttle-every", type=int, default=0, help="throttle every N-th request")
    parser.add_argument("--reject-pk-prefix", default="", help="ValidationException for these pks")
    parser.add_argument("--wcu-limit", type=float, default=0, help="table write units per second (0: none)")
    parser.add_argument("--partition-wcu", type=float, default=0, help="write units per second per partition")
    parser.add_argument("--partitions", type=int, default=1, help="partitions for --partition-wcu")
    parser.add_argument("--throttle-answer", choices=["on-demand", "provisioned"], default="on-demand")
    args = parser.parse_args(argv)
    store = Store(
        args.latency_ms / 1000,
        args.throttle_every,
        args.reject_pk_prefix,
        args.wcu_limit,
        args.partition_wcu,
        args.partitions,
        args.throttle_answer,
    )
    from ops import eventloop  # uvloop, as the backfill uses: about a third less CPU per request here

    eventloop.run(serve(args.port, store))


if __name__ == "__main__":
    main(sys.argv[1:])
