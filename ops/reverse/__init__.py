"""Reverse replication: DynamoDB Streams -> the mapping, decoded -> PostgreSQL, version-guarded.

From the moment PostgreSQL stops being written (`ops migrate stop-pg-writes`) until cleanup, every
change made in DynamoDB is applied to PostgreSQL, so going back to PostgreSQL stays one command
(`ops migrate rollback`). `ReverseApplier` is the writer (shared by the local poller and the AWS
Lambda), `StreamPoller` reads the stream locally, `control` starts/stops/gates it.
"""

from ops.reverse.apply import ApplyResult, Change, ReverseApplier
from ops.reverse.state import ReverseState, ReverseStatus

__all__ = ["ApplyResult", "Change", "ReverseApplier", "ReverseState", "ReverseStatus"]
