"""Connecting a Xero organisation: a custom connection (client credentials, one organisation)
or an OAuth app (authorization code with PKCE, consent in the browser). Either way the result
is one ``connections`` row with its token set sealed in the store.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from learnerledger import __version__
from learnerledger.errors import XeroError
from learnerledger.store import SecretBox, Store
from learnerledger.xero.auth import (
    BROAD_SCOPES,
    Consent,
    GrantRefused,
    IdentityClient,
    LoopbackReceiver,
    Tenant,
    authorize_in_browser,
)
from learnerledger.xero.connections import Endpoints, XeroConnection, save_connection

__all__ = ["connect_consent", "connect_custom", "connect_oauth"]


def _http(timeout: float) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        headers={"User-Agent": f"learnerledger/{__version__}"},
    )


def connect_custom(
    store: Store,
    box: SecretBox,
    *,
    client_id: str,
    client_secret: str,
    base_url: str = "",
    http: httpx.Client | None = None,
    timeout: float = 60.0,
) -> XeroConnection:
    """Connect the one organisation a custom connection is bound to."""
    client = http or _http(timeout)
    try:
        identity = IdentityClient(client, Endpoints.for_base(base_url))
        try:
            tokens = identity.client_credentials(client_id, client_secret)
        except GrantRefused as exc:
            raise XeroError(
                f"Xero refused the custom connection's client id or secret ({exc.error}).",
                fix="Copy both again from the app's Configuration page at "
                "developer.xero.com/app/manage, and check that the app is a custom connection.",
            ) from None
        tenants = identity.connections(tokens.access_token or "")
    finally:
        if http is None:
            client.close()
    if not tenants:
        raise XeroError(
            "The custom connection is not authorised for any organisation yet.",
            fix="In Xero's developer portal, send the authorisation link to the organisation's "
            "adviser and wait until it shows as connected.",
        )
    tenant = tenants[0]  # a custom connection serves exactly one organisation
    return save_connection(
        store, box, tenant_id=tenant.tenant_id, name=tenant.name, base_url=base_url, tokens=tokens
    )


def connect_oauth(
    store: Store,
    box: SecretBox,
    *,
    client_id: str,
    client_secret: str | None,
    open_url: Callable[[str], object],
    choose: Callable[[list[Tenant]], Tenant],
    base_url: str = "",
    scopes: tuple[str, ...] = BROAD_SCOPES,
    port: int = 8765,
    tenant: str | None = None,
    http: httpx.Client | None = None,
    timeout: float = 60.0,
    consent_timeout: float = 300.0,
) -> XeroConnection:
    """Ask for consent in the browser and connect one of the organisations granted:
    ``tenant`` (id or name) when given, the only one, or the one ``choose`` picks."""
    client = http or _http(timeout)
    try:
        identity = IdentityClient(client, Endpoints.for_base(base_url))
        consent = authorize_in_browser(
            identity,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes,
            receiver=LoopbackReceiver(port),
            open_url=open_url,
            timeout=consent_timeout,
        )
    finally:
        if http is None:
            client.close()
    return connect_consent(store, box, consent, base_url=base_url, tenant=tenant, choose=choose)


def connect_consent(
    store: Store,
    box: SecretBox,
    consent: Consent,
    *,
    choose: Callable[[list[Tenant]], Tenant],
    base_url: str = "",
    tenant: str | None = None,
) -> XeroConnection:
    """Connect one of the organisations a consent granted: ``tenant`` (id or name) when
    given, the only one, or the one ``choose`` picks."""
    tenants = [t for t in consent.tenants if t.tenant_type == "ORGANISATION"] or consent.tenants
    if not tenants:
        raise XeroError(
            "Xero's consent did not grant any organisation.",
            fix="Run the command again and tick an organisation on Xero's page.",
        )
    if tenant:
        wanted = tenant.strip().casefold()
        matching = [t for t in tenants if wanted in (t.tenant_id.casefold(), t.name.casefold())]
        if len(matching) != 1:
            raise XeroError(
                f"The consent did not grant an organisation called {tenant!r}.",
                fix="Granted: " + ", ".join(f"{t.name!r} ({t.tenant_id})" for t in tenants) + ".",
            )
        picked = matching[0]
    elif len(tenants) == 1:
        picked = tenants[0]
    else:
        picked = choose(tenants)
    return save_connection(
        store,
        box,
        tenant_id=picked.tenant_id,
        name=picked.name,
        base_url=base_url,
        tokens=consent.tokens,
    )
