"""The stream poller: what the Lambda's event source mapping does on AWS, for the local stack.

It reads every shard of the target table's stream in order (a child shard only once its parent is
finished, so a key's changes keep their order across a split), hands each batch to the same
`ReverseApplier` the Lambda uses, and checkpoints the last sequence number applied per shard in
the control table, so a restarted poller continues where the last one stopped (records applied
twice are harmless: the writer is idempotent). A record that cannot be applied goes to the failure
log (`ops replica reverse failures`, `retry-failed`) and the shard moves on, as a Lambda with an
on-failure destination does.

Lag is the age of the oldest record not yet applied; 0 once every shard has been read to its tip.
Shards known when replication started begin at the iterator taken then (`start_positions`);
shards that appear later (splits) begin at their start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ops.dualwrite.metrics import Metrics
from ops.reverse.apply import ApplyResult, Change, ReverseApplier
from ops.reverse.state import ReverseState, ReverseStatus, Shard

log = logging.getLogger(__name__)

# An iterator is valid for 15 minutes; after that a shard is read from its start (safe, slower).
ITERATOR_MAX_AGE_SECONDS = 14 * 60
BATCH = 200


def stream_arn(ddb: Any, table: str) -> str:
    description = ddb.describe_table(TableName=table)["Table"]
    arn = description.get("LatestStreamArn")
    spec = description.get("StreamSpecification") or {}
    if not arn or not spec.get("StreamEnabled"):
        from ops.exceptions import ConfigError

        raise ConfigError(
            f"table {table} has no DynamoDB stream: reverse replication reads it. Enable it with "
            "NEW_IMAGE (terraform apply; locally `ops sandbox provision`)"
        )
    return str(arn)


def list_shards(streams: Any, arn: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamArn": arn}
    while True:
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        shards.extend(description.get("Shards", []))
        last = description.get("LastEvaluatedShardId")
        if not last:
            return shards
        kwargs["ExclusiveStartShardId"] = last


def start_positions(
    state: ReverseState, streams: Any, arn: str, clock: Callable[[], float] = time.time
) -> int:
    """Take a LATEST iterator for every open shard now: changes from this moment on are applied.
    Called while writes are paused, before DynamoDB becomes the source of truth."""
    state.reset_shards()
    count = 0
    for shard in list_shards(streams, arn):
        if shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber"):
            continue  # closed before replication started: nothing in it is ours
        shard_id = shard["ShardId"]
        oldest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
        if not streams.get_records(ShardIterator=oldest["ShardIterator"], Limit=1).get("Records"):
            # An empty shard is read from its start: everything that arrives in it is new. (An
            # iterator taken at an empty shard's end is refused once records arrive, with
            # TrimmedDataAccessException, on DynamoDB Local.)
            state.put_shard(Shard(shard_id, shard.get("ParentShardId")))
            count += 1
            continue
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="LATEST")[
            "ShardIterator"
        ]
        state.put_shard(Shard(shard_id, shard.get("ParentShardId"), None, iterator, clock()))
        count += 1
    return count


class StreamPoller:
    def __init__(
        self,
        state: ReverseState,
        applier: ReverseApplier,
        streams: Any,
        arn: str,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.applier = applier
        self.streams = streams
        self.arn = arn
        self.metrics = metrics
        self.clock = clock
        self.totals = ApplyResult()
        stored = state.status()
        self.status = ReverseStatus(
            healthy_since=stored.healthy_since or clock(),
            applied=stored.applied,
            deleted=stored.deleted,
            stale=stored.stale,
        )
        self.known = state.shards()
        self.started_at = clock()
        # Per shard, the start of the last pass that read it to its end: every change made in it
        # before that moment is applied. Record timestamps cannot tell this: DynamoDB Streams
        # rounds ApproximateCreationDateTime down to the minute.
        self.through: dict[str, float] = {}

    def poll_once(self) -> bool:
        """One pass over the shards; True when every shard was read to its tip."""
        oldest_unapplied: float | None = None
        at_tip = True
        pass_started = self.clock()
        shards = {s["ShardId"]: s for s in list_shards(self.streams, self.arn)}
        for shard_id, shard in shards.items():
            mine = self.known.get(shard_id)
            if mine is None:
                closed = bool(shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber"))
                if closed and shard.get("ParentShardId") not in self.known:
                    continue  # closed before replication started: nothing in it is ours
                mine = Shard(shard_id, shard.get("ParentShardId"))
                self.known[shard_id] = mine
            if mine.finished:
                continue
            parent = self.known.get(mine.parent or "")
            if parent is not None and not parent.finished:
                at_tip = False
                continue  # a child waits for its parent: a key's changes stay in order
            iterator = self._iterator(mine)
            response = self.streams.get_records(ShardIterator=iterator, Limit=BATCH)
            records = response.get("Records", [])
            changes = [Change.from_record(r) for r in records]
            read_to_end = len(records) < BATCH
            if changes:
                first = changes[0].created_at
                if first is not None:
                    oldest_unapplied = first if oldest_unapplied is None else min(oldest_unapplied, first)
                self._apply(changes)
                mine.sequence = changes[-1].sequence
                at_tip = False
            if read_to_end:
                self.through[shard_id] = pass_started
            next_iterator = response.get("NextShardIterator")
            if next_iterator is None:
                mine.finished = True
            elif mine.sequence is not None or mine.iterator:
                # (A shard still empty keeps being read from its start; see start_positions.)
                mine.iterator, mine.iterator_at = next_iterator, self.clock()
            self.state.put_shard(mine)
        self._report(at_tip, oldest_unapplied)
        return at_tip

    def _report(self, at_tip: bool, oldest_unapplied: float | None) -> None:
        """Record the pass: lag (the age of the oldest change that may be unapplied), caught-up time."""
        now = self.clock()
        applied_through = self._applied_through()
        self.status.measured_at = now
        if at_tip:
            self.status.lag_seconds = 0.0
        elif applied_through is not None:
            self.status.lag_seconds = max(0.0, now - applied_through)
        else:
            self.status.lag_seconds = max(0.0, now - oldest_unapplied) if oldest_unapplied else None
        if applied_through is not None:
            self.status.caught_up_at = max(self.status.caught_up_at or 0.0, applied_through)
        self.state.put_status(self.status)
        if self.metrics is not None and self.status.lag_seconds is not None:
            self.metrics.gauge("ReverseReplicationLagSeconds", self.status.lag_seconds, "Seconds")

    def _applied_through(self) -> float | None:
        """The moment before which every change of every open shard is applied (None while a
        shard has not been read to its end yet)."""
        open_shards = [shard_id for shard_id, shard in self.known.items() if not shard.finished]
        moments = [self.through.get(shard_id) for shard_id in open_shards]
        if not moments or any(m is None for m in moments):
            return None
        return min(m for m in moments if m is not None)

    def _iterator(self, shard: Shard) -> str:
        fresh = (
            shard.iterator
            and shard.iterator_at
            and self.clock() - shard.iterator_at < ITERATOR_MAX_AGE_SECONDS
        )
        if fresh:
            return str(shard.iterator)
        kwargs: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard.shard_id}
        if shard.sequence:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.sequence)
        else:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
            if shard.iterator:
                log.warning("shard %s: its start iterator expired; reading it from its start", shard.shard_id)
        return str(self.streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def _apply(self, changes: list[Change]) -> None:
        result = self.applier.apply(changes)
        self.totals.merge(result)
        self.status.applied += result.applied
        self.status.deleted += result.deleted
        self.status.stale += result.stale
        for change, reason in result.failed:
            item = change.item or {}
            tm = self.applier.table_of(item) if item else None
            self.state.record_failure(
                item.get("pk", {}).get("S", "?"),
                item.get("sk", {}).get("S", "?"),
                tm.table if tm else "?",
                int(item.get("_ver", {}).get("N", 0)),
                reason,
            )
            self.status.last_error = reason[:500]
            self.status.healthy_since = self.clock()
            log.error("reverse replication: record %s not applied: %s", change.sequence, reason)
        if self.metrics is not None:
            self.metrics.add("ReverseReplicationApplied", result.applied + result.deleted)
            if result.failed:
                self.metrics.add("ReverseReplicationFailures", len(result.failed))

    def run(self, should_stop: Callable[[], bool], idle_seconds: float = 0.3) -> None:
        """Poll until `should_stop()`; sleeps only when every shard is at its tip."""
        while not should_stop():
            try:
                at_tip = self.poll_once()
            except Exception as exc:
                self.status.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("reverse replication poll failed: %s", exc)
                at_tip = True
            if at_tip:
                time.sleep(idle_seconds)
