"""The local poller's lag and caught-up time come from the passes that read every shard to its
end, not from record timestamps, which DynamoDB Streams rounds down to the minute."""

from __future__ import annotations

from typing import Any

from opstestkit.clock import ManualClock

from ops.reverse.apply import ApplyResult, Change
from ops.reverse.poller import BATCH, StreamPoller
from ops.reverse.state import ReverseStatus, Shard

MINUTE = 1_800_000_000.0  # a whole minute: what DynamoDB Streams reports for every record in it


class Streams:
    """One open shard; each GetRecords answers the next queued batch and costs 0.5 s."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.batches: list[int] = []
        self.sequence = 0

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "s1", "SequenceNumberRange": {}}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "it"}

    def get_records(self, **_: Any) -> dict[str, Any]:
        self.clock.now += 0.5
        records = []
        for _ in range(self.batches.pop(0) if self.batches else 0):
            self.sequence += 1
            records.append(
                {
                    "eventName": "MODIFY",
                    "dynamodb": {"SequenceNumber": str(self.sequence), "ApproximateCreationDateTime": MINUTE},
                }
            )
        return {"Records": records, "NextShardIterator": "it"}


class State:
    def __init__(self) -> None:
        self.saved = ReverseStatus()

    def status(self) -> ReverseStatus:
        return ReverseStatus()

    def shards(self) -> dict[str, Shard]:
        return {"s1": Shard("s1", sequence="0")}

    def put_shard(self, shard: Shard) -> None:
        pass

    def put_status(self, status: ReverseStatus) -> None:
        self.saved = status


class Applier:
    def apply(self, changes: list[Change]) -> ApplyResult:
        return ApplyResult(applied=len(changes))


def poller() -> tuple[StreamPoller, Streams, ManualClock]:
    clock = ManualClock(MINUTE + 50.0)
    streams = Streams(clock)
    return StreamPoller(State(), Applier(), streams, "arn", clock=clock), streams, clock  # type: ignore[arg-type]


def test_a_pass_that_reads_the_shard_to_its_end_bounds_the_lag_by_its_own_start() -> None:
    p, streams, clock = poller()
    streams.batches = [5]  # changes keep coming (live traffic): no pass is ever empty
    started = clock.now
    assert p.poll_once() is False
    # The records say minute :00, 50 s ago; they were applied by a pass that began 0.5 s ago.
    assert p.status.lag_seconds == clock.now - started == 0.5
    assert p.status.caught_up_at == started


def test_a_full_batch_is_not_the_end_of_the_shard() -> None:
    p, streams, clock = poller()
    streams.batches = [BATCH]  # more may be waiting
    p.poll_once()
    assert p.status.caught_up_at is None
    assert p.status.lag_seconds == clock.now - MINUTE  # only the record's (rounded) time is known
    streams.batches = [3]
    started = clock.now
    p.poll_once()
    assert p.status.caught_up_at == started and p.status.lag_seconds == 0.5


def test_an_empty_pass_is_at_the_tip() -> None:
    p, _, clock = poller()
    started = clock.now
    assert p.poll_once() is True
    assert p.status.lag_seconds == 0.0 and p.status.caught_up_at == started
