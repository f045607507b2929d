"""``learnerledger demo``: the whole flow on freshly seeded sandboxes."""

from __future__ import annotations

import click

from learnerledger.cli.options import get_config
from learnerledger.cli.render import line

__all__ = ["demo"]


@click.command()
@click.option("--no-serve", is_flag=True, help="Exit when the flow is done instead of serving.")
@click.option(
    "--port",
    default=8001,
    show_default=True,
    type=int,
    help="Port for the Xero sandbox (a free one is used if it is taken).",
)
@click.pass_context
def demo(ctx: click.Context, no_serve: bool, port: int) -> None:
    """Run the whole flow on freshly seeded sandboxes and print what happened."""
    from learnerledger.demo import run_demo

    run_demo(get_config(ctx).home / "demo", port=port, serve=not no_serve, echo=line)
