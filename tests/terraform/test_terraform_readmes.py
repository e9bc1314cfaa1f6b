"""Module READMEs carry generated Inputs/Outputs tables that match variables.tf and outputs.tf."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform import terraform_docs, tooling


@pytest.mark.terraform
def test_every_module_readme_is_current() -> None:
    missing = [tooling.rel(m) for m in tooling.modules() if not (m / "README.md").is_file()]
    assert not missing, f"modules without README.md: {missing}"
    stale = [str(p.relative_to(tooling.REPO)) for p in terraform_docs.stale_readmes()]
    assert not stale, f"regenerate with `.venv/bin/python -m tests.terraform.terraform_docs`: {stale}"


@pytest.mark.terraform
def test_tables_follow_the_variables(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "queue_name" {\n  description = "Name | of the queue."\n'
        '  type = string\n  default = "q.fifo"\n}\n'
        'variable "tables" {\n  description = "Tables."\n  type = list(object({ name = string }))\n}\n'
    )
    (tmp_path / "outputs.tf").write_text('output "queue_url" {\n  description = "URL."\n  value = "x"\n}\n')
    readme = f"# m\n\nIntro.\n\n{terraform_docs.BEGIN}\nold\n{terraform_docs.END}\n\nFooter.\n"

    rendered = terraform_docs.render(readme, tmp_path)

    assert rendered.startswith("# m\n\nIntro.\n\n") and rendered.endswith("\n\nFooter.\n")
    assert '| `queue_name` | Name \\| of the queue. | `string` | `"q.fifo"` | no |' in rendered
    assert "| `tables` | Tables. | `list(object({name = string}))` | n/a | yes |" in rendered
    assert "| `queue_url` | URL. |" in rendered
    assert terraform_docs.render(rendered, tmp_path) == rendered
