"""The learner table: every learner read from the SMS (Wisenet API or a CSV export).

One row per RefInternal. ``ready`` and ``not_ready`` cache ``Learner.ready_for_xero()`` so
that counts and the web UI need not recompute it; ``row_hash`` lets a re-import or re-pull
tell a changed learner from an unchanged one.
"""

from __future__ import annotations

import sqlalchemy as sa

from learnerledger.store.tables import metadata

__all__ = ["learners"]

learners = sa.Table(
    "learners",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ref_internal", sa.String(50), nullable=False, unique=True),
    sa.Column("source", sa.String(20), nullable=False),  # wisenet | csv
    sa.Column("source_id", sa.String(64), nullable=True),  # Wisenet's LearnerId
    sa.Column("first_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("preferred_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("email", sa.String(255), nullable=False, server_default=""),
    sa.Column("mobile", sa.String(50), nullable=False, server_default=""),
    sa.Column("phone_home", sa.String(50), nullable=False, server_default=""),
    sa.Column("phone_work", sa.String(50), nullable=False, server_default=""),
    sa.Column("date_of_birth", sa.Date, nullable=True),
    sa.Column("street_address", sa.String(500), nullable=False, server_default=""),
    sa.Column("street_suburb", sa.String(255), nullable=False, server_default=""),
    sa.Column("street_state", sa.String(50), nullable=False, server_default=""),
    sa.Column("street_postcode", sa.String(20), nullable=False, server_default=""),
    sa.Column("street_country", sa.String(100), nullable=False, server_default=""),
    sa.Column("postal_address", sa.String(500), nullable=False, server_default=""),
    sa.Column("postal_suburb", sa.String(255), nullable=False, server_default=""),
    sa.Column("postal_state", sa.String(50), nullable=False, server_default=""),
    sa.Column("postal_postcode", sa.String(20), nullable=False, server_default=""),
    sa.Column("postal_country", sa.String(100), nullable=False, server_default=""),
    sa.Column("sync_to_xero", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("ready", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("not_ready", sa.JSON, nullable=False),  # reasons, each phrased as a fix
    sa.Column("row_hash", sa.String(64), nullable=False),
    sa.Column("source_modified_utc", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_learners_source_id", learners.c.source, learners.c.source_id)
