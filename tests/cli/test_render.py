"""The renderer: one JSON document on stdout, notes and errors on stderr, the exit codes."""

from __future__ import annotations

import io
import json

import click
from click.testing import CliRunner

from learnerledger.cli.options import json_option
from learnerledger.cli.render import (
    EXIT_PAUSED,
    Group,
    ProgressBars,
    line,
    note,
    paused,
    report,
)
from learnerledger.errors import LearnerLedgerError
from learnerledger.jobs import ProgressEvent


@click.group(cls=Group)
def app() -> None:
    pass


@app.command()
@json_option()
@click.option("--pause", is_flag=True)
@click.pass_context
def job(ctx: click.Context, as_json: bool, pause: bool) -> None:
    note("  1 page read")
    report({"status": "ok"}, as_json=as_json, human=lambda: line("All done."))
    if pause:
        paused(ctx, "the day's budget is spent.")


@app.command()
def broken() -> None:
    raise LearnerLedgerError("Nothing to read.", fix="Run `pull` first.")


def test_json_is_one_document_on_stdout() -> None:
    result = CliRunner().invoke(app, ["job", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"status": "ok"}
    assert result.stderr == "  1 page read\n"


def test_human_report_and_pause() -> None:
    result = CliRunner().invoke(app, ["job", "--pause"])
    assert result.exit_code == EXIT_PAUSED
    assert result.stdout == "All done.\n"
    assert result.stderr.endswith("Paused: the day's budget is spent.\n")


def test_errors_are_one_paragraph_and_exit_1() -> None:
    result = CliRunner().invoke(app, ["broken"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: Nothing to read. Run `pull` first.\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _event(stage: str, done: int, total: int | None, note: str = "") -> ProgressEvent:
    return ProgressEvent("sync learners", "Demo", 1, stage, done, total, note)


def test_progress_bars_draw_each_stage_on_a_terminal_and_nothing_elsewhere() -> None:
    terminal = _Terminal()
    bars = ProgressBars(terminal)
    bars(_event("sending", 0, 4))
    bars(_event("sending", 2, 4, "waiting 3 s for Xero's minute limit"))
    bars(_event("sending", 4, 4))
    bars(_event("looking up", 1, None))  # no total: nothing to draw
    bars(_event("reading", 1, 2))
    bars.end()
    drawn = terminal.getvalue()
    assert "sending" in drawn
    assert "waiting 3 s for Xero's minute limit" in drawn
    assert "100%" in drawn
    assert "50%" in drawn
    assert "looking up" not in drawn
    assert drawn.index("sending") < drawn.index("reading")
    assert drawn.endswith("\n")  # end() leaves the cursor on a line of its own

    log = io.StringIO()
    quiet = ProgressBars(log)
    quiet(_event("sending", 1, 4))
    quiet.end()
    assert log.getvalue() == ""
