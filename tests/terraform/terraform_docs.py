"""Generate the Inputs/Outputs tables of the module READMEs from variables.tf and outputs.tf.

Run `python -m tests.terraform.terraform_docs` to rewrite the tables (between the
BEGIN_TF_DOCS/END_TF_DOCS markers) and `--check` to list READMEs that are out of date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
_QUOTED = re.compile(r'^"(.*)"$', re.S)
_INTERPOLATION = re.compile(r"^\$\{(.*)\}$", re.S)


def _plain(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted and wraps expressions in ${...}; undo both."""
    if isinstance(value, str):
        quoted = _QUOTED.match(value)
        if quoted:
            return json.loads(value) if "\\" in value else quoted.group(1)
        expression = _INTERPOLATION.match(value)
        return expression.group(1) if expression else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    if not path.is_file():
        return []
    with path.open() as handle:
        parsed = hcl2.load(handle)
    return [(_plain(name), body) for block in parsed.get(kind, []) for name, body in block.items()]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(body: dict[str, Any]) -> str:
    if "default" not in body:
        return "n/a"
    value = _plain(body["default"])
    return f"`{_cell(json.dumps(value))}`"


def _type(body: dict[str, Any]) -> str:
    return f"`{_cell(str(_plain(body.get('type', 'any'))))}`"


def tables(module: Path) -> str:
    lines = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    variables = sorted(_blocks(module / "variables.tf", "variable"))
    for name, body in variables:
        required = "yes" if "default" not in body else "no"
        description = _cell(str(_plain(body.get("description", ""))))
        lines.append(f"| `{name}` | {description} | {_type(body)} | {_default(body)} | {required} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for name, body in sorted(_blocks(module / "outputs.tf", "output")):
        lines.append(f"| `{name}` | {_cell(str(_plain(body.get('description', ''))))} |")
    return "\n".join(lines)


def render(readme_text: str, module: Path) -> str:
    if BEGIN not in readme_text or END not in readme_text:
        raise ValueError(f"{module / 'README.md'} needs the markers {BEGIN} and {END} around its tables")
    head, rest = readme_text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables(module)}\n{END}{tail}"


def documented_roots() -> list[Path]:
    return sorted(p.parent for p in TERRAFORM_DIR.glob("modules/*/README.md"))


def stale_readmes() -> list[Path]:
    return [
        m / "README.md"
        for m in documented_roots()
        if render((m / "README.md").read_text(), m) != (m / "README.md").read_text()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="only report READMEs whose tables are out of date"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_readmes()
        for path in stale:
            where = path.relative_to(TERRAFORM_DIR.parent)
            print(f"out of date: {where} (run: python -m tests.terraform.terraform_docs)")
        return 1 if stale else 0
    for module in documented_roots():
        readme = module / "README.md"
        updated = render(readme.read_text(), module)
        if updated != readme.read_text():
            readme.write_text(updated)
            print(f"updated {readme.relative_to(TERRAFORM_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
