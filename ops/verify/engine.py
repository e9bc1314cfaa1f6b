"""The verification run: rows against items by segment, extras by Scan, re-check, repair.

A difference is only counted after it survived `recheck_rounds` re-checks, each
`recheck_delay` seconds after the previous read: the row and the item (or, for an extra item,
the item and the PostgreSQL lookup) are read again, and if they agree at any round the
difference was a write in flight (counted as `transient`). A dual-write commits PostgreSQL
first and DynamoDB a moment later (or, after a failure, when the outbox is drained), so the
rounds must span longer than that moment; a difference that outlives them is real.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from ops import aws
from ops.control import ControlTable
from ops.exceptions import ConfigError, OpsError
from ops.flags import FlagStore, Mode
from ops.mapping import VERSION_ATTRIBUTE, ItemKeyParser, RowError, TableMapping, is_tombstone, load_mapping
from ops.settings import Settings
from ops.verify.checkpoint import COUNTERS, CheckpointStore, SegmentLost, SegmentState
from ops.verify.compare import Difference, compare_row
from ops.verify.dynamo import ItemKey, ItemStore, item_key
from ops.verify.model import (
    EXTRA,
    MISMATCHED,
    MISSING,
    STALE_TOMBSTONE,
    UNENCODABLE,
    VerifyOptions,
    VerifyResult,
    now_iso,
)
from ops.verify.reader import RowReader, Segment
from ops.verify.source import PRIMARY, SourcePosition, locate
from ops.workers import new_owner, run_workers

# The Scan for extra items is cut into segments of about SCAN_ITEMS_PER_SEGMENT items, at least
# MIN_SCAN_SEGMENTS (or --segments) and at most MAX_SCAN_SEGMENTS: each is a unit of work with its
# own checkpoint, so a fleet shares it finely and a resumed run repeats little; the count is fixed
# when the run begins (in its header), so every worker and every resume uses the same plan.
# DynamoDB Local reads a segment in time that grows with the square of its size (one segment of
# 200,000 items took 582 s, 32 segments 15 s). A sample scans the first segments of the plan.
SCAN_ITEMS_PER_SEGMENT = 2000
MIN_SCAN_SEGMENTS = 100
MAX_SCAN_SEGMENTS = 1000
FLEET_POLL_SECONDS = 2.0
_MAX_PENDING = 2000
_MAX_ACTIONS = 1000
_COUNTER_OF = {
    MISMATCHED: "mismatched",
    MISSING: "missing",
    STALE_TOMBSTONE: "missing",
    EXTRA: "extra",
    UNENCODABLE: "errors",
}


class RepairRefused(OpsError):
    """`--repair` asked for where it would overwrite newer data, or could not confirm what it fixes."""

    exit_code = 2


def check_repair_allowed(mode: Mode, options: VerifyOptions) -> None:
    """Repair copies PostgreSQL over DynamoDB. Right while PostgreSQL is written first and read;
    wrong once `dynamodb` is the source of truth; risky while the application reads DynamoDB
    (it serves what repair writes), so only with a stated reason."""
    if mode is Mode.DYNAMODB:
        raise RepairRefused(
            f"{options.dataset} is in mode 'dynamodb': PostgreSQL is no longer written, so repairing from it "
            "would undo newer writes. Verify without --repair, or roll back first (`ops migrate rollback`)"
        )
    if mode.reads_dynamodb and not (options.force_repair_reason or "").strip():
        raise RepairRefused(
            f"{options.dataset} is in mode '{mode}': the application reads DynamoDB, so a repair changes "
            "what users see. Roll reads back first (`ops migrate rollback`), or repair anyway with "
            '--force-reason "<why>" (recorded with the run and in the ledger)'
        )


@dataclass
class _Candidate:
    diff: Difference
    seen_at: float
    rounds: int = 0
    item_version: Any = None  # extras: the _ver read from DynamoDB


# Re-checks the candidates that are due; returns those to re-check again later.
_Recheck = Callable[[SegmentState, list[_Candidate]], list[_Candidate]]
_Save = Callable[[str, SegmentState, list[_Candidate]], None]


class Verifier:
    def __init__(
        self,
        options: VerifyOptions,
        *,
        settings: Settings,
        control: ControlTable | None = None,
        dynamodb: Any = None,
        console: Console | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        position: SourcePosition | None = None,
        mode: Mode | None = None,
    ) -> None:
        self.options = options
        options.dataset = options.dataset or settings.dataset
        options.table = options.table or options.dataset
        options.target_table = options.target_table or settings.target_table
        source = options.source_url or settings.v2_database_url
        if not source:
            raise ConfigError("verify needs a PostgreSQL source: set V2_DATABASE_URL or pass --source-url")
        self.tombstone_ttl_seconds = settings.tombstone_ttl_seconds
        if options.sample_percent is not None and not 0 < options.sample_percent <= 100:
            raise ConfigError(f"--sample must be a percentage in (0, 100], not {options.sample_percent}")
        if options.segments < 1:
            raise ConfigError("--segments must be at least 1")
        if not 0 <= options.worker < options.workers:
            raise ConfigError(
                f"--worker {options.worker} is outside 0..{options.workers - 1} (--workers {options.workers})"
            )
        if options.workers > 1 and not options.run_id:
            raise ConfigError(
                "workers of a fleet share one verify run: give every one the same --run-id "
                "(for example dataset-YYYYMMDD)"
            )
        mapping = load_mapping(settings.mapping_file)
        self.tm: TableMapping = mapping.table(options.table)
        self.mapping_fingerprint = mapping.fingerprint()
        self.reader = RowReader(
            source, self.tm, sample_percent=options.sample_percent, batch_size=options.batch_size
        )
        primary_url = options.primary_url or settings.prod_database_url
        self.position: SourcePosition = position or locate(source, primary_url, settings.v2_database_url)
        # Differences seen on a replica are confirmed on the primary before they count or are
        # repaired: a row the replica has not received yet is lag, not a difference.
        self.primary: RowReader | None = (
            RowReader(primary_url, self.tm, sample_percent=None, batch_size=options.batch_size)
            if primary_url and self.position.kind != PRIMARY
            else None
        )
        self.mode: Mode | None = mode
        if options.repair:
            self.mode = self.mode or FlagStore(options.dataset, settings=settings, fence=False).get()
            check_repair_allowed(self.mode, options)
            if options.extras and self.position.kind != PRIMARY and self.primary is None:
                raise RepairRefused(
                    "repairing extra items needs the primary to confirm each one (a replica that lags "
                    "misses rows created moments ago): set PROD_DATABASE_URL, or repair with --no-extras"
                )
        self.items = ItemStore(dynamodb or aws.client("dynamodb"), options.target_table)
        self.parser = ItemKeyParser(self.tm)
        self.control = control or ControlTable(settings.control_table)
        self.store = CheckpointStore(self.control, options.dataset)
        self.console = console or Console(stderr=True)
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()
        self.owner = new_owner()
        self._claimed: set[tuple[str, int]] = set()
        self.scan_segments = max(MIN_SCAN_SEGMENTS, options.segments)  # the run's, once it is open

    # ------------------------------------------------------------ orchestration

    def fingerprint(self) -> str:
        body = json.dumps(
            {**self.options.fingerprint_fields(), "mapping": self.mapping_fingerprint}, sort_keys=True
        )
        return hashlib.sha256(body.encode()).hexdigest()

    def _open_run(self) -> tuple[str, str, list[Segment]]:
        fingerprint = self.fingerprint()
        header = None
        if self.options.run_id:
            header = self.store.header(self.options.run_id)
            if header and header.get("state") == "finished":
                raise ConfigError(
                    f"verify run {self.options.run_id} already finished; start a new one without --run-id"
                )
        elif self.options.resume:
            header = self.store.latest_unfinished()
            if header is None:
                raise ConfigError("no unfinished verify run to resume; start one with `ops verify run`")
        if header is None:
            run_id = self.options.run_id or new_run_id(str(self.options.dataset))
            plan = self.reader.plan(self.options.segments)
            options = {k: v for k, v in asdict(self.options).items() if k not in ("source_url",)}
            options["scan_segments"] = scan_segments_for(self.reader.table_rows(), self.options.segments)
            # Another worker of the fleet may have begun it a moment ago: its plan is the plan.
            header = self.store.begin(run_id, fingerprint, [s.to_dict() for s in plan], options)
        self.store.check_resumable(header, fingerprint)
        plan = [Segment.from_dict(s) for s in header["plan"]]
        stored = (header.get("options") or {}).get("scan_segments")
        self.scan_segments = int(stored) if stored else max(MIN_SCAN_SEGMENTS, self.options.segments)
        return str(header["run_id"]), str(header["started_at"]), plan

    def run(self) -> VerifyResult:
        try:
            return self._run()
        finally:
            for reader in (self.reader, self.primary):
                close = getattr(reader, "close", None)
                if close:
                    close()

    def _run(self) -> VerifyResult:
        run_id, started, plan = self._open_run()
        scan_total, scan_indexes = self._scan_plan()
        units = [("ROWS", s.index) for s in plan]
        if self.options.extras:
            units += [("SCAN", i) for i in scan_indexes]
        o = self.options
        # This worker's own segments first; then the rest of the run that nobody verifies.
        units.sort(key=lambda u: (u[1] % o.workers != o.worker, u[0] == "SCAN", u[1]))
        by_index = {s.index: s for s in plan}
        threads = o.threads or o.segments
        with self._progress() as progress:
            rows_bar = progress.add_task("rows", total=self.reader.estimate(plan) or None)
            scan_bar = progress.add_task("extras", total=len(scan_indexes) if o.extras else 0)

            def verify(phase: str, index: int, state: SegmentState) -> None:
                if phase == "ROWS":
                    self._rows_segment(run_id, by_index[index], state, progress, rows_bar)
                else:
                    self._scan_segment(run_id, index, scan_total, state, progress=progress, bar=scan_bar)

            try:
                with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="verify") as pool:
                    jobs = [pool.submit(self._work, run_id, units, verify) for _ in range(threads)]
                    for job in jobs:
                        job.result()
                self._await_fleet(run_id, units, verify)
            finally:
                for phase, index in self._claimed:
                    with contextlib.suppress(Exception):
                        self.store.release(run_id, phase, index, self.owner)
        result = self._result(run_id, started, len(plan), len(scan_indexes))
        self.store.finish(run_id, result)
        return result

    def _claim(self, run_id: str, units: list[tuple[str, int]]) -> tuple[str, int, SegmentState] | None:
        """The next segment this worker may verify (leased to it), or None."""
        with self._lock:
            for phase, index in units:
                if (phase, index) in self._claimed:
                    continue
                state = self.store.claim(run_id, phase, index, self.owner)
                if state is not None:
                    self._claimed.add((phase, index))
                    return phase, index, state
        return None

    def _work(self, run_id: str, units: list[tuple[str, int]], verify: Callable[..., None]) -> None:
        while (claimed := self._claim(run_id, units)) is not None:
            phase, index, state = claimed
            try:
                verify(phase, index, state)
            except SegmentLost:
                continue  # another worker has it now

    def _await_fleet(self, run_id: str, units: list[tuple[str, int]], verify: Callable[..., None]) -> None:
        """Wait until every segment of the run is done, verifying any that a worker which died
        (its lease expired) left behind."""
        while True:
            done = {(s.phase, s.index) for s in self.store.segments(run_id) if s.done}
            left = [u for u in units if u not in done]
            if not left:
                return
            self._claimed &= done  # a segment lost to another worker may be claimed again
            claimed = len(self._claimed)
            self._work(run_id, left, verify)
            if len(self._claimed) == claimed:
                self.sleep(FLEET_POLL_SECONDS)  # the others are still at it

    def _scan_plan(self) -> tuple[int, list[int]]:
        total = self.scan_segments
        if self.options.sample_percent is None:
            return total, list(range(total))
        count = max(1, math.ceil(total * self.options.sample_percent / 100))
        return total, list(range(count))

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]verify[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=not self.options.progress,
        )

    def _result(self, run_id: str, started: str, planned: int, scans: int) -> VerifyResult:
        states = self.store.segments(run_id)
        result = VerifyResult(
            run_id=run_id,
            dataset=str(self.options.dataset),
            table=self.tm.table,
            started_at=started,
            finished_at=now_iso(),
            segments=self.options.segments,
            sample_percent=self.options.sample_percent,
            dry_run=self.options.dry_run,
            repair=self.options.repair,
            extras=self.options.extras,
            segments_planned=planned,
            segments_done=sum(1 for s in states if s.phase == "ROWS" and s.done),
            scan_segments_planned=scans if self.options.extras else 0,
            scan_segments_done=sum(1 for s in states if s.phase == "SCAN" and s.done),
            source=self.position.kind,
            position=self.position.to_dict(),
            mode=self.mode.value if self.mode else "",
            forced_repair_reason=self.options.force_repair_reason if self.options.repair else None,
        )
        for state in states:
            for name in COUNTERS:
                setattr(result, name, getattr(result, name) + state.counters.get(name, 0))
            result.samples.extend(state.samples)
            result.repair_actions.extend(state.repair_actions)
        by_kind: dict[str, int] = {}
        kept = []
        for sample in result.samples:
            by_kind[sample["kind"]] = by_kind.get(sample["kind"], 0) + 1
            if by_kind[sample["kind"]] <= self.options.max_samples:
                kept.append(sample)
        result.samples = kept
        result.repair_actions = result.repair_actions[:_MAX_ACTIONS]
        return result

    # ------------------------------------------------------------ rows

    def _rows_segment(
        self, run_id: str, segment: Segment, state: SegmentState, progress: Progress, bar: TaskID
    ) -> None:
        if state.done:
            progress.advance(bar, state.counters["rows_compared"])
            return
        pending = [
            _Candidate(Difference(p["kind"], p["key"], None, p.get("version")), 0.0, p.get("rounds", 0))
            for p in state.pending
        ]
        for rows in self.reader.pages(segment, state.last_key):
            idents = [self._ident(row) for row in rows]
            items = self.items.batch_get([{"pk": {"S": i[0]}, "sk": {"S": i[1]}} for i in idents if i])
            for row, ident in zip(rows, idents, strict=True):
                state.add("rows_compared")
                difference = compare_row(self.tm, row, items.get(ident) if ident else None)
                if difference is None:
                    state.add("matching")
                elif difference.kind == UNENCODABLE:
                    self._confirm(state, difference)
                else:
                    pending.append(_Candidate(difference, self.clock()))
            state.last_key = [rows[-1][c] for c in self.tm.key_columns]
            progress.advance(bar, len(rows))
            pending = self._checkpoint(run_id, state, pending, self._recheck_rows, self._save)
        self._finish(run_id, state, pending, self._recheck_rows, self._save)

    def _ident(self, row: dict[str, Any]) -> ItemKey | None:
        """The item key of a row, or None when the row cannot have one (compare_row reports it)."""
        try:
            return item_key(self.tm.key(row))
        except RowError:
            return None

    def _checkpoint(
        self, run_id: str, state: SegmentState, pending: list[_Candidate], recheck: _Recheck, save: _Save
    ) -> list[_Candidate]:
        """After a page (rows or scanned items): re-check what is due (waiting for all of it once
        too many are pending), then save the segment's position with what is still pending."""
        pending = self._recheck(state, pending, recheck, wait=len(pending) > _MAX_PENDING)
        save(run_id, state, pending)
        return pending

    def _finish(
        self, run_id: str, state: SegmentState, pending: list[_Candidate], recheck: _Recheck, save: _Save
    ) -> None:
        """The segment is read to its end: re-check until nothing is pending, then save it done."""
        while pending:
            pending = self._recheck(state, pending, recheck, wait=True)
        state.done = True
        save(run_id, state, pending)

    def _recheck(
        self, state: SegmentState, pending: list[_Candidate], recheck: _Recheck, *, wait: bool
    ) -> list[_Candidate]:
        """Re-check the candidates that are due (with `wait`, after waiting for all of them); the
        others, and those `recheck` puts back for another round, stay pending."""
        due, later = self._due(pending, wait)
        return later + recheck(state, due) if due else later

    def _save(self, run_id: str, state: SegmentState, pending: list[_Candidate]) -> None:
        state.pending = [
            {"kind": c.diff.kind, "key": c.diff.key, "version": c.diff.version, "rounds": c.rounds}
            for c in pending
        ]
        self.store.save(run_id, state, self.owner)

    def _due(self, pending: list[_Candidate], wait: bool) -> tuple[list[_Candidate], list[_Candidate]]:
        if not pending:
            return [], []
        delay = self.options.recheck_delay
        if wait:
            youngest = max(c.seen_at for c in pending)
            remaining = youngest + delay - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        now = self.clock()
        due = [c for c in pending if now - c.seen_at >= delay]
        later = [c for c in pending if now - c.seen_at < delay]
        return due, later

    def _recheck_rows(self, state: SegmentState, due: list[_Candidate]) -> list[_Candidate]:
        later: list[_Candidate] = []
        keys = [tuple(c.diff.key[k] for k in self.tm.key_columns) for c in due]
        rows = self.reader.fetch(keys)
        idents = [i for i in map(self._ident, rows.values()) if i]
        items = self.items.batch_get([{"pk": {"S": i[0]}, "sk": {"S": i[1]}} for i in idents])
        for candidate, key in zip(due, keys, strict=True):
            row = rows.get(key)
            if row is None:
                # Deleted since the first read: an item left behind is the extras scan's business.
                self._transient(state)
                continue
            ident = self._ident(row)
            difference = compare_row(self.tm, row, items.get(ident) if ident else None)
            if difference is None:
                self._transient(state)
            elif candidate.rounds + 1 < self.options.recheck_rounds:
                later.append(_Candidate(difference, self.clock(), candidate.rounds + 1))
            elif self._primary_agrees(ident):
                state.add("lagging")
                self._transient(state)
            else:
                self._confirm(state, difference, row)
        return later

    def _primary_agrees(self, ident: ItemKey | None) -> bool:
        """Whether the primary shows that a difference seen on the replica is only its lag: the
        row that owns the item on the primary matches it (or there is none and the item is
        deleted too)."""
        if self.primary is None or ident is None:
            return False
        row = self.primary.rows_for_items([ident]).get(ident)
        item = self.items.batch_get([{"pk": {"S": ident[0]}, "sk": {"S": ident[1]}}]).get(ident)
        if row is None:
            return item is None or is_tombstone(item)
        return compare_row(self.tm, row, item) is None

    def _transient(self, state: SegmentState) -> None:
        state.add("transient")
        state.add("matching")

    def _confirm(
        self, state: SegmentState, difference: Difference, row: dict[str, Any] | None = None
    ) -> None:
        state.add(_COUNTER_OF[difference.kind])
        if difference.kind == STALE_TOMBSTONE:
            state.add("stale_tombstones")
        if len(state.samples) < self.options.max_samples * 4:
            state.samples.append(difference.sample(self.tm.table))
        if self.options.repair and row is not None and difference.kind != UNENCODABLE:
            self._repair_row(state, difference, row)
        elif self.options.repair and difference.kind == UNENCODABLE:
            state.add("repair_skipped")

    # ------------------------------------------------------------ extras

    def _scan_segment(
        self, run_id: str, index: int, total: int, state: SegmentState, *, progress: Progress, bar: TaskID
    ) -> None:
        if state.done:
            progress.advance(bar)
            return
        pending = [
            _Candidate(Difference(EXTRA, {}, (p["pk"], p["sk"]), reason="item has no row in PostgreSQL"), 0.0)
            for p in state.pending
        ]
        for items, last in self.items.scan(index, total, state.last_key):
            owned = [i for i in items if self.parser.owns(*item_key(i))]
            state.add("items_scanned", len(owned))
            live = {item_key(i): i for i in owned if not is_tombstone(i)}
            present = self.reader.existing_items(list(live))
            for ident, item in live.items():
                if ident in present:
                    continue
                pending.append(
                    _Candidate(
                        Difference(EXTRA, {}, ident, reason="item has no row in PostgreSQL"),
                        self.clock(),
                        item_version=item.get(VERSION_ATTRIBUTE),
                    )
                )
            state.last_key = last
            pending = self._checkpoint(run_id, state, pending, self._recheck_extras, self._save_scan)
        self._finish(run_id, state, pending, self._recheck_extras, self._save_scan)
        progress.advance(bar)

    def _save_scan(self, run_id: str, state: SegmentState, pending: list[_Candidate]) -> None:
        # A re-check interrupted by a crash is redone on resume: its keys are kept here.
        state.pending = [
            {"pk": c.diff.item_key[0], "sk": c.diff.item_key[1]} for c in pending if c.diff.item_key
        ]
        self.store.save(run_id, state, self.owner)

    def _recheck_extras(self, state: SegmentState, due: list[_Candidate]) -> list[_Candidate]:
        later: list[_Candidate] = []
        idents: list[ItemKey] = [c.diff.item_key for c in due if c.diff.item_key]
        items = self.items.batch_get([{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in idents])
        present = self.reader.existing_items(idents)
        for candidate in due:
            ident = candidate.diff.item_key
            assert ident is not None
            item = items.get(ident)
            if item is None or is_tombstone(item) or ident in present:
                continue  # deleted, tombstoned or created meanwhile: not an extra
            last_round = candidate.rounds + 1 >= self.options.recheck_rounds
            if last_round and self.primary is not None and self.primary.existing_items([ident]):
                # The primary has a row for the item: the replica has not received it yet. Never
                # an extra, whatever the row holds (a difference there is the rows' business).
                state.add("lagging")
                continue
            if candidate.rounds + 1 < self.options.recheck_rounds:
                later.append(
                    _Candidate(
                        candidate.diff, self.clock(), candidate.rounds + 1, item.get(VERSION_ATTRIBUTE)
                    )
                )
                continue
            state.add("extra")
            if len(state.samples) < self.options.max_samples * 4:
                state.samples.append(candidate.diff.sample(self.tm.table))
            if self.options.repair:
                self._repair_extra(state, item)
        return later

    # ------------------------------------------------------------ repair

    def _action(self, state: SegmentState, action: dict[str, Any]) -> None:
        if len(state.repair_actions) < _MAX_ACTIONS:
            state.repair_actions.append(action)

    def _repair_row(self, state: SegmentState, difference: Difference, row: dict[str, Any]) -> None:
        """Rewrite the item from the row as it is now; never over a newer version."""
        key = tuple(row[k] for k in self.tm.key_columns)
        # From the primary when there is one: a lagging replica's row may be older than the item.
        fresh = (self.primary or self.reader).fetch([key]).get(key)
        action = {"action": "put", "kind": difference.kind, "key": difference.sample(self.tm.table)["key"]}
        if difference.item_key:
            action["pk"], action["sk"] = difference.item_key
        if fresh is None:
            self._repair(state, action, None, "the row was deleted meanwhile")
        else:
            self._repair(
                state,
                action,
                lambda: self.items.put_unless_newer(self.tm.encode(fresh)),
                "DynamoDB already holds a newer version",
            )

    def _repair_extra(self, state: SegmentState, item: dict[str, Any]) -> None:
        pk, sk = item_key(item)
        action: dict[str, Any] = {"action": "tombstone", "kind": EXTRA, "pk": pk, "sk": sk}
        self._repair(
            state,
            action,
            lambda: self.items.tombstone_unless_changed(item, int(time.time()) + self.tombstone_ttl_seconds),
            "the item changed meanwhile",
        )

    def _repair(
        self, state: SegmentState, action: dict[str, Any], write: Callable[[], bool] | None, skipped: str
    ) -> None:
        """Record a repair `action`: skipped when there is nothing to write (`write` None), planned
        on a dry run, written when `write()` succeeds, else skipped because `skipped`."""
        if write is not None and self.options.dry_run:
            action["result"] = "planned"
        elif write is not None and write():
            action["result"] = "written"
            state.add("repaired")
        else:
            action["result"] = f"skipped: {skipped}"
            state.add("repair_skipped")
        self._action(state, action)


def run_verify(
    options: VerifyOptions,
    *,
    settings: Settings,
    control: ControlTable | None = None,
    dynamodb: Any = None,
    console: Console | None = None,
) -> VerifyResult:
    """Compare PostgreSQL with DynamoDB (see the module docstring); the result is also stored as
    gate evidence under `VERIFY#<dataset>` in the control table."""
    return Verifier(options, settings=settings, control=control, dynamodb=dynamodb, console=console).run()


def scan_segments_for(rows: int, segments: int) -> int:
    """Segments of the Scan for extras over a table of about `rows` items (see SCAN_ITEMS_PER_SEGMENT)."""
    wanted = math.ceil(max(rows, 0) / SCAN_ITEMS_PER_SEGMENT)
    return max(segments, min(MAX_SCAN_SEGMENTS, max(MIN_SCAN_SEGMENTS, wanted)))


def new_run_id(dataset: str) -> str:
    return f"{dataset}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _verify_worker(job: tuple[VerifyOptions, Settings]) -> VerifyResult:
    options, settings = job
    return Verifier(options, settings=settings).run()


def run_verify_processes(options: VerifyOptions, processes: int, *, settings: Settings) -> VerifyResult:
    """Worker i of N with P processes runs workers i*P .. i*P+P-1 of N*P, each its own process
    (one core each), sharing the run's segments; every one returns once the whole run is done,
    with the same result."""
    if processes <= 1:
        return run_verify(options, settings=settings)
    run_id = options.run_id
    if run_id is None and options.workers == 1 and not options.resume:
        run_id = new_run_id(options.dataset or settings.dataset)
    workers = [
        (
            replace(
                options,
                run_id=run_id,
                worker=options.worker * processes + p,
                workers=options.workers * processes,
                progress=False,
            ),
            settings,
        )
        for p in range(processes)
    ]
    return run_workers(_verify_worker, workers, what="verify")[0]
