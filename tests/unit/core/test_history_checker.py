"""The history checker on hand-made histories: it must call each kind of violation by its name
and accept every outcome a correct system may produce, concurrency included."""

from __future__ import annotations

from ops.demo.history import ABSENT, FAIL, INFO, OK, Op, check


def op(f: str, value: str | None, start: float, end: float, outcome: str = OK) -> Op:
    return Op("p", f, "k", value, start, end, outcome)


def test_the_last_acknowledged_write_must_win() -> None:
    history = [op("update", "a", 0, 1), op("update", "b", 2, 3)]
    assert check(history, {"k": "x"}, {"k": "b"}).ok
    verdict = check(history, {"k": "x"}, {"k": "a"})
    assert verdict.overwritten == 1 and verdict.violations[0].allowed == ["b"]


def test_concurrent_writes_may_land_in_either_order() -> None:
    history = [op("update", "a", 0, 3), op("update", "b", 1, 2)]
    assert check(history, {"k": "x"}, {"k": "a"}).ok
    assert check(history, {"k": "x"}, {"k": "b"}).ok


def test_a_vanished_row_is_lost_and_a_returning_one_resurrected() -> None:
    assert check([op("create", "a", 0, 1)], {}, {}).lost == 1
    history = [op("create", "a", 0, 1), op("delete", None, 2, 3)]
    assert check(history, {}, {"k": ABSENT}).ok
    assert check(history, {}, {"k": "a"}).resurrected == 1


def test_failed_writes_never_count_and_indeterminate_ones_may() -> None:
    history = [op("update", "a", 0, 1), op("update", "b", 2, 3, FAIL)]
    assert check(history, {"k": "x"}, {"k": "a"}).ok
    assert check(history, {"k": "x"}, {"k": "b"}).overwritten == 1  # a failed write's value
    maybe = [op("update", "a", 0, 1), op("update", "c", 2, 3, INFO), op("update", "d", 5, 6)]
    assert check(maybe, {"k": "x"}, {"k": "c"}).ok  # applied late, after d: allowed
    assert check(maybe, {"k": "x"}, {"k": "d"}).ok


def test_untouched_keys_keep_their_initial_value_and_strangers_are_flagged() -> None:
    assert check([], {"k": "x"}, {"k": "x"}).ok
    assert check([], {"k": "x"}, {}).lost == 1
    assert check([], {}, {"k": "?"}).resurrected == 1
    assert check([op("update", "a", 0, 1)], {"k": "x"}, {"k": "zz"}).overwritten == 1  # unknown value
