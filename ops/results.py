"""Result objects every phase returns, rendered as a Rich table or as JSON (`--json`).

A gate is a list of checks; each check carries the measured value, the threshold and the command
that fixes or overrides it, so a refusal tells the operator exactly what to do next.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

from ops.exceptions import GateFailed


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    measured: str
    threshold: str
    fix: str = ""


@dataclass
class GateResult:
    gate: str
    checks: list[Check] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    checked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def raise_if_failed(self) -> None:
        if self.ok:
            return
        lines = [
            f"- {c.name}: measured {c.measured}, required {c.threshold}"
            + (f"; fix: {c.fix}" if c.fix else "")
            for c in self.failed
        ]
        raise GateFailed(f"gate '{self.gate}' refused:\n" + "\n".join(lines))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class StepStatus(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"
    PLANNED = "planned"


@dataclass(frozen=True)
class Step:
    name: str
    status: StepStatus
    detail: str = ""


@dataclass
class PhaseResult:
    phase: str
    steps: list[Step] = field(default_factory=list)
    gate: GateResult | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(s.status != StepStatus.FAILED for s in self.steps) and (self.gate is None or self.gate.ok)

    def add(self, name: str, status: StepStatus, detail: str = "") -> None:
        self.steps.append(Step(name, status, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "steps": [asdict(s) for s in self.steps],
            "gate": self.gate.to_dict() if self.gate else None,
            "evidence": self.evidence,
        }


_STYLE = {
    StepStatus.OK: "green",
    StepStatus.SKIPPED: "yellow",
    StepStatus.FAILED: "red",
    StepStatus.PLANNED: "cyan",
}


def gate_table(gate: GateResult) -> Table:
    table = Table(title=f"gate: {gate.gate} — {'[green]passed[/]' if gate.ok else '[red]refused[/]'}")
    for column in ("check", "result", "measured", "threshold", "fix"):
        table.add_column(column)
    for c in gate.checks:
        table.add_row(
            c.name,
            "[green]ok[/]" if c.ok else "[red]FAILED[/]",
            c.measured,
            c.threshold,
            "" if c.ok else c.fix,
        )
    return table


def render(result: PhaseResult | GateResult, console: Console, as_json: bool = False) -> None:
    """Print a result for an operator (Rich) or a program (`--json`, one JSON document on stdout)."""
    if as_json:
        console.print_json(json.dumps(result.to_dict(), default=str))
        return
    if isinstance(result, GateResult):
        console.print(gate_table(result))
        return
    title = f"{result.phase}{' (dry run: nothing changed)' if result.dry_run else ''}"
    table = Table(title=title)
    for column in ("step", "status", "detail"):
        table.add_column(column)
    for s in result.steps:
        table.add_row(s.name, f"[{_STYLE[s.status]}]{s.status.value}[/]", s.detail)
    console.print(table)
    if result.gate is not None:
        console.print(gate_table(result.gate))
