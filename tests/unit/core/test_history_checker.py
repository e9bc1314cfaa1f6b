"""The history checker on hand-made histories: it must name each kind of violation and accept
every outcome a correct system may produce, concurrency and indeterminate writes included."""

from __future__ import annotations

from typing import Any

from ops.demo.history import FAIL, INFO, OK, Op, check


def op(f: str, value: dict[str, Any] | None, start: float, end: float, outcome: str = OK) -> Op:
    return Op("p", f, "k", value, start, end, outcome)


def test_the_last_acknowledged_write_must_win() -> None:
    history = [op("update", {"body": "a"}, 0, 1), op("update", {"body": "b"}, 2, 3)]
    assert check(history, {"k": {"body": "x"}}, {"k": {"body": "b"}}).ok
    verdict = check(history, {"k": {"body": "x"}}, {"k": {"body": "a"}})
    assert verdict.overwritten == 1 and verdict.violations[0].allowed == ["b"]


def test_concurrent_writes_may_land_in_either_order() -> None:
    history = [op("update", {"body": "a"}, 0, 3), op("update", {"body": "b"}, 1, 2)]
    assert check(history, {"k": {"body": "x"}}, {"k": {"body": "a"}}).ok
    assert check(history, {"k": {"body": "x"}}, {"k": {"body": "b"}}).ok


def test_a_stale_whole_row_copy_that_undoes_another_attribute_is_caught() -> None:
    """B sets the tag; A, later, sets the body from a stale copy of the row that still has the old
    tag: the body is A's (fine), the tag went back (a lost write)."""
    history = [op("update", {"tag": "b1"}, 0, 1), op("update", {"body": "a1"}, 2, 3)]
    initial = {"k": {"body": "x", "tag": "t0"}}
    assert check(history, initial, {"k": {"body": "a1", "tag": "b1"}}).ok
    assert check(history, initial, {"k": {"body": "a1", "tag": "t0"}}).overwritten == 1


def test_a_vanished_row_is_lost_and_a_returning_one_resurrected() -> None:
    assert check([op("create", {"body": "a"}, 0, 1)], {}, {}).lost == 1
    history = [op("create", {"body": "a"}, 0, 1), op("delete", None, 2, 3)]
    assert check(history, {}, {"k": None}).ok
    assert check(history, {}, {"k": {"body": "a"}}).resurrected == 1
    # An update acknowledged after the delete cannot bring the row back either.
    late = [*history, op("update", {"body": "z"}, 4, 5)]
    assert check(late, {}, {"k": {"body": "z"}}).resurrected == 1


def test_failed_writes_never_count_and_indeterminate_ones_may() -> None:
    history = [op("update", {"body": "a"}, 0, 1), op("update", {"body": "b"}, 2, 3, FAIL)]
    assert check(history, {"k": {"body": "x"}}, {"k": {"body": "a"}}).ok
    assert check(history, {"k": {"body": "x"}}, {"k": {"body": "b"}}).overwritten == 1
    maybe = [
        op("update", {"body": "a"}, 0, 1),
        op("update", {"body": "c"}, 2, 3, INFO),
        op("update", {"body": "d"}, 5, 6),
    ]
    assert check(maybe, {"k": {"body": "x"}}, {"k": {"body": "c"}}).ok  # applied late: allowed
    assert check(maybe, {"k": {"body": "x"}}, {"k": {"body": "d"}}).ok


def test_untouched_keys_keep_their_initial_row_and_strangers_are_flagged() -> None:
    assert check([], {"k": {"body": "x"}}, {"k": {"body": "x"}}).ok
    assert check([], {"k": {"body": "x"}}, {}).lost == 1
    assert check([], {}, {"k": {"body": "?"}}).resurrected == 1
    unknown = check([op("update", {"body": "a"}, 0, 1)], {"k": {"body": "x"}}, {"k": {"body": "zz"}})
    assert unknown.overwritten == 1 and unknown.violations[0].kind == "unknown"
