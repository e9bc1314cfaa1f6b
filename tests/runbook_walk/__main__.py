"""`make runbooks`: walk every runbook as written on a local stack of its own, and report.

python -m tests.runbook_walk            # the whole walk, with each phase's rollback drill
python -m tests.runbook_walk --short    # what `make test` walks: Steps only, less data
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from tests.runbook_walk.walk import Outcome, Walker, WalkReport

SHORT_ROWS = "5000"


def render(report: WalkReport, console: Console) -> None:
    table = Table(title=f"runbook walk: {len(report.outcomes)} steps in {report.seconds / 60:.1f} min")
    for column in ("ran as written", "failed", "skipped (not on the local stack)"):
        table.add_column(column, justify="right")
    table.add_row(str(report.count("ok")), str(report.count("failed")), str(report.count("skipped")))
    console.print(table)
    for outcome in report.outcomes:
        if outcome.status == "skipped":
            console.print(f"skipped {outcome.step}: {outcome.detail}")
    for outcome in report.outcomes:
        if outcome.status == "failed":
            console.print(f"[red]FAILED[/] {outcome.step}: {outcome.detail}\n{outcome.output[-4000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.runbook_walk")
    parser.add_argument("--short", action="store_true", help="Steps only, less data (as in make test)")
    args = parser.parse_args()
    console = Console()

    def show(outcome: Outcome) -> None:
        mark = {"ok": "[green]ok[/]", "failed": "[red]FAILED[/]", "skipped": "[yellow]skipped[/]"}
        console.print(f"{mark[outcome.status]:>20} {outcome.seconds:6.1f} s  {outcome.step}")

    walker = Walker(
        full=not args.short, overrides={"rows": SHORT_ROWS} if args.short else None, on_outcome=show
    )
    report = walker.run()
    render(report, console)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
