"""The CLI reference generator renders groups, commands, options and defaults from the app."""

from __future__ import annotations

import typer

from scripts.gen_cli_docs import command_tree, render


def small_app() -> typer.Typer:
    root = typer.Typer(help="Root help.")
    group = typer.Typer(help="Group help. More detail.")

    @group.command("do-it")
    def do_it(
        count: int = typer.Option(3, "--count", help="How many | times."),
        force: bool = typer.Option(False, "--force", "-f", help="Skip checks."),
    ) -> None:
        """Do it once.

        Longer text.
        """

    @group.command()
    def other(name: str = typer.Argument(..., help="A name.")) -> None:
        """Other thing."""

    root.add_typer(group, name="grp")
    return root


def test_the_tree_has_every_command_and_option() -> None:
    tree = command_tree(small_app())
    node, rest = tree.find(["grp", "do-it", "--count", "2"])
    assert node.path == ("ops", "grp", "do-it") and rest == ["--count", "2"]
    count = node.option("--count")
    assert count is not None and count.type_name == "int" and count.default == 3
    force = node.option("-f")
    assert force is not None and force.is_flag
    other, _ = tree.find(["grp", "other"])
    assert [o.positional for o in other.options if o.names != ("--help",)] == [True]


def test_the_markdown_is_deterministic_and_complete() -> None:
    text = render(command_tree(small_app()))
    assert text == render(command_tree(small_app()))
    assert "- [`ops grp`](#ops-grp) — Group help. More detail." in text
    assert "| `ops grp do-it` | Do it once. |" in text
    assert "| `--count` | int | `3` | How many \\| times. |" in text
    assert "| `--force`, `-f` | flag | off | Skip checks. |" in text
    assert "ops grp other [OPTIONS] NAME" in text
