"""checkov over terraform/ with the repository's policies and its built-ins: no unexplained failure."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.terraform import tooling

pytestmark = pytest.mark.terraform

VIOLATIONS = Path(__file__).parent / "fixtures" / "checkov_violations"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
MIN_REASON_LENGTH = 20


def policy_ids() -> list[str]:
    ids = [
        yaml.safe_load(p.read_text())["metadata"]["id"]
        for p in sorted(tooling.CHECKOV_POLICIES.glob("*.yaml"))
    ]
    assert ids, f"no repository policies in {tooling.CHECKOV_POLICIES}"
    return ids


@dataclass(frozen=True)
class CheckovReport:
    summary: dict[str, Any]
    passed: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    output: str


def _command(checkov: Path, directory: Path, *extra: str) -> list[str]:
    return [
        str(checkov),
        "--directory",
        str(directory),
        "--framework",
        "terraform",
        "--skip-download",
        "--output",
        "json",
        "--external-checks-dir",
        str(tooling.CHECKOV_POLICIES),
        *extra,
    ]


def _report(proc: subprocess.Popen[str]) -> CheckovReport:
    stdout, stderr = proc.communicate(timeout=600)
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"checkov printed no JSON report (exit {proc.returncode}):\n{stdout[-2000:]}\n{stderr[-2000:]}"
        )
    reports = data if isinstance(data, list) else [data]
    terraform = [r for r in reports if r.get("check_type") == "terraform"]
    assert terraform, f"checkov ran no terraform checks: {stdout[-2000:]}"
    results = terraform[0]["results"]
    return CheckovReport(
        summary=terraform[0]["summary"],
        passed=results.get("passed_checks", []),
        failed=results.get("failed_checks", []),
        skipped=results.get("skipped_checks", []),
        output=stderr,
    )


@pytest.fixture(scope="module")
def checkov_reports(checkov_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckovReport]:
    # A clean copy: a developer's local .terraform folders must not be scanned.
    copy = tmp_path_factory.mktemp("checkov") / "terraform"
    shutil.copytree(
        tooling.TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl")
    )
    only_policies = ",".join(policy_ids())
    procs = {
        "repo": subprocess.Popen(
            _command(checkov_bin, copy), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ),
        "violations": subprocess.Popen(
            _command(checkov_bin, VIOLATIONS, "--check", only_policies),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    }
    return {name: _report(proc) for name, proc in procs.items()}


def _where(check: dict[str, Any]) -> str:
    lines = check.get("file_line_range") or ["?", "?"]
    where = f"{check['file_path']}:{lines[0]}-{lines[1]}"
    return f"{check['check_id']} {check['resource']} {where}: {check['check_name']}"


def test_no_failed_checks(checkov_reports: dict[str, CheckovReport]) -> None:
    report = checkov_reports["repo"]
    assert report.summary["parsing_errors"] == 0, report.output[-2000:]
    assert not report.failed, "fix these or suppress them with #checkov:skip=<ID>:<reason>:\n" + "\n".join(
        _where(c) for c in report.failed
    )


def test_every_suppression_carries_its_reason(checkov_reports: dict[str, CheckovReport]) -> None:
    unexplained = []
    for tf in sorted(tooling.TERRAFORM_DIR.rglob("*.tf")):
        if ".terraform" in tf.parts:
            continue
        for number, line in enumerate(tf.read_text().splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if match and len((match.group(2) or "").strip()) < MIN_REASON_LENGTH:
                unexplained.append(f"{tf.relative_to(tooling.REPO)}:{number}: {line.strip()}")
    assert not unexplained, "each suppression needs a reason after the check ID:\n" + "\n".join(unexplained)
    for check in checkov_reports["repo"].skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        assert reason.strip(), f"suppressed without a reason: {_where(check)}"


def test_repository_policies_are_evaluated(checkov_reports: dict[str, CheckovReport]) -> None:
    evaluated = {c["check_id"] for c in checkov_reports["repo"].passed}
    missing = sorted(set(policy_ids()) - evaluated)
    assert not missing, f"repository policies that matched no resource in terraform/: {missing}"


def test_repository_policies_catch_violations(checkov_reports: dict[str, CheckovReport]) -> None:
    caught = {c["check_id"] for c in checkov_reports["violations"].failed}
    missed = sorted(set(policy_ids()) - caught)
    assert not missed, f"policies that did not flag their violation in {VIOLATIONS}: {missed}"
