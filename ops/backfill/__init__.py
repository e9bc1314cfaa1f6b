"""The backfill: a parallel, resumable, throttled PostgreSQL -> DynamoDB copy (procedure step 3).

One module per component: `planner` (segments), `iterator` (keyset pages), `writer` (conditional
PutItem with retries) over `dynamo_http` (the lean signed HTTP path), `checkpoint` (per-segment
state and leases in the control table), `failures` (the failure log), `throttle` (adaptive rate),
`controls` (live pause/resume/rate), `progress` (Rich), `metrics` (CloudWatch), `engine` (wires
them), `status` (summary and gate for other phases), `retry` (re-drive the failure log).
"""

from ops.backfill.engine import plan_backfill, run_backfill
from ops.backfill.options import BackfillOptions
from ops.backfill.results import BackfillResult
from ops.backfill.status import BackfillSummary, backfill_gate, backfill_summary

__all__ = [
    "BackfillOptions",
    "BackfillResult",
    "BackfillSummary",
    "backfill_gate",
    "backfill_summary",
    "plan_backfill",
    "run_backfill",
]
