"""scripts/package_lambdas.py: layout, determinism and errors of the Lambda zips (no network)."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "package_lambdas.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_lambdas", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["package_lambdas"] = module
    spec.loader.exec_module(module)
    return module


package_lambdas = _load()


@pytest.fixture
def source_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    lambdas = root / "lambdas"
    for package, files in {
        "": {"__init__.py": ""},
        "shared": {"__init__.py": "", "messages.py": "VERSION = 1\n"},
        "receiver": {
            "__init__.py": "",
            "handler.py": "def handler(event, context):\n    return {}\n",
            "requirements.txt": "# boto3 comes with the runtime\n",
            "certs/AppleRootCA-G3.cer": "DER",
        },
    }.items():
        for name, text in files.items():
            path = lambdas / package / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    cache = lambdas / "shared" / "__pycache__"
    cache.mkdir()
    (cache / "messages.cpython-311.pyc").write_bytes(b"\0")
    return root


def test_zip_holds_the_function_and_shared_code_under_lambdas(source_tree: Path, tmp_path: Path) -> None:
    path = package_lambdas.build(source_tree, "receiver", tmp_path / "out")

    names = set(zipfile.ZipFile(path).namelist())
    assert names == {
        "lambdas/__init__.py",
        "lambdas/shared/__init__.py",
        "lambdas/shared/messages.py",
        "lambdas/receiver/__init__.py",
        "lambdas/receiver/handler.py",
        "lambdas/receiver/certs/AppleRootCA-G3.cer",
    }


def test_zip_is_deterministic(source_tree: Path, tmp_path: Path) -> None:
    first = package_lambdas.build(source_tree, "receiver", tmp_path / "a").read_bytes()
    (source_tree / "lambdas" / "receiver" / "handler.py").touch()

    second = package_lambdas.build(source_tree, "receiver", tmp_path / "b").read_bytes()

    assert first == second


def test_missing_function_is_a_clear_error(source_tree: Path, tmp_path: Path) -> None:
    with pytest.raises(package_lambdas.PackagingError, match=r"consumer/handler\.py does not exist"):
        package_lambdas.build(source_tree, "consumer", tmp_path / "out")
    assert not (tmp_path / "out" / "consumer.zip").exists()


def test_pip_installs_arm64_cpython_312_wheels_only(tmp_path: Path) -> None:
    command = package_lambdas.pip_command(tmp_path / "requirements.txt", tmp_path / "target")

    assert command[1:4] == ["-m", "pip", "install"]
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.12"
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms[0] == "manylinux2014_aarch64" and all(p.endswith("_aarch64") for p in platforms)
    assert command[-2:] == ["-t", str(tmp_path / "target")]


def test_requirement_lines_ignore_comments_and_blanks(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\n\nPyJWT==2.15.1  # verification\ncryptography==50.0.2\n")

    assert package_lambdas.requirement_lines(requirements) == ["PyJWT==2.15.1", "cryptography==50.0.2"]
