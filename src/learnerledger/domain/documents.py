"""Documents as the local mirror holds them: invoices, credit notes, payments, prepayments and
overpayments, with exact ``Decimal`` money. Pure: the store's repositories build these from
their rows (where money is kept as decimal text)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date as _Day
from decimal import Decimal
from typing import Any

__all__ = ["DOCUMENT_KINDS", "MirroredDocument"]

# The kinds of document the mirror keeps.
DOCUMENT_KINDS = ("invoice", "credit_note", "payment", "prepayment", "overpayment")


@dataclass(frozen=True)
class MirroredDocument:
    """A document as the local mirror holds it. A payment's ``total`` is its Amount and
    ``applies_to_id`` the document it pays; the whole record, as Xero sent it, is ``data``."""

    kind: str  # one of DOCUMENT_KINDS
    document_id: str
    type: str | None
    number: str | None
    reference: str | None
    status: str | None
    contact_id: str | None
    applies_to_id: str | None
    date: _Day | None
    due_date: _Day | None
    currency: str | None
    total: Decimal | None
    amount_due: Decimal | None
    amount_paid: Decimal | None
    amount_credited: Decimal | None
    remaining_credit: Decimal | None
    updated_ms: int
    data: Mapping[str, Any]
