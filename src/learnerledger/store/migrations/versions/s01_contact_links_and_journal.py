"""contact links and the sync journal; joins the learner and Xero migration branches

Revision ID: s01
Revises: w01, x02
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "s01"
down_revision = ("w01", "x02")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=False),
        sa.Column("ref_internal", sa.String(50), nullable=False),
        sa.Column("contact_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("mapped_hash", sa.String(64), nullable=True),
        sa.Column("contact_updated_ms", sa.BigInteger, nullable=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("connection_id", "contact_id", name="uq_contact_links_contact"),
    )
    op.create_index(
        "ux_contact_links_learner",
        "contact_links",
        ["connection_id", "ref_internal"],
        unique=True,
        sqlite_where=sa.text("role = 'learner'"),
        postgresql_where=sa.text("role = 'learner'"),
    )
    op.create_table(
        "journal_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("ref_internal", sa.String(50), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("mapped_hash", sa.String(64), nullable=False),
        sa.Column("step_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("batch_key", sa.String(128), nullable=True),
        sa.Column("contact_id", sa.String(36), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_journal_steps_run", "journal_steps", ["run_id", "status"])
    op.create_index("ix_journal_steps_open", "journal_steps", ["connection_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_journal_steps_open", "journal_steps")
    op.drop_index("ix_journal_steps_run", "journal_steps")
    op.drop_table("journal_steps")
    op.drop_index("ux_contact_links_learner", "contact_links")
    op.drop_table("contact_links")
