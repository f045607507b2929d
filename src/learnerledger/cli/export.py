"""``learnerledger export documents --csv``: what the SMS of a CSV source should import."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from learnerledger.cli.options import open_store, tenant_option
from learnerledger.cli.render import Group, note

__all__ = ["export"]


@click.group(cls=Group)
def export() -> None:
    """Files for the SMS to import."""


@export.command("documents")
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="Write CSV: one row per invoice, on its learner (required: the format to write).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@tenant_option()
@click.pass_context
def export_documents_command(
    ctx: click.Context, as_csv: bool, output: Path | None, tenant: str | None
) -> None:
    """The documents the resync wrote for a CSV source's learners, for the SMS to import."""
    from learnerledger.resync import export_csv
    from learnerledger.xero.connections import find_connection

    if not as_csv:
        raise click.UsageError("Give the format to write: --csv.")
    store = open_store(ctx)
    connection = find_connection(store, tenant)
    if output is None:
        written = export_csv(store, connection.id, sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            written = export_csv(store, connection.id, out)
    note(f"{written} documents exported" + (f" to {output}." if output else "."))
