"""The dual-write layer the application embeds, its outbox repair worker and their metrics."""

from ops.dualwrite.conditional import conditional_put
from ops.dualwrite.drainer import OutboxDrainer
from ops.dualwrite.metrics import Metrics
from ops.dualwrite.repair import (
    RepairResult,
    drain_outbox,
    outbox_backlog,
    outbox_remaining,
    pending_outbox,
)
from ops.dualwrite.repository import NotFound, Repository, make_pool

__all__ = [
    "Metrics",
    "NotFound",
    "OutboxDrainer",
    "RepairResult",
    "Repository",
    "conditional_put",
    "drain_outbox",
    "make_pool",
    "outbox_backlog",
    "outbox_remaining",
    "pending_outbox",
]
