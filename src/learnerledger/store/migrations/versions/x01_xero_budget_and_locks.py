"""xero budget and locks: the rate budget every process shares, and refresh locks

Revision ID: x01
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "x01"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xero_budget_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_xero_budget_calls_window", "xero_budget_calls", ["connection_id", "at_ms"])
    op.create_table(
        "xero_budget_state",
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("blocked_until_ms", sa.BigInteger, nullable=True),
        sa.Column("blocked_limit", sa.String(20), nullable=True),
        sa.Column("minute_remaining", sa.Integer, nullable=True),
        sa.Column("day_remaining", sa.Integer, nullable=True),
        sa.Column("remaining_seen_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "xero_budget_slots",
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "xero_locks",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("xero_locks")
    op.drop_table("xero_budget_slots")
    op.drop_table("xero_budget_state")
    op.drop_index("ix_xero_budget_calls_window", "xero_budget_calls")
    op.drop_table("xero_budget_calls")
