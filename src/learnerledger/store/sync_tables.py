"""Tables of the learner sync: which contact is each learner's, and the journal of writes.

``contact_links`` remembers, per connected organisation, the contact that belongs to each
learner (role ``learner``), and later the legacy contacts merged into it (role ``absorbed``),
so that documents find their learner even across merges. ``mapped_hash`` is the digest of the
mapped fields last written (or found already equal), for cheap change detection.

``journal_steps`` holds every planned write before it is sent: a step is ``pending``, then
``sent`` (in the request whose Idempotency-Key is ``batch_key``), then ``done`` or ``failed``.
A step left ``sent`` by a crash or a lost answer has an unknown outcome: the next run looks
its contact up before sending anything again.
"""

from __future__ import annotations

import sqlalchemy as sa

from learnerledger.store.tables import metadata

__all__ = ["contact_links", "journal_steps"]

contact_links = sa.Table(
    "contact_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=False),
    sa.Column("ref_internal", sa.String(50), nullable=False),
    sa.Column("contact_id", sa.String(36), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),  # learner | absorbed
    sa.Column("mapped_hash", sa.String(64), nullable=True),
    sa.Column("contact_updated_ms", sa.BigInteger, nullable=True),  # UpdatedDateUTC then
    sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("connection_id", "contact_id", name="uq_contact_links_contact"),
)
# One contact per learner and organisation; absorbed legacy contacts may be many.
sa.Index(
    "ux_contact_links_learner",
    contact_links.c.connection_id,
    contact_links.c.ref_internal,
    unique=True,
    sqlite_where=contact_links.c.role == "learner",
    postgresql_where=contact_links.c.role == "learner",
)

journal_steps = sa.Table(
    "journal_steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # order within the run
    sa.Column("ref_internal", sa.String(50), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # create | update
    sa.Column("payload", sa.JSON, nullable=False),  # exactly what is sent for this item
    sa.Column("mapped_hash", sa.String(64), nullable=False),
    sa.Column("step_key", sa.String(64), nullable=False),  # deterministic digest of the step
    sa.Column("status", sa.String(20), nullable=False),  # pending | sent | done | failed
    sa.Column("batch_key", sa.String(128), nullable=True),  # Idempotency-Key it was sent with
    sa.Column("contact_id", sa.String(36), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_journal_steps_run", journal_steps.c.run_id, journal_steps.c.status)
sa.Index("ix_journal_steps_open", journal_steps.c.connection_id, journal_steps.c.status)
