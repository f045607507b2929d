"""merges: the journal of a merge's writes, and where each cluster stands

Revision ID: m01
Revises: u01
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m01"
down_revision = "u01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merge_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("ref_internal", sa.String(50), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("stream", sa.String(20), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("step_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("batch_key", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_merge_steps_run", "merge_steps", ["run_id", "status"])
    op.create_index("ix_merge_steps_open", "merge_steps", ["connection_id", "status"])
    op.create_table(
        "merge_clusters",
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("ref_internal", sa.String(50), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("survivor_id", sa.String(36), nullable=True),
        sa.Column("plan", sa.JSON, nullable=True),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("baseline", sa.JSON, nullable=True),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("merge_clusters")
    op.drop_index("ix_merge_steps_open", "merge_steps")
    op.drop_index("ix_merge_steps_run", "merge_steps")
    op.drop_table("merge_steps")
