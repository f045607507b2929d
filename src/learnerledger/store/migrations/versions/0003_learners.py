"""learners: learners read from the SMS

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ref_internal", sa.String(50), nullable=False, unique=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=True),
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
        sa.Column("not_ready", sa.JSON, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("source_modified_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_learners_source_id", "learners", ["source", "source_id"])


def downgrade() -> None:
    op.drop_index("ix_learners_source_id", "learners")
    op.drop_table("learners")
