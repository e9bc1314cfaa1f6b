"""The repository stands alone: its documents link only to files it has, and nothing it ships
cites design notes, issue numbers or folders that live outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Names of documents that exist only outside this repository, and the way to reach them.
OUTSIDE = ("MISSION" + ".md", "DESIGN" + ".md", "STYLE" + ".md", "../" + "shared")
TEXT_SUFFIXES = {".md", ".py", ".tf", ".hcl", ".sh", ".toml", ".cfg", ".txt", ".sql", ""}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s#]+)(?:#[^)]*)?\)")


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def documents() -> list[Path]:
    return [p for p in tracked_files() if p.suffix == ".md"]


def test_nothing_cites_documents_outside_the_repository() -> None:
    cited = []
    for path in tracked_files():
        if path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        cited += [f"{path.relative_to(ROOT)}: {name}" for name in OUTSIDE if name in text]
    assert not cited, "copy what the reader needs into docs/ instead of citing:\n" + "\n".join(cited)


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_document_links_reach_files_of_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        resolved = (path.parent / target).resolve()
        if not resolved.exists() or ROOT not in (resolved, *resolved.parents):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to files the repository does not have: {broken}"


def test_nothing_cites_issue_numbers() -> None:
    cited = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in tracked_files()
        if p.suffix in TEXT_SUFFIXES
        for m in re.finditer(
            r"\(issue \d+\)|\bissue #?\d+\b", p.read_text(encoding="utf-8", errors="replace"), re.IGNORECASE
        )
    ]
    assert not cited, "the issues are not part of the repository:\n" + "\n".join(cited)
