"""The renderer: one JSON document on stdout, notes and errors on stderr, the exit codes."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner

from learnerledger.cli.options import json_option
from learnerledger.cli.render import EXIT_PAUSED, Group, line, note, paused, report
from learnerledger.errors import LearnerLedgerError


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
