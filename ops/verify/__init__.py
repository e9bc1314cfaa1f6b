"""VDiff-style verification of DynamoDB against PostgreSQL, through the shared mapping codec.

`run_verify(VerifyOptions(...), settings=...)` compares every row (or a sample) of a mapped table
with its item, scans DynamoDB for items without a row, re-checks differences after a delay,
optionally repairs them from PostgreSQL, and stores the result as gate evidence (`VERIFY#<dataset>`
in the control table) that `verify_gate` reads.
"""

from ops.verify.engine import Verifier, run_verify
from ops.verify.gate import GATE_NAME, latest_verify, verify_gate
from ops.verify.model import (
    EXTRA,
    MISMATCHED,
    MISSING,
    STALE_TOMBSTONE,
    UNENCODABLE,
    VerifyOptions,
    VerifyResult,
)
from ops.verify.report import render_result

__all__ = [
    "EXTRA",
    "GATE_NAME",
    "MISMATCHED",
    "MISSING",
    "STALE_TOMBSTONE",
    "UNENCODABLE",
    "Verifier",
    "VerifyOptions",
    "VerifyResult",
    "latest_verify",
    "render_result",
    "run_verify",
    "verify_gate",
]
