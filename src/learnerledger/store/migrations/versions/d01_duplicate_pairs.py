"""duplicate pairs: what the matcher found and what people decided about it

Revision ID: d01
Revises: j01
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d01"
down_revision = "j01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duplicate_pairs",
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("ref_internal", sa.String(50), primary_key=True),
        sa.Column("contact_id", sa.String(36), primary_key=True),
        sa.Column("survivor_id", sa.String(36), nullable=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decision", sa.String(10), nullable=True),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("found", sa.Boolean, nullable=False),
        sa.Column("found_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_utc", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("duplicate_pairs")
