"""The Xero sandbox as one ASGI application: identity, the Accounting API and ``/sandbox``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.xero.api import QUIET_HANG_UPS, AccountingApi
from learnerledger.sandbox.xero.faults import Faults
from learnerledger.sandbox.xero.identity import Identity
from learnerledger.sandbox.xero.organisation import ensure_chart
from learnerledger.sandbox.xero.ratelimit import Limits, RateLimiter
from learnerledger.sandbox.xero.store import DEFAULT_ORGANISATION, DEFAULT_TENANT_ID, SandboxStore
from learnerledger.sandbox.xero.webapp import WebApp

__all__ = ["DEFAULT_SCOPES", "Sandbox", "create_app", "prepare_store"]

# What a custom connection is granted unless told otherwise.
DEFAULT_SCOPES = (
    "accounting.contacts",
    "accounting.transactions",
    "accounting.invoices",
    "accounting.payments",
    "accounting.settings",
)


@dataclass
class Sandbox:
    """The parts of a running sandbox that tests and the demo reach for."""

    store: SandboxStore
    clock: Clock
    limiter: RateLimiter
    identity: Identity
    api: AccountingApi
    faults: Faults


def prepare_store(
    store: SandboxStore,
    clock: Clock,
    *,
    clients: Sequence[tuple[str, str]] = (),
    oauth_clients: Sequence[tuple[str, str | None]] = (),
    organisations: Sequence[str] = (),
) -> None:
    """Make sure the default organisation, any extra ones and the given apps exist."""
    now = clock.now_ms()
    org = store.ensure_organisation(DEFAULT_ORGANISATION, DEFAULT_TENANT_ID, now_ms=now)
    tenants = [org.tenant_id]
    for name in organisations:
        tenants.append(store.ensure_organisation(name, now_ms=now).tenant_id)
    with store.tx() as conn:
        for tenant_id in tenants:
            ensure_chart(conn, tenant_id, now_ms=now)
    for client_id, secret in clients:
        store.register_app(
            client_id,
            secret,
            kind="custom",
            name=f"Custom connection {client_id}",
            scopes=DEFAULT_SCOPES,
            tenant_id=org.tenant_id,
            now_ms=now,
        )
    for oauth_id, oauth_secret in oauth_clients:
        store.register_app(
            oauth_id,
            oauth_secret,
            kind="oauth",
            name=f"OAuth app {oauth_id}",
            scopes=(),
            tenant_id=None,
            now_ms=now,
        )


def create_app(
    store: SandboxStore,
    *,
    clock: Clock | None = None,
    limits: Limits | None = None,
    latency_ms: int = 0,
) -> Starlette:
    clock = clock or Clock()
    logging.getLogger("uvicorn.error").addFilter(QUIET_HANG_UPS)  # once, however many apps
    limiter = RateLimiter(limits or Limits(), clock)
    identity = Identity(store, clock)
    faults = Faults()
    api = AccountingApi(store, clock, identity, limiter, latency_ms=latency_ms, faults=faults)
    web = WebApp(store, clock, faults)

    async def root(_: Request) -> Response:
        return PlainTextResponse(
            "learnerledger Xero sandbox. API: /api.xro/2.0, identity: /connect/token, "
            "people's screens: /sandbox\n"
        )

    routes = [
        Route("/", root),
        Route("/connect/token", identity.token, methods=["POST"]),
        Route("/connect/revocation", identity.revoke, methods=["POST"]),
        Route("/identity/connect/authorize", identity.authorize, methods=["GET", "POST"]),
        Route("/connections", identity.connections, methods=["GET"]),
        Route("/Connections", identity.connections, methods=["GET"]),
        Route("/connections/{id}", identity.delete_connection, methods=["DELETE"]),
        Route("/Connections/{id}", identity.delete_connection, methods=["DELETE"]),
        Route("/api.xro/2.0/{path:path}", api.handle, methods=["GET", "PUT", "POST", "DELETE"]),
        Route("/sandbox", web.index),
        Route("/sandbox/clock", web.clock_endpoint, methods=["GET", "POST"]),
        Route("/sandbox/faults", web.faults_endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/sandbox/faults/held", web.held_calls, methods=["GET"]),
        Route("/sandbox/faults/release", web.release_held, methods=["POST"]),
        Route("/sandbox/organisations", web.organisations, methods=["GET", "POST"]),
        Route("/sandbox/organisations/{tenant}/contacts", web.contact_list),
        Route("/sandbox/organisations/{tenant}/contacts/{contact}", web.contact_page),
        Route(
            "/sandbox/organisations/{tenant}/contacts/{contact}/merge",
            web.merge_endpoint,
            methods=["POST"],
        ),
        Route(
            "/sandbox/organisations/{tenant}/contacts/{contact}/restore",
            web.restore_endpoint,
            methods=["POST"],
        ),
        Route("/sandbox/organisations/{tenant}/truth", web.truth),
        Route(
            "/sandbox/organisations/{tenant}/branding-themes",
            web.branding_themes,
            methods=["GET", "POST"],
        ),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = Sandbox(store, clock, limiter, identity, api, faults)
    return app
