"""Orchestrator: plan (or load the plan), take leases, then copy segments with many puts in flight.

Readers (one per segment in flight) page through PostgreSQL and encode rows through the shared
codec; an interleaver hands their items to `concurrency` writers round-robin across segments, so
consecutive requests go to unrelated keys. A page is acknowledged once every row in it is
written, found present or logged as failed; a segment's checkpoint only moves over acknowledged
pages, in key order. Everything runs on one asyncio loop; control-table calls go to threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import hashlib
import json
import operator
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from ops import aws, eventloop
from ops.backfill.budget import FleetBudget
from ops.backfill.checkpoint import (
    CheckpointStore,
    Counters,
    FingerprintMismatch,
    LeaseHeld,
    SegmentState,
    SegmentStatus,
)
from ops.backfill.controls import ControlPoller, LiveControls, run_pk
from ops.backfill.dynamo_http import DynamoHttpClient
from ops.backfill.failures import FailureLog
from ops.backfill.iterator import DEFAULT_PAGE_ROWS, SegmentReader
from ops.backfill.metrics import MetricsPublisher
from ops.backfill.planner import KeyValue, Plan, Segment, owns, plan_segments
from ops.backfill.pump import PutPump
from ops.backfill.throttle import Throttle
from ops.backfill.writer import Outcome, PutResult, PutWriter
from ops.control import ControlTable
from ops.exceptions import ConfigError
from ops.mapping import RowError, TableMapping, load_mapping
from ops.settings import Settings
from ops.workers import new_owner, owner_is_dead_here

DEFAULT_SEGMENTS = 16
SEGMENTS_PER_WORKER = 4
DEFAULT_CONCURRENCY = 256  # requests in flight: hides DynamoDB's latency; an idle slot costs ~nothing
DEFAULT_PARALLEL_SEGMENTS = 8
LEASE_RENEW_SECONDS = 10.0
ENCODE_CHUNK = 100


@dataclass
class BackfillOptions:
    source_url: str | None = None  # default: V2_DATABASE_URL
    table: str | None = None  # default: Settings.dataset
    target_table: str | None = None  # default: Settings.target_table
    control_table: str | None = None  # default: Settings.control_table
    run_id: str | None = None  # default: the table name
    segments: int | None = None  # default: the stored plan's, else DEFAULT_SEGMENTS
    worker: int = 0
    workers: int = 1
    rate: float | None = None  # rows per second for this worker; None = unlimited
    concurrency: int = DEFAULT_CONCURRENCY
    parallel_segments: int = DEFAULT_PARALLEL_SEGMENTS
    page_rows: int = DEFAULT_PAGE_ROWS
    dry_run: bool = False
    restart: bool = False
    mapping_path: str | None = None
    endpoint: str | None = None  # default: AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL / AWS
    create_target_table: bool = False
    checkpoint_seconds: float = 1.0
    control_poll_seconds: float = 1.0
    metrics: bool = True
    metrics_seconds: float = 10.0

    def resolved(self) -> BackfillOptions:
        settings = Settings.from_env()
        table = self.table or settings.dataset
        source = self.source_url or settings.v2_database_url
        if not source:
            raise ConfigError(
                "No source database: set V2_DATABASE_URL (the V2 replica) or pass --source-url."
            )
        if not 0 <= self.worker < self.workers:
            raise ConfigError(
                f"--worker {self.worker} is outside 0..{self.workers - 1} (--workers {self.workers})"
            )
        if self.concurrency < 1 or self.parallel_segments < 1 or self.page_rows < 1:
            raise ConfigError("--concurrency, --parallel-segments and --page-rows must be at least 1")
        return BackfillOptions(
            **{
                **asdict(self),
                "source_url": source,
                "table": table,
                "target_table": self.target_table or settings.target_table,
                "control_table": self.control_table or settings.control_table,
                "run_id": self.run_id or table,
            }
        )


@dataclass
class SegmentResult:
    index: int
    state: str
    rows_expected: int
    counters: Counters
    seconds: float = 0.0


@dataclass
class BackfillResult:
    run_id: str
    table: str
    target_table: str
    dry_run: bool
    worker: int
    workers: int
    segments_total: int
    segments_owned: int
    segments_complete: int
    rows_expected: int
    counters: Counters = field(default_factory=Counters)
    duration_seconds: float = 0.0
    throttle_events: int = 0
    retries: int = 0
    cost: dict[str, float] = field(default_factory=dict)
    segments: list[SegmentResult] = field(default_factory=list)
    failure_samples: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        done = self.counters.rows_written + self.counters.rows_present + self.counters.rows_failed
        return done / self.duration_seconds if self.duration_seconds else 0.0

    @property
    def mbps(self) -> float:
        return (
            self.counters.bytes_written * 8 / 1_000_000 / self.duration_seconds
            if self.duration_seconds
            else 0.0
        )

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["rows_per_second"] = self.rows_per_second
        doc["mbps"] = self.mbps
        return doc


def fingerprint(mapping_fingerprint: str, table: str, target_table: str, segments: int) -> str:
    """What a resumed run must share with the run that wrote the checkpoints."""
    doc = {"mapping": mapping_fingerprint, "table": table, "target_table": target_table, "segments": segments}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def dynamodb_endpoint(explicit: str | None = None) -> str:
    return explicit or aws.endpoint_url("dynamodb") or f"https://dynamodb.{aws.region()}.amazonaws.com"


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


class BackfillEngine:
    def __init__(
        self,
        options: BackfillOptions,
        control: ControlTable | None = None,
        on_progress: Callable[[BackfillEngine], None] | None = None,
    ) -> None:
        self.options = options.resolved()
        o = self.options
        assert o.table and o.run_id and o.target_table and o.source_url
        self.mapping = load_mapping(o.mapping_path)
        self.tm: TableMapping = self.mapping.table(o.table)
        self.control = control or ControlTable(o.control_table)
        self.store = CheckpointStore(self.control, o.run_id)
        self.failures = FailureLog(self.control, o.run_id)
        self.owner = new_owner()
        self.throttle = Throttle(o.rate)
        self.live = Counters()
        self.runs: dict[int, SegmentRun] = {}
        self.elsewhere: set[int] = set()  # own segments another worker had taken over
        self.worker_id = f"{o.worker}/{o.workers}"
        self.plan: Plan | None = None
        self.on_progress = on_progress
        self.failure_samples: list[str] = []
        self.writer: PutWriter | None = None
        self.started = time.monotonic()

    # ------------------------------------------------------------ setup

    def make_plan(self) -> Plan:
        o = self.options
        assert o.source_url
        with psycopg.connect(o.source_url, autocommit=True) as conn:
            client = DynamoHttpClient(dynamodb_endpoint(o.endpoint), aws.region(), o.target_table or "")
            return plan_segments(
                conn,
                self.tm,
                # Enough segments that every worker has several, and finishers can take some over.
                o.segments or max(DEFAULT_SEGMENTS, SEGMENTS_PER_WORKER * o.workers),
                encode_size=lambda item: len(client.put_item_body(item)),
            )

    def load_or_create_plan(self) -> Plan:
        o = self.options
        assert o.target_table
        stored_anywhere = not o.dry_run or control_table_exists(self.control)
        run = self.store.load_run() if stored_anywhere else None
        if run is not None:
            stored = Plan.from_dict(run["plan"])
            wanted = fingerprint(
                self.mapping.fingerprint(), self.tm.table, o.target_table, o.segments or len(stored.segments)
            )
            if run.get("fingerprint") != wanted:
                stored_options = run.get("options", {})
                raise FingerprintMismatch(
                    f"Backfill run {o.run_id!r} has checkpoints made with a different mapping or options "
                    f"(stored fingerprint {run.get('fingerprint')}, now {wanted}; stored: table "
                    f"{stored_options.get('table')}, target {stored_options.get('target_table')}, "
                    f"{len(stored.segments)} segments). Resuming would mix two configurations. Run again "
                    "with the original mapping and options, or start the copy over with "
                    "`ops backfill run --restart` (re-reads every row; items already in DynamoDB are left "
                    "alone and count as already present)."
                )
            return stored
        plan = self.make_plan()
        fp = fingerprint(self.mapping.fingerprint(), self.tm.table, o.target_table, len(plan.segments))
        if o.dry_run:
            return plan
        stored_run = self.store.create_run(
            plan,
            fp,
            {
                "table": o.table,
                "target_table": o.target_table,
                "segments": len(plan.segments),
                "rate": o.rate,
            },
        )
        if stored_run.get("fingerprint") != fp:
            return self.load_or_create_plan()
        return Plan.from_dict(stored_run["plan"])

    def restart(self) -> None:
        now = time.time()
        held = [
            s
            for s in self.store.segments()
            if s.lease_owner and s.lease_owner != self.owner and s.lease_expires > now
        ]
        if held:
            raise LeaseHeld(
                f"Cannot restart backfill run {self.options.run_id!r}: segment {held[0].index} is being "
                f"copied by {held[0].lease_owner}. Stop every running worker first."
            )
        self.store.reset()

    # ------------------------------------------------------------ run

    def run(self) -> BackfillResult:  # noqa: PLR0912 - the run's steps in order, each guarded
        o = self.options
        if not o.dry_run:
            self.control.ensure()
            if o.create_target_table:
                from ops.tables import ensure_target_table

                ensure_target_table(o.target_table)
            if o.restart:
                self.restart()
        self.plan = plan = self.load_or_create_plan()
        has_run = not o.dry_run or (control_table_exists(self.control) and self.store.load_run() is not None)
        states = {s.index: s for s in (self.store.segments() if has_run else [])}
        owned = [plan.segments[i] for i in plan.order if owns(i, o.worker, o.workers)]
        todo = [
            s for s in owned if states.get(s.index, SegmentState(s.index)).state != SegmentStatus.COMPLETE
        ]
        leased: list[int] = []
        try:
            if not o.dry_run:
                duplicate: LeaseHeld | None = None
                for segment in todo:
                    try:
                        state = self.store.acquire(segment.index, self.owner, worker=self.worker_id)
                    except LeaseHeld as exc:
                        if not self._fellow(exc.worker):
                            duplicate = exc
                        self.elsewhere.add(segment.index)  # it is copied there
                        continue
                    run = SegmentRun(segment, state)
                    run.leased = True
                    run.saved_at = time.monotonic()
                    self.runs[segment.index] = run
                    leased.append(segment.index)
                if duplicate is not None:
                    raise duplicate  # another start of this worker, or of a differently shaped fleet
                todo = [s for s in todo if s.index in self.runs]
                self.store.mark_started()
            else:
                for segment in todo:
                    self.runs[segment.index] = SegmentRun(
                        segment, states.get(segment.index) or SegmentState(segment.index)
                    )
            for segment in owned:
                if segment.index not in self.runs and segment.index in states:
                    done = SegmentRun(segment, states[segment.index])
                    self.runs[segment.index] = done
            self.started = time.monotonic()
            with _fewer_collections():
                eventloop.run(self._copy([self.runs[s.index] for s in todo], leased))
        finally:
            for index in leased:
                run = self.runs[index]
                if run.state.state != SegmentStatus.COMPLETE:
                    with contextlib.suppress(Exception):
                        self.store.release(index, self.owner)
        if not o.dry_run:
            self.store.mark_finished_if_complete()
        return self.result()

    def result(self) -> BackfillResult:
        o = self.options
        assert self.plan is not None and o.run_id and o.table and o.target_table
        plan = self.plan
        duration = time.monotonic() - self.started
        # Its own segments (bar those another worker took over), and those it took over.
        owned = [
            s
            for s in plan.segments
            if s.index in self.runs or (owns(s.index, o.worker, o.workers) and s.index not in self.elsewhere)
        ]
        segments = []
        for segment in owned:
            run = self.runs.get(segment.index)
            counters = run.state.counters if run else Counters()
            state: str = run.state.state if run else SegmentStatus.PENDING
            if o.dry_run and run:
                counters, state = run.live, "dry-run"
            segments.append(
                SegmentResult(
                    segment.index, state, segment.rows, counters, time.monotonic() - run.started if run else 0
                )
            )
        rate = self.live.rows_written / duration if duration else None
        return BackfillResult(
            run_id=o.run_id,
            table=o.table,
            target_table=o.target_table,
            dry_run=o.dry_run,
            worker=o.worker,
            workers=o.workers,
            segments_total=len(plan.segments),
            segments_owned=len(owned),
            segments_complete=sum(1 for s in segments if s.state == SegmentStatus.COMPLETE),
            rows_expected=sum(s.rows for s in owned),
            counters=Counters(**asdict(self.live)),
            duration_seconds=duration,
            throttle_events=self.throttle.throttle_events,
            retries=self.writer.retries if self.writer else 0,
            cost=plan.cost(plan.rows_total / rate if rate else None),
            segments=segments,
            failure_samples=self.failure_samples,
        )

    def metrics_snapshot(self) -> dict[str, int]:
        return {**asdict(self.live), "throttle_events": self.throttle.throttle_events}

    def _fellow(self, holder: str | None) -> bool:
        """True when `holder` ("i/N") is another worker of this same fleet: it may have taken
        over one of this worker's segments. The same worker, or a fleet of another size, is a
        second start of the run."""
        o = self.options
        return holder is not None and holder != self.worker_id and holder.endswith(f"/{o.workers}")

    def _take_over(self) -> list[SegmentRun]:
        """Unfinished segments of other workers that nobody copies now (not started yet, or their
        worker died), leased to this worker; [] when there are none."""
        assert self.plan is not None
        taken = []
        now = time.time()
        for state in self.store.segments():
            if (
                state.state == SegmentStatus.COMPLETE
                or state.index in self.runs
                or state.index >= len(self.plan.segments)
            ):
                continue
            if state.lease_owner and state.lease_expires > now and not owner_is_dead_here(state.lease_owner):
                continue
            try:
                acquired = self.store.acquire(state.index, self.owner, worker=self.worker_id)
            except LeaseHeld:
                continue
            run = SegmentRun(self.plan.segments[state.index], acquired)
            run.leased = True
            run.saved_at = time.monotonic()
            self.runs[state.index] = run
            taken.append(run)
        return taken

    async def _copy(self, todo: list[SegmentRun], leased: list[int] | None = None) -> None:
        o = self.options
        assert o.target_table
        client = DynamoHttpClient(dynamodb_endpoint(o.endpoint), aws.region(), o.target_table)
        self.writer = PutWriter(client, self.throttle)
        queue = Interleaver(max(o.concurrency * 8, o.page_rows))
        metrics: MetricsPublisher | None = None
        if o.metrics and not o.dry_run:
            settings = Settings.from_env()
            metrics = MetricsPublisher(
                settings.metrics_namespace,
                {"RunId": o.run_id or "", "Worker": f"{o.worker}/{o.workers}"},
                self.metrics_snapshot,
                o.metrics_seconds,
            )
            metrics.start()
        background: list[asyncio.Task[None]] = []
        try:
            async with asyncio.TaskGroup() as group:
                if not o.dry_run:
                    poller = ControlPoller(
                        LiveControls(self.control, o.run_id or ""), self.throttle, o.control_poll_seconds
                    )
                    background.append(group.create_task(poller.run()))
                    budget = FleetBudget(self.control, run_pk(o.run_id or ""), self.owner, self.throttle)
                    # Join the fleet before the first write: start at the share of a limit it found.
                    await budget.tick()
                    background.append(group.create_task(budget.run()))
                    background.append(group.create_task(self._checkpointer()))
                if self.on_progress is not None:
                    background.append(group.create_task(self._progress()))
                pump = PutPump(
                    self.writer,
                    o.concurrency,
                    queue,
                    on_result=self._on_result,
                    on_failed=self._on_failed,
                    spawn=group.create_task,
                    dry_run=o.dry_run,
                )
                queue.on_items = pump.wake
                try:
                    await self._segments(todo, queue, group, leased)
                finally:
                    pump.close()
                for task in background:
                    task.cancel()
        except BaseExceptionGroup as group_error:
            # Surface the first real failure (an OpsError keeps its operator message).
            raise _first_error(group_error) from None
        finally:
            if metrics is not None:
                metrics.stop()
            if not o.dry_run:
                for run in list(self.runs.values()):
                    if run.leased and run.dirty:
                        with contextlib.suppress(LeaseHeld):
                            await self._save(run)
            if self.on_progress is not None:
                self.on_progress(self)

    async def _segments(
        self,
        todo: list[SegmentRun],
        queue: Interleaver,
        group: asyncio.TaskGroup,
        leased: list[int] | None,
    ) -> None:
        """Copy `todo`, then whatever of the run nobody copies, until there is nothing left."""
        slots = asyncio.Semaphore(self.options.parallel_segments)
        while todo:
            segments = [group.create_task(self._segment(run, queue, slots)) for run in todo]
            # Every segment waits until all its items are finished: the pump is idle now.
            await asyncio.gather(*segments)
            todo = [] if self.options.dry_run else await asyncio.to_thread(self._take_over)
            if leased is not None:
                leased.extend(run.segment.index for run in todo)

    async def _progress(self) -> None:
        assert self.on_progress is not None
        while True:
            self.on_progress(self)
            await asyncio.sleep(1.0)

    async def _checkpointer(self) -> None:
        while True:
            await asyncio.sleep(self.options.checkpoint_seconds)
            now = time.monotonic()
            for run in list(self.runs.values()):
                # Segments waiting for a slot are saved too: that keeps their leases alive.
                if not run.leased or run.state.state == SegmentStatus.COMPLETE:
                    continue
                if run.dirty or now - run.saved_at > LEASE_RENEW_SECONDS:
                    await self._save(run)

    async def _save(self, run: SegmentRun) -> None:
        """Store a snapshot of the segment's committed state; one save per segment at a time.

        Serialized per segment because the final save releases the lease: a concurrent periodic
        save would then find the lease gone and stop the run.
        """
        async with run.save_lock:
            if run.final_saved:
                return
            snapshot = copy.deepcopy(run.state)
            run.dirty = False
            run.saved_at = time.monotonic()
            await asyncio.to_thread(self.store.save, snapshot, self.owner)
            run.final_saved = snapshot.state == SegmentStatus.COMPLETE

    async def _segment(self, run: SegmentRun, queue: Interleaver, slots: asyncio.Semaphore) -> None:
        o = self.options
        async with slots:
            run.active = True
            run.started = time.monotonic()
            run.state.state = SegmentStatus.RUNNING
            run.dirty = True
            start_after = run.state.last_key if run.state.last_key is not None else run.segment.lower
            reader = SegmentReader(o.source_url or "", self.tm, start_after, run.segment.upper, o.page_rows)
            columns = self.tm.columns
            # A C-level getter: a scalar for one key column, a tuple for several.
            key_of = operator.itemgetter(*(columns.index(c) for c in self.tm.key_columns))
            # Rows come as tuples in `columns` order: encoded without a dict per row.
            encode_json = self.tm.tuple_json_encoder(columns)
            assert self.writer is not None
            body_of = self.writer.client.put_item_body_from_json
            await queue.wait_for_space()
            async for rows in reader.pages():
                page = Page(run, reader.last_key(rows[-1]), len(rows))
                run.pages.append(page)
                run.live.rows_read += len(rows)
                self.live.rows_read += len(rows)
                # Encoding is CPU work on the event loop: hand each chunk to the writers as soon
                # as it is ready so requests keep flowing while the rest of the page is encoded.
                for start in range(0, len(rows), ENCODE_CHUNK):
                    items = []
                    for row in rows[start : start + ENCODE_CHUNK]:
                        try:
                            item_json = encode_json(row)
                        except RowError as exc:
                            await self._failed(
                                run, page, key_of(row), column=exc.column, reason=exc.reason, kind="encode"
                            )
                            continue
                        items.append((body_of(item_json), page, key_of(row)))
                    page.remaining += len(items)
                    queue.put_many(run.lane, items)
                    await asyncio.sleep(0)
                page.sealed = True
                run.acknowledge()
                await queue.wait_for_space()
            run.reading_done = True
            run.acknowledge()
            await run.drained.wait()
            run.state.state = SegmentStatus.COMPLETE
            run.state.finished_at = time.time()
            run.active = False
            if not o.dry_run:
                await self._save(run)

    async def _failed(
        self,
        run: SegmentRun,
        page: Page,
        key: Any,
        *,
        column: str | None,
        reason: str,
        kind: str,
    ) -> None:
        page.counters.rows_failed += 1
        run.live.rows_failed += 1
        self.live.rows_failed += 1
        values = key if len(self.tm.key_columns) > 1 else (key,)
        key_dict = dict(zip(self.tm.key_columns, values, strict=True))
        if len(self.failure_samples) < 20:
            self.failure_samples.append(f"{self.tm.table} {key_dict}: {column or 'item'}: {reason}")
        if not self.options.dry_run:
            await asyncio.to_thread(self.failures.record, self.tm.table, key_dict, column, reason, kind)

    def _on_result(self, entry: tuple[bytes, Page, Any], result: PutResult) -> None:
        """Count one finished item (the pump calls this from its response handlers)."""
        body, page, _ = entry
        run = page.run
        outcome = result.outcome
        if outcome is Outcome.WRITTEN:
            size = len(body)
            page.counters.rows_written += 1
            page.counters.bytes_written += size
            run.live.rows_written += 1
            run.live.bytes_written += size
            self.live.rows_written += 1
            self.live.bytes_written += size
        elif outcome is Outcome.PRESENT:
            page.counters.rows_present += 1
            run.live.rows_present += 1
            self.live.rows_present += 1
        page.remaining -= 1
        if not page.remaining:
            run.acknowledge()

    async def _on_failed(self, entry: tuple[bytes, Page, Any], result: PutResult) -> None:
        _, page, key = entry
        await self._failed(page.run, page, key, column=None, reason=result.reason, kind=result.kind)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the copy with the cyclic garbage collector mostly out of the way, then restore it.

    The copy allocates millions of short-lived containers (rows, wire items) that reference
    counting frees; the default thresholds still ran full collections over every long-lived
    object (boto3's service models among them) often enough to take ~5% of the copy's CPU.
    Objects from before the copy are frozen out of collections, and collections run less often.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


def run_backfill(
    options: BackfillOptions,
    control: ControlTable | None = None,
    on_progress: Callable[[BackfillEngine], None] | None = None,
) -> BackfillResult:
    """Copy (or resume copying) this worker's segments; returns the counters and per-segment results."""
    return BackfillEngine(options, control, on_progress).run()


def plan_backfill(options: BackfillOptions) -> Plan:
    """The stored plan of the run if there is one, else a fresh plan; writes nothing."""
    engine = BackfillEngine(BackfillOptions(**{**asdict(options), "dry_run": True}))
    run = engine.store.load_run() if control_table_exists(engine.control) else None
    return Plan.from_dict(run["plan"]) if run else engine.make_plan()


def control_table_exists(control: ControlTable) -> bool:
    try:
        control.client.describe_table(TableName=control.name)
    except control.client.exceptions.ResourceNotFoundException:
        return False
    return True
