"""xero cursors: where an interrupted read carries on, and when it began; rejects' page

Revision ID: x03
Revises: s01
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "x03"
down_revision = "s01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("xero_cursors") as batch:
        batch.add_column(sa.Column("resume_page", sa.Integer, nullable=True))
        batch.add_column(sa.Column("pull_started_ms", sa.BigInteger, nullable=True))
    with op.batch_alter_table("xero_rejects") as batch:
        batch.add_column(sa.Column("retry_page", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("xero_rejects") as batch:
        batch.drop_column("retry_page")
    with op.batch_alter_table("xero_cursors") as batch:
        batch.drop_column("pull_started_ms")
        batch.drop_column("resume_page")
