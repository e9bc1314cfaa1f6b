"""Value codec: psycopg row values <-> DynamoDB attribute values, canonical form, item size.

The encoding of every supported PostgreSQL type is documented in `ops/mapping/README.md`; this
module is its implementation. Encoders raise `ValueProblem(reason)`; `TableMapping` adds the
table, key and column to make it a `RowError`.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from ops.mapping.errors import ValueProblem

Wire = dict[str, Any]
Encoder = Callable[[Any], Wire]
Decoder = Callable[[Wire], Any]


class Unloadable:
    """A value PostgreSQL holds and Python cannot (a timestamp or date of `infinity`, a year past
    9999). Connections set up by `configure_connection` load it as this marker instead of raising,
    so the row becomes one RowError in the failure log instead of stopping the whole read."""

    __slots__ = ("text", "type_name")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"Unloadable({self.type_name} {self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unloadable) and (self.type_name, self.text) == (other.type_name, other.text)

    def __hash__(self) -> int:
        return hash((self.type_name, self.text))

    def problem(self) -> ValueProblem:
        return ValueProblem(
            f"{self.type_name} value {self.text!r} has no Python or DynamoDB form (PostgreSQL allows "
            "+-infinity and years past 9999); change it in PostgreSQL to a real date"
        )


class JsonNull:
    """A jsonb/json column holding the JSON document `null` — not SQL NULL.

    psycopg loads both as None, which would drop the attribute; mapped connections load the JSON
    `null` as `JSON_NULL` so it is written as `{"NULL": true}`, as the mapping says, and a decoded
    item gives it back (writes of `JSON_NULL` store `'null'::jsonb`).
    """

    _instance: JsonNull | None = None

    def __new__(cls) -> JsonNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "JSON_NULL"


JSON_NULL = JsonNull()

MAX_SIGNIFICANT_DIGITS = 38
# DynamoDB numbers: magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125.
MIN_ADJUSTED_EXPONENT = -130
MAX_ADJUSTED_EXPONENT = 125
MAX_NESTING_DEPTH = 32
MAX_ITEM_BYTES = 400 * 1024
MAX_PK_BYTES = 2048
MAX_SK_BYTES = 1024

INT_FAST_LIMIT = 10**MAX_SIGNIFICANT_DIGITS  # integers strictly inside +-this need no normalisation
_ZERO = Decimal(0)
_TIMESTAMP_SUFFIX = "Z"

SCALAR_TYPES = (
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double",
    "text",
    "bool",
    "timestamptz",
    "timestamp",
    "date",
    "uuid",
    "jsonb",
    "json",
    "bytea",
)
# Accepted spellings -> the canonical type name used everywhere else.
TYPE_ALIASES = {
    "int2": "smallint",
    "int4": "integer",
    "int": "integer",
    "int8": "bigint",
    "decimal": "numeric",
    "float4": "real",
    "float8": "double",
    "double precision": "double",
    "varchar": "text",
    "character varying": "text",
    "boolean": "bool",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
}
# PostgreSQL spelling of each type, for casts in generated SQL.
SQL_TYPES = {
    "smallint": "smallint",
    "integer": "integer",
    "bigint": "bigint",
    "numeric": "numeric",
    "real": "real",
    "double": "double precision",
    "text": "text",
    "bool": "boolean",
    "timestamptz": "timestamptz",
    "timestamp": "timestamp",
    "date": "date",
    "uuid": "uuid",
    "jsonb": "jsonb",
    "json": "json",
    "bytea": "bytea",
}


def normalize_type(name: str) -> str | None:
    """Canonical type name (`text[]` for arrays), or None when the type is not supported."""
    text = " ".join(str(name).strip().lower().split())
    is_array = text.endswith("[]")
    base = text[:-2].strip() if is_array else text
    base = TYPE_ALIASES.get(base, base)
    if base not in SCALAR_TYPES:
        return None
    return base + "[]" if is_array else base


def sql_type(name: str) -> str:
    if name.endswith("[]"):
        return SQL_TYPES[name[:-2]] + "[]"
    return SQL_TYPES[name]


# ---------------------------------------------------------------- numbers


def strip_decimal(value: Decimal) -> Decimal:
    """The same number without trailing zeros (no context rounding, unlike Decimal.normalize)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueProblem(f"{value} is not a finite number; DynamoDB numbers cannot hold NaN or Infinity")
    if not any(digits):
        return Decimal(0)
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    return Decimal((sign, digits[:end], exponent + (len(digits) - end)))


