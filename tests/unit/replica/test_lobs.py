"""LOB limits read from DMS settings JSON, and the verdict on measured sizes (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from ops.replica.lobs import WHOLE, LobColumn, LobLimit, dms_limits, judge, needed_kb

TABLES = ["couples", "users", "questions", "answers"]
KB = 1024


def _column(table: str, column: str, size: int | None, method: str = "exact, 200 rows") -> LobColumn:
    return LobColumn(table, column, "text", size, 200, method)


def _limits(settings: dict[str, Any], rules: list[dict[str, Any]] | None = None) -> dict[str, LobLimit]:
    return dms_limits(settings, {"rules": rules or []}, TABLES, "public")


def test_dms_defaults_apply_where_target_metadata_is_silent() -> None:
    limits = _limits({})
    assert limits["answers"] == LobLimit("limited", 32, "TargetMetadata")


@pytest.mark.parametrize(
    ("meta", "mode", "max_kb"),
    [
        ({"SupportLobs": True, "FullLobMode": True, "LimitedSizeLobMode": False}, "full", None),
        (
            {"SupportLobs": True, "FullLobMode": False, "LimitedSizeLobMode": True, "LobMaxSize": 64},
            "limited",
            64,
        ),
        ({"SupportLobs": False, "LimitedSizeLobMode": True, "LobMaxSize": 64}, "none", None),
    ],
)
def test_target_metadata_modes(meta: dict[str, Any], mode: str, max_kb: int | None) -> None:
    limit = _limits({"TargetMetadata": meta})["answers"]
    assert (limit.mode, limit.max_kb) == (mode, max_kb)


def test_a_table_settings_rule_overrides_the_task_for_the_tables_it_names() -> None:
    rules = [
        {
            "rule-type": "selection",
            "rule-id": "1",
            "object-locator": {"schema-name": "public", "table-name": "%"},
        },
        {
            "rule-type": "table-settings",
            "rule-id": "2",
            "rule-name": "answers-limited",
            "object-locator": {"schema-name": "public", "table-name": "ans%"},
            "lob-settings": {"mode": "limited", "bulk-max-size": "16"},
        },
        {
            "rule-type": "table-settings",
            "rule-id": "3",
            "rule-name": "other-schema",
            "object-locator": {"schema-name": "archive", "table-name": "%"},
            "lob-settings": {"mode": "none"},
        },
    ]
    limits = _limits({"TargetMetadata": {"FullLobMode": True}}, rules)
    assert limits["answers"] == LobLimit("limited", 16, "table-settings rule answers-limited")
    assert limits["users"].mode == "full"  # rule 3 is for another schema
    assert limits["couples"].mode == "full"


def test_margin_rounds_up_to_whole_kilobytes() -> None:
    assert needed_kb(70 * KB, 25) == 88  # 87.5 KB
    assert needed_kb(64 * KB, 0) == 64
    assert needed_kb(1, 25) == 1


def test_a_value_over_the_limit_is_refused_naming_column_size_and_setting() -> None:
    columns = [_column("answers", "body", 70 * KB), _column("answers", "metadata", 2 * KB)]
    verdict = judge(columns, _limits({"TargetMetadata": {"LobMaxSize": 64}}), 25)
    assert not verdict.ok
    assert verdict.needed_kb == 88
    assert (
        "answers.body: largest value 71,680 B (exact, 200 rows) needs LobMaxSize >= 88 KB" in verdict.measured
    )
    assert "limited LOB mode, LobMaxSize 64 KB (TargetMetadata)" in verdict.measured
    assert "metadata" not in verdict.measured


def test_the_margin_refuses_a_limit_just_above_the_largest_value() -> None:
    columns = [_column("answers", "body", 70 * KB)]
    assert not judge(columns, _limits({"TargetMetadata": {"LobMaxSize": 80}}), 25).ok
    assert judge(columns, _limits({"TargetMetadata": {"LobMaxSize": 88}}), 25).ok
    assert judge(columns, _limits({"TargetMetadata": {"LobMaxSize": 80}}), 0).ok


def test_full_lob_mode_and_logical_replication_pass_any_size() -> None:
    columns = [_column("answers", "body", 50 * 2**20)]
    full = judge(columns, _limits({"TargetMetadata": {"FullLobMode": True}}), 25)
    assert full.ok and "full LOB mode, no size limit" in full.measured
    whole = judge(columns, dict.fromkeys(TABLES, WHOLE), 25)
    assert whole.ok and "copies every value whole" in whole.measured


def test_lobs_not_migrated_at_all_are_refused() -> None:
    verdict = judge([_column("users", "avatar", 10)], _limits({"TargetMetadata": {"SupportLobs": False}}), 25)
    assert not verdict.ok
    assert "LOB columns of users would not be copied" in verdict.measured


def test_nothing_to_measure_passes_and_says_so() -> None:
    limits = _limits({"TargetMetadata": {"LobMaxSize": 1}})
    assert judge([], limits, 25).measured == "no LOB columns in the mapped tables"
    assert (
        judge([_column("answers", "body", None)], limits, 25).measured == "no LOB values in the mapped tables"
    )
