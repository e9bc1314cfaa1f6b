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
import operator
import time
from collections.abc import Callable
from dataclasses import asdict
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
from ops.backfill.gc_tuning import fewer_collections
from ops.backfill.interleave import Interleaver, Page, SegmentRun
from ops.backfill.iterator import SegmentReader
from ops.backfill.metrics import MetricsPublisher
from ops.backfill.options import (
    DEFAULT_SEGMENTS,
    SEGMENTS_PER_WORKER,
    BackfillOptions,
    dynamodb_endpoint,
    fingerprint,
)
from ops.backfill.planner import Plan, Segment, owns, plan_segments
from ops.backfill.pump import PutPump
from ops.backfill.results import BackfillResult, SegmentResult
from ops.backfill.throttle import Throttle
from ops.backfill.writer import Outcome, PutResult, PutWriter
from ops.control import ControlTable
from ops.mapping import RowError, TableMapping, load_mapping
from ops.workers import new_owner, owner_is_dead_here

LEASE_RENEW_SECONDS = 10.0
ENCODE_CHUNK = 100


class BackfillEngine:
    def __init__(
        self,
        options: BackfillOptions,
        control: ControlTable | None = None,
        on_progress: Callable[[BackfillEngine], None] | None = None,
    ) -> None:
        self.options = options.resolved()
        o = self.options
        assert o.table and o.run_id and o.target_table and o.source_url and o.control_table
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
        stored_anywhere = not o.dry_run or self.control.exists()
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

                assert o.target_table
                ensure_target_table(o.target_table)
            if o.restart:
                self.restart()
        self.plan = plan = self.load_or_create_plan()
        has_run = not o.dry_run or (self.control.exists() and self.store.load_run() is not None)
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
            self._note_done(owned, states)
            self.started = time.monotonic()
            with fewer_collections():
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

    def _note_done(self, owned: list[Segment], states: dict[int, SegmentState]) -> None:
        """This worker's segments finished before this start: its own result, unless another
        worker of the fleet took one over and copied it."""
        for segment in owned:
            if segment.index in self.runs or segment.index not in states:
                continue
            if self._fellow(states[segment.index].lease_worker):
                self.elsewhere.add(segment.index)
            else:
                self.runs[segment.index] = SegmentRun(segment, states[segment.index])

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
            assert o.metrics_namespace
            metrics = MetricsPublisher(
                o.metrics_namespace,
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
    run = engine.store.load_run() if engine.control.exists() else None
    return Plan.from_dict(run["plan"]) if run else engine.make_plan()
