"""terraform fmt, init + validate of every module and environment, and their `terraform test` files."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.terraform import tooling

pytestmark = pytest.mark.terraform

ROOTS = [tooling.rel(root) for root in tooling.roots()]
TESTED_ROOTS = [tooling.rel(root) for root in tooling.roots() if (root / "tests").is_dir()]


def test_fmt(terraform_bin: str) -> None:
    proc = subprocess.run(
        [terraform_bin, "fmt", "-check", "-recursive", "-diff", "-no-color", str(tooling.TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (
        f"run `terraform fmt -recursive terraform` to fix:\n{proc.stdout}{proc.stderr}"
    )


@pytest.mark.parametrize("root", ROOTS)
def test_init_and_validate(terraform_bench: tooling.TerraformBench, root: str) -> None:
    runs = terraform_bench.results(root)
    assert runs.init is not None and runs.init.ok, runs.init.describe() if runs.init else "init did not run"
    assert runs.validate is not None and runs.validate.ok, runs.validate.describe() if runs.validate else ""


@pytest.mark.parametrize("root", TESTED_ROOTS)
def test_terraform_test(terraform_bench: tooling.TerraformBench, root: str) -> None:
    runs = terraform_bench.results(root)
    assert runs.test is not None, f"terraform test did not run for {root}: init failed\n" + (
        runs.init.describe() if runs.init else ""
    )
    assert runs.test.ok, runs.test.describe()
    assert " 0 failed" in runs.test.output and "Success!" in runs.test.output, runs.test.describe()


def test_every_module_and_env_has_terraform_tests() -> None:
    untested = sorted(set(ROOTS) - set(TESTED_ROOTS))
    assert not untested, f'add a tests/*.tftest.hcl with mock_provider "aws" to: {", ".join(untested)}'


MOCKS = tooling.TERRAFORM_DIR / "tests" / "mocks"


@pytest.mark.parametrize("root", TESTED_ROOTS)
def test_every_test_plans_against_the_one_fake_account(root: str) -> None:
    """Every mocked provider loads terraform/tests/mocks (one account, one set of fake values);
    a test declares only the values it needs to differ."""
    for test_file in sorted((tooling.TERRAFORM_DIR / root / "tests").glob("*.tftest.hcl")):
        blocks = re.findall(r'^mock_provider "aws" \{(.*?)^\}', test_file.read_text(), re.M | re.S)
        assert blocks, f'{test_file}: no mock_provider "aws" block'
        for block in blocks:
            source = re.search(r'^\s*source\s*=\s*"([^"]+)"', block, re.M)
            assert source, (
                f'{test_file}: mock_provider "aws" needs source = "<path to terraform/tests/mocks>"'
            )
            resolved = (tooling.TERRAFORM_DIR / root / source.group(1)).resolve()
            assert resolved == MOCKS.resolve(), (
                f"{test_file}: source {source.group(1)!r} is {resolved}, not {MOCKS}"
            )
    assert list(MOCKS.glob("*.tfmock.hcl")), f"{MOCKS} has no .tfmock.hcl file"


@pytest.mark.parametrize("module", [tooling.rel(m) for m in tooling.modules()])
def test_module_layout(module: str) -> None:
    """terraform-aws-modules layout: main/variables/outputs/versions and a README."""
    path = tooling.TERRAFORM_DIR / module
    missing = [
        f
        for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
        if not (path / f).is_file()
    ]
    assert not missing, f"{module} lacks {', '.join(missing)}"
