"""Shadow reads: PostgreSQL's answer compared with DynamoDB's, off the response, judged by version.

Rule: a difference counts as a mismatch only when it cannot be a write in flight. The first
comparison (on the request path) only makes a key a suspect; the re-check, off the request path
after `recheck_seconds`, reads again in this order — PostgreSQL, then the outbox, then DynamoDB —
so a write committed before the PostgreSQL read is either still in the outbox or already in
DynamoDB. Per key (item versions `_ver`):

- the values agree (a tombstone agrees with no row): transient, counted apart;
- a row and no item at all: the backfill has not copied it yet (`not copied`), or, with the key
  in the outbox, a write in flight;
- the same version with different values: a mismatch (one version is one write);
- DynamoDB behind PostgreSQL: a write in flight while the key is in the outbox, else a mismatch
  (no write will bring DynamoDB up to date);
- DynamoDB ahead, or an item without a row: the PostgreSQL read was older than the DynamoDB one,
  or a delete is in flight; read again.

Keys still undecided are read again with doubling delays (4 re-reads, 15 x `recheck_seconds`);
at the end a key whose write is still in the outbox counts as `in flight` (the outbox gate judges
the outbox), anything else as a mismatch. Re-checks never block the application: past
`backlog` waiting suspects a new one is dropped and counted (`ShadowRecheckDropped`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ops.dualwrite import sql as q
from ops.dualwrite.metrics import Metrics
from ops.dualwrite.shadow_log import Mismatch, ShadowLog, stamp
from ops.mapping import VERSION_ATTRIBUTE, TableMapping, is_tombstone

log = logging.getLogger(__name__)

ItemId = tuple[str, str]
DEFAULT_RECHECK_SECONDS = 1.0
RECHECK_ATTEMPTS = 4
DEFAULT_BACKLOG = 10_000
_WORKERS = 2
_LOG_FIRST = 10
_LOG_EVERY = 100


class Verdict(Enum):
    AGREE = "agree"
    NOT_COPIED = "not copied yet"
    IN_FLIGHT = "write in flight"
    RETRY = "read again"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    reason: str
    expected: dict[str, Any] | None
    actual: dict[str, Any] | None


def _version(item: dict[str, Any] | None) -> int | None:
    if not item or VERSION_ATTRIBUTE not in item:
        return None
    return int(item[VERSION_ATTRIBUTE]["N"])


def judge(  # noqa: PLR0911 - one return per case of the rule
    tm: TableMapping, expected: dict[str, Any] | None, actual: dict[str, Any] | None, pending: bool
) -> Finding:
    """One key: `expected` is the row's item (None: no row), `actual` DynamoDB's item as stored
    (tombstones included), `pending` whether the outbox holds a write of the key (see module)."""
    live = None if is_tombstone(actual) else actual
    if expected is None and live is None:
        return Finding(Verdict.AGREE, "", expected, actual)
    if expected is not None and live is not None and not tm.diff(expected, live):
        return Finding(Verdict.AGREE, "", expected, actual)
    ev, av = _version(expected), _version(actual)
    if expected is not None and actual is None:
        if pending:
            return Finding(Verdict.IN_FLIGHT, "no item yet; the write is in the outbox", expected, actual)
        return Finding(Verdict.NOT_COPIED, "a row and no item: not copied yet", expected, actual)
    if ev is not None and ev == av:
        return Finding(Verdict.MISMATCH, f"version {ev} on both sides, values differ", expected, actual)
    if ev is not None and av is not None and av < ev:
        if pending:
            return Finding(
                Verdict.IN_FLIGHT, f"DynamoDB at version {av}, PostgreSQL at {ev}", expected, actual
            )
        return Finding(
            Verdict.MISMATCH,
            f"DynamoDB at version {av}, PostgreSQL at {ev}, and no write in flight",
            expected,
            actual,
        )
    if expected is None:
        return Finding(Verdict.RETRY, f"an item (version {av}) and no row", expected, actual)
    return Finding(Verdict.RETRY, f"DynamoDB at version {av}, ahead of PostgreSQL's {ev}", expected, actual)


@dataclass
class _Suspect:
    where: dict[str, Any]
    read_at: float
    read_rows: Callable[[], list[dict[str, Any]]]
    read_items: Callable[[], list[dict[str, Any]]]
    # Live items of the last DynamoDB read: their keys are looked up in the outbox before the next.
    seen: dict[ItemId, dict[str, Any]]
    attempt: int = 0


class Scheduler:
    """Runs callables at a due time on a few daemon threads; bounded, never blocks the caller."""

    def __init__(self, workers: int, backlog: int) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._backlog = backlog
        self._busy = 0
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, due: float, fn: Callable[[], None], *, force: bool = False) -> bool:
        with self._cond:
            if self._closed or (not force and len(self._heap) + self._busy >= self._backlog):
                return False
            heapq.heappush(self._heap, (due, next(self._order), fn))
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run, name=f"shadow-recheck-{i}", daemon=True)
                    for i in range(self._workers)
                ]
                for t in self._threads:
                    t.start()
            self._cond.notify()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed and not self._heap:
                        return
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0 or self._closed:
                            _, _, fn = heapq.heappop(self._heap)
                            self._busy += 1
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            try:
                fn()
            except Exception:
                log.exception("shadow re-check failed")
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def settle(self) -> None:
        """Wait until nothing is queued or running (re-checks that reschedule are waited for too)."""
        with self._cond:
            while self._heap or self._busy:
                self._cond.wait(0.1)

    def close(self) -> None:
        """Run what is queued now (due or not), then stop the threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()


