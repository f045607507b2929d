"""learners: warnings column and an index for counting ready learners

Revision ID: w01
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w01"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "learners",
        sa.Column("warnings", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    op.create_index("ix_learners_ready", "learners", ["ready"])


def downgrade() -> None:
    op.drop_index("ix_learners_ready", "learners")
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("warnings")
