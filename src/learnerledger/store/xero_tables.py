"""Tables of the Xero connector: the shared rate budget and the local mirror
of each connected organisation (contacts, documents, read cursors, records Xero sent malformed).

Times are epoch milliseconds (``BigInteger``): exact, zone-free and sortable on SQLite and
PostgreSQL alike (SQLite drops the zone of a ``DateTime``). Money is kept as decimal text,
written and read by ``store.mirror``: SQLite has no exact decimal type, and a
float would lose cents. Each record's JSON, as Xero sent it, is kept in ``data``.
"""

from __future__ import annotations

import sqlalchemy as sa

from learnerledger.domain.documents import DOCUMENT_KINDS
from learnerledger.store.tables import metadata

__all__ = [
    "DOCUMENT_KINDS",
    "xero_budget_calls",
    "xero_budget_slots",
    "xero_budget_state",
    "xero_contacts",
    "xero_cursors",
    "xero_documents",
    "xero_rejects",
]

_CONNECTION = "connections.id"

# -- the rate budget: one per connected organisation, shared by every process ------------------

# One row per call made (or being made); the rolling minute and day windows count these rows.
xero_budget_calls = sa.Table(
    "xero_budget_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
)
sa.Index(
    "ix_xero_budget_calls_window", xero_budget_calls.c.connection_id, xero_budget_calls.c.at_ms
)

# What Xero itself said last: a pause it asked for (Retry-After) and the remaining counts.
xero_budget_state = sa.Table(
    "xero_budget_state",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), primary_key=True),
    sa.Column("blocked_until_ms", sa.BigInteger, nullable=True),
    sa.Column("blocked_limit", sa.String(20), nullable=True),  # minute|day|appminute|concurrent
    sa.Column("minute_remaining", sa.Integer, nullable=True),  # X-MinLimit-Remaining
    sa.Column("day_remaining", sa.Integer, nullable=True),  # X-DayLimit-Remaining
    sa.Column("remaining_seen_ms", sa.BigInteger, nullable=True),
)

# The calls in flight: one row per slot; a slot whose lease ran out (a crashed process) is free.
xero_budget_slots = sa.Table(
    "xero_budget_slots",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), primary_key=True),
    sa.Column("slot", sa.Integer, primary_key=True),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=True),
)

# -- the mirror ----------------------------------------------------------------------------

xero_contacts = sa.Table(
    "xero_contacts",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), primary_key=True),
    sa.Column("contact_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("contact_number", sa.String(50), nullable=True),
    sa.Column("account_number", sa.String(50), nullable=True),
    sa.Column("first_name", sa.String(255), nullable=True),
    sa.Column("last_name", sa.String(255), nullable=True),
    sa.Column("email", sa.String(255), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),  # ACTIVE|ARCHIVED|GDPRREQUEST
    sa.Column("merged_to", sa.String(36), nullable=True),  # MergedToContactID
    sa.Column("is_customer", sa.Boolean, nullable=False),
    sa.Column("is_supplier", sa.Boolean, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),  # UpdatedDateUTC
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("mirrored_ms", sa.BigInteger, nullable=False),
)
sa.Index("ix_xero_contacts_number", xero_contacts.c.connection_id, xero_contacts.c.contact_number)
sa.Index("ix_xero_contacts_merged_to", xero_contacts.c.connection_id, xero_contacts.c.merged_to)

# Invoices, credit notes, payments, prepayments and overpayments in one table: the columns
# that mapping and reconciliation filter on, and each record's JSON.
xero_documents = sa.Table(
    "xero_documents",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),  # one of DOCUMENT_KINDS
    sa.Column("document_id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(30), nullable=True),  # ACCREC, ACCRECCREDIT, ARPREPAYMENT ...
    sa.Column("number", sa.String(255), nullable=True),  # InvoiceNumber, CreditNoteNumber
    sa.Column("reference", sa.String(255), nullable=True),
    sa.Column("status", sa.String(20), nullable=True),
    sa.Column("contact_id", sa.String(36), nullable=True),
    sa.Column("applies_to_id", sa.String(36), nullable=True),  # a payment's document
    sa.Column("date", sa.Date, nullable=True),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("total", sa.String(40), nullable=True),  # decimal text (a payment's Amount)
    sa.Column("amount_due", sa.String(40), nullable=True),
    sa.Column("amount_paid", sa.String(40), nullable=True),
    sa.Column("amount_credited", sa.String(40), nullable=True),
    sa.Column("remaining_credit", sa.String(40), nullable=True),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),  # UpdatedDateUTC
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("mirrored_ms", sa.BigInteger, nullable=False),
)
sa.Index("ix_xero_documents_contact", xero_documents.c.connection_id, xero_documents.c.contact_id)

# Where each incremental read stands: per (organisation, stream), the If-Modified-Since of the
# next read (when the last complete read began, less a margin for clocks). A stream is
# ``contacts``, ``invoices``... or a date-ranged read such as ``invoices 2025-07-01..2026-06-30``,
# which keeps a cursor of its own.
xero_cursors = sa.Table(
    "xero_cursors",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), primary_key=True),
    sa.Column("stream", sa.String(80), primary_key=True),
    sa.Column("cursor_ms", sa.BigInteger, nullable=True),
    sa.Column("last_pull_ms", sa.BigInteger, nullable=True),
    sa.Column("complete", sa.Boolean, nullable=False),  # the last pull reached the end
    # An interrupted read carries on from this page under the same If-Modified-Since...
    sa.Column("resume_page", sa.Integer, nullable=True),
    # ...and, once done, moves the cursor to when its first answer came.
    sa.Column("pull_started_ms", sa.BigInteger, nullable=True),
)

# Records Xero sent that could not be read. The next pull asks for them again: by id when
# the id could be read, otherwise by reading again the page they were on (``retry_page`` under
# the If-Modified-Since ``retry_from_ms``; NULL: from the start), so they are not lost when the
# cursor moves on.
xero_rejects = sa.Table(
    "xero_rejects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), nullable=False),
    sa.Column("stream", sa.String(80), nullable=False),
    sa.Column("date_filter", sa.Text, nullable=True),  # the read's `where`, if any
    sa.Column("retry_from_ms", sa.BigInteger, nullable=True),
    sa.Column("retry_page", sa.Integer, nullable=True),  # the page it was on under that read
    sa.Column("record_id", sa.String(36), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("seen_ms", sa.BigInteger, nullable=False),
)
sa.Index("ix_xero_rejects_stream", xero_rejects.c.connection_id, xero_rejects.c.stream)
