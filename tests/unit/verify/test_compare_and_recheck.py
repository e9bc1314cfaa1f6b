"""Comparator, item-key recognition, re-check rules and the gate, without servers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from ops.flags import Mode
from ops.mapping import ItemKeyParser, load_mapping
from ops.settings import Settings
from ops.verify import (
    MISMATCHED,
    MISSING,
    STALE_TOMBSTONE,
    Verifier,
    VerifyOptions,
    VerifyResult,
    verify_gate,
)
from ops.verify.compare import compare_row
from ops.verify.dynamo import item_key
from ops.verify.engine import RepairRefused, scan_segments_for
from ops.verify.reader import Segment
from ops.verify.source import OTHER, PRIMARY, REPLICA, SourcePosition

TM = load_mapping().table("answers")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _row(id_: int = 1, version: int = 10, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id_,
        "couple_id": 7,
        "question_id": 3,
        "user_id": 13,
        "body": "hello",
        "mood": 2,
        "score": Decimal("1.50"),
        "photo_urls": ["a.jpg"],
        "metadata": {"n": 1},
        "created_at": NOW,
        "updated_at": NOW,
        "version": version,
    }
    row.update(changes)
    return row


class FakeControl:
    """The control table's interface, in memory."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.name = "fake-control"

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.items.get((pk, sk))
        return dict(found) if found else None

    def put(self, pk: str, sk: str, attrs: dict[str, Any], **_: Any) -> None:
        self.items[(pk, sk)] = {**attrs, "pk": pk, "sk": sk}

    def update(self, pk: str, sk: str, set_: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        self.items.setdefault((pk, sk), {"pk": pk, "sk": sk}).update(set_ or {})
        return self.items[(pk, sk)]

    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
        return [dict(v) for (p, s), v in sorted(self.items.items()) if p == pk and s.startswith(sk_prefix)]


class FakeReader:
    """Rows by id; `versions` makes a row change on every fetch (a hot row)."""

    def __init__(self, rows: list[dict[str, Any]], moving: bool = False) -> None:
        self.rows = {r["id"]: r for r in rows}
        self.moving = moving
        self.fetches = 0

    def plan(self, segments: int) -> list[Segment]:
        return [Segment(0, None, None)]

    def estimate(self, plan: Any) -> int:
        return len(self.rows)

    def table_rows(self) -> int:
        return len(self.rows)

    def pages(self, segment: Segment, after: Any) -> Iterator[list[dict[str, Any]]]:
        if self.rows:
            yield list(self.rows.values())

    def fetch(self, keys: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
        self.fetches += 1
        if self.moving:
            for r in self.rows.values():
                r["version"] += 1
        return {(k[0],): self.rows[k[0]] for k in keys if k[0] in self.rows}

    def existing_items(self, keys: Any) -> set[tuple[str, str]]:
        return set()


class FakeItems:
    """Answers batch reads from a script: one dict of items per call (the last one repeats)."""

    def __init__(self, script: list[dict[tuple[str, str], dict[str, Any]]]) -> None:
        self.script = script
        self.calls = 0
        self.puts: list[dict[str, Any]] = []

    def batch_get(self, keys: Any) -> dict[tuple[str, str], dict[str, Any]]:
        answer = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return answer

    def scan(self, *args: Any) -> Iterator[tuple[list[dict[str, Any]], None]]:
        yield [], None

    def put_unless_newer(self, item: dict[str, Any]) -> bool:
        self.puts.append(item)
        return True


def _verifier(
    reader: FakeReader, items: FakeItems, mode: Mode = Mode.DUAL_WRITE_SHADOW, **options: Any
) -> tuple[Verifier, list[float]]:
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    defaults: dict[str, Any] = {
        "source_url": "postgresql://unused",
        "dataset": "answers",
        "target_table": "t",
        "segments": 1,
        "recheck_delay": 2.0,
        "extras": False,
        "progress": False,
    }
    v = Verifier(
        VerifyOptions(**{**defaults, **options}),
        settings=Settings.from_env(),
        control=FakeControl(),  # type: ignore[arg-type]
        dynamodb=object(),
        console=Console(file=io.StringIO()),
        sleep=sleep,
        clock=lambda: clock[0],
        position=SourcePosition(PRIMARY),
        mode=mode,
    )
    v.reader = reader  # type: ignore[assignment]
    v.items = items  # type: ignore[assignment]
    return v, sleeps


def _ident(row: dict[str, Any]) -> tuple[str, str]:
    return item_key(TM.encode(row))


# ---------------------------------------------------------------- comparator


def test_identical_and_canonically_equal_items_match() -> None:
    row = _row()
    assert compare_row(TM, row, TM.encode(row)) is None
    item = TM.encode(row)
    item["score"] = {"N": "1.5000"}  # DynamoDB normalises numbers; the canonical form agrees
    assert compare_row(TM, row, item) is None


def test_each_kind_of_difference() -> None:
    row = _row()
    assert compare_row(TM, row, None).kind == MISSING  # type: ignore[union-attr]
    tomb = TM.tombstone(row, 10, 0)
    stale = compare_row(TM, row, tomb)
    assert stale is not None and stale.kind == STALE_TOMBSTONE and stale.key == {"id": 1}
    drift = {**TM.encode(row), "mood": {"S": "2"}}
    found = compare_row(TM, row, drift)
    assert found is not None and found.kind == MISMATCHED
    assert found.diff == {"mood": [{"N": "2"}, {"S": "2"}]}
    assert found.item_key == ("COUPLE#7", "ANSWER#3#13")
    stray = {**TM.encode(row), "legacy": {"S": "x"}}
    assert compare_row(TM, row, stray).diff == {"legacy": [None, {"S": "x"}]}  # type: ignore[union-attr]


def test_item_key_parser_recognises_only_this_tables_items() -> None:
    parser = ItemKeyParser(TM)
    assert parser.parse("COUPLE#7", "ANSWER#3#13") == {"couple_id": 7, "question_id": 3, "user_id": 13}
    assert not parser.owns("COUPLE#7", "PROFILE")  # a couple's profile lives in the same partition
    assert not parser.owns("COUPLE#7", "ANSWER#x#13")
    assert not parser.owns("USER#7", "ANSWER#3#13")


# ---------------------------------------------------------------- re-check


def test_difference_that_heals_before_the_recheck_is_transient() -> None:
    row = _row()
    stale = TM.encode(_row(body="older", version=9))
    v, sleeps = _verifier(FakeReader([row]), FakeItems([{_ident(row): stale}, {_ident(row): TM.encode(row)}]))
    result = v.run()
    assert (result.mismatched, result.transient, result.matching) == (0, 1, 1)
    assert sleeps == [2.0]  # waited out the delay once


def test_lasting_difference_is_counted_after_every_recheck_round() -> None:
    row = _row()
    wrong = {**TM.encode(row), "body": {"S": "tampered"}}
    reader = FakeReader([row])
    v, sleeps = _verifier(reader, FakeItems([{_ident(row): wrong}]), recheck_rounds=3)
    result = v.run()
    assert (result.mismatched, result.transient) == (1, 0)
    assert reader.fetches == 3 and sleeps == [2.0, 2.0, 2.0]
    assert result.samples[0]["diff"] == {"body": [{"S": "hello"}, {"S": "tampered"}]}


def test_difference_healing_at_the_last_round_is_transient() -> None:
    row = _row()
    wrong = {**TM.encode(row), "body": {"S": "older"}}
    items = FakeItems(
        [{_ident(row): wrong}, {_ident(row): wrong}, {_ident(row): wrong}, {_ident(row): TM.encode(row)}]
    )
    v, sleeps = _verifier(FakeReader([row]), items, recheck_rounds=3)
    result = v.run()
    assert (result.mismatched, result.transient) == (0, 1) and len(sleeps) == 3


def test_row_still_being_written_is_rechecked_up_to_the_limit_then_counted() -> None:
    row = _row()
    lagging = {**TM.encode(row), "body": {"S": "older"}}
    reader = FakeReader([row], moving=True)
    v, sleeps = _verifier(reader, FakeItems([{_ident(row): lagging}]), recheck_rounds=3)
    result = v.run()
    assert result.mismatched == 1 and reader.fetches == 3 and len(sleeps) == 3


def test_repair_rewrites_from_the_row_and_dry_run_only_plans() -> None:
    row = _row()
    items = FakeItems([{}])
    v, _ = _verifier(FakeReader([row]), items, repair=True, dry_run=True)
    planned = v.run()
    assert planned.missing == 1 and items.puts == []
    assert planned.repair_actions[0]["result"] == "planned"
    v, _ = _verifier(FakeReader([row]), items, repair=True)
    done = v.run()
    assert done.repaired == 1 and items.puts == [TM.encode(row)]


# ---------------------------------------------------------------- gate


FULL: dict[str, Any] = {
    "rows_compared": 10,
    "matching": 10,
    "segments_planned": 4,
    "segments_done": 4,
    "scan_segments_planned": 4,
    "scan_segments_done": 4,
    "source": REPLICA,
}


def _store(control: FakeControl, run_id: str = "r1", **fields: Any) -> None:
    age = fields.pop("age_hours", 1)
    finished = (datetime.now(UTC) - timedelta(hours=age)).isoformat()
    started = fields.pop("started_at", (datetime.now(UTC) - timedelta(hours=age, minutes=5)).isoformat())
    result = VerifyResult(
        run_id=run_id,
        dataset="answers",
        table=fields.pop("table", "answers"),
        started_at=started,
        finished_at=finished,
        **{**FULL, **fields},
    )
    control.put("VERIFY#answers", f"RESULT#{finished}#{run_id}", result.to_dict())
    control.put("VERIFY#answers", "LATEST", result.to_dict())


def test_gate_without_a_run_says_to_run_one() -> None:
    gate = verify_gate(FakeControl(), "answers")  # type: ignore[arg-type]
    assert [c.name for c in gate.failed] == ["full verification recorded"]
    assert "ops verify run" in gate.failed[0].fix


@pytest.mark.parametrize(
    ("fields", "failed"),
    [
        ({}, []),
        ({"matching": 9, "extra": 1}, ["differences"]),
        ({"age_hours": 30}, ["age"]),
        # Runs that checked less than the whole dataset never pass the gate:
        ({"sample_percent": 5.0}, ["full verification recorded"]),
        (
            {"extras": False, "scan_segments_planned": 0, "scan_segments_done": 0},
            ["full verification recorded"],
        ),
        ({"table": "couples"}, ["full verification recorded"]),
        ({"segments_done": 3}, ["full verification recorded"]),
        ({"scan_segments_done": 2}, ["full verification recorded"]),
        ({"source": OTHER}, ["full verification recorded"]),
        ({"source": PRIMARY}, []),
    ],
)
def test_gate_checks(fields: dict[str, Any], failed: list[str]) -> None:
    control = FakeControl()
    _store(control, **fields)
    gate = verify_gate(control, "answers")  # type: ignore[arg-type]
    assert [c.name for c in gate.failed] == failed


def test_gate_names_why_the_newest_run_does_not_count() -> None:
    control = FakeControl()
    _store(control, extras=False, scan_segments_planned=0, scan_segments_done=0)
    gate = verify_gate(control, "answers")  # type: ignore[arg-type]
    assert "--no-extras" in gate.failed[0].measured


def test_gate_takes_the_newest_full_run_and_a_newer_partial_run_that_found_something_fails_it() -> None:
    control = FakeControl()
    _store(control, run_id="full", age_hours=2)
    _store(control, run_id="sampled", age_hours=1, sample_percent=1.0)
    gate = verify_gate(control, "answers")  # type: ignore[arg-type]
    assert gate.ok and gate.evidence["run_id"] == "full"
    _store(control, run_id="sampled-dirty", age_hours=0.5, sample_percent=1.0, matching=9, mismatched=1)
    gate = verify_gate(control, "answers")  # type: ignore[arg-type]
    assert [c.name for c in gate.failed] == ["no newer run found differences"]


def test_gate_refuses_a_run_that_started_before_the_change_it_must_vouch_for() -> None:
    control = FakeControl()
    _store(control, age_hours=1)
    later = datetime.now(UTC).isoformat()
    gate = verify_gate(control, "answers", not_before=later, not_before_reason="the backfill finished")  # type: ignore[arg-type]
    assert [c.name for c in gate.failed] == ["started after the last change"]
    assert "the backfill finished" in gate.failed[0].threshold


@pytest.mark.parametrize(
    ("mode", "reason", "refused"),
    [
        (Mode.DUAL_WRITE_SHADOW, None, False),
        (Mode.DUAL_WRITE_READ_DYNAMODB, None, True),
        (Mode.DUAL_WRITE_READ_DYNAMODB, "ticket 42: replica drifted", False),
        (Mode.DYNAMODB, "anything", True),
    ],
)
def test_repair_obeys_the_mode(mode: Mode, reason: str | None, refused: bool) -> None:
    row = _row()
    items = FakeItems([{}])
    if refused:
        with pytest.raises(RepairRefused):
            _verifier(FakeReader([row]), items, mode=mode, repair=True, force_repair_reason=reason)
        return
    v, _ = _verifier(FakeReader([row]), items, mode=mode, repair=True, force_repair_reason=reason)
    result = v.run()
    assert result.repaired == 1 and result.forced_repair_reason == reason


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"score": {"N": "1.500"}},
        {"mood": {"S": "2"}},
        {"legacy": {"SS": ["b", "a"]}},
        {"photoUrls": {"L": [{"S": "b.jpg"}]}},
        {"metadata": {"M": {"n": {"N": "1.0"}}}},
    ],
)
def test_fast_attribute_diff_agrees_with_the_mappings_diff(change: dict[str, Any]) -> None:
    from ops.verify.compare import differing_attributes

    expected = TM.encode(_row())
    actual = {**expected, **change}
    assert differing_attributes(expected, actual) == sorted(TM.diff(expected, actual))
    without = {k: v for k, v in expected.items() if k != "body"}
    assert differing_attributes(expected, without) == sorted(TM.diff(expected, without)) == ["body"]


