"""Which environment variables the ops package reads, found in its source (no import, no running).

A name counts when it is a string literal given to `os.environ.get`, `os.getenv`, `os.environ[...]`,
to a helper that passes its first parameter to one of those (`ops.settings.env`,
`ops.migrate.config._env_float`, ...), or to a Typer/click option as `envvar=`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

OPS_PACKAGE = Path(__file__).resolve().parents[2] / "ops"


@dataclass(frozen=True)
class EnvRead:
    name: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(OPS_PACKAGE.parent)}:{self.line}"


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` (or a bare `environ` imported from os)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def _reads_environ(call: ast.Call) -> bool:
    """`os.environ.get(...)` or `os.getenv(...)`."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "get" and _is_environ(func.value):
        return True
    return func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _reader_functions(trees: list[ast.Module]) -> set[str]:
    """Functions that read the variable named by their first parameter, like `env(name)`."""
    readers: set[str] = set()
    for tree in trees:
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) or not func.args.args:
                continue
            param = func.args.args[0].arg
            for node in ast.walk(func):
                key: ast.AST | None = None
                if isinstance(node, ast.Call) and _reads_environ(node) and node.args:
                    key = node.args[0]
                elif isinstance(node, ast.Subscript) and _is_environ(node.value):
                    key = node.slice
                if isinstance(key, ast.Name) and key.id == param:
                    readers.add(func.name)
    return readers


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _reads_in(tree: ast.Module, path: Path, readers: set[str]) -> Iterator[EnvRead]:
    for node in ast.walk(tree):
        names: list[str | None] = []
        if isinstance(node, ast.Call):
            if (_reads_environ(node) or _called_name(node) in readers) and node.args:
                names.append(_literal(node.args[0]))
            for keyword in node.keywords:
                if keyword.arg == "envvar":
                    values = (
                        keyword.value.elts
                        if isinstance(keyword.value, ast.List | ast.Tuple)
                        else [keyword.value]
                    )
                    names.extend(_literal(v) for v in values)
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            names.append(_literal(node.slice))
        for name in names:
            if name is not None:
                yield EnvRead(name, path, node.lineno)


def env_reads(package: Path = OPS_PACKAGE) -> list[EnvRead]:
    """Every literal environment variable name read anywhere in `package`."""
    files = sorted(package.rglob("*.py"))
    trees = [ast.parse(f.read_text(), filename=str(f)) for f in files]
    readers = _reader_functions(trees)
    return [read for f, tree in zip(files, trees, strict=True) for read in _reads_in(tree, f, readers)]


def env_names(package: Path = OPS_PACKAGE) -> set[str]:
    return {read.name for read in env_reads(package)}
