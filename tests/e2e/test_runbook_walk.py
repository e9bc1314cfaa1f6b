"""Every runbook, run as written on a local stack of its own under live traffic (the short walk:
Steps only, less data; `make runbooks` walks everything, with each phase's rollback drill)."""

from __future__ import annotations

import pytest

from tests.runbook_walk.__main__ import SHORT_ROWS
from tests.runbook_walk.walk import Walker

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_every_runbook_runs_as_written() -> None:
    report = Walker(full=False, overrides={"rows": SHORT_ROWS}).run()
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert not failed, "\n\n".join(f"{o.step}: {o.detail}\n{o.output[-3000:]}" for o in failed)
    assert report.count("ok") > 30
    skipped = {o.step: o.detail for o in report.outcomes if o.status == "skipped"}
    assert all(reason for reason in skipped.values())
