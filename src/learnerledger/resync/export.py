"""A CSV source's documents as the CSV its SMS imports: one row per invoice, on its learner.

The rows are what the resync keeps of Wisenet's shape (contract §3): the invoice's fields, its
lines and its payments (with credit notes, prepayments and overpayments applied to it) as JSON,
amounts digit for digit. A document moved to another learner is exported on that learner only;
one that belongs to no learner any more is not exported.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from typing import Any, TextIO

from learnerledger.store import Store
from learnerledger.store.resync import iter_sms_documents
from learnerledger.xero.wire import dumps

__all__ = ["EXPORT_COLUMNS", "export_csv"]

EXPORT_COLUMNS = (
    "RefInternal",
    "InvoiceId",
    "InvoiceNumber",
    "InvoiceReference",
    "Status",
    "Date",
    "DueDate",
    "AmountTotal",
    "AmountPaid",
    "AmountCredited",
    "AmountDue",
    "UpdateDateUtc",
    "SourceAppKey",
    "LineItems",
    "Payments",
)
_LISTS = ("LineItems", "Payments")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return dumps(value)
    return str(value)


def export_csv(store: Store, connection_id: int, out: TextIO) -> int:
    """Write the CSV to ``out``; returns the number of documents written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    for doc in iter_sms_documents(store, connection_id):
        # Amounts were kept as decimal text; JSON numbers are read back as Decimal.
        body = json.loads(doc.body, parse_float=Decimal)
        writer.writerow([_cell(body.get(column)) for column in EXPORT_COLUMNS])
        written += 1
    return written
