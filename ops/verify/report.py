"""A verification result for an operator (Rich tables) or a program (`--json`)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from ops.verify.model import VerifyResult


def render_result(result: VerifyResult, console: Console, as_json: bool = False) -> None:
    if as_json:
        console.print_json(json.dumps(result.to_dict(), default=str))
        return
    verdict = "[green]clean[/]" if result.clean else f"[red]{result.differences} difference(s)[/]"
    scope = "every row" if result.sample_percent is None else f"{result.sample_percent:g}% sample"
    summary = Table(title=f"verify {result.table} ({scope}, run {result.run_id}): {verdict}")
    for column in ("compared", "matching", "mismatched", "missing", "extra", "unencodable", "transient"):
        summary.add_column(column, justify="right")
    summary.add_row(
        f"{result.rows_compared:,}",
        f"{result.matching:,}",
        f"{result.mismatched:,}",
        f"{result.missing:,}"
        + (f" ({result.stale_tombstones} stale tombstones)" if result.stale_tombstones else ""),
        f"{result.extra:,}",
        f"{result.errors:,}",
        f"{result.transient:,}",
    )
    console.print(summary)
    if result.samples:
        samples = Table(title="sample differences")
        for column in ("kind", "key", "item", "field differences (expected -> actual)"):
            samples.add_column(column)
        for s in result.samples:
            diff = "; ".join(
                f"{name}: {pair[0]} -> {pair[1]}" for name, pair in (s.get("diff") or {}).items()
            )
            samples.add_row(
                s["kind"],
                json.dumps(s.get("key") or {}),
                f"{s.get('pk', '')} / {s.get('sk', '')}",
                diff or s.get("reason", ""),
            )
        console.print(samples)
    if result.repair:
        title = "repair plan (dry run: nothing changed)" if result.dry_run else "repairs"
        actions = Table(title=f"{title}: {result.repaired} written, {result.repair_skipped} skipped")
        for column in ("action", "kind", "item", "result"):
            actions.add_column(column)
        for a in result.repair_actions:
            actions.add_row(
                a["action"], a["kind"], f"{a.get('pk', '')} / {a.get('sk', '')}", a.get("result", "")
            )
        console.print(actions)
        if not result.dry_run and result.repaired:
            console.print("Repaired: run `ops verify run` again to confirm the table is clean.")
