"""The dual-write layer the application embeds, its outbox repair worker and their metrics."""

from ops.dualwrite.metrics import Metrics
from ops.dualwrite.repair import RepairResult, drain_outbox, pending_outbox
from ops.dualwrite.repository import NotFound, Repository, conditional_put, make_pool

__all__ = [
    "Metrics",
    "NotFound",
    "RepairResult",
    "Repository",
    "conditional_put",
    "drain_outbox",
    "make_pool",
    "pending_outbox",
]
