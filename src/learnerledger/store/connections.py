"""Connected systems (Xero organisations, the Wisenet account): the only writer of
``connections``. Secrets arrive sealed (``store.secrets``) and are stored as they came."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from learnerledger.store.db import Store
from learnerledger.store.tables import connections

__all__ = [
    "ConnectionRow",
    "connected_utc",
    "get_connection",
    "list_connections",
    "save_connection",
    "set_secret",
    "set_state",
]


@dataclass(frozen=True)
class ConnectionRow:
    id: int
    kind: str  # xero | wisenet
    name: str
    tenant_id: str | None
    base_url: str
    auth_mode: str
    state: str  # connected | reconnect_needed | disconnected
    state_detail: str
    secret: bytes | None = field(default=None, repr=False)


def _row(r: Any) -> ConnectionRow:
    return ConnectionRow(
        id=int(r.id),
        kind=str(r.kind),
        name=str(r.name),
        tenant_id=None if r.tenant_id is None else str(r.tenant_id),
        base_url=str(r.base_url),
        auth_mode=str(r.auth_mode),
        state=str(r.state),
        state_detail=str(r.state_detail or ""),
        secret=r.secret,
    )


def list_connections(store: Store, kind: str | None = None) -> list[ConnectionRow]:
    """Every connection (of ``kind``), by kind, then name."""
    query = sa.select(connections).order_by(
        connections.c.kind, connections.c.name, connections.c.id
    )
    if kind is not None:
        query = query.where(connections.c.kind == kind)
    with store.read() as conn:
        return [_row(r) for r in conn.execute(query)]


def get_connection(store: Store, connection_id: int) -> ConnectionRow | None:
    with store.read() as conn:
        row = conn.execute(sa.select(connections).where(connections.c.id == connection_id)).first()
    return None if row is None else _row(row)


def connected_utc(store: Store, connection_id: int) -> datetime | None:
    """When the connection was first made (connecting again keeps it)."""
    with store.read() as conn:
        value = conn.execute(
            sa.select(connections.c.created_utc).where(connections.c.id == connection_id)
        ).scalar_one_or_none()
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes, stored as UTC
    return value if isinstance(value, datetime) else None


def save_connection(
    store: Store,
    *,
    kind: str,
    tenant_id: str | None,
    base_url: str,
    name: str,
    auth_mode: str,
    secret: bytes,
    same_kind_replaces: bool = False,
) -> ConnectionRow:
    """Add a connection, or connect it again: the same row (so what was kept for it stays),
    found by kind, tenant and base URL, or by kind alone when ``same_kind_replaces`` (one
    Wisenet account per store)."""
    now = datetime.now(UTC)
    values = {
        "name": name,
        "tenant_id": tenant_id,
        "base_url": base_url,
        "auth_mode": auth_mode,
        "secret": secret,
        "state": "connected",
        "state_detail": "",
        "updated_utc": now,
    }
    where = [connections.c.kind == kind]
    if not same_kind_replaces:
        where += [connections.c.tenant_id == tenant_id, connections.c.base_url == base_url]
    with store.transaction() as conn:
        existing = conn.execute(sa.select(connections.c.id).where(*where)).scalars().first()
        if existing is None:
            key = conn.execute(
                connections.insert().values(kind=kind, created_utc=now, **values)
            ).inserted_primary_key
            assert key is not None
            connection_id = int(key[0])
        else:
            connection_id = int(existing)
            conn.execute(
                connections.update().where(connections.c.id == connection_id).values(values)
            )
        row = conn.execute(sa.select(connections).where(connections.c.id == connection_id)).one()
    return _row(row)


def set_secret(store: Store, connection_id: int, secret: bytes) -> None:
    with store.transaction() as conn:
        conn.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(secret=secret, updated_utc=datetime.now(UTC))
        )


def set_state(store: Store, connection_id: int, state: str, detail: str = "") -> None:
    with store.transaction() as conn:
        conn.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(state=state, state_detail=detail, updated_utc=datetime.now(UTC))
        )