def test_extra_pending_at_a_crash_is_rechecked_on_resume() -> None:
    row = _row()
    ident = _ident(row)
    stray = {**TM.encode(row), "_ver": {"N": "5"}}
    items = FakeItems([{ident: stray}])
    v, _ = _verifier(FakeReader([]), items, extras=True, run_id="r1")
    control: FakeControl = v.control  # type: ignore[assignment]
    control.put(
        "VERIFY#answers",
        "RUN#r1",
        {
            "run_id": "r1",
            "state": "running",
            "fingerprint": v.fingerprint(),
            "plan": [{"index": 0, "lower": None, "upper": None}],
            "started_at": "x",
        },
    )
    control.put(
        "VERIFY#answers",
        "RUN#r1#SCAN#0000",
        {"pending": [{"pk": ident[0], "sk": ident[1]}], "last_key": None},
    )
    result = v.run()
    assert result.extra == 1
    assert [(s["pk"], s["sk"]) for s in result.samples] == [ident]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"N": "1.50"}, {"N": "1.5"}, True),
        ({"N": "7.0"}, {"N": "7"}, True),
        ({"N": "1E+2"}, {"N": "100"}, True),
        ({"N": "100"}, {"N": "10"}, False),
        ({"N": "1"}, {"S": "1"}, False),
        (
            {"M": {"r": {"N": "0.50"}, "t": {"L": [{"S": "x"}]}}},
            {"M": {"r": {"N": "0.5"}, "t": {"L": [{"S": "x"}]}}},
            True,
        ),
        ({"M": {"r": {"N": "0.5"}}}, {"M": {"r": {"N": "0.5"}, "extra": {"NULL": True}}}, False),
        ({"L": [{"N": "2.0"}, {"BOOL": True}]}, {"L": [{"N": "2"}, {"BOOL": True}]}, True),
        ({"L": [{"N": "2"}]}, {"L": [{"N": "2"}, {"N": "3"}]}, False),
        ({"NS": ["1.0", "2"]}, {"NS": ["2", "1"]}, True),
    ],
)
def test_wire_comparison_agrees_with_the_codecs_canonical_comparison(
    a: dict[str, Any], b: dict[str, Any], same: bool
) -> None:
    from ops.mapping import codec
    from ops.verify.compare import same_wire

    assert same_wire(a, b) is same
    assert codec.same(codec.canonical_value(a), codec.canonical_value(b)) is same


@pytest.mark.parametrize(
    ("rows", "segments", "expected"),
    [
        (0, 8, 100),  # at least MIN_SCAN_SEGMENTS
        (200_000, 8, 100),
        (2_000_000, 8, 1000),  # about SCAN_ITEMS_PER_SEGMENT each
        (1_000_000, 8, 500),
        (1_600_000_000, 8, 1000),  # at most MAX_SCAN_SEGMENTS
        (10, 256, 256),  # never fewer than --segments
    ],
)
def test_the_scan_for_extras_is_cut_by_the_table_size(rows: int, segments: int, expected: int) -> None:
    assert scan_segments_for(rows, segments) == expected
