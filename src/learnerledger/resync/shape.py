"""Xero's documents in Wisenet's shape (contract §3): pure.

Wisenet API v1 holds invoices only, each on one learner, with whole-number quantities; credit
notes, prepayments and overpayments exist there only as what they did to an invoice. So:

- a sales invoice (ACCREC) becomes an ``Invoice``: its lines, its amounts (``AmountTotal`` is
  Xero's Total), ``SourceAppKey`` ``"Xero"``, and in ``Payments[]`` every payment
  (``"Payment"``) and every allocation of a credit note, prepayment or overpayment to it
  (``"CreditNote"``, ``"Prepayment"``, ``"Overpayment"``, the amount applied, on the day it was
  applied when the credit's own record says so), which add up to Xero's ``AmountPaid`` and
  ``AmountCredited``;
- a line whose quantity is not a whole number keeps its quantity rounded when that leaves the
  line's amount as it is, and otherwise (or when a discount makes quantity times price differ
  from the amount) becomes quantity 1 at the line's amount: the document gets a :class:`Note`
  saying what changed;
- credit that is not applied to an invoice (an open credit note, prepayment or overpayment) has
  no home in v1: :func:`open_credit` says so, and nothing is written for it.

:func:`digest` is the stored hash: equal digests mean Wisenet already holds exactly this.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from learnerledger.domain.documents import MirroredDocument
from learnerledger.xero.wire import WireError, parse_day

__all__ = [
    "CREDIT_KINDS",
    "INVOICE_FIELDS",
    "SOURCE_APP_KEY",
    "Applied",
    "Note",
    "Shaped",
    "allocations",
    "canonical",
    "digest",
    "open_credit",
    "outstanding",
    "wisenet_invoice",
]

SOURCE_APP_KEY = "Xero"
# Wisenet's Invoice fields, in the contract's order.
INVOICE_FIELDS = (
    "InvoiceId",
    "LearnerId",
    "InvoiceNumber",
    "InvoiceReference",
    "SourceAppKey",
    "Status",
    "Date",
    "DueDate",
    "LineItems",
    "AmountTotal",
    "AmountDue",
    "AmountPaid",
    "AmountCredited",
    "UpdateDateUtc",
    "Payments",
)
_LINE_FIELDS = (
    "ItemCode",
    "Description",
    "Quantity",
    "UnitAmount",
    "AccountCode",
    "TaxType",
    "TaxAmount",
    "LineAmount",
)
_PAYMENT_FIELDS = ("Type", "Date", "Amount")
# The credit kinds of the mirror, their sales types and the Payment Type they become.
CREDIT_KINDS = {
    "credit_note": ("ACCRECCREDIT", "CreditNote", "credit note"),
    "prepayment": ("RECEIVE-PREPAYMENT", "Prepayment", "prepayment"),
    "overpayment": ("RECEIVE-OVERPAYMENT", "Overpayment", "overpayment"),
}
# The lists of an invoice that hold what was applied to it, and the Payment Type of each.
_APPLIED_LISTS = (
    ("CreditNotes", "CreditNoteID", "CreditNote"),
    ("Prepayments", "PrepaymentID", "Prepayment"),
    ("Overpayments", "OverpaymentID", "Overpayment"),
)
_CENT = Decimal("0.01")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Note:
    """Something of a document that Wisenet v1 cannot hold as it is, and what was done."""

    code: str  # fractional_quantity | discount | open_credit
    message: str


@dataclass(frozen=True)
class Applied:
    """An allocation of a credit to an invoice, as the credit's own record tells it."""

    credit_id: str
    type: str  # CreditNote | Prepayment | Overpayment
    day: date | None
    amount: Decimal


@dataclass(frozen=True)
class Shaped:
    """An invoice in Wisenet's shape, with what could not be kept as it was."""

    body: dict[str, Any]
    notes: tuple[Note, ...]


def _day_text(day: date | None) -> str | None:
    return None if day is None else f"{day.isoformat()}T00:00:00"


