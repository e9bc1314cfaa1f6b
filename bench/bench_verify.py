"""Verification CPU cost: codec + compare, rows per second on one core, against a naive baseline.

Both contenders get the same rows (as psycopg returns them) and the same items (as DynamoDB
returns them) and must decide "same or different" for each pair, in this process, one thread:

- ours: `ops.verify.compare.compare_row` — the shared codec encodes the row, a wire-identical item
  matches at once, otherwise the canonical forms are compared attribute by attribute;
- baseline: what a script would do — encode the row with the same codec, deserialize both items
  with boto3's TypeDeserializer and compare `json.dumps(..., sort_keys=True, default=str)`.

Two item sets: "identical" (DynamoDB returned exactly what was written) and "normalised" (every
number re-spelled, e.g. 1.5 -> 1.50 and 7 -> 7.0, so only a canonical comparison sees them equal;
the baseline's json.dumps keeps each Decimal's spelling and calls every such item different: its
false differences are counted and shown, not excused).

Target: ours >= 1.5x the baseline's rows/s on identical items and >= 0.75x on normalised ones (there
the baseline is wrong on every item and ours canonicalises every number: correctness, then speed),
with no false differences from ours, and ours >= 30,000 rows/s per core on both (the best of three
passes each, as for the baseline).
Size: BENCH_VERIFY_ROWS (default 20000).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ops.mapping import TableMapping, load_mapping
from ops.verify.compare import compare_row

ROWS = int(os.environ.get("BENCH_VERIFY_ROWS", "20000"))
TARGET_IDENTICAL = 1.5
TARGET_NORMALISED = 0.75
TARGET_ROWS_PER_CORE = 30_000
REPEATS = 3


def _rows(n: int) -> list[dict[str, Any]]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "id": i,
            "couple_id": i % 5000 + 1,
            "question_id": i // 5000 + 1,
            "user_id": 2 * (i % 5000 + 1),
            "body": f"answer {i} " + "x" * 200,
            "mood": i % 5,
            "score": Decimal(i) / 4,
            "photo_urls": [f"https://img.example/{i}/a.jpg", f"https://img.example/{i}/b.jpg"],
            "metadata": {"device": "ios", "n": i, "tags": ["x", "y"], "ratio": Decimal("0.50")},
            "created_at": base + timedelta(seconds=i),
            "updated_at": base + timedelta(seconds=2 * i),
            "version": 1000 + i,
        }
        for i in range(n)
    ]


def _respell(value: Any) -> Any:
    """The same value with every number spelled differently (trailing zeros)."""
    if isinstance(value, dict):
        if set(value) == {"N"}:
            text = value["N"]
            if "e" in text.lower():
                return value
            return {"N": text + ("0" if "." in text else ".0")}
        return {k: _respell(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_respell(v) for v in value]
    return value


def _ours(tm: TableMapping) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    def same(row: dict[str, Any], item: dict[str, Any]) -> bool:
        return compare_row(tm, row, item) is None

    return same


def _baseline(tm: TableMapping) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    deserializer = TypeDeserializer()

    def plain(item: dict[str, Any]) -> str:
        return json.dumps(
            {k: deserializer.deserialize(v) for k, v in item.items()}, sort_keys=True, default=str
        )

    def same(row: dict[str, Any], item: dict[str, Any]) -> bool:
        return plain(tm.encode(row)) == plain(item)

    return same


def _measure(
    compare: Callable[[dict[str, Any], dict[str, Any]], bool],
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> tuple[float, int]:
    """Rows per CPU second, the best of `REPEATS` passes (on a shared machine a pass can lose a
    third of its speed to the neighbours' cache traffic), and how many pairs it called different."""
    best = 0.0
    for _ in range(REPEATS):
        start = time.process_time()
        different = sum(1 for row, item in pairs if not compare(row, item))
        cpu = time.process_time() - start
        best = max(best, len(pairs) / cpu if cpu else float("inf"))
    return best, different


def main() -> bool:
    tm = load_mapping().table("answers")
    rows = _rows(ROWS)
    identical = [(r, json.loads(json.dumps(tm.encode(r)))) for r in rows]
    normalised = [(r, _respell(item)) for r, item in identical]
    ok = True
    print(f"rows: {ROWS:,}; rows/s of CPU time on one core (process_time), single thread")
    for label, pairs, target in (
        ("identical", identical, TARGET_IDENTICAL),
        ("normalised", normalised, TARGET_NORMALISED),
    ):
        ours, ours_diff = _measure(_ours(tm), pairs)
        base, base_diff = _measure(_baseline(tm), pairs)
        ratio = ours / base
        met = ratio >= target and ours_diff == 0 and ours >= TARGET_ROWS_PER_CORE
        ok &= met
        print(
            f"{label:>10}: ours {ours:>9,.0f} rows/s ({ours_diff} reported different) | "
            f"baseline json.dumps {base:>9,.0f} rows/s ({base_diff} reported different) | "
            f"{ratio:.2f}x (target >= {target:g}x and >= {TARGET_ROWS_PER_CORE:,} rows/s per core, "
            f"no false differences) {'OK' if met else 'MISSED'}"
        )
    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
