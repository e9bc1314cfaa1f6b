"""Codec speed: `TableMapping.encode` (validated, exact, with item size) vs boto3's TypeSerializer.

The baseline serialises the same rows with boto3's own serializer after the conversions it needs
(no key templates, no 38-digit/NaN/size checks, no timestamp normalisation), measured in the same
run. Rates are rows per CPU-second of this process (the machine is shared, wall time is not
representative). Target: encode at least as fast as the baseline although it does more work;
the absolute rate and the item bytes it implies per core are printed for the backfill's budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from ops.mapping import load_mapping

ROWS = 10_000
ROUNDS = 3


def _rows() -> list[dict[str, Any]]:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    bodies = ["오늘 하루도 고마웠어 ❤️", "", "We should plan the trip to Jeju 🏝️", "긴 이야기 " * 200]
    metas: list[Any] = [
        None,
        {},
        {"device": "ios", "app": "5.12.0", "w": Decimal("0.1")},
        {"tags": ["날씨", "산책"], "rating": Decimal("4.25"), "nested": {"a": [1, 2, {"b": None}]}},
    ]
    return [
        {
            "id": i,
            "couple_id": i // 150 + 1,
            "question_id": i % 300 + 1,
            "user_id": 2 * (i // 150) + 1 + (i & 1),
            "body": bodies[i % len(bodies)] if i % 97 else bodies[3],
            "mood": None if i % 7 == 0 else i % 5 + 1,
            "score": None if i % 3 == 0 else Decimal("4.5"),
            "photo_urls": [] if i % 3 else ["https://cdn.example.com/p/1.jpg"],
            "metadata": metas[i % len(metas)],
            "created_at": base + timedelta(seconds=i),
            "updated_at": base + timedelta(seconds=2 * i),
            "version": i + 1,
        }
        for i in range(ROWS)
    ]


def _baseline(rows: list[dict[str, Any]]) -> float:
    serializer = TypeSerializer()
    started = time.process_time()
    for row in rows:
        plain = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items() if v is not None}
        plain["pk"] = f"COUPLE#{row['couple_id']}"
        plain["sk"] = f"ANSWER#{row['question_id']}#{row['user_id']}"
        {k: serializer.serialize(v) for k, v in plain.items()}
    return len(rows) / (time.process_time() - started)


def _rate(fn: Callable[[dict[str, Any]], Any], rows: list[dict[str, Any]]) -> float:
    started = time.process_time()
    for row in rows:
        fn(row)
    return len(rows) / (time.process_time() - started)


def main() -> bool:
    tm = load_mapping().table("answers")
    rows = _rows()
    encode_rates, canonical_rates, base_rates = [], [], []
    # Interleaved rounds, best of each: the machine is shared and its load moves during a run.
    for _ in range(ROUNDS):
        encode_rates.append(_rate(tm.encode, rows))
        canonical_rates.append(_rate(tm.canonical_row, rows))
        base_rates.append(_baseline(rows))
    encode_rate, canonical_rate, base_rate = max(encode_rates), max(canonical_rates), max(base_rates)
    mean_item = sum(tm.item_size(tm.encode(r)) for r in rows[::100]) / len(rows[::100])
    print(
        f"encode (validated, sized): {encode_rate:>10,.0f} rows/s "
        f"(~{encode_rate * mean_item * 8 / 1e6:,.0f} Mbps of {mean_item:,.0f}-byte items per core)"
    )
    print(f"canonical_row:             {canonical_rate:>10,.0f} rows/s")
    print(
        f"baseline boto3 serializer: {base_rate:>10,.0f} rows/s  (best of {ROUNDS} interleaved rounds each)"
    )
    print(f"encode / baseline: {encode_rate / base_rate:.2f}x; target >= 1.0x")
    return encode_rate >= base_rate