def _check_decimal(value: Decimal) -> Decimal:
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueProblem(f"{value} is not a finite number; DynamoDB numbers cannot hold NaN or Infinity")
    if not any(digits):
        return _ZERO
    # Fast path: few enough digits and a safe magnitude need no normalisation.
    if (
        len(digits) <= MAX_SIGNIFICANT_DIGITS
        and MIN_ADJUSTED_EXPONENT <= exponent + len(digits) - 1 <= MAX_ADJUSTED_EXPONENT
    ):
        return value
    stripped = strip_decimal(value)
    if stripped == 0:
        return stripped
    significant = len(stripped.as_tuple().digits)
    if significant > MAX_SIGNIFICANT_DIGITS:
        raise ValueProblem(
            f"number {value} has {significant} significant digits; DynamoDB keeps at most "
            f"{MAX_SIGNIFICANT_DIGITS}"
        )
    adjusted = stripped.adjusted()
    if not MIN_ADJUSTED_EXPONENT <= adjusted <= MAX_ADJUSTED_EXPONENT:
        raise ValueProblem(f"number {value} is outside DynamoDB's range (1E-130 .. 9.99E+125)")
    return stripped


def number_text(value: int | Decimal | float) -> str:
    """DynamoDB `N` string for an exact number, or ValueProblem if DynamoDB cannot hold it."""
    if isinstance(value, bool):
        raise ValueProblem("a boolean is not a number")
    if isinstance(value, int):
        if -INT_FAST_LIMIT < value < INT_FAST_LIMIT:
            return str(value)
        return str(_check_decimal(Decimal(value)))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueProblem(
                f"float {value} cannot be stored: DynamoDB numbers have no NaN/Infinity "
                "(policy: reject the row; store such values as NULL or text in PostgreSQL)"
            )
        # repr() is the shortest string that reads back as the same double.
        text = repr(value)
        if "e" not in text and (value == 0 or 1e-130 <= abs(value) < 1e125):
            return text
        return str(_check_decimal(Decimal(text)))
    if isinstance(value, Decimal):
        return str(_check_decimal(value))
    raise ValueProblem(f"expected a number, got {type(value).__name__}")


def canonical_number(text: str) -> Decimal:
    # Most numbers ("42", "4.25") are already in stripped form; skip the tuple round trip for them.
    if not text.endswith("0") and "E" not in text and "e" not in text:
        return Decimal(text)
    return strip_decimal(Decimal(text))


# ---------------------------------------------------------------- scalar encoders


def _enc_int(value: Any) -> Wire:
    if type(value) is int and -INT_FAST_LIMIT < value < INT_FAST_LIMIT:
        return {"N": str(value)}
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueProblem(f"expected an integer, got {type(value).__name__}")
    return {"N": number_text(value)}


def _enc_numeric(value: Any) -> Wire:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueProblem(f"expected a Decimal, got {type(value).__name__}")
    return {"N": number_text(value)}


def _enc_float(value: Any) -> Wire:
    if isinstance(value, bool) or not isinstance(value, float | int | Decimal):
        raise ValueProblem(f"expected a float, got {type(value).__name__}")
    if isinstance(value, float) and value == 0.0:
        # DynamoDB has no negative zero; -0.0 and 0.0 are the same number there.
        return {"N": "0"}
    return {"N": number_text(value)}


def _enc_text(value: Any) -> Wire:
    if type(value) is str:
        return {"S": value}
    if not isinstance(value, str):
        raise ValueProblem(f"expected text, got {type(value).__name__}")
    return {"S": value}


def _enc_bool(value: Any) -> Wire:
    if not isinstance(value, bool):
        raise ValueProblem(f"expected a boolean, got {type(value).__name__}")
    return {"BOOL": value}


def format_timestamptz(value: datetime) -> str:
    # isoformat's arguments are passed positionally: keyword parsing doubles the call's cost.
    if value.tzinfo is UTC:
        # What a session in time zone "UTC" returns: the naive form formats a third faster.
        return value.replace(tzinfo=None).isoformat("T", "microseconds") + _TIMESTAMP_SUFFIX
    offset = value.utcoffset()
    if offset is not None and not offset:
        # Already at UTC offset 0 (what a UTC session returns): converting would not change it,
        # and isoformat() ends in "+00:00", which becomes the suffix.
        return value.isoformat("T", "microseconds")[:-6] + _TIMESTAMP_SUFFIX
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueProblem(f"timestamptz value {value.isoformat()} has no time zone")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + _TIMESTAMP_SUFFIX


