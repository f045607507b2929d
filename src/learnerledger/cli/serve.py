"""``learnerledger serve``: the web UI for finance staff."""

from __future__ import annotations

import logging

import click

from learnerledger.cli.options import get_config, open_store
from learnerledger.cli.render import note

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web UI (sign in with a user from `learnerledger users add`).

    Jobs started from the pages run in this process, in the background: stopping the server
    stops them (each carries on from where it stopped when started again)."""
    import uvicorn

    from learnerledger.store.users import list_users
    from learnerledger.web import create_app

    store = open_store(ctx)
    if not list_users(store):
        note(
            "No one can sign in yet: add a user first, e.g. "
            "`learnerledger users add jsmith --role admin`."
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(store, get_config(ctx))
    note(f"learnerledger web UI on http://{host}:{port}/ (Ctrl-C stops it)")
    # Requests are logged by the app itself, without query strings (an OAuth code travels in
    # one), so uvicorn's access log stays off.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
