"""The roots stay thin and pinned, the docs name only outputs that exist, and the conventions hold
(read from the HCL source with python-hcl2; no terraform run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.terraform import emulator, tooling
from tests.terraform.terraform_docs import _plain

pytestmark = pytest.mark.terraform

ROOT_FILES = {
    "backend.tf",
    "versions.tf",
    "providers.tf",
    "variables.tf",
    "main.tf",
    "outputs.tf",
    "terraform.tfvars",
}
# What a root keeps as its own; every other file is a link into envs/shared (one copy for all roots).
OWN_FILES = {"backend.tf", "main.tf", "terraform.tfvars"}
SHARED = tooling.TERRAFORM_DIR / "envs" / "shared"
OUTPUT_REFERENCE = re.compile(r"terraform output\s+(?:-(?:json|raw|no-color)\s+)*([a-z_][a-z0-9_]*)")
DOCS = [
    *sorted((tooling.REPO / "runbooks").glob("*.md")),
    tooling.TERRAFORM_DIR / "README.md",
    tooling.REPO / "README.md",
    *sorted((tooling.REPO / "docs").glob("*.md")),
]


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle))


def blocks(path: Path, kind: str) -> dict[str, Any]:
    return {_plain(name): body for block in load(path).get(kind, []) for name, body in block.items()}


def module_call(root: Path) -> tuple[str, dict[str, Any]]:
    (name, body), *rest = blocks(root / "main.tf", "module").items()
    assert not rest, f"{tooling.rel(root)} calls more than one module"
    return name, body


def outputs_of(directory: Path) -> set[str]:
    return set(blocks(directory / "outputs.tf", "output"))


def module_source(root: Path) -> Path:
    _, body = module_call(root)
    return (root / _plain(body["source"])).resolve()


@pytest.mark.parametrize("root", [tooling.rel(r) for r in tooling.envs()])
def test_roots_are_thin(root: str) -> None:
    """Backend, provider, tfvars and one module block: every setting lives in the module block."""
    path = tooling.TERRAFORM_DIR / root
    files = {p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert files == ROOT_FILES, (
        f"{root} has {sorted(files - ROOT_FILES)} / lacks {sorted(ROOT_FILES - files)}"
    )
    main = {kind for kind in load(path / "main.tf") if not kind.startswith("__")}
    assert main == {"module"}, f"{root}/main.tf must hold one module block and nothing else: {sorted(main)}"
    module_call(path)
    assert len((path / "main.tf").read_text().splitlines()) < 60


@pytest.mark.parametrize("root", [tooling.rel(r) for r in tooling.envs()])
def test_roots_pass_every_module_output_through(root: str) -> None:
    path = tooling.TERRAFORM_DIR / root
    name, _ = module_call(path)
    wanted = outputs_of(module_source(path))
    passed = {output: _plain(body["value"]) for output, body in blocks(path / "outputs.tf", "output").items()}
    assert set(passed) == wanted, (
        f"{root}: missing {sorted(wanted - set(passed))}, extra {sorted(set(passed) - wanted)}"
    )
    wrong = {o: v for o, v in passed.items() if v != f"module.{name}.{o}"}
    assert not wrong, f"{root}: outputs that are not the module's own: {wrong}"


@pytest.mark.parametrize("root", [tooling.rel(r) for r in tooling.envs()])
def test_every_root_pins_its_account(root: str) -> None:
    path = tooling.TERRAFORM_DIR / root
    (provider,) = [body for block in load(path / "providers.tf")["provider"] for name, body in block.items()]
    assert _plain(provider.get("allowed_account_ids")) == "var.allowed_account_ids", (
        f"{root}: the provider must take allowed_account_ids from the tfvars"
    )
    accounts = load(path / "terraform.tfvars").get("allowed_account_ids")
    assert accounts and all(re.fullmatch(r"\d{12}", _plain(a)) for a in accounts), (
        f"{root}/terraform.tfvars must pin the account: {accounts}"
    )


@pytest.mark.parametrize("root", [tooling.rel(r) for r in tooling.envs()])
def test_roots_share_every_file_but_their_settings(root: str) -> None:
    """A root owns its backend, tfvars and module block; the rest is one file in envs/shared."""
    path = tooling.TERRAFORM_DIR / root
    kind = "production-link" if path.name == "production-link" else "environment"
    for name in ROOT_FILES - OWN_FILES:
        shared = SHARED / name if name in ("versions.tf", "providers.tf") else SHARED / kind / name
        assert (path / name).is_symlink(), f"{root}/{name} must be a link to {tooling.rel(shared)}"
        assert (path / name).resolve() == shared.resolve(), f"{root}/{name} links elsewhere than {shared}"
    for name in OWN_FILES:
        assert not (path / name).is_symlink(), f"{root}/{name} is the root's own setting, not a link"


def test_environments_differ_only_in_their_settings() -> None:
    """The two environments' backends differ only in the environment's name."""
    for link in ("", "production-link"):
        staging, prod = (tooling.TERRAFORM_DIR / "envs" / env / link for env in ("staging", "prod"))
        assert (staging / "backend.tf").read_text().replace("staging", "prod") == (
            prod / "backend.tf"
        ).read_text()
    tests = SHARED / "production-link" / "tests" / "production_link.tftest.hcl"
    for production_link in tooling.production_links():
        assert (production_link / "tests" / tests.name).resolve() == tests.resolve()


def test_docs_name_only_outputs_that_exist() -> None:
    known = set().union(*(outputs_of(root) for root in tooling.envs()))
    named = {
        (doc.relative_to(tooling.REPO).as_posix(), match)
        for doc in DOCS
        for match in OUTPUT_REFERENCE.findall(doc.read_text(encoding="utf-8"))
    }
    assert named, "no `terraform output <name>` found in the docs: the pattern is wrong"
    unknown = sorted((doc, name) for doc, name in named if name not in known)
    assert not unknown, f"docs name outputs no root has: {unknown}"


def test_the_output_pattern_finds_names() -> None:
    text = "`terraform output -raw v2_address` and terraform output -json ops_environment | jq"
    assert OUTPUT_REFERENCE.findall(text) == ["v2_address", "ops_environment"]


def test_every_variable_is_described_and_typed() -> None:
    missing = [
        f"{tooling.rel(module)}: {name}"
        for module in tooling.modules() + tooling.envs()
        for tf in sorted(module.glob("*.tf"))
        for name, body in blocks(tf, "variable").items()
        if not body.get("description") or not body.get("type")
    ]
    assert not missing, f"variables without description or type: {missing}"


def test_terraform_never_takes_back_what_operators_and_aws_change() -> None:
    """The flag's value belongs to the ops CLI; a new AL2023 AMI must not replace a worker mid-backfill."""
    flag = blocks(tooling.TERRAFORM_DIR / "modules" / "migration_flag" / "main.tf", "resource")
    runner = blocks(tooling.TERRAFORM_DIR / "modules" / "backfill_runner" / "main.tf", "resource")

    def ignored(resource: dict[str, Any]) -> list[str]:
        (lifecycle,) = _plain(resource)["this"]["lifecycle"]
        return [_plain(item) for item in lifecycle["ignore_changes"]]

    assert ignored(flag["aws_ssm_parameter"]) == ["value"]
    assert "ami" in ignored(runner["aws_instance"])
    assert _plain(flag["aws_ssm_parameter"])["this"]["value"] == "var.initial_mode"