def _enc_timestamptz(value: Any) -> Wire:
    if type(value) is Unloadable:
        raise value.problem()
    if not isinstance(value, datetime):
        raise ValueProblem(f"expected a datetime, got {type(value).__name__}")
    return {"S": format_timestamptz(value)}


def _enc_timestamp(value: Any) -> Wire:
    if type(value) is Unloadable:
        raise value.problem()
    if not isinstance(value, datetime):
        raise ValueProblem(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise ValueProblem(f"timestamp (without time zone) value {value.isoformat()} carries a time zone")
    return {"S": value.isoformat("T", "microseconds")}


def _enc_date(value: Any) -> Wire:
    if type(value) is Unloadable:
        raise value.problem()
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueProblem(f"expected a date, got {type(value).__name__}")
    return {"S": value.isoformat()}


def _enc_uuid(value: Any) -> Wire:
    if isinstance(value, uuid.UUID):
        return {"S": str(value)}
    if isinstance(value, str):
        try:
            return {"S": str(uuid.UUID(value))}
        except ValueError as exc:
            raise ValueProblem(f"{value!r} is not a UUID") from exc
    raise ValueProblem(f"expected a UUID, got {type(value).__name__}")


def _enc_bytea(value: Any) -> Wire:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"B": bytes(value)}
    raise ValueProblem(f"expected bytes, got {type(value).__name__}")


