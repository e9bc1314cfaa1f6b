"""A Jepsen-style history of writes and the checker that judges a final state against it.

The traffic records every operation it makes on a key: invoked when, completed when, with what
value (each write puts a value no other write puts), and how it ended — `ok` (acknowledged to the
caller), `fail` (certainly not applied: refused before anything was written) or `info`
(indeterminate: it may or may not have been applied). The checker knows nothing of the code under
test: from the history alone it computes, per key, which final values are allowed, and compares
them with what a database holds.

A key behaves as a register (create and update write a value, delete writes ABSENT). After the
history ends, its value must come from the *frontier*: the writes that no acknowledged write
strictly follows (one invoked after it completed). Anything else is a violation:
- **lost**: the key is absent but the frontier holds no delete — an acknowledged write vanished;
- **resurrected**: the key holds a value but the frontier is all deletes — a deleted row is back;
- **overwritten by older**: the key holds the value of a write that a later acknowledged write
  strictly follows — an older write replaced a newer one;
- **unknown value**: the key holds a value no write (and not the initial state) put there.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

OK, FAIL, INFO = "ok", "fail", "info"
ABSENT = None  # the value of a deleted (or never created) key

Key = Hashable


@dataclass
class Op:
    process: str
    f: str  # create | update | delete
    key: Key
    value: str | None  # the value written; None for a delete
    invoked: float
    completed: float = float("inf")
    outcome: str = INFO
    error: str = ""


class History:
    """Thread-safe record of operations; `write(...)` wraps a call and records its outcome."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.ops: list[Op] = []
        self._lock = threading.Lock()

    def write(
        self,
        process: str,
        f: str,
        key: Key,
        value: str | None,
        call: Callable[[], Any],
        *,
        classify: Callable[[BaseException], str] = lambda _exc: INFO,
    ) -> Any:
        """Run `call` as operation `f` on `key`; `classify(exc)` says whether an error is `fail`
        (certainly not applied) or `info` (maybe applied). Re-raises the error."""
        op = Op(process, f, key, value, self.clock())
        with self._lock:
            self.ops.append(op)
        try:
            result = call()
        except BaseException as exc:
            op.completed, op.outcome, op.error = self.clock(), classify(exc), f"{type(exc).__name__}: {exc}"
            raise
        op.completed, op.outcome = self.clock(), OK
        return result

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for op in self.ops:
            out[op.outcome] += 1
        return dict(out)


@dataclass
class Violation:
    kind: str  # lost | resurrected | overwritten | unknown
    key: Key
    found: str | None
    allowed: list[str | None]
    detail: str = ""


@dataclass
class Verdict:
    keys: int = 0
    ops: int = 0
    acknowledged: int = 0
    violations: list[Violation] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for v in self.violations if v.kind == kind)

    @property
    def lost(self) -> int:
        return self.count("lost")

    @property
    def resurrected(self) -> int:
        return self.count("resurrected")

    @property
    def overwritten(self) -> int:
        return self.count("overwritten") + self.count("unknown")

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "ops": self.ops,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "overwritten_by_older": self.overwritten,
            "resurrected": self.resurrected,
            "violations": [asdict(v) for v in self.violations[:20]],
        }


def _frontier(ops: list[Op]) -> list[Op]:
    """Writes (ok or indeterminate) that no acknowledged write strictly follows. An indeterminate
    write may take effect at any time after it was invoked, so nothing follows it strictly."""
    latest_start = max((o.invoked for o in ops if o.outcome == OK), default=float("-inf"))
    return [o for o in ops if o.outcome == INFO or (o.outcome == OK and not latest_start > o.completed)]


def check(history: list[Op], initial: Mapping[Key, str | None], final: Mapping[Key, str | None]) -> Verdict:
    """Judge `final` (key -> value, absent keys missing or None) against the history and the
    initial state; keys the history never wrote must still hold their initial value."""
    by_key: dict[Key, list[Op]] = defaultdict(list)
    for op in history:
        by_key[op.key].append(op)
    verdict = Verdict(
        keys=len(set(initial) | set(by_key)),
        ops=len(history),
        acknowledged=sum(1 for o in history if o.outcome == OK),
    )
    for key in set(initial) | set(by_key) | set(final):
        ops = by_key.get(key, [])
        found = final.get(key)
        frontier = _frontier(ops)
        allowed: list[str | None] = [o.value if o.f != "delete" else ABSENT for o in frontier]
        if not any(o.outcome == OK for o in ops):
            allowed.append(initial.get(key))  # nothing acknowledged: the initial state may stand
        if found in allowed:
            continue
        written = {o.value for o in ops if o.f != "delete"}
        if found is ABSENT:
            kind = "lost"
        elif all(v is ABSENT for v in allowed):
            kind = "resurrected"
        elif found in written or found == initial.get(key):
            kind = "overwritten"
        else:
            kind = "unknown"
        verdict.violations.append(
            Violation(kind, key, found, allowed, f"{len(ops)} ops, {len(frontier)} on the frontier")
        )
    return verdict
