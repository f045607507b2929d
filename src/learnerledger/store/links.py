"""Reading ``contact_links`` (which contact is each learner's) for counts. Its writer is the
learner sync's journal."""

from __future__ import annotations

import sqlalchemy as sa

from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.sync_tables import contact_links

__all__ = ["count_linked"]


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
