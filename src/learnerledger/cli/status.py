"""``learnerledger status``: connections, counts, rate budgets and last runs."""

from __future__ import annotations

import click

from learnerledger.cli.options import get_config, json_option, open_store
from learnerledger.cli.render import line, report

__all__ = ["status"]


@click.command()
@json_option("Print the status as one JSON document.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Connections, mirror counts, each organisation's rate budget, cursors and last runs."""
    from learnerledger.status import collect_status, format_status

    document = collect_status(open_store(ctx), get_config(ctx))
    report(document, as_json=as_json, human=lambda: line(format_status(document)))