def _moment_text(ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=ms)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + f".{ms % 1000:03d}" if ms % 1000 else text


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return parse_day(value)
    except WireError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def allocations(credit: MirroredDocument) -> list[tuple[str, Applied]]:
    """The invoices a credit note, prepayment or overpayment was applied to: (InvoiceID, what
    was applied), from the credit's ``Allocations``."""
    kind = CREDIT_KINDS.get(credit.kind)
    if kind is None:
        return []
    out: list[tuple[str, Applied]] = []
    for allocation in credit.data.get("Allocations") or []:
        if not isinstance(allocation, Mapping):
            continue
        invoice = allocation.get("Invoice")
        invoice_id = invoice.get("InvoiceID") if isinstance(invoice, Mapping) else None
        amount = _decimal(allocation.get("Amount"))
        if not isinstance(invoice_id, str) or amount is None:
            continue
        day = _day(allocation.get("Date"))
        out.append((invoice_id.lower(), Applied(credit.document_id, kind[1], day, amount)))
    return out


def _payments(doc: MirroredDocument, applied: Sequence[Applied]) -> list[dict[str, Any]]:
    data = doc.data
    rows: list[tuple[date | None, str, Decimal]] = []
    for payment in data.get("Payments") or []:
        if isinstance(payment, Mapping):
            amount = _decimal(payment.get("Amount"))
            if amount is not None:
                rows.append((_day(payment.get("Date")), "Payment", amount))
    by_credit: dict[str, list[Applied]] = {}
    for item in applied:
        by_credit.setdefault(item.credit_id.lower(), []).append(item)
    for key, id_field, type_ in _APPLIED_LISTS:
        for entry in data.get(key) or []:
            if not isinstance(entry, Mapping):
                continue
            amount = _decimal(entry.get("AppliedAmount"))
            if amount is None:
                continue
            # The invoice says what was applied (it adds up to AmountCredited); the credit's
            # own allocation says on which day, where the credit is mirrored too.
            day = _day(entry.get("Date"))
            known = by_credit.get(str(entry.get(id_field) or "").lower(), [])
            same = next((a for a in known if a.amount == amount), None)
            if same is not None:
                known.remove(same)
                day = same.day or day
            rows.append((day, type_, amount))
    rows.sort(key=lambda r: (r[0] or date.min, r[1]))
    return [{"Type": t, "Date": _day_text(d), "Amount": a} for d, t, a in rows]


def _line(item: Mapping[str, Any], number: int, notes: list[Note]) -> dict[str, Any]:
    quantity = _decimal(item.get("Quantity"))
    unit = _decimal(item.get("UnitAmount"))
    amount = _decimal(item.get("LineAmount"))
    discounted = any(
        (_decimal(item.get(k)) or Decimal(0)) != 0 for k in ("DiscountRate", "DiscountAmount")
    )
    line: dict[str, Any] = {
        "ItemCode": _text(item.get("ItemCode")),
        "Description": _text(item.get("Description")),
        "Quantity": None,
        "UnitAmount": unit,
        "AccountCode": _text(item.get("AccountCode")),
        "TaxType": _text(item.get("TaxType")),
        "TaxAmount": _decimal(item.get("TaxAmount")),
        "LineAmount": amount,
    }
    if quantity is None:
        line["Quantity"] = 1 if amount is not None else None
        if amount is not None:
            line["UnitAmount"] = amount
        return line
    whole = quantity.to_integral_value(rounding=ROUND_HALF_EVEN)
    if quantity == whole and not discounted:
        line["Quantity"] = int(whole)
        return line
    keeps_amount = (
        not discounted
        and unit is not None
        and amount is not None
        and whole != 0
        and (whole * unit).quantize(_CENT) == amount.quantize(_CENT)
    )
    if keeps_amount:
        line["Quantity"] = int(whole)
        notes.append(
            Note(
                "fractional_quantity",
                f"Line {number}: quantity {quantity} sent as {int(whole)} (Wisenet v1 holds "
                "whole quantities only); the line amount is unchanged.",
            )
        )
        return line
    line["Quantity"] = 1
    line["UnitAmount"] = amount
    what = "a discount" if discounted else f"the quantity {quantity}"
    notes.append(
        Note(
            "discount" if discounted else "fractional_quantity",
            f"Line {number}: {what} cannot be held by Wisenet v1, so the line is sent as "
            f"quantity 1 at its amount {amount} (Xero: {quantity} x {unit}"
            + (", discounted" if discounted else "")
            + ").",
        )
    )
    return line


