"""The adversarial rehearsal in `make test`: a few seeds of the whole cutover under faults.

`make chaos` runs many more (`python -m tests.chaos --seeds 50`); a failing seed is printed so it
can be replayed with `python -m tests.chaos --seed N`.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.chaos.harness import dump, run_seed

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SEEDS = [int(s) for s in os.environ.get("CHAOS_SEEDS", "11,12,13").split(",") if s.strip()]


@pytest.mark.parametrize("seed", SEEDS)
def test_nothing_is_lost_overwritten_or_resurrected(stack: Any, seed: int) -> None:
    cluster = {"PROD": stack.prod_url, "V2": stack.v2_url}
    report = run_seed(seed, dict(os.environ), cluster["PROD"], cluster["V2"])
    summary = dump(report)
    assert not report.stalled, summary
    assert report.dynamodb is not None and report.dynamodb.acknowledged > 50, summary
    assert (report.lost, report.overwritten, report.resurrected) == (0, 0, 0), summary
