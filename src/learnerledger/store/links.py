"""Which contact is each learner's, per organisation: the only writer of ``contact_links``.

Role ``learner`` is the learner's own contact (one per learner and organisation); role
``absorbed`` marks legacy contacts merged into it, so documents find their learner across
merges. ``mapped_hash`` is the digest of the mapped fields last written (or found equal)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.sync_tables import contact_links

__all__ = [
    "absorb_contact",
    "count_linked",
    "link_contact",
    "load_absorbed",
    "load_contact_learners",
    "load_links",
]


def load_links(
    conn: Connection, connection_id: int
) -> tuple[dict[str, str], dict[str, str | None]]:
    """RefInternal -> ContactID, and RefInternal -> mapped hash, of the learners' own contacts."""
    rows = conn.execute(
        sa.select(
            contact_links.c.ref_internal, contact_links.c.contact_id, contact_links.c.mapped_hash
        ).where(contact_links.c.connection_id == connection_id, contact_links.c.role == "learner")
    )
    linked: dict[str, str] = {}
    hashes: dict[str, str | None] = {}
    for ref, contact_id, digest in rows:
        linked[str(ref)] = str(contact_id)
        hashes[str(ref)] = digest
    return linked, hashes


def link_contact(
    conn: Connection,
    connection_id: int,
    ref_internal: str,
    contact_id: str,
    *,
    mapped_hash: str | None,
    contact_updated_ms: int | None,
) -> None:
    """Make ``contact_id`` the learner's contact (replacing any earlier link of either)."""
    now = datetime.now(UTC)
    conn.execute(
        contact_links.delete().where(
            contact_links.c.connection_id == connection_id,
            sa.or_(
                sa.and_(
                    contact_links.c.ref_internal == ref_internal,
                    contact_links.c.role == "learner",
                ),
                contact_links.c.contact_id == contact_id,
            ),
        )
    )
    conn.execute(
        contact_links.insert().values(
            connection_id=connection_id,
            ref_internal=ref_internal,
            contact_id=contact_id,
            role="learner",
            mapped_hash=mapped_hash,
            contact_updated_ms=contact_updated_ms,
            created_utc=now,
            updated_utc=now,
        )
    )


def absorb_contact(
    conn: Connection,
    connection_id: int,
    ref_internal: str,
    contact_id: str,
    *,
    contact_updated_ms: int | None = None,
) -> bool:
    """Remember that the legacy contact ``contact_id`` was merged into the learner's contact
    (role ``absorbed``), so documents left on it still find their learner. A contact that is
    some learner's own contact is never turned into an absorbed one: returns False then."""
    t = contact_links.c
    held = conn.execute(
        sa.select(t.ref_internal, t.role).where(
            t.connection_id == connection_id, t.contact_id == contact_id
        )
    ).first()
    if held is not None and held.role == "learner":
        return False
    now = datetime.now(UTC)
    if held is not None:
        conn.execute(
            contact_links.update()
            .where(t.connection_id == connection_id, t.contact_id == contact_id)
            .values(
                ref_internal=ref_internal, contact_updated_ms=contact_updated_ms, updated_utc=now
            )
        )
        return True
    conn.execute(
        contact_links.insert().values(
            connection_id=connection_id,
            ref_internal=ref_internal,
            contact_id=contact_id,
            role="absorbed",
            mapped_hash=None,
            contact_updated_ms=contact_updated_ms,
            created_utc=now,
            updated_utc=now,
        )
    )
    return True


def load_absorbed(conn: Connection, connection_id: int) -> dict[str, str]:
    """ContactID -> RefInternal of the legacy contacts absorbed into learners' contacts."""
    rows = conn.execute(
        sa.select(contact_links.c.contact_id, contact_links.c.ref_internal).where(
            contact_links.c.connection_id == connection_id, contact_links.c.role == "absorbed"
        )
    )
    return {str(contact_id): str(ref) for contact_id, ref in rows}


def load_contact_learners(
    source: StoreOrConnection, connection_id: int
) -> dict[str, tuple[str, str]]:
    """ContactID -> (RefInternal, role) of every linked contact: the learners' own contacts
    (``learner``) and the legacy contacts absorbed into them (``absorbed``)."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(
                contact_links.c.contact_id, contact_links.c.ref_internal, contact_links.c.role
            ).where(contact_links.c.connection_id == connection_id)
        )
        return {str(c): (str(ref), str(role)) for c, ref, role in rows}


def count_linked(source: StoreOrConnection, *, role: str = "learner") -> int:
    """Links of ``role`` over every organisation (``learner``: learners with their contact)."""
    with reading(source) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(contact_links)
                .where(contact_links.c.role == role)
            ).scalar_one()
        )
