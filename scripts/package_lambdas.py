"""Build the Lambda deployment packages: build/lambdas/<function>.zip.

Each zip holds `lambdas/__init__.py`, `lambdas/shared/`, `lambdas/<function>/` (handlers are
`lambdas.<function>.handler.handler`), the parts of `ops/` a function shares (`OPS_SOURCES`) and
the function's requirements installed by pip for the Lambda platform (arm64, CPython 3.12,
manylinux wheels only). The zips are deterministic (sorted entries, fixed timestamps), so an
unchanged function keeps its source_code_hash and `terraform plan` shows no update.

Usage: python scripts/package_lambdas.py [--function receiver --function consumer] [--out build/lambdas]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = ("receiver", "consumer", "reverse")
# Functions that also carry part of the ops package: the reverse writer shares the mapping and
# the writer with the local poller, so both apply a change the same way.
OPS_SOURCES: dict[str, tuple[str, ...]] = {
    "reverse": (
        "ops/__init__.py",
        "ops/aws.py",
        "ops/control.py",
        "ops/exceptions.py",
        "ops/settings.py",
        "ops/tables.py",
        "ops/mapping",
        "ops/reverse/__init__.py",
        "ops/reverse/apply.py",
        "ops/reverse/state.py",
    )
}
# The python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 wheels and the newer
# manylinux_2_28/2_34 ones (which some packages, e.g. psycopg-binary 3.3, publish only) all load there.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
PYTHON_VERSION = "3.12"
# Lambda's limit for a zip uploaded directly (Terraform's `filename`).
MAX_ZIP_BYTES = 50 * 1024 * 1024
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache"}
# google-api-python-client ships ~110 MB of discovery documents for every Google API; the consumer
# builds only androidpublisher v3 from its shipped document.
DISCOVERY_DOCUMENTS = Path("googleapiclient") / "discovery_cache" / "documents"
KEPT_DISCOVERY_DOCUMENTS = {"androidpublisher.v3.json"}


class PackagingError(Exception):
    """A package cannot be built; the message says what to fix."""


def requirement_lines(requirements: Path) -> list[str]:
    if not requirements.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line]


def pip_command(requirements: Path, target: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
        "-r",
        str(requirements),
        "-t",
        str(target),
    ]


def _copy_package(source: Path, destination: Path) -> None:
    shutil.copytree(
        source,
        destination,
        ignore=shutil.ignore_patterns(*SKIPPED_PARTS, "*.pyc", "requirements.txt"),
        dirs_exist_ok=True,
    )


def stage(root: Path, function: str, staging: Path) -> None:
    """Lay out one function's package: its code, the shared code and its installed requirements."""
    lambdas = root / "lambdas"
    function_dir = lambdas / function
    if not (function_dir / "handler.py").is_file():
        raise PackagingError(
            f"{function_dir / 'handler.py'} does not exist; is '{function}' a Lambda function?"
        )
    (staging / "lambdas").mkdir(parents=True)
    shutil.copy2(lambdas / "__init__.py", staging / "lambdas" / "__init__.py")
    _copy_package(lambdas / "shared", staging / "lambdas" / "shared")
    _copy_package(function_dir, staging / "lambdas" / function)
    for source in OPS_SOURCES.get(function, ()):
        path = root / source
        if path.is_dir():
            _copy_package(path, staging / source)
        else:
            (staging / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / source)
    requirements = function_dir / "requirements.txt"
    if requirement_lines(requirements):
        proc = subprocess.run(pip_command(requirements, staging), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise PackagingError(
                f"pip could not install {requirements} for aarch64 ({', '.join(PLATFORMS)}) / "
                f"Python {PYTHON_VERSION}:\n"
                f"{proc.stderr.strip()[-3000:]}\n"
                "Every requirement needs a wheel for that platform; pin a version that publishes one."
            )
    for cache in staging.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    documents = staging / DISCOVERY_DOCUMENTS
    if documents.is_dir():
        for document in documents.iterdir():
            if document.name not in KEPT_DISCOVERY_DOCUMENTS:
                document.unlink()


def write_zip(staging: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".zip.partial")
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(staging).as_posix(), date_time=ZIP_EPOCH)
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    size = partial.stat().st_size
    if size > MAX_ZIP_BYTES:
        partial.unlink()
        raise PackagingError(
            f"{destination.name} would be {size / 1e6:.1f} MB, over Lambda's 50 MB limit for a "
            "direct upload; drop requirements the function does not import (boto3 comes with the runtime)."
        )
    partial.replace(destination)


def build(root: Path, function: str, out_dir: Path) -> Path:
    destination = out_dir / f"{function}.zip"
    with tempfile.TemporaryDirectory(prefix=f"package-{function}-") as tmp:
        staging = Path(tmp) / "package"
        stage(root, function, staging)
        write_zip(staging, destination)
    return destination


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Lambda deployment packages.")
    parser.add_argument(
        "--function", action="append", choices=FUNCTIONS, help="function to build (default: all)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "build" / "lambdas", help="output folder")
    parser.add_argument("--root", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for function in args.function or FUNCTIONS:
        try:
            path = build(args.root, function, args.out)
        except PackagingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"built {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
