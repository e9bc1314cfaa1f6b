"""The runbooks as the walker reads them: sections, numbered steps, their command blocks, what each
step expects, and the few marks a human follows without thinking (a second terminal, a typed name).

A step is a numbered item of `## Steps` (or, for the other sections the walk runs, the whole
section). Its commands are the `$ ` lines of its ```console blocks, run in order. What it expects:

- every `code span` of its "Expected" text must appear in the output (`<anything>` and `...` match
  anything, a lone `N` matches a number), and the exit code must be 0, or the one the text names
  ("exit code 1");
- `Not on the local stack: <reason>.` (or `Not rehearsed in the walk: <reason>.`) — the walk
  skips the step and reports the reason;
- HTML comments a reader never sees, for what a human does by hand:
  `<!-- walk: background -->` (a second terminal; waited for at the end of the runbook),
  `<!-- walk: background keep -->` (a second terminal left running, checked when interrupted;
  `; ready <text>` waits until its output shows the text, as a human waits for a server, and
  `; ready-when <command>` until that command succeeds),
  `<!-- walk: input answers -->` (typed at a prompt; the default answers `y`),
  `<!-- walk: interrupt ops demo traffic -->` (Ctrl-C in the terminal running that command).

Placeholders `<name>` in commands come from the local profile: the table of
runbooks/local-rehearsal.md, section "Local profile".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"
PROFILE_RUNBOOK = "local-rehearsal.md"
PROFILE_SECTION = "Local profile"

_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
_ITEM = re.compile(r"^(\d+)\. ", re.MULTILINE)
_FENCE = re.compile(r"^[ \t]*```(\S*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
_DIRECTIVE = re.compile(r"<!--\s*walk:\s*(.*?)\s*-->", re.DOTALL)
_SKIP = re.compile(r"(?:Not on the local stack|Not rehearsed in the walk):\s*(.+?)(?:\.\s|\.$|$)", re.DOTALL)
_EXPECTED = re.compile(r"Expected[^:]*:(.*?)(?=\bCheck:|\Z)", re.DOTALL)
_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_EXIT = re.compile(r"exit code (\d)")
_PLACEHOLDER = re.compile(r"<([a-z][a-z0-9-]*)>")
_PROFILE_ROW = re.compile(r"^\|\s*`<([a-z][a-z0-9-]*)>`\s*\|\s*`([^`]*)`\s*\|", re.MULTILINE)


@dataclass
class Step:
    runbook: str
    section: str
    label: str  # "3" for a numbered step, else the section name
    text: str
    commands: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    exit_code: int = 0
    skip: str | None = None
    background: bool = False
    keep: bool = False
    ready: str | None = None  # a background command is ready once its output shows this
    ready_when: str | None = None  # ... or once this command succeeds
    input: str = "y\n"
    interrupt: str | None = None

    @property
    def name(self) -> str:
        return f"{self.runbook} {self.section} {self.label}".replace(" Steps ", " step ")


def sections(text: str) -> dict[str, str]:
    """Section title -> its text (without the heading)."""
    heads = list(_SECTION.finditer(text))
    return {
        h.group(1).strip(): text[h.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        for i, h in enumerate(heads)
    }


def _commands(text: str) -> list[str]:
    found: list[str] = []
    for kind, body in _FENCE.findall(text):
        if kind != "console":
            continue
        pending = ""
        for line in body.splitlines():
            stripped = line.strip()
            if pending:
                pending += " " + stripped.rstrip("\\").strip()
            elif stripped.startswith("$ "):
                pending = stripped[2:].rstrip("\\").strip()
            else:
                continue
            if not stripped.endswith("\\"):
                found.append(pending)
                pending = ""
    return found


def _step(runbook: str, section: str, label: str, text: str) -> Step:
    outside = _FENCE.sub("", text)
    step = Step(runbook, section, label, text, commands=_commands(text))
    expected = _EXPECTED.search(outside)
    if expected:
        words = " ".join(expected.group(1).split())
        step.expected = _SPAN.findall(words)
        code = _EXIT.search(words)
        if code:
            step.exit_code = int(code.group(1))
    skip = _SKIP.search(" ".join(outside.split()))
    if skip:
        step.skip = skip.group(1).strip()
    for directive in _DIRECTIVE.findall(text):
        for part in directive.split(";"):
            verb, _, rest = part.strip().partition(" ")
            if verb == "background":
                step.background, step.keep = True, rest.strip() == "keep"
            elif verb == "ready":
                step.ready = rest.strip()
            elif verb == "ready-when":
                step.ready_when = rest.strip()
            elif verb == "input":
                step.input = rest.strip() + "\n"
            elif verb == "interrupt":
                step.interrupt = rest.strip()
            else:
                raise ValueError(f"{runbook}: unknown walk directive {part!r}")
    return step


def steps(runbook: str, section: str) -> list[Step]:
    """The steps of one section of a runbook, in order (numbered items of Steps; else one step)."""
    text = (RUNBOOKS / runbook).read_text(encoding="utf-8")
    body = sections(text).get(section)
    if body is None:
        raise KeyError(f"{runbook} has no section '## {section}'")
    items = list(_ITEM.finditer(body))
    if not items:
        return [_step(runbook, section, section, body)] if _commands(body) or "walk:" in body else []
    return [
        _step(
            runbook,
            section,
            m.group(1),
            body[m.end() : items[i + 1].start() if i + 1 < len(items) else len(body)],
        )
        for i, m in enumerate(items)
    ]


def profile() -> dict[str, str]:
    """Placeholder -> value on the local stack, from the local profile table."""
    body = sections((RUNBOOKS / PROFILE_RUNBOOK).read_text(encoding="utf-8"))[PROFILE_SECTION]
    return dict(_PROFILE_ROW.findall(body))


def placeholders(command: str) -> list[str]:
    return _PLACEHOLDER.findall(command)


def fill(command: str, values: dict[str, str]) -> str:
    missing = [p for p in placeholders(command) if p not in values]
    if missing:
        raise KeyError(f"the local profile has no value for {', '.join(f'<{m}>' for m in missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], command)


def pattern(span: str) -> re.Pattern[str]:
    """An Expected code span as a pattern over normalized output."""
    parts = re.split(r"(<[^<>]+>|\.\.\.|\bN\b)", normalize(span))
    regex = "".join(
        r".+?"
        if p.startswith("<") and p.endswith(">")
        else r".*?"
        if p == "..."
        else r"[\d.,]+"
        if p == "N"
        else re.escape(p)
        for p in parts
        if p
    )
    return re.compile(regex)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BOX = re.compile(r"[\u2500-\u257f]")


def normalize(text: str) -> str:
    """Output as words: no colours, no table borders, whitespace collapsed."""
    return " ".join(_BOX.sub(" ", _ANSI.sub("", text)).split())
