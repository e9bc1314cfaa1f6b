"""The copy's in-flight state: the interleaver that hands items to the writers round-robin across
segments, and per segment the pages read and not yet acknowledged (`SegmentRun`, `Page`).

A page is acknowledged once every row in it is written, found present or logged as failed; a
segment's checkpoint only moves over acknowledged pages, in key order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ops.backfill.checkpoint import Counters, SegmentState
from ops.backfill.planner import KeyValue, Segment


class Interleaver:
    """A bounded buffer of items from many segments, handed out round-robin across segments.

    Readers `put_many` (after `wait_for_space`); the pump `take`s, and is woken through
    `on_items` when items arrive.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._ring: deque[deque[Any]] = deque()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self.on_items: Callable[[], None] | None = None

    async def wait_for_space(self) -> None:
        """Block a reader until the buffer has room; called before reading its next page."""
        while self.size >= self.capacity:
            self._not_full.clear()
            await self._not_full.wait()

    def put_many(self, lane: deque[Any], items: list[Any]) -> None:
        if not items:
            return
        if not lane:
            self._ring.append(lane)
        lane.extend(items)
        self.size += len(items)
        if self.on_items is not None:
            self.on_items()

    def take(self) -> Any:
        """The next item (rotating across segments), or None when the buffer is empty."""
        if not self.size:
            return None
        ring = self._ring
        lane = ring[0]
        item = lane.popleft()
        if lane:
            ring.rotate(-1)
        else:
            ring.popleft()
        self.size -= 1
        if self.size <= self.capacity // 2:
            self._not_full.set()
        return item


class Page:
    __slots__ = ("counters", "last_key", "remaining", "run", "sealed")

    def __init__(self, run: SegmentRun, last_key: KeyValue, rows: int) -> None:
        self.run = run
        self.last_key = last_key
        self.remaining = 0  # items handed to the writers and not finished yet
        self.sealed = False  # every row of the page is handed over or logged as failed
        self.counters = Counters(rows_read=rows)


class SegmentRun:
    def __init__(self, segment: Segment, state: SegmentState) -> None:
        self.segment = segment
        self.state = state
        self.pages: deque[Page] = deque()
        self.lane: deque[Any] = deque()
        self.live = Counters(**asdict(state.counters))
        self.reading_done = False
        self.drained = asyncio.Event()
        self.dirty = False
        self.saved_at = 0.0
        self.started = time.monotonic()
        self.active = False
        self.leased = False
        self.save_lock = asyncio.Lock()
        self.final_saved = False

    def acknowledge(self) -> None:
        """Fold finished pages at the head into the committed state, in key order."""
        pages = self.pages
        while pages and pages[0].sealed and pages[0].remaining == 0:
            page = pages.popleft()
            self.state.counters.add(page.counters)
            self.state.last_key = page.last_key
            self.dirty = True
        if self.reading_done and not pages:
            self.drained.set()
