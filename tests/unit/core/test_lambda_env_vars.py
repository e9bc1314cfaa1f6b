"""Each Lambda declares in `ENV_VARS` exactly the environment variables its source reads.

Terraform sets the declared names (tests/terraform compares the two); here the declaration is held
to the code: a name read but not declared, or declared but no longer read, fails. The names read
are found in the source (no import, no running): string literals shaped like `SOME_NAME` given to
a call (`env.get("NAME")`, `required("NAME")`, `_days(get, "NAME", ...)`) or used as a subscript.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def names_read(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            candidates = list(node.args)
        elif isinstance(node, ast.Subscript):
            candidates = [node.slice]
        else:
            continue
        names |= {
            c.value
            for c in candidates
            if isinstance(c, ast.Constant) and isinstance(c.value, str) and ENV_NAME.fullmatch(c.value)
        }
    return names


@pytest.mark.parametrize(
    "module_name", ["lambdas.receiver.config", "lambdas.consumer.config", "lambdas.reverse.handler"]
)
def test_env_vars_are_exactly_the_names_read(module_name: str) -> None:
    module = importlib.import_module(module_name)
    declared: tuple[str, ...] = module.ENV_VARS
    assert len(declared) == len(set(declared)), f"{module_name}.ENV_VARS repeats a name"
    assert set(declared) == names_read(Path(module.__file__ or "").read_text())


def test_names_read_finds_calls_and_subscripts_only() -> None:
    source = "\n".join(
        [
            'x = env.get("A_NAME", "")',
            'y = environ["B_NAME"]',
            'z = {"NOT_READ"}',
            'w = f(get, "C_NAME")',
            'g("lower")',
        ]
    )
    assert names_read(source) == {"A_NAME", "B_NAME", "C_NAME"}
