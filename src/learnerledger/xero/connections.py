"""Connected Xero organisations as the store keeps them (``connections`` rows of kind ``xero``)
and their token sets, sealed with the store's secret box.

One row per organisation. A token set belongs to one row: ``connect xero`` connects one
organisation per consent, so that a refresh (which rotates the refresh token) never leaves a
second row holding a dead copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from learnerledger.errors import NotConnected, ReconnectNeeded
from learnerledger.store import SecretBox, Store
from learnerledger.store import connections as stored

__all__ = [
    "XERO_API_BASE",
    "Endpoints",
    "TokenSet",
    "TokenStore",
    "XeroConnection",
    "find_connection",
    "list_connections",
    "save_connection",
]

XERO_API_BASE = "https://api.xero.com"


@dataclass(frozen=True)
class Endpoints:
    """Where identity and API live. Xero's real hosts, or one other host for all of them."""

    authorize: str
    token: str
    revoke: str
    connections: str
    api: str

    @classmethod
    def for_base(cls, base_url: str) -> Endpoints:
        base = (base_url or XERO_API_BASE).rstrip("/")
        if base == XERO_API_BASE:
            return cls(
                authorize="https://login.xero.com/identity/connect/authorize",
                token="https://identity.xero.com/connect/token",
                revoke="https://identity.xero.com/connect/revocation",
                connections=XERO_API_BASE + "/connections",
                api=XERO_API_BASE + "/api.xro/2.0",
            )
        return cls(
            authorize=base + "/identity/connect/authorize",
            token=base + "/connect/token",
            revoke=base + "/connect/revocation",
            connections=base + "/connections",
            api=base + "/api.xro/2.0",
        )


@dataclass(frozen=True)
class XeroConnection:
    id: int
    name: str  # the organisation's name
    tenant_id: str
    base_url: str
    auth_mode: str  # custom_connection | oauth
    state: str  # connected | reconnect_needed | disconnected
    state_detail: str

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints.for_base(self.base_url)


@dataclass
class TokenSet:
    """What a connection needs to call Xero. Never logged, never written unsealed."""

    auth_mode: str
    client_id: str
    client_secret: str | None
    access_token: str | None = None
    expires_at: float = 0.0  # epoch seconds
    refresh_token: str | None = None
    scope: str = ""

    def to_secret(self) -> dict[str, Any]:
        return {
            "auth_mode": self.auth_mode,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
        }

    @classmethod
    def from_secret(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls(
            auth_mode=str(data["auth_mode"]),
            client_id=str(data["client_id"]),
            client_secret=data.get("client_secret"),
            access_token=data.get("access_token"),
            expires_at=float(data.get("expires_at") or 0.0),
            refresh_token=data.get("refresh_token"),
            scope=str(data.get("scope") or ""),
        )

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"TokenSet(auth_mode={self.auth_mode!r}, client_id={self.client_id!r}, ...)"


def _row_to_connection(row: Any) -> XeroConnection:
    return XeroConnection(
        id=int(row.id),
        name=str(row.name),
        tenant_id=str(row.tenant_id),
        base_url=str(row.base_url),
        auth_mode=str(row.auth_mode),
        state=str(row.state),
        state_detail=str(row.state_detail or ""),
    )


def list_connections(store: Store) -> list[XeroConnection]:
    return [_row_to_connection(r) for r in stored.list_connections(store, "xero")]


def find_connection(store: Store, tenant: str | None = None) -> XeroConnection:
    """The connection ``tenant`` names (tenant id or organisation name, any case), or the only
    one when ``tenant`` is not given."""
    found = [c for c in list_connections(store) if c.state != "disconnected"]
    if not found:
        raise NotConnected(
            "No Xero organisation is connected.",
            fix="Run `learnerledger connect xero` first (see docs/connecting-xero.md).",
        )
    if tenant:
        wanted = tenant.strip().casefold()
        matches = [c for c in found if wanted in (c.tenant_id.casefold(), c.name.casefold())]
        if len(matches) == 1:
            return matches[0]
        raise NotConnected(
            f"No single connected Xero organisation is called {tenant!r}.",
            fix="Pass --tenant with one of: " + _choices(found) + ".",
        )
    if len(found) > 1:
        raise NotConnected(
            f"{len(found)} Xero organisations are connected.",
            fix="Say which with --tenant: " + _choices(found) + ".",
        )
    return found[0]


def _choices(found: list[XeroConnection]) -> str:
    return ", ".join(f"{c.name!r} ({c.tenant_id})" for c in found)


def save_connection(
    store: Store,
    box: SecretBox,
    *,
    tenant_id: str,
    name: str,
    base_url: str,
    tokens: TokenSet,
) -> XeroConnection:
    """Add the organisation, or reconnect it (same row, so its mirror and budget are kept)."""
    base = (base_url or XERO_API_BASE).rstrip("/")
    row = stored.save_connection(
        store,
        kind="xero",
        tenant_id=tenant_id,
        base_url=base,
        name=name,
        auth_mode=tokens.auth_mode,
        secret=box.seal(tokens.to_secret()),
    )
    return _row_to_connection(row)


class TokenStore:
    """Reads and writes the sealed token set of one connection."""

    def __init__(self, store: Store, box: SecretBox, connection: XeroConnection) -> None:
        self.store = store
        self.box = box
        self.connection = connection

    def load(self) -> TokenSet:
        row = stored.get_connection(self.store, self.connection.id)
        if row is None:
            raise self.reconnect_error("It is no longer stored.")
        if row.state == "reconnect_needed":
            raise self.reconnect_error(row.state_detail)
        if row.secret is None:
            raise self.reconnect_error("No credentials are stored for it.")
        return TokenSet.from_secret(self.box.open(row.secret))

    def save(self, tokens: TokenSet) -> None:
        stored.set_secret(self.store, self.connection.id, self.box.seal(tokens.to_secret()))

    def mark_reconnect_needed(self, detail: str) -> None:
        stored.set_state(self.store, self.connection.id, "reconnect_needed", detail)

    def reconnect_error(self, detail: str) -> ReconnectNeeded:
        c = self.connection
        how = (
            "learnerledger connect xero --custom-connection --client-id ID --client-secret S"
            if c.auth_mode == "custom_connection"
            else "learnerledger connect xero --client-id ID --client-secret S"
        )
        if c.base_url.rstrip("/") != XERO_API_BASE:
            how += f" --base-url {c.base_url}"
        return ReconnectNeeded(
            f"The Xero organisation {c.name!r} must be connected again. {detail}".strip(),
            fix=f"Run `{how}` and pick {c.name!r}.",
            organisation=c.name,
        )
