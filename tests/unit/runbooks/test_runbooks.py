"""Runbooks and CLI agree: every `ops ...` command a runbook shows exists with those options (checked
against the Typer/click command tree of the whole app), every phase has a runbook with the
required sections, and the generated CLI reference is current."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ops.migrate.phases import ORDER
from scripts.gen_cli_docs import Node, command_tree, render

ROOT = Path(__file__).resolve().parents[3]
RUNBOOKS = ROOT / "runbooks"
SECTIONS = ("Overview", "Owner", "Preconditions", "Steps", "Gate", "Rollback", "Escalation", "References")
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?<!`)`(ops [^`<>$|]+)`(?!`)")


def shown_commands(text: str) -> list[str]:
    """`ops ...` lines of the fenced blocks (a `$ ` prompt allowed) and inline `ops ...` spans."""
    found: list[str] = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            stripped = line.strip().removeprefix("$ ").strip()
            if stripped.startswith("ops "):
                found.append(stripped)
    found.extend(m.strip() for m in INLINE.findall(FENCE.sub("", text)))
    return found


def problems(command: str, tree: Node) -> list[str]:
    """Why `command` does not exist as written (empty when it does)."""
    words = shlex.split(command, comments=True)[1:]
    node, rest = tree.find(words)
    if rest == ["--help"]:
        return []
    if node.is_group:
        return [f"'{' '.join(node.path)}' needs a subcommand; got {rest[:1] or 'none'}"]
    errors: list[str] = []
    positional = [o for o in node.options if o.positional]
    args_seen = 0
    i = 0
    while i < len(rest):
        token = rest[i]
        if token.startswith("-") and not re.fullmatch(r"-?\d+(\.\d+)?", token):
            name = token.split("=", 1)[0]
            option = node.option(name)
            if option is None:
                errors.append(f"'{' '.join(node.path)}' has no option {name}")
            elif not option.is_flag and "=" not in token:
                i += 1
                if i >= len(rest):
                    errors.append(f"{name} needs a value")
        else:
            args_seen += 1
            if args_seen > len(positional):
                errors.append(f"'{' '.join(node.path)}' takes no argument {token!r}")
        i += 1
    return errors


def runbook_files() -> list[Path]:
    return sorted(RUNBOOKS.glob("*.md"))


@pytest.fixture(scope="module")
def tree() -> Node:
    return command_tree()


def test_the_checker_catches_drift(tree: Node) -> None:
    assert problems("ops migrate soak --soak-days 3", tree) == []
    assert problems("ops migrate cleanup --yes --confirm-name answers --table a --table b", tree) == []
    assert "'ops migrate soak' has no option --soak-hours" in problems(
        "ops migrate soak --soak-hours 3", tree
    )
    assert problems("ops migrate switch", tree)[0].startswith("'ops migrate' needs a subcommand")
    assert problems("ops migrate preflight extra", tree) == [
        "'ops migrate preflight' takes no argument 'extra'"
    ]
    assert problems("ops migrate backfill --concurrency", tree) == ["--concurrency needs a value"]


@pytest.mark.parametrize("path", runbook_files(), ids=lambda p: p.name)
def test_every_command_a_runbook_shows_exists(path: Path, tree: Node) -> None:
    text = path.read_text(encoding="utf-8")
    errors = {cmd: problems(cmd, tree) for cmd in shown_commands(text)}
    assert {cmd: errs for cmd, errs in errors.items() if errs} == {}


@pytest.mark.parametrize("phase", [str(p) for p in ORDER])
def test_every_phase_has_a_runbook_with_the_required_sections(phase: str) -> None:
    path = RUNBOOKS / f"{phase}.md"
    assert path.is_file(), f"missing runbook {path.relative_to(ROOT)}"
    text = path.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS)
    commands = shown_commands(text)
    assert any(c.startswith(f"ops migrate {phase}") for c in commands), f"{phase}.md never runs its phase"
    steps = text.split("## Steps", 1)[1].split("\n## ", 1)[0]
    # Each step: the command, what to expect, how to check it worked.
    assert steps.count("```console") >= 1
    assert steps.count("```console") == steps.count("Expected") == steps.count("Check:")


@pytest.mark.parametrize("name", ["README.md", "rollback.md"])
def test_overview_and_rollback_runbooks_exist(name: str) -> None:
    text = (RUNBOOKS / name).read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS)


def test_the_overview_links_every_phase_runbook() -> None:
    text = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for phase in ORDER:
        assert f"]({phase}.md)" in text


def test_every_migrate_command_is_covered_by_a_runbook(tree: Node) -> None:
    shown = {c for p in runbook_files() for c in shown_commands(p.read_text(encoding="utf-8"))}
    migrate = tree.children["migrate"]
    for name in migrate.children:
        assert any(c.startswith(f"ops migrate {name}") for c in shown), (
            f"no runbook shows `ops migrate {name}`"
        )


def test_the_cli_reference_is_current() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is out of date: run .venv/bin/python scripts/gen_cli_docs.py"
