"""Named leases: locks that every process on every machine sharing the store respects, and
that free themselves when their holder dies (the lease runs out). The only writer of ``leases``.

Taking a lease is one conditional ``UPDATE`` (``holder IS NULL OR expires_ms <= now``), which
is atomic on SQLite and PostgreSQL alike: of two processes racing, exactly one sees its row
count be 1. The row is created first if it is missing; the whole look-create-take runs under
the lease's named lock (``store.transaction(lock=...)``: an advisory lock on PostgreSQL), so
processes taking the same lease run one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from learnerledger.store.db import Store
from learnerledger.store.tables import leases

__all__ = ["LeaseHolder", "acquire", "current_holder", "describe", "release", "renew"]


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease, until when, and what they said about themselves."""

    name: str
    holder: str
    expires_ms: int
    detail: dict[str, Any]


def _lock(name: str) -> str:
    # Looking for the row, creating it and taking it run alone per lease on PostgreSQL too.
    return f"lease:{name}"


def acquire(
    store: Store,
    name: str,
    holder: str,
    *,
    now_ms: int,
    lease_ms: int,
    detail: dict[str, Any] | None = None,
    dead: str | None = None,
) -> bool:
    """Take the lease ``name`` for ``holder`` unless someone else holds a live one; with
    ``dead`` (a holder known to be gone), take it from that holder only, if it still holds it."""
    with store.transaction(lock=_lock(name)) as conn:
        if dead is None:
            exists = conn.execute(sa.select(leases.c.name).where(leases.c.name == name)).first()
            if exists is None:
                try:
                    with store.transaction() as inner:
                        inner.execute(leases.insert().values(name=name))
                except IntegrityError:
                    pass  # created by another process meanwhile
            free = sa.or_(leases.c.holder.is_(None), leases.c.expires_ms <= now_ms)
        else:
            free = leases.c.holder == dead
        taken = conn.execute(
            leases.update()
            .where(leases.c.name == name, free)
            .values(holder=holder, expires_ms=now_ms + lease_ms, detail=detail or {})
        ).rowcount
    return bool(taken)


def renew(store: Store, name: str, holder: str, *, now_ms: int, lease_ms: int) -> bool:
    """Extend a lease ``holder`` holds; False when it is no longer theirs."""
    with store.transaction() as conn:
        return bool(
            conn.execute(
                leases.update()
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_ms=now_ms + lease_ms)
            ).rowcount
        )


def describe(store: Store, name: str, holder: str, detail: dict[str, Any]) -> None:
    """Replace what ``holder`` says about itself on the lease it holds."""
    with store.transaction() as conn:
        conn.execute(
            leases.update()
            .where(leases.c.name == name, leases.c.holder == holder)
            .values(detail=detail)
        )


def release(store: Store, name: str, holder: str) -> None:
    with store.transaction() as conn:
        conn.execute(
            leases.update()
            .where(leases.c.name == name, leases.c.holder == holder)
            .values(holder=None, expires_ms=None, detail=None)
        )


def current_holder(store: Store, name: str, *, now_ms: int) -> LeaseHolder | None:
    """The live holder of ``name``, if any."""
    with store.read() as conn:
        row = conn.execute(
            sa.select(leases).where(
                leases.c.name == name, leases.c.holder.is_not(None), leases.c.expires_ms > now_ms
            )
        ).first()
    if row is None:
        return None
    return LeaseHolder(row.name, row.holder, int(row.expires_ms), dict(row.detail or {}))
