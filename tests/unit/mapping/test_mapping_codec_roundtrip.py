"""Property-based round-trips: every supported type encodes, decodes back equal and canonicalises stably."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ops.mapping import RowError, codec, parse_mapping
from ops.mapping.model import TableMapping

# Every scalar type the codec supports, and arrays of a sample of them.
TYPES = [*codec.SCALAR_TYPES, "text[]", "bigint[]", "numeric[]", "uuid[]", "bool[]", "date[]"]


def _mapping() -> TableMapping:
    columns = {"id": {"type": "bigint"}, "version": {"type": "bigint"}}
    for t in TYPES:
        columns["c_" + t.replace("[]", "_arr")] = {"type": t}
    doc = {
        "version": 1,
        "tables": {
            "t": {
                "key_columns": ["id"],
                "version_column": "version",
                "pk": "T#{id}",
                "sk": "T",
                "columns": columns,
            }
        },
    }
    return parse_mapping(doc).table("t")


TM = _mapping()

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d == 0 or (len(codec.strip_decimal(d).as_tuple().digits) <= 38 and -130 <= d.adjusted() <= 125)
)
floats = st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda f: f == 0 or 1e-130 <= abs(f) < 9.9e125
)
zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**37), max_value=10**37)
    | decimals
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "smallint": st.integers(min_value=-(2**15), max_value=2**15 - 1),
    "integer": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "bigint": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "numeric": decimals,
    "double": floats,
    "real": floats,
    "text": st.text(),
    "bool": st.booleans(),
    "timestamptz": st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
    ),
    "timestamp": st.datetimes(),
    "date": st.dates(),
    "uuid": st.uuids(),
    "jsonb": json_values,
    "bytea": st.binary(max_size=64),
    "text[]": st.lists(st.none() | st.text(max_size=10), max_size=5),
    "bigint[]": st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=5),
    "numeric[]": st.lists(decimals, max_size=5),
    "json": json_values,
    "uuid[]": st.lists(st.none() | st.uuids(), max_size=4),
    "bool[]": st.lists(st.booleans(), max_size=4),
    "date[]": st.lists(st.dates(), max_size=4),
}


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": draw(st.integers(min_value=1, max_value=2**62)),
        "version": draw(st.integers(1, 2**62)),
    }
    for t in TYPES:
        row["c_" + t.replace("[]", "_arr")] = draw(st.none() | STRATEGIES[t])
    return row


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and a.tzinfo is not None:
        return isinstance(b, datetime) and a == b and b.tzinfo == UTC
    if isinstance(a, float) and a == 0.0:
        return b == 0.0
    if isinstance(a, list):
        return (
            isinstance(b, list) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=150, deadline=None)
@given(rows())
def test_every_type_round_trips_through_the_item(row: dict[str, Any]) -> None:
    item = TM.encode(row)
    back = TM.decode(item)
    for column, value in row.items():
        assert _equal(value, back[column]), (column, value, back[column])


@settings(max_examples=100, deadline=None)
@given(rows())
def test_encode_json_is_the_items_wire_json(row: dict[str, Any]) -> None:
    """What the backfill sends is exactly the item `encode` builds, in DynamoDB's JSON form."""
    item = TM.encode(row)
    text = TM.encode_json(row)
    assert text == codec.wire_json(item)
    assert len(text) >= codec.item_size(item)  # the JSON length bounds DynamoDB's size


@settings(max_examples=200, deadline=None)
@given(rows())
def test_the_tuple_encoder_gives_exactly_what_encode_json_gives(row: dict[str, Any]) -> None:
    columns = list(reversed(TM.columns))  # positions need not follow the mapping's order
    fast = TM.tuple_json_encoder(columns)
    values = tuple(row[c] for c in columns)
    try:
        expected: bytes | str = TM.encode_json(row)
    except RowError as exc:
        expected = exc.reason
    try:
        got: bytes | str = fast(values)
    except RowError as exc:
        got = exc.reason
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(rows())
def test_canonical_form_is_stable_under_re_encoding(row: dict[str, Any]) -> None:
    item = TM.encode(row)
    again = TM.encode(TM.decode(item))
    assert TM.diff(item, again) == {}
    assert TM.canonical_row(row) == TM.canonical(item)


@settings(max_examples=100, deadline=None)
@given(decimals)
def test_numbers_survive_dynamodb_style_normalisation(value: Decimal) -> None:
    text = codec.number_text(value)
    assert Decimal(text) == value
    # DynamoDB hands numbers back in its own spelling; the canonical form must not care.
    spelled = format(Decimal(text), "f") if abs(Decimal(text).adjusted()) < 40 else text
    assert codec.canonical_number(spelled) == codec.canonical_number(text)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_json_text_round_trip_keeps_numbers_exact(value: Any) -> None:
    assert _equal(codec.json_loads(codec.json_dumps(value)), value)


def test_timestamptz_is_utc_fixed_format() -> None:
    local = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=9)))
    assert codec.format_timestamptz(local) == "2024-03-01T00:30:00.000000Z"
    assert TM.decode({"c_timestamptz": {"S": "2024-03-01T00:30:00.000000Z"}})["c_timestamptz"] == local


def test_uuid_and_date_spelling() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    item = TM.encode(
        {
            "id": 1,
            "version": 1,
            **dict.fromkeys((c for c in TM.columns if c.startswith("c_")), None),
            "c_uuid": u,
            "c_date": date(2024, 2, 29),
        }
    )
    assert item["c_uuid"] == {"S": "12345678-1234-5678-1234-567812345678"}
    assert item["c_date"] == {"S": "2024-02-29"}
