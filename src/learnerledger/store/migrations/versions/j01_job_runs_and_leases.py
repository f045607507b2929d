"""job runs and leases: one run record for every job, and named leases for all of them

The ``runs`` table gains the API calls a run used, where a paused run resumes, its last
progress event and a count of problems beyond the cap; ``errors`` becomes ``problems`` (one
schema: record, field, code, message, fix). ``xero_locks`` becomes ``leases``, which also
keeps one job of a kind per organisation running at a time.

Revision ID: j01
Revises: x03
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "j01"
down_revision = "x03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("errors", new_column_name="problems", existing_type=sa.JSON)
        batch.add_column(sa.Column("calls", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("problems_dropped", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("resume", sa.JSON, nullable=True))
        batch.add_column(sa.Column("progress", sa.JSON, nullable=True))
    op.create_index("ix_runs_job", "runs", ["job", "connection_id", "id"])
    op.drop_table("xero_locks")
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.create_table(
        "xero_locks",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=True),
    )
    op.drop_index("ix_runs_job", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("progress")
        batch.drop_column("resume")
        batch.drop_column("problems_dropped")
        batch.drop_column("calls")
        batch.alter_column("problems", new_column_name="errors", existing_type=sa.JSON)
