"""The runbook walker reads the runbooks the way an operator does: every runbook is walked, every
placeholder has a local value, every step that runs says what it expects, and a runbook whose
Expected text the output does not show is caught."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.runbook_walk.parse import RUNBOOKS, Step, fill, normalize, pattern, placeholders, profile, steps
from tests.runbook_walk.walk import OPTIONAL, PHASES, WALK, _missing

WALKED = {runbook for runbook, _section in WALK}
PRESENT = [(r, s) for r, s in WALK if r not in OPTIONAL or (RUNBOOKS / r).exists()]


def all_steps() -> list[Step]:
    found = [s for runbook, section in PRESENT for s in steps(runbook, section)]
    return found + [s for phase in PHASES for s in steps(f"{phase}.md", "Rollback")]


def test_every_runbook_is_walked() -> None:
    assert {p.name for p in RUNBOOKS.glob("*.md")} == {r for r, _s in PRESENT}


def test_every_placeholder_a_runbook_runs_has_a_local_value() -> None:
    values = profile()
    used = {p for step in all_steps() for c in step.commands for p in placeholders(c)}
    assert used <= set(values), f"missing from the local profile: {sorted(used - set(values))}"
    assert values["rows"].isdigit()


def test_every_step_that_runs_says_what_it_expects_or_why_it_is_skipped() -> None:
    for step in all_steps():
        if step.section != "Steps" or not step.commands or step.background:
            continue
        assert step.expected or step.skip, f"{step.name}: no `code span` in its Expected text"


def test_steps_commands_directives_and_expectations_are_read(tmp_path: Path) -> None:
    [soak_wait] = [s for s in steps("soak.md", "Steps") if "--wait" in " ".join(s.commands)]
    assert soak_wait.exit_code == 0 and "gate: soak — passed" in soak_wait.expected
    [refused] = [s for s in steps("soak.md", "Steps") if s.commands == ["ops migrate soak"]]
    assert refused.exit_code == 1
    stop = steps("stop-pg-writes.md", "Steps")[1]
    assert stop.input == "answers\n" and "<snapshot-dir>" in stop.commands[0]
    traffic = next(s for s in steps("local-rehearsal.md", "Steps") if "traffic" in " ".join(s.commands))
    assert traffic.background and traffic.keep
    ending = steps("local-rehearsal.md", "Ending the rehearsal")
    assert [s.interrupt for s in ending[:2]] == ["ops demo traffic", "ops notifications serve"]
    skipped = next(s for s in steps("preflight.md", "Steps") if "--driver dms" in " ".join(s.commands))
    assert skipped.skip and "logical replication" in skipped.skip


def test_placeholders_are_filled_or_refused() -> None:
    assert fill("ops x --since <since> --n <rows>", {"since": "T", "rows": "5"}) == "ops x --since T --n 5"
    with pytest.raises(KeyError, match="<nope>"):
        fill("ops x <nope>", {})


@pytest.mark.parametrize(
    ("span", "output", "found"),
    [
        ("'<phase>' rolled back", "│ 'stop-pg-writes' rolled back │ ok │", True),
        (
            "DROP TABLE <t> on V2 (...): N rows",
            "DROP TABLE answers on V2 (postgresql://***@h/d): 5,000 rows",
            True,
        ),
        ("segments complete", "┃ segments complete ┃ ok ┃ 16/16", True),
        ("N/N", "16/16", True),
        ("app reads 'dynamodb'", "app reads 'dual_write_read_dynamodb'", False),
        ("errors: none", "\x1b[32merrors: none\x1b[0m", True),
        ("0 mismatched", "3 mismatched", False),
    ],
)
def test_expected_spans_match_what_the_cli_prints(span: str, output: str, found: bool) -> None:
    assert bool(pattern(span).search(normalize(output))) is found


def test_a_runbook_that_no_longer_matches_the_cli_is_reported() -> None:
    # The drift the walk exists for: a runbook still expecting the gate's old name.
    assert _missing(["gate: verify clean"], "gate: verify — passed") == [
        "expected `gate: verify clean` not in the output"
    ]
    assert _missing(["gate: verify"], "gate: verify — passed") == []


@pytest.mark.parametrize("path", sorted(RUNBOOKS.glob("*.md")), ids=lambda p: p.name)
def test_runbooks_stand_alone(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for outside in ("MISSION" + ".md", "DESIGN" + ".md", "../", "/work/"):
        assert outside not in text, f"{path.name} cites {outside!r}: copy what the reader needs instead"
    assert not re.search(r"\bissue \d+", text), f"{path.name} cites an issue number"


def test_the_runbooks_say_how_ops_gets_on_the_path() -> None:
    for name in ("README.md", "local-rehearsal.md"):
        assert "source .venv/bin/activate" in (RUNBOOKS / name).read_text(encoding="utf-8")
