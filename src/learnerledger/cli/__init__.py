"""The command line: parses input, calls the library, renders output. No business rule lives
here. Every ``LearnerLedgerError`` becomes a one-paragraph message and exit status 1.

One module per command group; ``options`` declares the shared options (the global ones come
from the settings table), ``render`` is the one way out: reports, JSON and errors.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from learnerledger import __version__
from learnerledger.cli.check import check
from learnerledger.cli.connect import connect
from learnerledger.cli.demo import demo
from learnerledger.cli.duplicates import duplicates
from learnerledger.cli.export import export
from learnerledger.cli.learners import import_group
from learnerledger.cli.merge import merge
from learnerledger.cli.options import global_options
from learnerledger.cli.pull import pull
from learnerledger.cli.render import EXIT_PAUSED, Group
from learnerledger.cli.report import report_group
from learnerledger.cli.resync import resync
from learnerledger.cli.serve import serve
from learnerledger.cli.status import status
from learnerledger.cli.sync import sync
from learnerledger.cli.template import template
from learnerledger.cli.users import users
from learnerledger.sandbox.commands import sandbox

__all__ = ["EXIT_PAUSED", "main"]


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="learnerledger")
@global_options
def main(**options: Any) -> None:
    """learnerledger keeps a student management system and Xero in step."""


for _command in (
    sandbox,
    connect,
    pull,
    status,
    import_group,
    sync,
    duplicates,
    merge,
    check,
    template,
    resync,
    report_group,
    export,
    users,
    serve,
    demo,
):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
