"""Writer, fast path: `slots` PutItems in flight, each response starting its slot's next request.

A coroutine per request (take an item, await the put, await a future for the response) costs
more CPU than the request itself at thousands per second: the event loop's per-await machinery
was the largest single cost of the copy. Here a slot is one keep-alive connection whose response
handler counts the result and sends the slot's next item in the same callback.

Whatever needs waiting leaves the fast path as a task for that one slot, `PutWriter.put`, which
opens connections, retries throttling/5xx/connection errors with backoff and classifies row
errors: the slot's first request (no connection yet) and any answer other than 200 or
ConditionalCheckFailed. Rate limits and pause go through one pacer task that hands items to idle
slots as the throttle allows. A slot is on the fast path or in its task, never both, so at most
`slots` requests are in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from ops.backfill.dynamo_http import Connection, Response
from ops.backfill.writer import PRESENT, WRITTEN, Outcome, PutResult, PutWriter

# (request body, *anything the caller needs back*): the pump only reads the body.
Entry = tuple[Any, ...]
ResultHandler = Callable[[Entry, PutResult], None]
FailureHandler = Callable[[Entry, PutResult], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


class Source(Protocol):
    """What the pump takes items from: `size` (how many are ready) and `take()` (one, or None)."""

    size: int

    def take(self) -> Any: ...


class _Slot:
    __slots__ = ("connection", "entry", "on_response", "pump")

    def __init__(self, pump: PutPump) -> None:
        self.pump = pump
        self.connection: Connection = pump.writer.client.connect()
        self.entry: Entry = ()
        # Bound once: a new bound method per request would be one more allocation per request.
        self.on_response = self._on_response

    def _on_response(self, outcome: Response | BaseException) -> None:
        pump = self.pump
        try:
            if type(outcome) is Response:
                if outcome.status == 200:
                    pump.on_result(self.entry, WRITTEN)
                    pump.next(self)
                    return
                if outcome.status == 400 and outcome.error_type == "ConditionalCheckFailedException":
                    pump.on_result(self.entry, PRESENT)
                    pump.next(self)
                    return
            pump.slow(self, outcome)
        except BaseException as exc:
            # Raised here, it would only reach the event loop's log and the copy would hang on
            # an item that is never finished: end the run with it instead.
            pump.spawn(_reraise(exc))


async def _reraise(exc: BaseException) -> None:
    raise exc


class PutPump:
    def __init__(
        self,
        writer: PutWriter,
        slots: int,
        source: Source,
        *,
        on_result: ResultHandler,
        on_failed: FailureHandler,
        spawn: Spawn,
        dry_run: bool = False,
    ) -> None:
        """`on_result` is called for every item once it is done (written, present or failed);
        `on_failed` is awaited before it for a failed item; `spawn` runs the slow-path tasks (a
        TaskGroup's `create_task`, so that a WriteStopped ends the run)."""
        self.writer = writer
        self.throttle = writer.throttle
        self.source = source
        self.on_result = on_result
        self.on_failed = on_failed
        self.spawn = spawn
        self.dry_run = dry_run
        self._slots = [_Slot(self) for _ in range(slots)]
        self._idle = list(self._slots)
        self._pacer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    def wake(self) -> None:
        """Items arrived: start idle slots on them (called by the source)."""
        idle = self._idle
        while idle and self.source.size and not self._closed:
            if not self.throttle.free():
                self._pace()
                return
            self._start(idle.pop())

    def next(self, slot: _Slot) -> None:
        """A slot finished its item: start its next one now, or park it."""
        if self.source.size and not self._closed:
            if self.throttle.free():
                self._start(slot)
                return
            self._idle.append(slot)
            self._pace()
            return
        self._idle.append(slot)

    def _start(self, slot: _Slot) -> None:
        entry = self.source.take()
        assert entry is not None  # callers check `source.size` first
        if self.dry_run:
            self.on_result(entry, WRITTEN)
            self._idle.append(slot)
            return
        slot.entry = entry
        connection = slot.connection
        if not connection.start(self.writer.client.request(entry[0]), slot.on_response):
            self.slow(slot, None)  # no open connection: PutWriter opens one

    def slow(self, slot: _Slot, first: Response | BaseException | None) -> None:
        """Hand the slot's item to `PutWriter.put` (retries, backoff, row errors) in a task."""
        self.spawn(self._slow(slot, first))

    async def _slow(self, slot: _Slot, first: Response | BaseException | None) -> None:
        entry = slot.entry
        result = await self.writer.put(slot.connection, entry[0], first)
        if result.outcome is Outcome.FAILED:
            await self.on_failed(entry, result)
        self.on_result(entry, result)
        self.next(slot)

    def _pace(self) -> None:
        if self._pacer is None or self._pacer.done():
            self._pacer = asyncio.get_running_loop().create_task(self._paced())

    async def _paced(self) -> None:
        """While the throttle limits the rate (or is paused), start idle slots one at a time."""
        idle, source, throttle = self._idle, self.source, self.throttle
        while idle and source.size and not self._closed:
            if throttle.free():
                self._start(idle.pop())
                continue
            await throttle.acquire()
            if idle and source.size and not self._closed:
                self._start(idle.pop())

    def close(self) -> None:
        self._closed = True
        if self._pacer is not None:
            self._pacer.cancel()
        for slot in self._slots:
            slot.connection.close()
