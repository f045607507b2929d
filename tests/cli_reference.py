"""Renders docs/cli.md from the command tree: every command with its ``--help`` text.

Regenerate after changing a command: ``python tests/cli_reference.py > docs/cli.md``
(``make docs`` does it). tests/test_docs.py fails while the file is out of date.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from learnerledger.cli import main

HEADER = """# Command reference

Every command of `learnerledger`, with the help it prints. Generated from the code by
`make docs`; the guides explain when to use which.
"""


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], (*path, name))


def render() -> str:
    runner = CliRunner()
    parts = [HEADER]
    for path in walk(main):
        result = runner.invoke(
            main, [*path, "--help"], prog_name="learnerledger", terminal_width=100
        )
        title = " ".join(("learnerledger", *path))
        parts.append(f"\n## `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
