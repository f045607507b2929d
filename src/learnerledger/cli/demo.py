"""``learnerledger demo``: the whole flow on the seeded sandboxes, with progress bars."""

from __future__ import annotations

import click

from learnerledger.cli.options import get_config
from learnerledger.cli.render import ProgressBars, line

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
@click.option(
    "--fresh",
    is_flag=True,
    help="Start over from freshly seeded sandboxes instead of reopening the last demo's books.",
)
@click.pass_context
def demo(ctx: click.Context, no_serve: bool, port: int, fresh: bool) -> None:
    """Run the whole flow on the seeded sandboxes and print what happened and a short report.

    The books stay in HOME/demo: run again, the demo reopens them, finds nothing new to do and
    says so."""
    from learnerledger.demo import run_demo

    config = get_config(ctx)
    bars = ProgressBars()

    def echo(text: str) -> None:
        bars.end()
        line(text)

    try:
        run_demo(
            config.home / "demo",
            port=port,
            serve=not no_serve,
            echo=echo,
            fresh=fresh,
            progress=bars,
            # The sandbox enforces the Xero limits the settings give (Xero's own by default).
            settings={k: config[k] for k in ("xero_minute_limit", "xero_day_limit")},
        )
    finally:
        bars.end()
