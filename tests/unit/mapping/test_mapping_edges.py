"""Each edge the mapping must handle, named in the issue: one test per rule."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ops.exceptions import ConfigError
from ops.mapping import RowError, codec, is_tombstone, load_mapping, parse_mapping

ANSWERS = load_mapping().table("answers")


def answer(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 10,
        "couple_id": 7,
        "question_id": 3,
        "user_id": 21,
        "body": "오늘 좋았어 ❤",
        "mood": 4,
        "score": Decimal("12.500"),
        "photo_urls": [],
        "metadata": {"tags": ["a"], "rating": Decimal("4.10"), "nested": {"ok": True, "none": None}},
        "created_at": datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "updated_at": datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=UTC),
        "version": 5,
    }
    row.update(overrides)
    return row


def test_keys_follow_the_templates() -> None:
    assert ANSWERS.key(answer()) == {"pk": {"S": "COUPLE#7"}, "sk": {"S": "ANSWER#3#21"}}
    assert ANSWERS.item_key_columns == ("couple_id", "question_id", "user_id")
    assert ANSWERS.key_columns == ("id",)


def test_numeric_with_38_digits_is_kept_exactly() -> None:
    value = Decimal("1234567890123456789012345678.9012345678")
    item = ANSWERS.encode(answer(score=value))
    assert Decimal(item["score"]["N"]) == value


def test_numeric_beyond_38_significant_digits_is_a_row_error() -> None:
    with pytest.raises(RowError) as err:
        ANSWERS.encode(answer(score=Decimal("1" * 39)))
    assert err.value.column == "score"
    assert err.value.table == "answers"
    assert err.value.key == {"id": 10}
    assert "39 significant digits" in err.value.reason


def test_trailing_zeros_do_not_count_as_significant() -> None:
    assert codec.number_text(Decimal("1" + "0" * 60)) == "1E+60"
    assert codec.number_text(Decimal("1.5000000000000000000000000000000000000000000")) == "1.5"


def test_numeric_outside_dynamodb_range_is_a_row_error() -> None:
    with pytest.raises(RowError, match="range"):
        ANSWERS.encode(answer(score=Decimal("1E+126")))
    with pytest.raises(RowError, match="range"):
        ANSWERS.encode(answer(score=Decimal("1E-131")))


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_numeric_nan_and_infinity_are_row_errors(bad: Decimal) -> None:
    with pytest.raises(RowError, match="NaN or Infinity"):
        ANSWERS.encode(answer(score=bad))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_float_nan_and_infinity_policy_is_reject(bad: float) -> None:
    tm = load_mapping().table("questions")
    row = {
        "id": 1,
        "body": "q",
        "category": "c",
        "weight": bad,
        "publish_on": None,
        "created_at": datetime.now(UTC),
        "updated_at": datetime.now(UTC),
        "version": 1,
    }
    with pytest.raises(RowError) as err:
        tm.encode(row)
    assert err.value.column == "weight"
    assert "NaN/Infinity" in err.value.reason


def test_negative_zero_float_is_zero() -> None:
    assert codec.encoder_for("double")(-0.0) == {"N": "0"}


def test_empty_text_is_allowed_outside_keys() -> None:
    assert ANSWERS.encode(answer(body=""))["body"] == {"S": ""}


TEXT_KEY_DOC: dict[str, Any] = {
    "version": 1,
    "tables": {
        "t": {
            "key_columns": ["id"],
            "version_column": "v",
            "pk": "T#{name}",
            "sk": "X",
            "columns": {"id": "bigint", "name": "text", "v": "bigint"},
        }
    },
}


def test_empty_string_in_a_key_is_a_row_error() -> None:
    tm = parse_mapping(TEXT_KEY_DOC).table("t")
    with pytest.raises(RowError) as err:
        tm.encode({"id": 1, "name": "", "v": 1})
    assert err.value.column == "name"
    assert "empty string in a key" in err.value.reason
    with pytest.raises(RowError, match="NULL"):
        tm.encode({"id": 1, "name": None, "v": 1})


def test_null_policy_omit_is_the_default_and_null_is_available() -> None:
    item = ANSWERS.encode(answer(mood=None, metadata=None))
    assert "mood" not in item and "metadata" not in item
    doc = copy.deepcopy(load_mapping_doc())
    doc["tables"]["answers"]["nulls"] = "null"
    keep = parse_mapping(doc).table("answers")
    assert keep.encode(answer(mood=None))["mood"] == {"NULL": True}
    assert keep.decode(keep.encode(answer(mood=None)))["mood"] is None


def load_mapping_doc() -> dict[str, Any]:
    import yaml

    from ops.mapping.model import default_mapping_path

    return dict(yaml.safe_load(default_mapping_path().read_text()))


def test_empty_array_is_kept_and_null_elements_survive() -> None:
    assert ANSWERS.encode(answer())["photoUrls"] == {"L": []}
    item = ANSWERS.encode(answer(photo_urls=["a", None, ""]))
    assert item["photoUrls"] == {"L": [{"S": "a"}, {"NULL": True}, {"S": ""}]}
    assert ANSWERS.decode(item)["photo_urls"] == ["a", None, ""]


def test_jsonb_numbers_stay_exact_and_json_null_differs_from_sql_null() -> None:
    doc = codec.json_loads(
        '{"x": 0.1000000000000000055511151231257827, "n": null, "big": 123456789012345678901234567890}'
    )
    item = ANSWERS.encode(answer(metadata=doc))
    meta = item["metadata"]["M"]
    assert meta["x"] == {"N": "0.1000000000000000055511151231257827"}
    assert meta["n"] == {"NULL": True}
    assert meta["big"] == {"N": "123456789012345678901234567890"}


def test_jsonb_nesting_deeper_than_32_is_a_row_error() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(RowError, match="nesting"):
        ANSWERS.encode(answer(metadata=deep))


def test_item_over_400_kb_is_a_row_error_naming_the_largest_attribute() -> None:
    ok = ANSWERS.encode(answer(body="x" * 300_000))
    assert ANSWERS.item_size(ok) < 400 * 1024
    with pytest.raises(RowError) as err:
        ANSWERS.encode(answer(body="x" * (400 * 1024)))
    assert "400 KB" in err.value.reason
    assert "'body'" in err.value.reason
    assert err.value.to_dict()["key"] == {"id": 10}
    with pytest.raises(RowError) as as_json:
        ANSWERS.encode_json(answer(body="x" * (400 * 1024)))
    assert as_json.value.reason == err.value.reason
    fast = ANSWERS.tuple_json_encoder(ANSWERS.columns)
    too_big = answer(body="x" * (400 * 1024))
    with pytest.raises(RowError) as from_tuple:
        fast(tuple(too_big[c] for c in ANSWERS.columns))
    assert from_tuple.value.reason == err.value.reason
    assert from_tuple.value.to_dict()["key"] == {"id": 10}
    assert len(ANSWERS.encode_json(answer(body="x" * 300_000))) > 300_000


def test_item_size_matches_dynamodb_rules() -> None:
    item = {
        "s": {"S": "héllo"},  # 1 + 6
        "n": {"N": "12345"},  # 1 + (3 + 1)
        "b": {"B": b"\x00\x01"},  # 1 + 2
        "t": {"BOOL": True},  # 1 + 1
        "z": {"NULL": True},  # 1 + 1
        "l": {"L": [{"S": "ab"}, {"N": "0"}]},  # 1 + 3 + (2 + 1) + (1 + 1)
        "m": {"M": {"k": {"S": "v"}}},  # 1 + 3 + (1 + 1 + 1)
    }
    assert ANSWERS.item_size(item) == 7 + 5 + 3 + 2 + 2 + 9 + 7


def test_tombstone_is_versioned_and_recognised() -> None:
    stone = ANSWERS.tombstone(answer(), version=9, ttl_epoch=1_700_000_000.5)
    assert stone == {
        "pk": {"S": "COUPLE#7"},
        "sk": {"S": "ANSWER#3#21"},
        "_deleted": {"BOOL": True},
        "_ver": {"N": "9"},
        "_ttl": {"N": "1700000000"},
    }
    assert is_tombstone(stone)
    assert is_tombstone(ANSWERS.canonical(stone))
    assert ANSWERS.is_tombstone(stone)
    assert not is_tombstone(ANSWERS.encode(answer()))
    assert ANSWERS.tombstone(ANSWERS.key(answer()), 9, 1)["pk"] == {"S": "COUPLE#7"}


def test_item_carries_the_version_attribute() -> None:
    assert ANSWERS.encode(answer(version=42))["_ver"] == {"N": "42"}
    with pytest.raises(RowError, match="version"):
        ANSWERS.encode(answer(version=None))


def test_diff_is_strict_about_types_and_reports_missing() -> None:
    a = ANSWERS.encode(answer())
    b = dict(a)
    b["mood"] = {"S": "4"}
    del b["body"]
    diff = ANSWERS.diff(a, b)
    assert set(diff) == {"mood", "body"}
    assert diff["body"] == ("오늘 좋았어 ❤", None)
    spelled = dict(a)
    spelled["score"] = {"N": "12.50000"}
    assert ANSWERS.diff(a, spelled) == {}


def test_missing_column_in_row_names_it() -> None:
    row = answer()
    del row["mood"]
    with pytest.raises(RowError) as err:
        ANSWERS.encode(row)
    assert err.value.column == "mood"


def test_fingerprint_changes_with_the_mapping() -> None:
    doc = load_mapping_doc()
    base = parse_mapping(doc).fingerprint()
    assert parse_mapping(load_mapping_doc()).fingerprint() == base
    doc["tables"]["answers"]["columns"]["body"]["attribute"] = "text"
    assert parse_mapping(doc).fingerprint() != base


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["tables"]["answers"]["columns"]["mood"].update(type="smallnit"), "'columns.mood.type'"),
        (lambda d: d["tables"]["answers"].update(pk="COUPLE#{couple}"), "placeholder {couple}"),
        (lambda d: d["tables"]["answers"]["columns"]["body"].update(attribute="_ver"), "reserved"),
        (lambda d: d["tables"]["answers"]["columns"]["body"].update(attribute="coupleId"), "already used"),
        (lambda d: d["tables"]["answers"].update(version_column="body"), "must be an integer"),
        (lambda d: d["tables"]["answers"].update(key_columns=["nope"]), "'key_columns'"),
        (lambda d: d["tables"]["answers"].update(colums={}), "'colums': unknown field"),
        (lambda d: d["tables"]["answers"].pop("sk"), "'sk': missing"),
        (lambda d: d["tables"]["answers"].update(nulls="drop"), "'nulls'"),
        (lambda d: d["tables"]["answers"].update(pk="C#{metadata}"), "cannot be part of a key"),
    ],
)
def test_invalid_mapping_errors_name_table_field_and_problem(mutate: Any, expected: str) -> None:
    doc = load_mapping_doc()
    mutate(doc)
    with pytest.raises(ConfigError) as err:
        parse_mapping(doc, "mapping.yaml")
    message = str(err.value)
    assert "table 'answers'" in message
    assert expected in message


def test_missing_file_says_what_to_do(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="OPS_MAPPING_FILE"):
        load_mapping(tmp_path / "absent.yaml")


def test_the_settings_select_the_mapping_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from ops.settings import Settings

    doc = load_mapping_doc()
    del doc["tables"]["couples"]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    settings = Settings.from_mapping({"OPS_MAPPING_FILE": str(path)})
    assert settings.mapping_file == path
    assert "couples" not in load_mapping(settings.mapping_file).tables
    with pytest.raises(ConfigError, match="no mapping for table 'couples'"):
        load_mapping(settings.mapping_file).table("couples")
    # Read at the edge only: set in the process, the variable changes nothing below it.
    monkeypatch.setenv("OPS_MAPPING_FILE", str(path))
    assert "couples" in load_mapping().tables
    assert Settings.from_mapping({}).mapping_file is None


def test_jsonb_object_with_an_empty_key_is_a_row_error() -> None:
    with pytest.raises(RowError, match="empty key"):
        ANSWERS.encode(answer(metadata={"ok": {"": 1}}))


def test_item_near_the_limit_with_multibyte_text_is_measured_exactly() -> None:
    body = "가" * 136_000  # 408,000 UTF-8 bytes: the cheap bound says "maybe too big", the exact size fits
    item = ANSWERS.encode(answer(body=body))
    assert 408_000 < ANSWERS.item_size(item) <= 400 * 1024
    with pytest.raises(RowError, match="400 KB"):
        ANSWERS.encode(answer(body=body + "가" * 1000))


def test_bytea_is_binary_and_empty_bytes_are_kept() -> None:
    tm = load_mapping().table("users")
    row = {
        "id": 1,
        "couple_id": None,
        "external_id": "8c3f5e1a-0b7e-4a8e-9a53-1c1f2f1d3e4b",
        "display_name": "민지",
        "email": None,
        "avatar": memoryview(b""),
        "is_active": False,
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2024, 1, 1, tzinfo=UTC),
        "version": 1,
    }
    item = tm.encode(row)
    assert item["avatar"] == {"B": b""}
    assert item["isActive"] == {"BOOL": False}
    assert "coupleId" not in item
    assert tm.decode({**item, "avatar": {"B": b"\x00\xff"}})["avatar"] == b"\x00\xff"


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"body": None, "metadata": None, "photo_urls": None},
        {"couple_id": "7"},  # text where the key wants an int: rendered by the exact path
        {"score": Decimal("1" * 39)},
        {"score": Decimal("NaN")},
        {"mood": True},
        {"metadata": {"": 1}},
        {"version": None},
        {"created_at": datetime(2024, 1, 2, 3, 4, 5)},  # no time zone
    ],
)
def test_tuple_encoder_matches_encode_json_on_good_and_bad_rows(overrides: dict[str, Any]) -> None:
    row = answer(**overrides)
    fast = ANSWERS.tuple_json_encoder(ANSWERS.columns)
    values = tuple(row[c] for c in ANSWERS.columns)
    try:
        expected: Any = ANSWERS.encode_json(row)
    except RowError as exc:
        expected = exc.to_dict()
    try:
        got: Any = fast(values)
    except RowError as exc:
        got = exc.to_dict()
    assert got == expected


def test_tuple_encoder_falls_back_for_keys_it_does_not_render_itself() -> None:
    tm = parse_mapping(TEXT_KEY_DOC).table("t")
    fast = tm.tuple_json_encoder(["id", "name", "v"])
    assert fast((1, "café", 1)) == tm.encode_json({"id": 1, "name": "café", "v": 1})
    with pytest.raises(RowError, match="empty string in a key"):
        fast((1, "", 1))
    with pytest.raises(ConfigError, match="not among"):
        tm.tuple_json_encoder(["id", "v"])
