"""xero mirror: contacts, documents, read cursors and unreadable records of each organisation

Revision ID: x02
Revises: x01
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "x02"
down_revision = "x01"
branch_labels = None
depends_on = None


def _connection(*, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        "connection_id",
        sa.Integer,
        sa.ForeignKey("connections.id"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "xero_contacts",
        _connection(primary_key=True),
        sa.Column("contact_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("contact_number", sa.String(50), nullable=True),
        sa.Column("account_number", sa.String(50), nullable=True),
        sa.Column("first_name", sa.String(255), nullable=True),
        sa.Column("last_name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("merged_to", sa.String(36), nullable=True),
        sa.Column("is_customer", sa.Boolean, nullable=False),
        sa.Column("is_supplier", sa.Boolean, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("mirrored_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_xero_contacts_number", "xero_contacts", ["connection_id", "contact_number"])
    op.create_index("ix_xero_contacts_merged_to", "xero_contacts", ["connection_id", "merged_to"])
    op.create_table(
        "xero_documents",
        _connection(primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(30), nullable=True),
        sa.Column("number", sa.String(255), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("contact_id", sa.String(36), nullable=True),
        sa.Column("applies_to_id", sa.String(36), nullable=True),
        sa.Column("date", sa.Date, nullable=True),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("total", sa.String(40), nullable=True),
        sa.Column("amount_due", sa.String(40), nullable=True),
        sa.Column("amount_paid", sa.String(40), nullable=True),
        sa.Column("amount_credited", sa.String(40), nullable=True),
        sa.Column("remaining_credit", sa.String(40), nullable=True),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("mirrored_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_xero_documents_contact", "xero_documents", ["connection_id", "contact_id"])
    op.create_table(
        "xero_cursors",
        _connection(primary_key=True),
        sa.Column("stream", sa.String(80), primary_key=True),
        sa.Column("cursor_ms", sa.BigInteger, nullable=True),
        sa.Column("last_pull_ms", sa.BigInteger, nullable=True),
        sa.Column("complete", sa.Boolean, nullable=False),
    )
    op.create_table(
        "xero_rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _connection(),
        sa.Column("stream", sa.String(80), nullable=False),
        sa.Column("date_filter", sa.Text, nullable=True),
        sa.Column("retry_from_ms", sa.BigInteger, nullable=True),
        sa.Column("record_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("seen_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_xero_rejects_stream", "xero_rejects", ["connection_id", "stream"])


def downgrade() -> None:
    op.drop_index("ix_xero_rejects_stream", "xero_rejects")
    op.drop_table("xero_rejects")
    op.drop_table("xero_cursors")
    op.drop_index("ix_xero_documents_contact", "xero_documents")
    op.drop_table("xero_documents")
    op.drop_index("ix_xero_contacts_merged_to", "xero_contacts")
    op.drop_index("ix_xero_contacts_number", "xero_contacts")
    op.drop_table("xero_contacts")
