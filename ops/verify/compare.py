"""Row against item, through the shared codec: what the item should be is `tm.encode(row)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ops.mapping import RowError, TableMapping, codec, is_tombstone
from ops.verify.model import MISMATCHED, MISSING, STALE_TOMBSTONE, UNENCODABLE, wire_jsonable


@dataclass
class Difference:
    kind: str
    key: dict[str, Any]  # PostgreSQL primary key (empty for an extra item)
    item_key: tuple[str, str] | None
    version: int | None = None
    diff: dict[str, list[Any]] = field(default_factory=dict)  # attribute -> [expected, actual] (wire form)
    reason: str = ""

    def sample(self, table: str) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "table": table, "key": wire_jsonable(self.key)}
        if self.item_key:
            out["pk"], out["sk"] = self.item_key
        if self.diff:
            out["diff"] = self.diff
        if self.reason:
            out["reason"] = self.reason
        return out


def compare_row(tm: TableMapping, row: dict[str, Any], item: dict[str, Any] | None) -> Difference | None:
    """None when the item is exactly what the codec makes of the row (canonical comparison)."""
    key = tm.row_key(row)
    version = row.get(tm.version_column)
    try:
        expected = tm.encode(row)
    except RowError as exc:
        return Difference(UNENCODABLE, key, None, version, reason=str(exc))
    ident = (expected["pk"]["S"], expected["sk"]["S"])
    if item is None:
        return Difference(MISSING, key, ident, version)
    if is_tombstone(item):
        return Difference(
            STALE_TOMBSTONE, key, ident, version, reason="item is a tombstone but the row exists"
        )
    if expected == item:
        return None
    names = differing_attributes(expected, item)
    if not names:
        return None
    diff = {name: [wire_jsonable(expected.get(name)), wire_jsonable(item.get(name))] for name in names}
    return Difference(MISMATCHED, key, ident, version, diff)


def differing_attributes(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Attributes whose canonical values differ (as `TableMapping.diff`), canonicalising only the
    attributes whose wire form differs: most of an item matches byte for byte."""
    names = []
    absent = 0
    for name, a in expected.items():
        b = actual.get(name)
        if b is None:
            absent += 1
            names.append(name)
        elif a != b and not same_wire(a, b):
            names.append(name)
    if len(actual) != len(expected) - absent:  # the item has attributes the row does not make
        names.extend(actual.keys() - expected.keys())
    return sorted(names)


def same_wire(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """`codec.same` of the canonical values, walking the wire forms: parts that match byte for
    byte are not canonicalised, and a number is compared as a number without building the rest."""
    if a == b:
        return True
    tag, x = next(iter(a.items()))
    other, y = next(iter(b.items()))
    if tag != other:
        return False
    if tag == "N":
        return _same_number(x, y)
    if tag == "M":
        return x.keys() == y.keys() and all(v == y[k] or same_wire(v, y[k]) for k, v in x.items())
    if tag == "L":
        return len(x) == len(y) and all(v == w or same_wire(v, w) for v, w in zip(x, y, strict=True))
    return codec.same(codec.canonical_value(a), codec.canonical_value(b))


def _same_number(x: str, y: str) -> bool:
    if _trimmed(x) == _trimmed(y):
        return True
    try:
        return Decimal(x) == Decimal(y)
    except ArithmeticError:
        return False


def _trimmed(number: str) -> str:
    """A plain decimal's text without trailing fractional zeros ("1.50" -> "1.5", "7.0" -> "7")."""
    if "." in number and "e" not in number and "E" not in number:
        return number.rstrip("0").rstrip(".")
    return number
