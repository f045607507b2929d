"""The one place commands print through: reports, notes, pauses and errors.

- ``--json``: exactly one JSON document on stdout (:func:`report`), nothing else there;
- a report for people: its lines on stdout (:func:`line`);
- progress, notes, pauses and errors: stderr (:func:`note`), so a script can read stdout;
- a :class:`~learnerledger.errors.LearnerLedgerError` becomes one paragraph, ``Error: ...``,
  and exit status 1 (:class:`Group` does it for every command); a paused job exits 75.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn

import click

from learnerledger.errors import LearnerLedgerError

__all__ = [
    "EXIT_ERROR",
    "EXIT_PAUSED",
    "Group",
    "error",
    "line",
    "note",
    "paused",
    "report",
]

EXIT_ERROR = 1
EXIT_PAUSED = 75  # sysexits' EX_TEMPFAIL: a rate limit is spent, run the same command later


def line(text: str = "") -> None:
    """One line of a report for people (stdout)."""
    click.echo(text)


def note(text: str) -> None:
    """Progress, a note or a prompt's context (stderr)."""
    click.echo(text, err=True)


def report(document: Any, *, as_json: bool, human: Callable[[], None]) -> None:
    """With ``--json`` the document as one JSON value on stdout; otherwise ``human()``."""
    if as_json:
        click.echo(json.dumps(document))
    else:
        human()


def paused(ctx: click.Context, message: str) -> NoReturn:
    """A job stopped on a spent budget: nothing is lost, the same command carries on later."""
    note(f"Paused: {message}")
    ctx.exit(EXIT_PAUSED)


def error(ctx: click.Context, exc: LearnerLedgerError) -> NoReturn:
    """The error as one paragraph on stderr (its message says what to do), then exit 1."""
    note(f"Error: {exc}")
    ctx.exit(EXIT_ERROR)


class Group(click.Group):
    """Turns LearnerLedgerError into a clean message instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LearnerLedgerError as exc:
            error(ctx, exc)