def test_the_readme_lists_what_the_emulator_leaves_out() -> None:
    readme = (tooling.TERRAFORM_DIR / "README.md").read_text(encoding="utf-8")
    for setting in emulator.EMULATOR_SETTINGS:
        row = next(
            (line for line in readme.splitlines() if line.startswith(f"| `{setting.argument}` |")), None
        )
        assert row is not None, f"terraform/README.md must list {setting.argument} with its reason"
        assert f"`{str(setting.value).lower()}`" in row
    for difference in emulator.EMULATOR_PLAN_DIFFERENCES:
        assert any(
            f"`{difference.resource_type}`" in line and f"`{difference.attribute}`" in line
            for line in readme.splitlines()
        ), f"terraform/README.md must list {difference.resource_type}.{difference.attribute}"


@pytest.mark.parametrize(
    ("address", "resource_type"),
    [
        ("module.environment.module.notifications.aws_sqs_queue.this", "aws_sqs_queue"),
        ("module.notifications.module.reconcile[0].aws_lambda_function.this", "aws_lambda_function"),
        ('module.environment.module.network.aws_vpc_endpoint.interface["ssm.messages"]', "aws_vpc_endpoint"),
        ('module.a["x.y"].module.b[1].aws_iam_role_policy.this[0]', "aws_iam_role_policy"),
    ],
)
def test_a_plan_difference_knows_its_resource_type(address: str, resource_type: str) -> None:
    """The emulator's allowed differences are per resource type, wherever the resource sits (a
    module with count or for_each, a key with dots)."""
    assert emulator.Difference(address, ("update",), ()).resource_type == resource_type
