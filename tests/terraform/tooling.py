"""Finding and running terraform and checkov for the Terraform checks in `make test`.

Every terraform command runs in a per-session copy of `terraform/`, so nothing is written into the
working tree and two sessions never share a `.terraform` folder. All roots share one provider
folder through `init -plugin-dir` (providers are symlinked, not copied).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
CHECKOV_REQUIREMENTS = REPO / "tools" / "checkov" / "requirements.txt"
CHECKOV_POLICIES = REPO / "tools" / "checkov" / "policies"
CHECKOV_VENV = REPO / ".venv-checkov"
AWS_PROVIDER_PATH = Path("registry.terraform.io", "hashicorp", "aws")
# Places a provider mirror usually lives; searched before a bounded walk of the file system.
PLUGIN_DIR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str, install: str) -> None:
    """Skip locally; in CI a missing tool is a failure that says what to install."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure): {install}", pytrace=False)
    pytest.skip(f"{reason}: {install}")


def modules() -> list[Path]:
    return sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if (p / "main.tf").is_file())


def environments() -> list[Path]:
    """The environment roots (envs/<env>): one call of modules/environment each."""
    return sorted(p for p in (TERRAFORM_DIR / "envs").iterdir() if (p / "main.tf").is_file())


def production_links() -> list[Path]:
    """The production-link roots (envs/<env>/production-link), applied in the production account."""
    return sorted(p for p in (TERRAFORM_DIR / "envs").glob("*/production-link") if (p / "main.tf").is_file())


def envs() -> list[Path]:
    return environments() + production_links()


def roots() -> list[Path]:
    """Every directory terraform is initialised in; environments first, as the contract test needs them."""
    return envs() + modules()


def rel(root: Path) -> str:
    return root.relative_to(TERRAFORM_DIR).as_posix()


def find_plugin_dir() -> Path | None:
    """The provider mirror holding hashicorp/aws: $TF_PLUGIN_DIR, known places, then a bounded search."""
    override = os.environ.get("TF_PLUGIN_DIR")
    candidates = [Path(override)] if override else []
    candidates += list(PLUGIN_DIR_CANDIDATES)
    for candidate in candidates:
        if (candidate / AWS_PROVIDER_PATH).is_dir():
            return candidate
    found = subprocess.run(
        [
            "find",
            "/",
            "-maxdepth",
            "7",
            "(",
            "-path",
            "/proc",
            "-o",
            "-path",
            "/sys",
            "-o",
            "-path",
            "/dev",
            ")",
            "-prune",
            "-o",
            "-type",
            "d",
            "-path",
            f"*/{AWS_PROVIDER_PATH.as_posix()}",
            "-print",
            "-quit",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout.strip()
    return Path(found).parents[2] if found else None


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        return f"$ {' '.join(self.args)}  (exit {self.returncode}, {self.seconds:.1f}s)\n{self.output}"


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> Result:
    started = time.monotonic()
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(tuple(args), proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


@dataclass
class RootRuns:
    init: Result | None = None
    validate: Result | None = None
    test: Result | None = None


@dataclass
class TerraformBench:
    """A session's copy of terraform/ where every root is initialised, validated and tested once.

    The work starts in the background when the bench is created (two roots at a time: the machine
    has two cores); each test waits only for the root it checks.
    """

    terraform: str
    plugin_dir: Path
    workdir: Path
    env: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    _futures: dict[str, Future[RootRuns]] = field(default_factory=dict)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=2))

    @classmethod
    def create(cls, terraform: str, plugin_dir: Path, base: Path) -> TerraformBench:
        workdir = base / "terraform"
        shutil.copytree(
            TERRAFORM_DIR,
            workdir,
            ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*"),
        )
        cli_config = base / "terraformrc"
        cli_config.write_text("")
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        for leftover in ("TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR", "TF_WORKSPACE"):
            env.pop(leftover, None)
        bench = cls(terraform=terraform, plugin_dir=plugin_dir, workdir=workdir, env=env)
        for root in roots():
            bench._futures[rel(root)] = bench._pool.submit(bench._check_root, rel(root))
        return bench

    def path(self, root: str) -> Path:
        return self.workdir / root

    def _check_root(self, root: str) -> RootRuns:
        cwd = self.path(root)
        runs = RootRuns()
        runs.init = run(
            [
                self.terraform,
                "init",
                "-backend=false",
                f"-plugin-dir={self.plugin_dir}",
                "-input=false",
                "-no-color",
            ],
            cwd,
            self.env,
        )
        if not runs.init.ok:
            return runs
        runs.validate = run([self.terraform, "validate", "-no-color"], cwd, self.env)
        if (cwd / "tests").is_dir():
            runs.test = run([self.terraform, "test", "-no-color"], cwd, self.env, timeout=600)
        return runs

    def results(self, root: str) -> RootRuns:
        return self._futures[root].result()

    def terraform_cmd(self, root: str, *args: str, timeout: float = 600) -> Result:
        """Run one more command in an initialised root, after its own checks finished."""
        self.results(root)
        return run([self.terraform, *args, "-no-color"], self.path(root), self.env, timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def checkov_pin() -> str:
    for raw in CHECKOV_REQUIREMENTS.read_text().splitlines():
        requirement = raw.split("#", 1)[0].strip()
        if requirement.lower().startswith("checkov=="):
            return requirement.split("==", 1)[1]
    raise AssertionError(f"{CHECKOV_REQUIREMENTS} must pin checkov with checkov==<version>")


def ensure_checkov_venv() -> Path:
    """`.venv-checkov/bin/checkov` at the pinned version, creating or updating the venv when needed.

    checkov has its own venv because its fork of python-hcl2 clashes with the project's python-hcl2.
    A lock keeps two sessions from building it at the same time.
    """
    checkov = CHECKOV_VENV / "bin" / "checkov"
    pin = checkov_pin()
    lock_path = Path("/tmp") / f"platform-ops-checkov-venv-{os.getuid()}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if checkov.is_file() and _installed_checkov(checkov) == pin:
            return checkov
        python = shutil.which("python3.11") or sys.executable
        steps = [
            [python, "-m", "venv", str(CHECKOV_VENV)],
            [str(CHECKOV_VENV / "bin" / "pip"), "install", "--quiet", "-r", str(CHECKOV_REQUIREMENTS)],
        ]
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0:
                unavailable(
                    f"could not build the checkov venv ({' '.join(step)} exited {proc.returncode}: "
                    f"{proc.stderr.strip()[-400:]})",
                    "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install -r "
                    f"{CHECKOV_REQUIREMENTS.relative_to(REPO)}",
                )
    return checkov


def _installed_checkov(checkov: Path) -> str | None:
    proc = subprocess.run(
        [str(checkov), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    return proc.stdout.strip() if proc.returncode == 0 else None
