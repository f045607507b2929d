"""resync: what was written to the SMS per document, and a CSV source's SMS side

Revision ID: r01
Revises: d01
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r01"
down_revision = "d01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resync_documents",
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("sms", sa.String(10), nullable=False),
        sa.Column("ref_internal", sa.String(50), nullable=True),
        sa.Column("body_hash", sa.String(64), nullable=True),
        sa.Column("pending", sa.String(10), nullable=True),
        sa.Column("pending_sms", sa.String(10), nullable=True),
        sa.Column("pending_ref", sa.String(50), nullable=True),
        sa.Column("pending_hash", sa.String(64), nullable=True),
        sa.Column("written_ms", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "ix_resync_documents_learner", "resync_documents", ["connection_id", "ref_internal"]
    )
    op.create_table(
        "sms_documents",
        sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("ref_internal", sa.String(50), nullable=False),
        sa.Column("number", sa.String(255), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("date", sa.Date, nullable=True),
        sa.Column("amount_total", sa.String(40), nullable=True),
        sa.Column("amount_due", sa.String(40), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("written_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_sms_documents_learner", "sms_documents", ["connection_id", "ref_internal"])


def downgrade() -> None:
    op.drop_index("ix_sms_documents_learner", "sms_documents")
    op.drop_table("sms_documents")
    op.drop_index("ix_resync_documents_learner", "resync_documents")
    op.drop_table("resync_documents")
