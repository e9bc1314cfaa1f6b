"""Session fixtures of the Terraform checks: the terraform bench and the checkov venv."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.terraform import tooling


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    terraform = shutil.which("terraform")
    if terraform is None:
        tooling.unavailable(
            "terraform is not on PATH",
            "install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install)",
        )
    assert terraform is not None
    return terraform


@pytest.fixture(scope="session")
def plugin_dir() -> Path:
    found = tooling.find_plugin_dir()
    if found is None:
        tooling.unavailable(
            "no local provider folder with registry.terraform.io/hashicorp/aws",
            "unpack the hashicorp/aws 5.x provider into a plugin folder and set TF_PLUGIN_DIR to it",
        )
    assert found is not None
    return found


@pytest.fixture(scope="session")
def terraform_bench(
    terraform_bin: str, plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tooling.TerraformBench]:
    bench = tooling.TerraformBench.create(terraform_bin, plugin_dir, tmp_path_factory.mktemp("tf"))
    try:
        yield bench
    finally:
        bench.close()
        print(f"\nterraform checks: {time.monotonic() - bench.started:.1f}s for {len(tooling.roots())} roots")


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    return tooling.ensure_checkov_venv()