class ShadowReads:
    """Compares one table's PostgreSQL answers with DynamoDB's (see module docstring)."""

    def __init__(
        self,
        tm: TableMapping,
        pool: ConnectionPool,
        metrics: Metrics,
        shadow_log: ShadowLog,
        *,
        recheck_seconds: float = DEFAULT_RECHECK_SECONDS,
        backlog: int = DEFAULT_BACKLOG,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tm = tm
        self.pool = pool
        self.metrics = metrics
        self.log = shadow_log
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._scheduler = Scheduler(_WORKERS, backlog)

    def compare(
        self,
        rows: list[dict[str, Any]],
        read_rows: Callable[[], list[dict[str, Any]]],
        read_items: Callable[[], list[dict[str, Any]]],
        where: dict[str, Any],
    ) -> None:
        """Compare the rows just served with DynamoDB; suspects go to the re-check. Never raises.

        `read_rows` reads the same rows again, `read_items` DynamoDB's items as stored (tombstones
        included)."""
        read_at = self.clock()
        try:
            expected = self._expected(rows)
            actual = self._by_id(read_items())
        except Exception as exc:
            self._error(read_at, where, exc)
            return
        self.metrics.add("ShadowCompared")
        self.log.compared(read_at)
        differ = [
            k
            for k in expected.keys() | actual.keys()
            if judge(self.tm, expected.get(k), actual.get(k), False).verdict is not Verdict.AGREE
        ]
        if not differ:
            return
        self.metrics.add("ShadowSuspects")
        suspect = _Suspect(dict(where), read_at, read_rows, read_items, _live(actual))
        if not self._scheduler.submit(
            time.monotonic() + self.recheck_seconds, lambda: self._recheck(suspect)
        ):
            self.metrics.add("ShadowRecheckDropped")

    def settle(self) -> None:
        self._scheduler.settle()

    def close(self) -> None:
        self._scheduler.close()
        self.log.flush()

    # ------------------------------------------------------------ the re-check

    def _recheck(self, suspect: _Suspect) -> None:
        suspect.attempt += 1
        try:
            expected = self._expected(suspect.read_rows())
            pending = self._pending({**suspect.seen, **expected})
            actual = self._by_id(suspect.read_items())
        except Exception as exc:
            self._error(suspect.read_at, suspect.where, exc)
            return
        suspect.seen = _live(actual)
        findings = {
            k: judge(self.tm, expected.get(k), actual.get(k), k in pending)
            for k in expected.keys() | actual.keys()
        }
        undecided = {k: f for k, f in findings.items() if f.verdict in (Verdict.RETRY, Verdict.IN_FLIGHT)}
        if undecided and suspect.attempt < RECHECK_ATTEMPTS:
            delay = self.recheck_seconds * 2**suspect.attempt
            # A re-check already accepted finishes even when the backlog is full.
            self._scheduler.submit(time.monotonic() + delay, lambda: self._recheck(suspect), force=True)
            return
        counted = False
        for item_id, finding in sorted(findings.items()):
            if finding.verdict is Verdict.AGREE:
                continue
            counted = True
            if finding.verdict is Verdict.NOT_COPIED:
                self.metrics.add("ShadowNotCopied")
                self.log.not_copied(suspect.read_at, self._key(finding))
            elif finding.verdict is Verdict.IN_FLIGHT:
                self.metrics.add("ShadowInFlight")
                self.log.in_flight(suspect.read_at)
            else:
                self._mismatch(suspect, item_id, finding)
        if not counted:
            self.metrics.add("ShadowTransient")
            self.log.transient(suspect.read_at)

    def _mismatch(self, suspect: _Suspect, item_id: ItemId, finding: Finding) -> None:
        if finding.verdict is Verdict.RETRY:
            finding = Finding(
                Verdict.MISMATCH,
                f"{finding.reason}, still after {RECHECK_ATTEMPTS} re-reads",
                finding.expected,
                finding.actual,
            )
        self.metrics.add("ShadowMismatches")
        diff = {
            k: [a, b]
            for k, (a, b) in self.tm.diff(
                finding.expected, None if is_tombstone(finding.actual) else finding.actual
            ).items()
        }
        found = Mismatch(
            table=self.tm.table,
            key=self._key(finding),
            item="/".join(item_id),
            reason=finding.reason,
            read_at=stamp(suspect.read_at),
            postgres_version=_version(finding.expected),
            dynamodb_version=_version(finding.actual),
            diff=diff,
        )
        self.log.mismatch(found)
        count = self.metrics.count("ShadowMismatches")
        if count <= _LOG_FIRST or count % _LOG_EVERY == 0:
            log.warning(
                "shadow mismatch #%d %s %s: %s (listed by `ops verify shadow`)",
                count,
                self.tm.table,
                found.key,
                found.reason,
            )

    # ------------------------------------------------------------ reading

    def _expected(self, rows: list[dict[str, Any]]) -> dict[ItemId, dict[str, Any]]:
        return self._by_id(self.tm.encode(r) for r in rows)

    @staticmethod
    def _by_id(items: Any) -> dict[ItemId, dict[str, Any]]:
        return {(i["pk"]["S"], i["sk"]["S"]): i for i in items}

    def _key(self, finding: Finding) -> dict[str, Any]:
        item = finding.expected or finding.actual
        assert item is not None
        if is_tombstone(item):
            return {"pk": item["pk"]["S"], "sk": item["sk"]["S"]}
        return q.json_key(self.tm, self.tm.decode(item))

    def _pending(self, items: dict[ItemId, dict[str, Any]]) -> set[ItemId]:
        """Which of these items' keys have a write still in the outbox (read before DynamoDB)."""
        if not items:
            return set()
        keys = {item_id: q.json_key(self.tm, self.tm.decode(item)) for item_id, item in items.items()}
        with self.pool.connection() as conn:
            found = conn.execute(
                "SELECT row_key FROM outbox WHERE table_name = %s AND row_key = ANY(%s::jsonb[])",
                (self.tm.table, [Jsonb(k) for k in keys.values()]),
            ).fetchall()
        pending = [r[0] for r in found]
        return {item_id for item_id, k in keys.items() if k in pending}

    def _error(self, read_at: float, where: dict[str, Any], exc: Exception) -> None:
        self.metrics.add("ShadowErrors")
        self.log.error(read_at)
        log.warning("shadow read of %s %s could not be compared: %s", self.tm.table, where, exc)


def _live(items: dict[ItemId, dict[str, Any]]) -> dict[ItemId, dict[str, Any]]:
    return {k: v for k, v in items.items() if not is_tombstone(v)}
