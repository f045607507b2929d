"""connections and runs: connected systems and the History of job runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("auth_mode", sa.String(30), nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=True),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("state_detail", sa.Text, nullable=False, server_default=""),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "tenant_id", "base_url", name="uq_connections_kind_tenant"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(50), nullable=False),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=True),
        sa.Column("started_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_table("connections")