def wisenet_invoice(
    doc: MirroredDocument, *, learner_id: int | None, applied: Sequence[Applied] = ()
) -> Shaped:
    """A sales invoice as Wisenet's ``Invoice`` on the learner ``learner_id`` (None for a CSV
    source, whose SMS knows learners by RefInternal). ``applied``: the allocations to it that
    the credits' own records tell (with the day each was applied)."""
    notes: list[Note] = []
    lines = [
        _line(item, number, notes)
        for number, item in enumerate(doc.data.get("LineItems") or [], start=1)
        if isinstance(item, Mapping)
    ]
    body = {
        "InvoiceId": doc.document_id,
        "LearnerId": learner_id,
        "InvoiceNumber": doc.number,
        "InvoiceReference": doc.reference,
        "SourceAppKey": SOURCE_APP_KEY,
        "Status": doc.status,
        "Date": _day_text(doc.date),
        "DueDate": _day_text(doc.due_date),
        "LineItems": lines,
        "AmountTotal": doc.total,
        "AmountDue": doc.amount_due,
        "AmountPaid": doc.amount_paid,
        "AmountCredited": doc.amount_credited,
        "UpdateDateUtc": _moment_text(doc.updated_ms),
        "Payments": _payments(doc, applied),
    }
    return Shaped(body, tuple(notes))


def open_credit(doc: MirroredDocument) -> Note | None:
    """An approved credit note, prepayment or overpayment with credit not applied to any
    invoice: Wisenet v1 has nowhere to hold it."""
    kind = CREDIT_KINDS.get(doc.kind)
    if kind is None or doc.type != kind[0] or doc.status not in ("AUTHORISED", "PAID"):
        return None
    remaining = doc.remaining_credit or Decimal(0)
    if remaining <= 0:
        return None
    label = kind[2]
    named = f"{label} {doc.number}" if doc.number else f"{label} {doc.document_id}"
    return Note(
        "open_credit",
        f"The {named} has {remaining} of credit not applied to an invoice. Wisenet v1 holds "
        f"credit only as a payment on an invoice, so this is not written; apply it to the "
        f"learner's invoice in Xero (or refund it) and the next resync carries it over.",
    )


def outstanding(status: str | None, amount_due: Decimal | None) -> Decimal:
    """What an invoice still asks the learner for: the amount due of an approved invoice
    (drafts are not owed yet; paid, voided and deleted ones owe nothing)."""
    if status != "AUTHORISED" or amount_due is None:
        return Decimal("0.00")
    return amount_due


def _plain(value: Any) -> Any:
    """A number as its value's text (``1250`` for ``1250.00``), anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return value
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return format(number.normalize(), "f") if number else "0"


def _row(item: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    item = item if isinstance(item, Mapping) else {}
    return {k: _plain(item.get(k)) for k in fields}


def canonical(invoice: Mapping[str, Any]) -> str:
    """An invoice as comparable text: Wisenet's fields only, numbers by value (``1250`` and
    ``1250.00`` are one amount), so what was sent and what Wisenet answers compare equal."""
    picked: dict[str, Any] = {}
    for field in INVOICE_FIELDS:
        value = invoice.get(field)
        if field == "LineItems":
            value = [_row(i, _LINE_FIELDS) for i in value or []]
        elif field == "Payments":
            value = [_row(p, _PAYMENT_FIELDS) for p in value or []]
        elif field == "InvoiceId" and isinstance(value, str):
            value = value.lower()
        else:
            value = _plain(value)
        picked[field] = value
    return json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(sms: str, ref_internal: str, invoice: Mapping[str, Any]) -> str:
    """The stored hash of ``invoice`` written to ``sms`` on learner ``ref_internal``."""
    text = f"{sms}\n{ref_internal}\n{canonical(invoice)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
