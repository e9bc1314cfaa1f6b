"""Row against item, through the shared codec: what the item should be is `tm.encode(row)`."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    for name in expected.keys() | actual.keys():
        a, b = expected.get(name), actual.get(name)
        if a == b:
            continue
        if a is None or b is None or not codec.same(codec.canonical_value(a), codec.canonical_value(b)):
            names.append(name)
    return sorted(names)
