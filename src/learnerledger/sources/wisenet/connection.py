"""The stored Wisenet connection: the base URL and the API key, sealed in the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from learnerledger.errors import SourceError, WisenetNotConnected
from learnerledger.sources.wisenet.client import (
    DEFAULT_BASE_URL,
    WisenetClient,
    check_base_url,
    open_client,
)
from learnerledger.store import SecretBox, Store
from learnerledger.store import connections as stored_connections

__all__ = ["WisenetConnection", "connect_wisenet", "load_connection", "set_connection_state"]


@dataclass(frozen=True)
class WisenetConnection:
    id: int
    name: str
    base_url: str
    state: str
    api_key: str = field(repr=False)


def connect_wisenet(
    store: Store,
    box: SecretBox,
    *,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    check: bool = True,
    client_factory: Callable[[str, str], WisenetClient] | None = None,
) -> WisenetConnection:
    """Store the Wisenet connection (the key encrypted), after one call that proves the key
    works (``GET /combos/states``) unless ``check`` is off. Connecting again replaces it."""
    api_key = api_key.strip()
    if not api_key:
        raise SourceError(
            "The API key is empty.",
            fix="Copy the key from Wisenet (LRM > Settings > Integration > API Keys).",
        )
    url = check_base_url(base_url)
    if check:
        factory = client_factory or (lambda u, k: open_client(u, k))
        with factory(url, api_key) as client:
            client.combo("states")
    name = urlsplit(url).netloc
    row = stored_connections.save_connection(
        store,
        kind="wisenet",
        tenant_id=None,
        base_url=url,
        name=name,
        auth_mode="api_key",
        secret=box.seal({"api_key": api_key}),
        same_kind_replaces=True,
    )
    return WisenetConnection(row.id, name, url, "connected", api_key)


def load_connection(store: Store, box: SecretBox) -> WisenetConnection:
    found = stored_connections.list_connections(store, "wisenet")
    row = found[0] if found else None
    if row is None or row.secret is None:
        raise WisenetNotConnected(
            "No Wisenet connection is stored yet.",
            fix="Run learnerledger connect wisenet --api-key KEY (or import a CSV export with "
            "learnerledger import learners FILE.csv).",
        )
    secret = box.open(row.secret)
    return WisenetConnection(row.id, row.name, row.base_url, row.state, str(secret["api_key"]))


def set_connection_state(store: Store, connection_id: int, state: str, detail: str) -> None:
    stored_connections.set_state(store, connection_id, state, detail)
