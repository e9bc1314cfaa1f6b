"""The callback-driven PutItem pump against real loopback endpoints."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from ops.backfill.dynamo_http import DynamoHttpClient
from ops.backfill.pump import PutPump
from ops.backfill.throttle import Throttle
from ops.backfill.writer import Outcome, PutResult, PutWriter


class _Source:
    def __init__(self, entries: list[tuple[Any, ...]]) -> None:
        self.items = deque(entries)
        self.size = len(entries)

    def take(self) -> tuple[Any, ...] | None:
        if not self.items:
            return None
        self.size -= 1
        return self.items.popleft()


def _item(i: int, prefix: str = "COUPLE#") -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{prefix}{i}"}, "sk": {"S": f"ANSWER#{i}"}, "body": {"S": "x" * 200}}


def _stats(url: str) -> dict[str, int]:
    return dict(json.loads(urllib.request.urlopen(f"{url}/stats").read()))


class _Run:
    """Pump every item through `slots` slots; records results, failures and slow-path tasks."""

    def __init__(self, url: str, items: list[dict[str, Any]], slots: int = 8, **pump: Any) -> None:
        self.client = DynamoHttpClient(url, "us-east-1", "tbl")
        self.throttle = Throttle(pump.pop("rate", None))
        self.writer = PutWriter(self.client, self.throttle, base_delay=0.001)
        # (body, tag): the tag is the pk, with "+n" for the n-th repeat of the same pk.
        tags: dict[str, int] = {}
        self.entries = []
        for item in items:
            pk = item["pk"]["S"]
            tags[pk] = tags.get(pk, -1) + 1
            self.entries.append((self.client.put_item_body(item), pk + (f"+{tags[pk]}" if tags[pk] else "")))
        self.slots = slots
        self.pump_options = pump
        self.results: dict[str, PutResult] = {}
        self.failed: list[str] = []
        self.spawned = 0
        self.on_result_hook: Callable[[str], None] | None = None
        self.pump: PutPump | None = None

    async def _go(self, control: Callable[[PutPump], Any] | None) -> None:
        done = asyncio.Event()

        def on_result(entry: tuple[Any, ...], result: PutResult) -> None:
            if self.on_result_hook is not None:
                self.on_result_hook(entry[1])
            assert entry[1] not in self.results, f"{entry[1]} finished twice"
            self.results[entry[1]] = result
            if len(self.results) == len(self.entries):
                done.set()

        async def on_failed(entry: tuple[Any, ...], result: PutResult) -> None:
            await asyncio.sleep(0.01)  # like the failure log's write
            self.failed.append(entry[1])

        async with asyncio.TaskGroup() as group:

            def spawn(coro: Any) -> asyncio.Task[None]:
                self.spawned += 1
                return group.create_task(coro)

            source = _Source(self.entries)
            self.pump = pump = PutPump(
                self.writer,
                self.slots,
                source,
                on_result=on_result,
                on_failed=on_failed,
                spawn=spawn,
                **self.pump_options,
            )
            pump.wake()
            if control is not None:
                await control(pump)
            await asyncio.wait_for(done.wait(), 60)
            pump.close()

    def run(self, control: Callable[[PutPump], Any] | None = None) -> _Run:
        asyncio.run(self._go(control))
        return self

    def outcomes(self) -> dict[Outcome, int]:
        counts: dict[Outcome, int] = {}
        for result in self.results.values():
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts


def test_every_item_is_put_once_and_only_the_first_request_per_slot_waits(
    fake_dynamodb: Callable[..., str], dummy_credentials: None
) -> None:
    url = fake_dynamodb("--latency-ms", "1")
    items = [_item(i) for i in range(270)] + [_item(i) for i in range(30)]  # 30 already present
    run = _Run(url, items, slots=16).run()
    assert run.outcomes() == {Outcome.WRITTEN: 270, Outcome.PRESENT: 30}
    stats = _stats(url)
    assert (stats["requests"], stats["written"], stats["present"], stats["bad_signature"]) == (
        300,
        270,
        30,
        0,
    )
    # Opening a slot's connection is the slow path's job; every later request went out from the
    # response handler of the one before it.
    assert run.spawned == 16


def test_throttled_and_rejected_items_leave_the_fast_path_and_still_finish(
    fake_dynamodb: Callable[..., str], dummy_credentials: None
) -> None:
    url = fake_dynamodb("--latency-ms", "0", "--throttle-every", "20", "--reject-pk-prefix", "BAD#")
    items = [_item(i) for i in range(90)] + [_item(i, "BAD#") for i in range(10)]
    run = _Run(url, items, slots=8).run()
    assert run.outcomes() == {Outcome.WRITTEN: 90, Outcome.FAILED: 10}
    assert sorted(run.failed) == sorted(f"BAD#{i}" for i in range(10))
    assert all("ValidationException" in run.results[key].reason for key in run.failed)
    assert run.throttle.throttle_events >= 4
    assert _stats(url)["written"] == 90


async def _flaky_server(every: int) -> tuple[asyncio.Server, list[int]]:
    """Answers 200 to each request, except that every `every`-th one drops the connection."""
    seen = [0]

    class Flaky(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: Any = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, _, rest = self.buffer.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    return
                self.buffer = rest[length:]
                seen[0] += 1
                if seen[0] % every == 0:
                    self.transport.abort()
                    return
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    server = await asyncio.get_running_loop().create_server(Flaky, "127.0.0.1", 0)
    return server, seen


def test_dropped_connections_are_reopened_and_their_items_retried(dummy_credentials: None) -> None:
    async def go() -> tuple[_Run, int]:
        server, seen = await _flaky_server(every=40)
        port = server.sockets[0].getsockname()[1]
        run = _Run(f"http://127.0.0.1:{port}", [_item(i) for i in range(200)], slots=6)
        await run._go(None)
        server.close()
        return run, seen[0]

    run, requests = asyncio.run(go())
    assert run.outcomes() == {Outcome.WRITTEN: 200}
    assert requests > 200  # the dropped ones were sent again
    assert run.writer.retries == requests - 200


def test_an_error_in_the_result_handler_ends_the_run_instead_of_hanging(
    fake_dynamodb: Callable[..., str], dummy_credentials: None
) -> None:
    url = fake_dynamodb("--latency-ms", "0")
    run = _Run(url, [_item(i) for i in range(50)], slots=4)

    def explode(key: str) -> None:
        if key == "COUPLE#20":
            raise RuntimeError("bookkeeping bug")

    run.on_result_hook = explode
    started = time.monotonic()
    with pytest.raises(ExceptionGroup) as caught:
        run.run()
    assert caught.group_contains(RuntimeError, match="bookkeeping bug")
    assert time.monotonic() - started < 30


def test_rate_limit_pause_and_resume_go_through_the_pacer(
    fake_dynamodb: Callable[..., str], dummy_credentials: None
) -> None:
    url = fake_dynamodb("--latency-ms", "0")
    run = _Run(url, [_item(i) for i in range(40)], slots=8, rate=100)
    timeline: dict[str, float] = {}

    async def control(pump: PutPump) -> None:
        began = time.monotonic()
        while len(run.results) < 5:  # some writes at the limited rate (however slow this host is)
            await asyncio.sleep(0.01)
        run.throttle.pause()
        await asyncio.sleep(0.05)  # requests in flight finish
        # At 100/s, no more than what the elapsed time allows, plus the pacer's burst and the slots.
        timeline["allowed"] = 100 * (time.monotonic() - began) + 10 + 8
        timeline["paused_at"] = len(run.results)
        await asyncio.sleep(0.4)
        timeline["still"] = len(run.results)
        run.throttle.set_rate(None)  # unlimited: the pacer starts every idle slot again
        run.throttle.resume()

    started = time.monotonic()
    run.run(control)
    assert run.outcomes() == {Outcome.WRITTEN: 40}
    assert 5 <= timeline["paused_at"] <= min(timeline["allowed"], 39)  # paced at 100/s, then paused
    assert timeline["still"] == timeline["paused_at"]
    assert time.monotonic() - started < 5


def test_dry_run_sends_nothing(fake_dynamodb: Callable[..., str], dummy_credentials: None) -> None:
    url = fake_dynamodb("--latency-ms", "0")
    run = _Run(url, [_item(i) for i in range(25)], slots=4, dry_run=True).run()
    assert run.outcomes() == {Outcome.WRITTEN: 25}
    assert _stats(url)["requests"] == 0
