"""The cutover ledger: each phase's state, who ran it, when, and the gate evidence, kept in the
DynamoDB control table under `LEDGER#<dataset>`.

Items:
- `STATE`: where the migration stands (phase, state) and the operator lock.
- `PHASE#<n>#<phase>`: the latest record of one phase (state, operator, start, end, evidence).
- `EVENT#<time>#<id>`: append-only history (every run, gate result, refusal and rollback).

Two operators cannot run a phase at once: the lock on `STATE` is taken with a conditional write
(free, or its lease expired) and renewed while a long phase runs, so a crashed operator's lock
frees itself after the lease.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.control import ConditionFailed, ControlTable
from ops.exceptions import OpsError
from ops.migrate.phases import ORDER, Phase, PhaseState, Position, index


class LedgerBusy(OpsError):
    """Another operator holds the ledger lock."""


class LedgerUnavailable(OpsError):
    """The control table holding the ledger cannot be read."""


@contextmanager
def _readable(table: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise LedgerUnavailable(
                f"control table {table} does not exist; create it with `terraform apply` "
                "(local stack: `ops sandbox provision`) or point OPS_CONTROL_TABLE at it"
            ) from None
        raise LedgerUnavailable(f"cannot read the ledger in {table} ({code}); check AWS access") from exc


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class PhaseRecord:
    phase: Phase
    state: PhaseState
    operator: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": str(self.phase),
            "state": str(self.state),
            "operator": self.operator,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "evidence": self.evidence,
            "runs": self.runs,
        }


@dataclass(frozen=True)
class Event:
    at: str
    phase: str
    action: str
    state: str
    operator: str
    detail: str
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _phase_sk(phase: Phase) -> str:
    return f"PHASE#{index(phase):02d}#{phase}"


class Ledger:
    def __init__(self, control: ControlTable, dataset: str, lock_ttl_seconds: int = 900) -> None:
        self.control = control
        self.dataset = dataset
        self.pk = f"LEDGER#{dataset}"
        self.lock_ttl_seconds = lock_ttl_seconds

    # Reading

    def records(self) -> dict[Phase, PhaseRecord]:
        out: dict[Phase, PhaseRecord] = {}
        with _readable(self.control.name):
            items = self.control.query(self.pk, "PHASE#")
        for item in items:
            phase = Phase(item["phase"])
            out[phase] = PhaseRecord(
                phase=phase,
                state=PhaseState(item["state"]),
                operator=item.get("operator", ""),
                started_at=item.get("started_at") or None,
                ended_at=item.get("ended_at") or None,
                evidence=json.loads(item.get("evidence_json") or "{}"),
                runs=int(item.get("runs", 0)),
            )
        return out

    def record(self, phase: Phase) -> PhaseRecord | None:
        item = self.control.get(self.pk, _phase_sk(phase))
        if item is None:
            return None
        return self.records()[phase]

    def position(self) -> Position:
        """The furthest phase that is not rolled back, and its state."""
        records = self.records()
        for phase in reversed(ORDER):
            rec = records.get(phase)
            if rec is not None and rec.state != PhaseState.ROLLED_BACK:
                return Position(phase, rec.state)
        return Position(None, None)

    def history(self, limit: int | None = None) -> list[Event]:
        events = [
            Event(
                at=item["at"],
                phase=item.get("phase", ""),
                action=item.get("action", ""),
                state=item.get("state", ""),
                operator=item.get("operator", ""),
                detail=item.get("detail", ""),
                evidence=json.loads(item.get("evidence_json") or "{}"),
            )
            for item in self.control.query(self.pk, "EVENT#")
        ]
        events.sort(key=lambda e: e.at)
        return events[-limit:] if limit else events

    def lock_holder(self) -> dict[str, Any] | None:
        item = self.control.get(self.pk, "STATE")
        if not item or float(item.get("lock_expires", 0)) < datetime.now(UTC).timestamp():
            return None
        return {"operator": item.get("lock_operator"), "phase": item.get("lock_phase")}

    # Writing

    def event(
        self,
        phase: Phase | str,
        action: str,
        state: str,
        operator: str,
        *,
        detail: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> None:
        at = now_iso()
        self.control.put(
            self.pk,
            f"EVENT#{at}#{uuid.uuid4().hex[:8]}",
            {
                "at": at,
                "phase": str(phase),
                "action": action,
                "state": state,
                "operator": operator,
                "detail": detail,
                "evidence_json": json.dumps(evidence or {}, default=str),
            },
        )

    def set_phase(
        self,
        phase: Phase,
        state: PhaseState,
        operator: str,
        evidence: dict[str, Any] | None = None,
        *,
        started: bool = False,
    ) -> PhaseRecord:
        """Record a phase's new state; `started` marks a fresh start (new start time, run count + 1)."""
        prev = self.record(phase)
        at = now_iso()
        rec = PhaseRecord(
            phase=phase,
            state=state,
            operator=operator,
            started_at=at if started or prev is None or prev.started_at is None else prev.started_at,
            ended_at=at if state in (PhaseState.DONE, PhaseState.FAILED, PhaseState.ROLLED_BACK) else None,
            evidence={**(prev.evidence if prev and not started else {}), **(evidence or {})},
            runs=(prev.runs if prev else 0) + (1 if started else 0),
        )
        self.control.put(
            self.pk,
            _phase_sk(phase),
            {
                "phase": str(phase),
                "state": str(state),
                "operator": operator,
                "started_at": rec.started_at or "",
                "ended_at": rec.ended_at or "",
                "evidence_json": json.dumps(rec.evidence, default=str),
                "runs": rec.runs,
            },
        )
        return rec

    @contextmanager
    def hold(self, phase: Phase | str, operator: str) -> Iterator[str]:
        """Take the ledger lock for the duration of a phase (renewed in the background)."""
        token = f"{operator}#{uuid.uuid4().hex[:12]}"
        self._acquire(token, str(phase), operator)
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew_until, args=(token, stop), daemon=True)
        renewer.start()
        try:
            yield token
        finally:
            stop.set()
            renewer.join(timeout=5)
            self._release(token)

    def _acquire(self, token: str, phase: str, operator: str) -> None:
        now = datetime.now(UTC).timestamp()
        try:
            self.control.update(
                self.pk,
                "STATE",
                set_={
                    "lock_token": token,
                    "lock_operator": operator,
                    "lock_phase": phase,
                    "lock_expires": int(now) + self.lock_ttl_seconds,
                    "lock_taken_at": now_iso(),
                },
                condition="attribute_not_exists(lock_expires) OR lock_expires < :now",
                values={":now": int(now)},
            )
        except ConditionFailed:
            holder = self.lock_holder() or {}
            raise LedgerBusy(
                f"operator {holder.get('operator', '?')} is running '{holder.get('phase', '?')}' on dataset "
                f"'{self.dataset}'; wait for it to finish (`ops migrate status`). A crashed run's lock "
                f"frees itself {self.lock_ttl_seconds} s after its last renewal."
            ) from None

    def _renew_until(self, token: str, stop: threading.Event) -> None:
        while not stop.wait(max(1.0, self.lock_ttl_seconds / 3)):
            try:
                self.control.update(
                    self.pk,
                    "STATE",
                    set_={"lock_expires": int(datetime.now(UTC).timestamp()) + self.lock_ttl_seconds},
                    condition="lock_token = :token",
                    values={":token": token},
                )
            except ConditionFailed:
                return

    def _release(self, token: str) -> None:
        try:
            self.control.update(
                self.pk,
                "STATE",
                set_={"lock_expires": 0, "lock_released_at": now_iso()},
                condition="lock_token = :token",
                values={":token": token},
            )
        except ConditionFailed:
            # The lease expired and someone else took it: theirs now, nothing of ours to release.
            return
