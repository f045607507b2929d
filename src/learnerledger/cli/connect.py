"""``learnerledger connect xero|wisenet``: store a connection (tokens, API key) encrypted."""

from __future__ import annotations

from typing import Any

import click

from learnerledger.cli.options import get_config, open_store, tenant_option
from learnerledger.cli.render import Group, line, note

__all__ = ["connect"]


@click.group(cls=Group)
def connect() -> None:
    """Connect learnerledger to Xero or to the student management system."""


@connect.command("xero")
@click.option(
    "--custom-connection",
    is_flag=True,
    help="Use a custom connection's client credentials: one organisation, no browser.",
)
@click.option("--client-id", required=True, help="The Xero app's client id.")
@click.option(
    "--client-secret",
    envvar="LEARNERLEDGER_XERO_CLIENT_SECRET",
    help="The Xero app's client secret (or env LEARNERLEDGER_XERO_CLIENT_SECRET); "
    "leave it out for an OAuth app that uses PKCE only.",
)
@click.option(
    "--base-url",
    help="Point identity and API at another host, e.g. the Xero sandbox "
    "[setting xero_base_url; default: Xero's real hosts].",
)
@tenant_option("The organisation to connect (tenant id or name) when the consent grants several.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Loopback port that receives Xero's redirect; register "
    "http://localhost:PORT/callback as the app's redirect URI.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope to ask for instead of the defaults (repeat for several).",
)
@click.option(
    "--granular-scopes",
    is_flag=True,
    help="Ask for the granular scopes that apps created from 2 March 2026 must use.",
)
@click.option("--no-browser", is_flag=True, help="Print the consent URL; do not open a browser.")
@click.pass_context
def connect_xero(
    ctx: click.Context,
    custom_connection: bool,
    client_id: str,
    client_secret: str | None,
    base_url: str | None,
    tenant: str | None,
    port: int,
    scopes: tuple[str, ...],
    granular_scopes: bool,
    no_browser: bool,
) -> None:
    """Connect a Xero organisation (the standard OAuth2 flow with PKCE, or a custom connection).

    Tokens are stored encrypted. Run it again to reconnect an organisation, or to connect
    another one: commands then take --tenant.
    """
    import webbrowser

    from learnerledger.store import load_secret_box
    from learnerledger.xero.auth import BROAD_SCOPES, GRANULAR_SCOPES, Tenant
    from learnerledger.xero.connect import connect_custom, connect_oauth

    cfg = get_config(ctx)
    base = base_url if base_url is not None else str(cfg["xero_base_url"])
    store = open_store(ctx)
    box = load_secret_box(cfg.home)
    timeout = float(cfg["xero_timeout"])
    if custom_connection:
        if not client_secret:
            raise click.UsageError("A custom connection needs --client-secret.")
        connection = connect_custom(
            store,
            box,
            client_id=client_id,
            client_secret=client_secret,
            base_url=base,
            timeout=timeout,
        )
    else:

        def show(url: str) -> None:
            note("Open this address to let learnerledger access Xero:")
            note(f"  {url}")
            if not no_browser:
                webbrowser.open(url)

        def choose(tenants: list[Tenant]) -> Tenant:
            note("The consent granted several organisations:")
            for i, t in enumerate(tenants, 1):
                note(f"  {i}. {t.name} ({t.tenant_id})")
            picked = click.prompt(
                "Connect which one", type=click.IntRange(1, len(tenants)), err=True
            )
            return tenants[int(picked) - 1]

        connection = connect_oauth(
            store,
            box,
            client_id=client_id,
            client_secret=client_secret,
            base_url=base,
            scopes=tuple(scopes) or (GRANULAR_SCOPES if granular_scopes else BROAD_SCOPES),
            port=port,
            tenant=tenant,
            open_url=show,
            choose=choose,
            timeout=timeout,
        )
    how = "a custom connection" if connection.auth_mode == "custom_connection" else "OAuth"
    line(f"Connected {connection.name!r} (tenant {connection.tenant_id}) with {how}.")


@connect.command("wisenet")
@click.option(
    "--api-key",
    prompt="Wisenet API key",
    hide_input=True,
    envvar="LEARNERLEDGER_WISENET_API_KEY",
    help="The key from Wisenet (LRM > Settings > Integration > API Keys); asked for when not "
    "given [env LEARNERLEDGER_WISENET_API_KEY]. Stored encrypted.",
)
@click.option(
    "--base-url",
    default="https://api.wisenet.co/v1",
    show_default=True,
    help="The API's base URL; the sandbox's is http://127.0.0.1:8002/v1.",
)
@click.option("--no-check", is_flag=True, help="Store the key without trying it first.")
@click.pass_context
def connect_wisenet_command(
    ctx: click.Context, api_key: str, base_url: str, no_check: bool
) -> None:
    """Connect the Wisenet account whose learners go to Xero (one call checks the key)."""
    from learnerledger.sources.wisenet import connect_wisenet, open_client
    from learnerledger.store import load_secret_box

    cfg = get_config(ctx)
    store = open_store(ctx)

    def client(url: str, key: str) -> Any:
        return open_client(url, key, requests_per_second=cfg["wisenet_requests_per_second"])

    connection = connect_wisenet(
        store,
        load_secret_box(cfg.home),
        api_key=api_key,
        base_url=base_url,
        check=not no_check,
        client_factory=client,
    )
    checked = "stored without a check" if no_check else "the key works"
    line(f"Connected Wisenet at {connection.base_url} ({checked}).")
