"""`make chaos`: many seeds of the adversarial rehearsal on a local stack of its own.

python -m tests.chaos --seeds 50          # seeds 1..50
python -m tests.chaos --seed 17           # replay one seed
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ops import aws
from ops.sandbox import Sandbox
from tests.chaos.harness import SeedReport, run_seed


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--seeds", type=int, default=50, help="run seeds 1..N")
    parser.add_argument("--seed", type=int, action="append", help="run only this seed (repeatable)")
    args = parser.parse_args()
    seeds = args.seed or list(range(1, args.seeds + 1))
    console = Console()
    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    # The application's own logs (outages, retries, shadow samples) go to a file, not the table.
    logging.basicConfig(filename=root / "chaos.log", level=logging.INFO)
    console.print(f"logs: {root / 'chaos.log'}")
    sandbox = Sandbox(root, ports={"prod": 0, "v2": 0, "moto": 0, "dynamodb": 0})
    # A stopped run (Ctrl-C, SIGTERM) still tears its stack down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = sandbox.up()
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(info.env())
    aws.reset()
    reports: list[SeedReport] = []
    try:
        for seed in seeds:
            report = run_seed(seed, dict(os.environ), info.prod_url, info.v2_url)
            reports.append(report)
            verdict = "[green]ok[/]" if report.ok else f"[red]FAILED[/] {report.stalled}"
            console.print(
                f"seed {seed:>3}: {verdict}  {report.seconds:5.1f} s  ops {report.ops}  "
                f"lost {report.lost} overwritten {report.overwritten} resurrected {report.resurrected}  "
                f"faults: {'; '.join(report.faults)}"
            )
    finally:
        sandbox.down(purge=True)
    table = Table(title=f"chaos: {len(reports)} seeds")
    for column in (
        "seeds ok",
        "acknowledged writes",
        "lost",
        "overwritten by older",
        "resurrected",
        "stalled",
    ):
        table.add_column(column)
    table.add_row(
        f"{sum(r.ok for r in reports)}/{len(reports)}",
        f"{sum(r.ops.get('ok', 0) for r in reports):,}",
        str(sum(r.lost for r in reports)),
        str(sum(r.overwritten for r in reports)),
        str(sum(r.resurrected for r in reports)),
        str(sum(bool(r.stalled) for r in reports)),
    )
    console.print(table)
    failed = [r.seed for r in reports if not r.ok]
    if failed:
        console.print(f"[red]failed seeds: {failed}[/]; replay one with `python -m tests.chaos --seed N`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
