"""The documentation keeps up with the code: every command and option, every setting."""

from __future__ import annotations

import re
from pathlib import Path

import click

from cli_reference import render, walk
from learnerledger.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _docs_text() -> str:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_cli_reference_is_up_to_date() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is out of date: run `make docs`"


def test_every_command_is_explained_in_a_guide() -> None:
    guides = "\n".join(
        f.read_text(encoding="utf-8")
        for f in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
        if f.name != "cli.md"
    )
    runnable = [
        path
        for path in walk(main)
        if path
        and (
            not isinstance(_command(path), click.Group) or _command(path).invoke_without_command  # type: ignore[attr-defined]
        )
    ]
    missing = [
        " ".join(("learnerledger", *path))
        for path in runnable
        if " ".join(("learnerledger", *path)) not in guides
    ]
    assert not missing, f"no guide mentions: {missing}"


def test_every_option_is_explained_in_a_guide() -> None:
    text = _docs_text().replace((ROOT / "docs" / "cli.md").read_text(encoding="utf-8"), "")
    missing = []
    for path in walk(main):
        for param in _command(path).params:
            for opt in getattr(param, "opts", []):
                documented = re.search(re.escape(opt) + r"\b", text)
                if opt.startswith("--") and opt not in ("--help", "--version") and not documented:
                    missing.append(f"{' '.join(path) or 'learnerledger'} {opt}")
    assert not missing, f"options no guide mentions: {missing}"
