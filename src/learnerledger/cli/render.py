"""The one place commands print through: reports, notes, pauses and errors.

- ``--json``: exactly one JSON document on stdout (:func:`report`), nothing else there;
- a report for people: its lines on stdout (:func:`line`);
- progress, notes, pauses and errors: stderr (:func:`note`), so a script can read stdout;
- a :class:`~learnerledger.errors.LearnerLedgerError` becomes one paragraph, ``Error: ...``,
  and exit status 1 (:class:`Group` does it for every command); a paused job exits 75.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from learnerledger.errors import LearnerLedgerError

if TYPE_CHECKING:
    from learnerledger.jobs import ProgressEvent

__all__ = [
    "EXIT_ERROR",
    "EXIT_PAUSED",
    "Group",
    "ProgressBars",
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


class ProgressBars:
    """A progress listener that draws a bar on a terminal (stderr) for each stage of a job that
    knows its total, its label the stage and any wait or retry. Off a terminal it draws nothing,
    so logs keep only the report. Call :meth:`end` before printing anything else."""

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file if file is not None else sys.stderr
        self._bar: Any = None
        self._stage: tuple[str, str] | None = None

    def __call__(self, event: ProgressEvent) -> None:
        if not event.total or not self.file.isatty():
            return
        stage = (event.job, event.stage)
        label = f"   {event.stage}" + (f" ({event.note})" if event.note else "")
        if stage != self._stage:
            self.end()
            self._bar = click.progressbar(length=event.total, label=label, file=self.file, width=30)
            self._bar.__enter__()
            self._stage = stage
        self._bar.label = label
        self._bar.update(min(event.done, event.total) - self._bar.pos)
        self._bar.render_progress()

    def end(self) -> None:
        """Finish the bar being drawn, if any, on a line of its own."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
        self._bar, self._stage = None, None


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
