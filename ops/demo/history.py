"""A Jepsen-style history of writes and the checker that judges a final state against it.

The traffic records every operation it makes on a key: invoked when, completed when, what it
wrote (every value is one no other write puts), and how it ended — `ok` (acknowledged to the
caller), `fail` (certainly not applied: refused before anything was written) or `info`
(indeterminate: it may or may not have been applied). The checker knows nothing of the code under
test: from the history alone it computes, per key, what a final state may hold, and compares.

A row is a set of registers: its existence (create sets it, delete clears it) and each attribute
(create sets them all, an update sets the ones it names, delete clears them). After the history,
each register must hold a value from its *frontier*: the writes to it that no acknowledged write to
it strictly follows (one invoked after it completed). Violations, by kind:
- **lost**: the row is absent but its existence frontier holds no delete;
- **resurrected**: the row is present but its existence frontier is all deletes (a deleted row came
  back, e.g. through a stale copy of it);
- **overwritten by older**: an attribute holds the value of a write that a later acknowledged write
  to it strictly follows — the newer write is lost (partial updates included: a stale copy of the
  whole row that replaces another attribute's newer value shows here);
- **unknown value**: an attribute holds a value no write put there.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

OK, FAIL, INFO = "ok", "fail", "info"
ABSENT = None  # a deleted (or never created) row

Key = Hashable
Row = Mapping[str, Any]


@dataclass
class Op:
    process: str
    f: str  # create | update | delete
    key: Key
    value: dict[str, Any] | None  # the attributes written; None for a delete
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
        value: dict[str, Any] | None,
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
    register: str  # "exists" or an attribute name
    found: Any
    allowed: list[Any]


@dataclass
class Verdict:
    keys: int = 0
    ops: int = 0
    acknowledged: int = 0
    violations: list[Violation] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(1 for v in self.violations if v.kind in kinds)

    @property
    def lost(self) -> int:
        return self.count("lost")

    @property
    def resurrected(self) -> int:
        return self.count("resurrected")

    @property
    def overwritten(self) -> int:
        return self.count("overwritten", "unknown")

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


def _allowed(ops: list[Op], initial: Any, read: Callable[[Op], Any]) -> list[Any]:
    allowed = [read(o) for o in _frontier(ops)]
    if not any(o.outcome == OK for o in ops):
        allowed.append(initial)  # nothing acknowledged: the state before the history may stand
    return allowed


def _reader(attribute: str) -> Callable[[Op], Any]:
    return lambda o: (o.value or {}).get(attribute)


def check(history: list[Op], initial: Mapping[Key, Row | None], final: Mapping[Key, Row | None]) -> Verdict:
    """Judge `final` (key -> row, or None/missing when absent) against the history and the initial
    state; keys the history never wrote must hold their initial row."""
    by_key: dict[Key, list[Op]] = defaultdict(list)
    for op in history:
        by_key[op.key].append(op)
    keys = set(initial) | set(by_key) | set(final)
    verdict = Verdict(
        keys=len(keys), ops=len(history), acknowledged=sum(1 for o in history if o.outcome == OK)
    )
    for key in keys:
        ops = by_key.get(key, [])
        before, found = initial.get(key), final.get(key)
        existence = [o for o in ops if o.f in ("create", "delete")]
        may_exist = _allowed(existence, before is not None, lambda o: o.f == "create")
        if (found is not None) not in may_exist:
            kind = "resurrected" if found is not None else "lost"
            verdict.violations.append(Violation(kind, key, "exists", found is not None, may_exist))
            continue
        if found is None:
            continue
        for attribute, value in found.items():
            writes = [o for o in ops if o.value is None or attribute in o.value]
            allowed = _allowed(writes, (before or {}).get(attribute), _reader(attribute))
            if value in allowed:
                continue
            written = {(o.value or {}).get(attribute) for o in writes} | {(before or {}).get(attribute)}
            kind = "overwritten" if value in written else "unknown"
            verdict.violations.append(Violation(kind, key, attribute, value, allowed))
    return verdict