def encode_json(value: Any, depth: int = 1) -> Wire:  # noqa: PLR0911, PLR0912 - one branch per JSON type
    """A jsonb/json document (as loaded with Decimal floats) to nested M/L/S/N/BOOL/NULL."""
    if depth > MAX_NESTING_DEPTH:
        raise ValueProblem(f"JSON nesting deeper than DynamoDB's {MAX_NESTING_DEPTH} levels")
    # Exact-type fast paths for the common leaves; everything else takes the checks below.
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int and -INT_FAST_LIMIT < value < INT_FAST_LIMIT:
        return {"N": str(value)}
    if kind is dict:
        if "" in value:
            raise ValueProblem("JSON object with an empty key; DynamoDB map keys cannot be empty")
        return {"M": {str(k): encode_json(v, depth + 1) for k, v in value.items()}}
    if kind is list:
        return {"L": [encode_json(v, depth + 1) for v in value]}
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal | float):
        return {"N": number_text(value)}
    if isinstance(value, dict):
        if "" in value:
            raise ValueProblem("JSON object with an empty key; DynamoDB map keys cannot be empty")
        return {"M": {str(k): encode_json(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [encode_json(v, depth + 1) for v in value]}
    raise ValueProblem(f"unsupported JSON value of type {type(value).__name__}")


def _enc_json(value: Any) -> Wire:
    if value is JSON_NULL:
        return {"NULL": True}
    return encode_json(value)


_SCALAR_ENCODERS: dict[str, Encoder] = {
    "smallint": _enc_int,
    "integer": _enc_int,
    "bigint": _enc_int,
    "numeric": _enc_numeric,
    "real": _enc_float,
    "double": _enc_float,
    "text": _enc_text,
    "bool": _enc_bool,
    "timestamptz": _enc_timestamptz,
    "timestamp": _enc_timestamp,
    "date": _enc_date,
    "uuid": _enc_uuid,
    "jsonb": _enc_json,
    "json": _enc_json,
    "bytea": _enc_bytea,
}


def _array_encoder(element: Encoder) -> Encoder:
    def encode_array(value: Any, depth: int = 1) -> Wire:
        if not isinstance(value, list | tuple):
            raise ValueProblem(f"expected an array (list), got {type(value).__name__}")
        if depth > MAX_NESTING_DEPTH:
            raise ValueProblem(f"array nesting deeper than DynamoDB's {MAX_NESTING_DEPTH} levels")
        out: list[Wire] = []
        for v in value:
            if type(v) is str and element is _enc_text:
                out.append({"S": v})
            elif v is None:
                out.append({"NULL": True})
            elif isinstance(v, list):
                out.append(encode_array(v, depth + 1))
            else:
                out.append(element(v))
        return {"L": out}

    return encode_array


def encoder_for(type_name: str) -> Encoder:
    if type_name.endswith("[]"):
        return _array_encoder(_SCALAR_ENCODERS[type_name[:-2]])
    return _SCALAR_ENCODERS[type_name]


# ---------------------------------------------------------------- decoders (item -> row values)


def _expect(wire: Wire, tag: str) -> Any:
    if tag not in wire:
        raise ValueProblem(f"expected a DynamoDB {tag} value, found {sorted(wire)}")
    return wire[tag]


def decode_json(wire: Wire) -> Any:
    (tag, raw), *_ = wire.items()
    if tag == "NULL":
        return None
    if tag in ("S", "BOOL"):
        return raw
    if tag == "N":
        # Integral numbers come back as int (DynamoDB strips "1.0" to "1" anyway).
        number = strip_decimal(Decimal(raw))
        return int(number) if number == number.to_integral_value() else number
    if tag == "M":
        return {k: decode_json(v) for k, v in raw.items()}
    if tag == "L":
        return [decode_json(v) for v in raw]
    raise ValueProblem(f"unexpected DynamoDB type {tag} inside a JSON document")


def _dec_timestamptz(wire: Wire) -> datetime:
    text = _expect(wire, "S")
    return datetime.fromisoformat(text.removesuffix(_TIMESTAMP_SUFFIX)).replace(tzinfo=UTC)


def jsonb_loads(text: str | bytes) -> Any:
    """`json_loads` for a whole jsonb/json column value: the document `null` becomes JSON_NULL."""
    value = json_loads(text)
    return JSON_NULL if value is None else value


def decode_json_column(wire: Wire) -> Any:
    """A jsonb/json attribute back to the column value; `{"NULL": true}` is the document `null`."""
    return JSON_NULL if "NULL" in wire else decode_json(wire)


_SCALAR_DECODERS: dict[str, Decoder] = {
    "smallint": lambda w: int(_expect(w, "N")),
    "integer": lambda w: int(_expect(w, "N")),
    "bigint": lambda w: int(_expect(w, "N")),
    "numeric": lambda w: Decimal(_expect(w, "N")),
    "real": lambda w: float(_expect(w, "N")),
    "double": lambda w: float(_expect(w, "N")),
    "text": lambda w: _expect(w, "S"),
    "bool": lambda w: _expect(w, "BOOL"),
    "timestamptz": _dec_timestamptz,
    "timestamp": lambda w: datetime.fromisoformat(_expect(w, "S")),
    "date": lambda w: date.fromisoformat(_expect(w, "S")),
    "uuid": lambda w: uuid.UUID(_expect(w, "S")),
    "jsonb": decode_json_column,
    "json": decode_json_column,
    "bytea": lambda w: bytes(_expect(w, "B")),
}


def decoder_for(type_name: str) -> Decoder:
    if type_name.endswith("[]"):
        element = _SCALAR_DECODERS[type_name[:-2]]

        def decode_array(wire: Wire) -> list[Any]:
            return [
                None if "NULL" in v else decode_array(v) if "L" in v else element(v)
                for v in _expect(wire, "L")
            ]

        return decode_array
    return _SCALAR_DECODERS[type_name]


# ---------------------------------------------------------------- canonical form and size


def canonical_value(wire: Wire) -> Any:  # noqa: PLR0911 - one branch per DynamoDB type
    """Comparison form of one attribute value: N -> stripped Decimal, sets -> frozenset, ..."""
    (tag, raw), *_ = wire.items()
    if tag == "S":
        return raw
    if tag == "N":
        return canonical_number(raw)
    if tag == "BOOL":
        return bool(raw)
    if tag == "NULL":
        return None
    if tag == "B":
        return bytes(raw)
    if tag == "M":
        return {k: canonical_value(v) for k, v in raw.items()}
    if tag == "L":
        return [canonical_value(v) for v in raw]
    if tag == "SS":
        return frozenset(raw)
    if tag == "NS":
        return frozenset(canonical_number(x) for x in raw)
    if tag == "BS":
        return frozenset(bytes(x) for x in raw)
    raise ValueProblem(f"unknown DynamoDB attribute type {tag}")


def canonical_item(item: dict[str, Wire]) -> dict[str, Any]:
    return {name: canonical_value(value) for name, value in item.items()}


def same(a: Any, b: Any) -> bool:
    """Strict equality of canonical values: also the types must agree (True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _number_size(text: str) -> int:
    plain = text.lstrip("-+")
    if plain.isdigit() or (plain.count(".") == 1 and plain.replace(".", "").isdigit()):
        significant = len(plain.replace(".", "").strip("0"))
    else:
        digits = strip_decimal(Decimal(text)).as_tuple().digits
        significant = 0 if not any(digits) else len(digits)
    return (significant + 1) // 2 + 1


def value_size(wire: Wire) -> int:  # noqa: PLR0911 - one branch per DynamoDB type
    """Bytes of one attribute value as DynamoDB counts them (docs: "Item sizes and formats")."""
    for tag, raw in wire.items():
        if tag == "S":
            return len(raw) if raw.isascii() else len(raw.encode("utf-8"))
        if tag == "N":
            return _number_size(raw)
        if tag == "M":
            total = 3
            for k, v in raw.items():
                total += (len(k) if k.isascii() else len(k.encode("utf-8"))) + value_size(v) + 1
            return total
        if tag == "L":
            total = 3
            for v in raw:
                total += value_size(v) + 1
            return total
        if tag in ("BOOL", "NULL"):
            return 1
        if tag == "B":
            return len(raw)
        if tag == "SS":
            return sum(len(x.encode("utf-8")) for x in raw)
        if tag == "NS":
            return sum(_number_size(x) for x in raw)
        if tag == "BS":
            return sum(len(x) for x in raw)
        raise ValueProblem(f"unknown DynamoDB attribute type {tag}")
    raise ValueProblem("empty attribute value")


def _size_bound(wire: Wire) -> int:
    """A cheap upper bound of value_size: numbers at most 21 bytes, 4 UTF-8 bytes per character."""
    for tag, raw in wire.items():
        if tag == "S":
            return len(raw) if raw.isascii() else 4 * len(raw)
        if tag == "N":
            return 21
        if tag == "M":
            total = 3
            for k, v in raw.items():
                total += 4 * len(k) + _size_bound(v) + 1
            return total
        if tag == "L":
            total = 3
            for v in raw:
                total += _size_bound(v) + 1
            return total
        return value_size(wire)
    return 0


def fits_item_limit(item: dict[str, Wire]) -> tuple[bool, int]:
    """(fits in 400 KB, size or upper bound): the exact size is computed only when the bound is close."""
    bound = 0
    for name, value in item.items():
        bound += 4 * len(name) + _size_bound(value)
    if bound <= MAX_ITEM_BYTES:
        return True, bound
    size = item_size(item)
    return size <= MAX_ITEM_BYTES, size


def item_size(item: dict[str, Wire]) -> int:
    total = 0
    for name, value in item.items():
        total += (len(name) if name.isascii() else len(name.encode("utf-8"))) + value_size(value)
    return total


def _base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a DynamoDB wire value")


def wire_json(item: dict[str, Wire]) -> bytes:
    """An item in DynamoDB's JSON protocol form: B and BS values base64-encoded, the rest as is.

    Its length is an upper bound of the item's DynamoDB size (UTF-8 text plus quotes, numbers'
    digits plus punctuation, binary as 4/3 of its bytes)."""
    return orjson.dumps(item, default=_base64)


# ---------------------------------------------------------------- JSON text with exact numbers


_DECODER = json.JSONDecoder(parse_float=Decimal)


def json_loads(text: str | bytes) -> Any:
    """jsonb text -> Python with floats as Decimal (the loader every mapped connection uses)."""
    # json.loads(text, parse_float=Decimal) builds a new decoder per call; reuse one instead.
    # Bytes (what psycopg passes) are decoded exactly as json.loads decodes them.
    if isinstance(text, str):
        if not text.startswith("\ufeff"):
            return _DECODER.decode(text)
    elif isinstance(text, bytes | bytearray):
        # A printable ASCII first byte and a non-zero second byte is UTF-8 to detect_encoding too.
        if len(text) >= 2 and 0x20 <= text[0] < 0x7F and text[1]:
            return _DECODER.decode(text.decode("utf-8", "surrogatepass"))
        return _DECODER.decode(text.decode(json.detect_encoding(text), "surrogatepass"))
    # The error cases (a BOM, a wrong type) raise exactly what json.loads raises.
    return json.loads(text, parse_float=Decimal)


def json_dumps(value: Any) -> str:
    """Python JSON value -> text, writing Decimal as an exact JSON number (json.dumps cannot)."""
    parts: list[str] = []
    _dump(value, parts)
    return "".join(parts)


def _dump(value: Any, out: list[str]) -> None:  # noqa: PLR0912 - one branch per JSON type
    if value is None or value is JSON_NULL:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal | float):
        if not math.isfinite(value):
            raise ValueProblem(f"{value} is not a valid JSON number")
        out.append(str(value) if isinstance(value, Decimal) else repr(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _dump(v, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _dump(v, out)
        out.append("]")
    else:
        raise ValueProblem(f"unsupported JSON value of type {type(value).__name__}")
