"""Invoices and credit notes as Xero keeps them, and the rules for writing them.

A document's status moves as Xero's does::

    DRAFT ──▶ SUBMITTED ──▶ AUTHORISED ──(fully paid or credited)──▶ PAID
      │           │              │    ◀──(a payment or allocation removed)──┘
      └───────────┴──▶ DELETED   └──▶ VOIDED (only with nothing paid or credited)

DRAFT and SUBMITTED documents can be changed in any way. An AUTHORISED document can be changed
(contact, lines, dates, ...) only while nothing is paid or credited on it; once a payment or an
allocation is applied, every change is refused until it is removed. PAID, VOIDED and DELETED
documents cannot be changed. PAID is never sent by a client: it follows from the money.

Amounts are recomputed from the payments and allocations whenever either changes (``refresh``):
``AmountDue = Total - AmountPaid - AmountCredited`` for a live invoice, and ``RemainingCredit =
Total - allocated - refunded`` for a credit (credit note, prepayment, overpayment); a VOIDED or
DELETED document owes nothing (Xero shows AmountDue 0.00 on a voided invoice).

Writes are handled in two phases, as for contacts: the whole body is deserialised first (a value
of the wrong type fails the request), then each document is validated and written on its own
inside a savepoint, so a refused document leaves nothing behind, not even a contact its Name
would have created. Prepayments and overpayments are documents too (their own kinds); they are
created as bank transactions, see ``payments.py``.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from learnerledger.sandbox.xero import contacts as contact_rules
from learnerledger.sandbox.xero.deserialise import (
    as_bool,
    as_date,
    as_decimal,
    as_enum,
    as_guid,
    as_list,
    as_object,
    as_text,
    load_body,
)
from learnerledger.sandbox.xero.errors import post_data_invalid
from learnerledger.sandbox.xero.money import (
    MAX_AMOUNT,
    TAX_RATES,
    ZERO,
    Line,
    LineResult,
    cents,
    compute_line,
    from_cents,
    q2,
    totals,
    unit,
)
from learnerledger.sandbox.xero.organisation import STANDARD_CHART, find_account
from learnerledger.sandbox.xero.where import Field, compile_order, compile_where
from learnerledger.sandbox.xero.wire import (
    date_ms,
    date_of_ms,
    date_string,
    day_fields,
    from_json,
    iso_z,
    ms_date,
    to_json,
)

__all__ = [
    "CREDIT_NOTE",
    "CREDIT_TARGET",
    "INVOICE",
    "KINDS",
    "LINE_AMOUNT_TYPES",
    "MESSAGES",
    "OVERPAYMENT",
    "PREPAYMENT",
    "RECEIVABLE",
    "STATUSES",
    "DocQuery",
    "DocRow",
    "Kind",
    "Outcome",
    "Submitted",
    "balances",
    "check_lines",
    "compact_contact",
    "compose",
    "documents_of_contact",
    "echo_contact_ref",
    "echo_line",
    "find_by_number",
    "get_document",
    "insert_invoice",
    "list_documents",
    "mark_contact",
    "move_documents",
    "next_number",
    "number_key",
    "org_today",
    "parse_body",
    "parse_contact_and_lines",
    "parse_contact_ref",
    "parse_line",
    "refresh",
    "render",
    "render_text",
    "resolve_contact",
    "savepoint",
    "store_new",
    "write_document",
]

STATUSES = ("DRAFT", "SUBMITTED", "DELETED", "AUTHORISED", "PAID", "VOIDED")
LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
_INVOICE_TYPES = (
    "ACCPAY",
    "ACCPAYCREDIT",
    "APOVERPAYMENT",
    "APPREPAYMENT",
    "ACCREC",
    "ACCRECCREDIT",
    "AROVERPAYMENT",
    "ARPREPAYMENT",
)


@dataclass(frozen=True)
class Kind:
    """What differs between invoices, credit notes, prepayments and overpayments."""

    name: str  # the value of documents.kind
    collection: str  # the JSON key of the list: Invoices, CreditNotes, ...
    id_field: str
    number_field: str | None
    label: str  # as Xero's messages name it
    types: tuple[str, ...]  # the Types a document of this kind may have
    enum_types: tuple[str, ...]  # the Types the deserialiser knows
    auto_number: dict[str, str]  # Type -> prefix of the automatic number

    @property
    def is_credit(self) -> bool:
        return self.name != "invoice"


INVOICE = Kind(
    "invoice",
    "Invoices",
    "InvoiceID",
    "InvoiceNumber",
    "Invoice",
    ("ACCREC", "ACCPAY"),
    _INVOICE_TYPES,
    {"ACCREC": "INV-"},
)
CREDIT_NOTE = Kind(
    "creditnote",
    "CreditNotes",
    "CreditNoteID",
    "CreditNoteNumber",
    "Credit Note",
    ("ACCRECCREDIT", "ACCPAYCREDIT"),
    ("ACCPAYCREDIT", "ACCRECCREDIT"),
    {"ACCRECCREDIT": "CN-"},
)
PREPAYMENT = Kind(
    "prepayment",
    "Prepayments",
    "PrepaymentID",
    None,
    "Prepayment",
    ("RECEIVE-PREPAYMENT", "SPEND-PREPAYMENT"),
    ("RECEIVE-PREPAYMENT", "SPEND-PREPAYMENT", "ARPREPAYMENT", "APPREPAYMENT"),
    {},
)
OVERPAYMENT = Kind(
    "overpayment",
    "Overpayments",
    "OverpaymentID",
    None,
    "Overpayment",
    ("RECEIVE-OVERPAYMENT", "SPEND-OVERPAYMENT"),
    ("RECEIVE-OVERPAYMENT", "SPEND-OVERPAYMENT", "AROVERPAYMENT"),
    {},
)
KINDS = {k.name: k for k in (INVOICE, CREDIT_NOTE, PREPAYMENT, OVERPAYMENT)}

# Sales-side types make their contact a customer, purchase-side types a supplier.
RECEIVABLE = frozenset({"ACCREC", "ACCRECCREDIT", "RECEIVE-PREPAYMENT", "RECEIVE-OVERPAYMENT"})
# The invoice type a credit of each type may be allocated to.
CREDIT_TARGET = {
    "ACCRECCREDIT": "ACCREC",
    "ACCPAYCREDIT": "ACCPAY",
    "RECEIVE-PREPAYMENT": "ACCREC",
    "RECEIVE-OVERPAYMENT": "ACCREC",
    "SPEND-PREPAYMENT": "ACCPAY",
    "SPEND-OVERPAYMENT": "ACCPAY",
}

# Every validation text. Those marked "Xero" are Xero's own (docs/sandbox.md gives the
# sources); the others are the sandbox's wording where Xero's is not known.
MESSAGES = {
    # Xero
    "contact_required": "The Contact must contain at least 1 of the following elements to "
    "identify the contact: Name, ContactID, ContactNumber",
    "contact_archived": "The contact with the specified contact details has been archived. "
    "The contact must be un-archived before creating new invoices or credit notes.",
    "number_unique": "{label} # must be unique.",
    "applied": "This document cannot be edited as it has a payment or credit note allocated to it.",
    "not_modifiable": "{label} not of valid status for modification",
    "description": "The description field is mandatory for each line item.",
    "discount": "Discounts may not be applied to ACCPAY invoices.",
    "account": "Account code '{code}' is not a valid code for this document.",
    "tax_rate": "Tax rate must be valid.",
    "currency": "Organisation is not subscribed to currency {code}",
    "too_long": "{field} must not be more than {limit} characters long.",
    # the sandbox's wording
    "type_required": "The {label} Type must be one of {types}.",
    "type_fixed": "The Type of an existing {label} cannot be changed.",
    "unknown_contact_id": "The contact with ContactID {id} could not be found.",
    "unknown_contact_number": "No contact has the ContactNumber {number}; a contact given by "
    "ContactNumber alone must exist.",
    "contact_renamed": "The Contact carries ContactID {id} and the Name {name!r}, which is not "
    "its name: Xero would rename the contact. Send the ContactID alone.",
    "lines_required": "This {label} needs at least one line item.",
    "account_required": "Each line item of this {label} needs an AccountCode.",
    "account_id": "No account has the AccountID {id}.",
    "due_date": "An approved invoice needs a DueDate.",
    "negative": "This {label} would have a negative total; raise a credit note instead.",
    "too_large": "{field} {amount} is too large: amounts must stay below 1,000,000,000,000.",
    "credit_discount": "Discounts may not be applied to credit notes.",
    "discount_rate": "A DiscountRate is a percentage between 0 and 100.",
    "status_create": "A new {label} can be DRAFT, SUBMITTED or AUTHORISED.",
    "status_paid": "PAID cannot be set: the {label} becomes PAID when payments and credits "
    "cover it.",
    "status_move": "A {current} {label} can become {allowed}, not {wanted}.",
    "sent_to_contact": "SentToContact can be set only on an approved {label}.",
    "tracking": "The sandbox has no tracking categories; send line items without Tracking.",
    "item_code": "The sandbox has no items; send line items without ItemCode.",
    "line_item_id": "The LineItemID {id} is not a line of this {label}.",
    "unknown_id": "An existing {label} with the specified {field} could not be found",
    "id_on_create": "PUT only creates, so it takes no {field}; to update this {label} use "
    "POST /{collection}/{{{field}}}.",
    "no_data": "No data has been processed for this endpoint. This endpoint is expecting "
    "{label} data to be specifed in the request body.",
}

_STRING_LIMITS = {"Reference": 255, "Url": 2000, "BrandingThemeID": 36}
_DESCRIPTION_LIMIT = 4000
_CURRENCY = "AUD"
_ORG_ZONE = "Australia/Sydney"

# What each status may become through the API, besides staying as it is. Whether Xero lets an
# approved document go back to DRAFT or SUBMITTED is not documented: the sandbox refuses
# (the stricter reading, so that a client passing here passes on Xero).
_MOVES = {
    "DRAFT": ("DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"),
    "SUBMITTED": ("DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"),
    "AUTHORISED": ("AUTHORISED", "VOIDED"),
}


def _org_zone() -> Any:
    try:
        return ZoneInfo(_ORG_ZONE)
    except ZoneInfoNotFoundError:  # no time zone database: Sydney's standard time
        from datetime import timedelta, timezone

        return timezone(timedelta(hours=10))


_ZONE = _org_zone()


def org_today(now_ms: int) -> date:
    """Today in the organisation's time zone (Demo Training Co is in Sydney): the default Date
    of a new document and the day from which a DueDate is overdue."""
    return datetime.fromtimestamp(now_ms / 1000, tz=_ZONE).date()


@contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """Everything inside is undone if it raises: one item of a batch succeeds or leaves no
    trace."""
    conn.execute("SAVEPOINT document_item")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO document_item")
        conn.execute("RELEASE document_item")
        raise
    conn.execute("RELEASE document_item")


# -- rows -----------------------------------------------------------------------------------


@dataclass
class DocRow:
    seq: int
    doc_id: str
    kind: str
    type: str
    number: str | None
    contact_id: str
    status: str
    date_ms: int
    due_date_ms: int | None
    total: int  # cents
    amount_due: int  # AmountDue, or RemainingCredit of a credit
    amount_paid: int  # payments, or refunds of a credit
    amount_credited: int  # credits allocated to an invoice, or allocated from a credit
    created_by: str | None
    updated_ms: int
    head: str  # the stored JSON texts, see _encode
    lines: str
    lines4: str | None
    applied_json: str
    contact_name: str | None = None

    @property
    def applied(self) -> bool:
        """Something is paid, credited, allocated or refunded on this document."""
        return self.amount_paid > 0 or self.amount_credited > 0

    @cached_property
    def data(self) -> dict[str, Any]:
        """The whole document as stored, unit amounts to four decimals."""
        data: dict[str, Any] = from_json(self.head)
        data["LineItems"] = from_json(self.lines4 or self.lines)
        data.update(from_json(self.applied_json))
        return data


def _row(r: sqlite3.Row) -> DocRow:
    keys = r.keys()
    return DocRow(
        seq=r["seq"],
        doc_id=r["doc_id"],
        kind=r["kind"],
        type=r["type"],
        number=r["number"],
        contact_id=r["contact_id"],
        status=r["status"],
        date_ms=r["date_ms"],
        due_date_ms=r["due_date_ms"],
        total=r["total"],
        amount_due=r["amount_due"],
        amount_paid=r["amount_paid"],
        amount_credited=r["amount_credited"],
        created_by=r["created_by"],
        updated_ms=r["updated_ms"],
        head=r["data"],
        lines=r["lines"],
        lines4=r["lines4"],
        applied_json=r["applied"],
        contact_name=r["contact_name"] if "contact_name" in keys else None,
    )


_APPLIED_LISTS = ("Payments", "CreditNotes", "Prepayments", "Overpayments", "Allocations")


def _encode(data: dict[str, Any]) -> tuple[str, str, str | None, str]:
    """A document's JSON in the store's three parts: the fields, the lines (unit amounts to two
    decimals, and to four only when that differs) and what is applied to it."""
    head = {k: v for k, v in data.items() if k != "LineItems" and k not in _APPLIED_LISTS}
    items = data.get("LineItems", [])
    two = [{**item, "UnitAmount": unit(item["UnitAmount"], 2)} for item in items]
    exact = all(a["UnitAmount"] == b["UnitAmount"] for a, b in zip(items, two, strict=True))
    four = None
    if not exact:
        four = to_json([{**item, "UnitAmount": unit(item["UnitAmount"], 4)} for item in items])
    applied = {k: data[k] for k in _APPLIED_LISTS if k in data}
    return to_json(head), to_json(two), four, to_json(applied)


_SELECT = (
    "SELECT d.*, c.name AS contact_name FROM documents d "
    "LEFT JOIN contacts c ON c.contact_id = d.contact_id"
)


def get_document(
    conn: sqlite3.Connection, tenant_id: str, doc_id: str, kind: Kind | None = None
) -> DocRow | None:
    sql = f"{_SELECT} WHERE d.tenant_id = ? AND d.doc_id = ?"
    params: list[Any] = [tenant_id, doc_id]
    if kind is not None:
        sql += " AND d.kind = ?"
        params.append(kind.name)
    r = conn.execute(sql, params).fetchone()
    return None if r is None else _row(r)


def number_key(number: str | None) -> str | None:
    """How document numbers collide: case and surrounding white space do not tell them apart
    (Xero does not document this; the stricter reading is used)."""
    if number is None or not number.strip():
        return None
    return number.strip().casefold()


def find_by_number(
    conn: sqlite3.Connection, tenant_id: str, kind: Kind, number: str, type_: str | None = None
) -> DocRow | None:
    key = number_key(number)
    if key is None:
        return None
    sql = f"{_SELECT} WHERE d.tenant_id = ? AND d.kind = ? AND d.number_key = ?"
    params: list[Any] = [tenant_id, kind.name, key]
    if type_ is not None:
        sql += " AND d.type = ?"
        params.append(type_)
    r = conn.execute(sql + " ORDER BY d.seq LIMIT 1", params).fetchone()
    return None if r is None else _row(r)


def store_new(
    conn: sqlite3.Connection,
    tenant_id: str,
    kind: Kind,
    data: dict[str, Any],
    *,
    contact_id: str,
    day_ms: int,
    due_ms: int | None,
    now_ms: int,
    created_by: str | None,
) -> str:
    doc_id = str(data[kind.id_field])
    number = data.get(kind.number_field) if kind.number_field else None
    total = cents(data["Total"])
    conn.execute(
        "INSERT INTO documents (tenant_id, doc_id, kind, type, number, number_key, reference, "
        "contact_id, status, date_ms, due_date_ms, total, amount_due, amount_paid, "
        "amount_credited, created_by, updated_ms, data, lines, lines4, applied) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?)",
        (
            tenant_id,
            doc_id,
            kind.name,
            data["Type"],
            number or None,
            number_key(number),
            data.get("Reference") or None,
            contact_id,
            data["Status"],
            day_ms,
            due_ms,
            total,
            0 if data["Status"] in ("VOIDED", "DELETED") else total,
            created_by,
            now_ms,
            *_encode(data),
        ),
    )
    mark_contact(conn, contact_id, data["Type"])
    return doc_id


def mark_contact(conn: sqlite3.Connection, contact_id: str, type_: str) -> None:
    """IsCustomer / IsSupplier follow from the documents; as in Xero, setting them does not
    change the contact's UpdatedDateUTC."""
    column = "is_customer" if type_ in RECEIVABLE else "is_supplier"
    conn.execute(f"UPDATE contacts SET {column} = 1 WHERE contact_id = ?", (contact_id,))


# -- money of a document --------------------------------------------------------------------


def _render_lines(lines: list[LineResult], sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for result, line in zip(lines, sent, strict=True):
        item: dict[str, Any] = {"LineItemID": line.get("LineItemID") or str(uuid.uuid4())}
        if line.get("Description") is not None:
            item["Description"] = line["Description"]
        item["Quantity"] = result.quantity
        item["UnitAmount"] = unit(result.unit_amount, 4)
        if line.get("TaxType"):
            item["TaxType"] = line["TaxType"]
        item["TaxAmount"] = result.tax_amount
        item["LineAmount"] = result.line_amount
        if line.get("AccountCode"):
            item["AccountCode"] = line["AccountCode"]
        if line.get("AccountID"):
            item["AccountID"] = line["AccountID"]
        for key in ("DiscountRate", "DiscountAmount"):
            if line.get(key) is not None:
                item[key] = q2(line[key])
        item["Tracking"] = []
        out.append(item)
    return out


def _money(
    amount_types: str, lines: list[dict[str, Any]], unitdp: int
) -> tuple[list[LineResult], list[dict[str, Any]], list[str]]:
    """Each line's money, the lines as counted (out-of-range numbers set aside), and what is
    wrong with them."""
    results: list[LineResult] = []
    counted: list[dict[str, Any]] = []
    errors: list[str] = []
    for sent in lines:
        line = dict(sent)
        # Out-of-range numbers are reported and counted as zero, so that the arithmetic (and
        # Decimal's 28 digits) stays within what any invoice needs.
        for name in _LINE_NUMBERS:
            value = line.get(name)
            if value is not None and abs(value) >= MAX_AMOUNT:
                errors.append(MESSAGES["too_large"].format(field=name, amount=f"{value:f}"))
                line[name] = ZERO
        rate = line.get("DiscountRate")
        if rate is not None and not 0 <= rate <= 100:
            errors.append(MESSAGES["discount_rate"])
            line["DiscountRate"] = None
        tax_type = line.get("TaxType")
        result = compute_line(
            Line(
                quantity=line.get("Quantity"),
                unit_amount=line.get("UnitAmount"),
                line_amount=line.get("LineAmount"),
                discount_rate=line.get("DiscountRate"),
                discount_amount=line.get("DiscountAmount"),
                tax_rate=TAX_RATES.get(tax_type or "", ZERO),
                tax_amount=line.get("TaxAmount"),
            ),
            amount_types,
            unitdp,
        )
        if result.error:
            errors.append(result.error)
        results.append(result)
        counted.append(line)
    return results, counted, errors


def compose(
    kind: Kind,
    *,
    doc_id: str,
    type_: str,
    status: str,
    number: str | None,
    fields: dict[str, Any],
    lines: list[dict[str, Any]],
    amount_types: str,
    day: date,
    due: date | None,
    unitdp: int = 2,
) -> tuple[dict[str, Any], list[str]]:
    """The stored form of a document (Xero's JSON without Contact and UpdatedDateUTC, which
    are added when it is read), and the money errors of its lines."""
    results, counted, errors = _money(amount_types, lines, unitdp)
    sums = totals(results, amount_types)
    data: dict[str, Any] = {"Type": type_, kind.id_field: doc_id}
    if kind.number_field:
        data[kind.number_field] = number or ""
    if kind.name != "prepayment":
        data["Reference"] = fields.get("Reference", "")
    data["Status"] = status
    data["LineAmountTypes"] = amount_types
    data["DateString"] = date_string(date_ms(day))
    data["Date"] = ms_date(date_ms(day))
    if due is not None:
        data["DueDateString"] = date_string(date_ms(due))
        data["DueDate"] = ms_date(date_ms(due))
    data["LineItems"] = _render_lines(results, counted)
    data["SubTotal"] = sums.sub_total
    data["TotalTax"] = sums.total_tax
    data["Total"] = sums.total
    if kind.name == "invoice" and sums.total_discount:
        data["TotalDiscount"] = sums.total_discount
    data["CurrencyCode"] = _CURRENCY
    data["CurrencyRate"] = Decimal("1.000000")
    for key in ("Url", "BrandingThemeID", "ExpectedPaymentDate", "PlannedPaymentDate"):
        if fields.get(key):
            value = fields[key]
            data[key] = ms_date(date_ms(value)) if isinstance(value, date) else value
    if kind.name in ("invoice", "creditnote"):
        data["SentToContact"] = bool(fields.get("SentToContact", False))
    if kind.name == "invoice":
        data["IsDiscounted"] = bool(sums.total_discount)
    data["HasAttachments"] = False
    if kind.name in ("invoice", "creditnote"):  # not a field of prepayments or overpayments
        data["HasErrors"] = False
    for name in ("SubTotal", "TotalTax", "Total"):
        if abs(data[name]) >= MAX_AMOUNT:
            errors.append(MESSAGES["too_large"].format(field=name, amount=f"{data[name]:f}"))
    # (A total beyond the limit is an error already; it is not turned into cents.)
    total = cents(sums.total) if abs(sums.total) < MAX_AMOUNT else 0
    _set_amounts(kind, data, status, total=total, paid=0, credited=0)
    return data, errors


def _set_amounts(
    kind: Kind, data: dict[str, Any], status: str, *, total: int, paid: int, credited: int
) -> int:
    """Write AmountDue/AmountPaid/AmountCredited (or RemainingCredit) into ``data``; the
    amount still open, in cents."""
    open_ = 0 if status in ("VOIDED", "DELETED") else total - paid - credited
    if kind.is_credit:
        data["RemainingCredit"] = from_cents(open_)
    else:
        data["AmountDue"] = from_cents(open_)
        data["AmountPaid"] = from_cents(paid)
        data["AmountCredited"] = from_cents(credited)
    return open_


def refresh(conn: sqlite3.Connection, doc_id: str, *, now_ms: int, bump: bool = True) -> DocRow:
    """Recompute a document's money from its payments and allocations: the amounts, the lists
    of what is applied, and PAID (set when nothing is left open, undone when something is
    removed again). ``bump`` moves UpdatedDateUTC, as any change in Xero does."""
    r = conn.execute(f"{_SELECT} WHERE d.doc_id = ?", (doc_id,)).fetchone()
    row = _row(r)
    kind = KINDS[row.kind]
    data = row.data
    payments = conn.execute(
        "SELECT payment_id, date_ms, amount, data FROM payments "
        "WHERE doc_id = ? AND status = 'AUTHORISED' ORDER BY date_ms, seq",
        (doc_id,),
    ).fetchall()
    paid = sum(p["amount"] for p in payments)
    data["Payments"] = [_payment_summary(p) for p in payments]
    dates = [p["date_ms"] for p in payments]
    if kind.is_credit:
        allocations = conn.execute(
            "SELECT a.allocation_id, a.amount, a.date_ms, i.doc_id, i.number, i.type "
            "FROM allocations a JOIN documents i ON i.doc_id = a.invoice_id "
            "WHERE a.credit_id = ? AND a.deleted = 0 ORDER BY a.seq",
            (doc_id,),
        ).fetchall()
        data["Allocations"] = [
            {
                "AllocationID": a["allocation_id"],
                "Amount": from_cents(a["amount"]),
                "Date": ms_date(a["date_ms"]),
                "Invoice": {
                    "InvoiceID": a["doc_id"],
                    "InvoiceNumber": a["number"] or "",
                    "Type": a["type"],
                },
            }
            for a in allocations
        ]
    else:
        allocations = conn.execute(
            "SELECT a.allocation_id, a.amount, a.date_ms, c.doc_id, c.kind, c.number, c.total, "
            "c.date_ms AS credit_date FROM allocations a JOIN documents c "
            "ON c.doc_id = a.credit_id WHERE a.invoice_id = ? AND a.deleted = 0 ORDER BY a.seq",
            (doc_id,),
        ).fetchall()
        applied: dict[str, list[dict[str, Any]]] = {
            "creditnote": [],
            "prepayment": [],
            "overpayment": [],
        }
        for a in allocations:
            credit_kind = KINDS[a["kind"]]
            entry: dict[str, Any] = {credit_kind.id_field: a["doc_id"]}
            if credit_kind.number_field:
                entry[credit_kind.number_field] = a["number"] or ""
            entry["Date"] = ms_date(a["credit_date"])
            entry["AppliedAmount"] = from_cents(a["amount"])
            entry["Total"] = from_cents(a["total"])
            applied[a["kind"]].append(entry)
        data["CreditNotes"] = applied["creditnote"]
        data["Prepayments"] = applied["prepayment"]
        data["Overpayments"] = applied["overpayment"]
    credited = sum(a["amount"] for a in allocations)
    dates += [a["date_ms"] for a in allocations]
    status = row.status
    open_ = row.total - paid - credited
    if status == "AUTHORISED" and open_ == 0:
        status = "PAID"
    elif status == "PAID" and open_ > 0:
        status = "AUTHORISED"
    data["Status"] = status
    open_ = _set_amounts(kind, data, status, total=row.total, paid=paid, credited=credited)
    if status == "PAID" and kind.name in ("invoice", "creditnote"):
        data["FullyPaidOnDate"] = ms_date(max(dates, default=row.date_ms))
    else:
        data.pop("FullyPaidOnDate", None)
    updated = now_ms if bump else row.updated_ms
    head, _, _, applied_json = _encode(data)
    conn.execute(
        "UPDATE documents SET status = ?, amount_due = ?, amount_paid = ?, amount_credited = ?, "
        "updated_ms = ?, data = ?, applied = ? WHERE doc_id = ?",
        (status, open_, paid, credited, updated, head, applied_json, doc_id),
    )
    row.status, row.amount_due, row.amount_paid, row.amount_credited = (
        status,
        open_,
        paid,
        credited,
    )
    row.updated_ms, row.head, row.applied_json = updated, head, applied_json
    return row


def _payment_summary(p: sqlite3.Row) -> dict[str, Any]:
    stored = from_json(p["data"])
    return {
        "PaymentID": p["payment_id"],
        "Date": ms_date(p["date_ms"]),
        "Amount": from_cents(p["amount"]),
        "Reference": stored.get("Reference", ""),
        "CurrencyRate": Decimal("1.000000"),
        "HasAccount": False,
        "HasValidationErrors": False,
    }


# -- rendering ------------------------------------------------------------------------------


def compact_contact(contact_id: str, name: str | None) -> dict[str, Any]:
    """The contact inside a document, as Xero's lists show it: its id and name only."""
    return {
        "ContactID": contact_id,
        "Name": name or "",
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "HasValidationErrors": False,
    }


def render_text(row: DocRow, *, unitdp: int = 2, lines: bool = True, summary: bool = False) -> str:
    """A document as Xero returns it, as JSON text joined from the stored parts (a page of a
    thousand documents is answered without decoding any of them). ``lines`` False gives
    ``LineItems: []`` (Xero's unpaged lists); ``summary`` leaves out the lines and what is
    applied (``summaryOnly=true``)."""
    parts = [row.head[:-1]]
    if not summary:
        if not lines:
            parts.append(',"LineItems":[]')
        elif unitdp == 4:
            parts.append(',"LineItems":' + (row.lines4 or _to_four(row.lines)))
        else:
            parts.append(',"LineItems":' + row.lines)
        if row.applied_json != "{}":
            parts.append("," + row.applied_json[1:-1])
    parts.append(',"Contact":' + to_json(compact_contact(row.contact_id, row.contact_name)))
    parts.append(
        f',"UpdatedDateUTC":"{ms_date(row.updated_ms)}",'
        f'"UpdatedDateUTCString":"{iso_z(row.updated_ms)}"}}'
    )
    return "".join(parts)


def _to_four(lines_json: str) -> str:
    items = from_json(lines_json)
    for item in items:
        item["UnitAmount"] = unit(item["UnitAmount"], 4)
    return to_json(items)


def render(
    row: DocRow, *, unitdp: int = 2, lines: bool = True, summary: bool = False
) -> dict[str, Any]:
    """``render_text`` as a dict, for answers that hold a few documents."""
    rendered: dict[str, Any] = from_json(
        render_text(row, unitdp=unitdp, lines=lines, summary=summary)
    )
    return rendered


# -- deserialisation ------------------------------------------------------------------------


@dataclass
class Submitted:
    """One document of a write request after deserialisation: only what was sent."""

    fields: dict[str, Any]
    contact: dict[str, str] | None = None
    lines: list[dict[str, Any]] | None = None
    doc_id: str | None = None

    def echo(self, kind: Kind) -> dict[str, Any]:
        """The document as sent, in Xero's serialisation, for its ValidationErrors element:
        dates as ``/Date(ms+0000)/`` beside their ``DateString``, the contact and the lines
        as Xero writes them, text cut to Xero's limits (so that the answer stays within
        Xero's published schema and a client's deserialiser reads it like any other)."""
        sent = self.fields
        out: dict[str, Any] = {}
        if "Type" in sent:
            out["Type"] = sent["Type"]
        if self.doc_id:
            out[kind.id_field] = self.doc_id
        for key in (kind.number_field, "Reference"):
            if key and key in sent:
                out[key] = sent[key][:255]
        for key in ("Status", "LineAmountTypes"):
            if key in sent:
                out[key] = sent[key]
        for key in ("Date", "DueDate"):
            if key in sent:
                out.update(day_fields(key, sent[key]))
        for key in ("ExpectedPaymentDate", "PlannedPaymentDate"):
            if key in sent:
                out[key] = ms_date(date_ms(sent[key]))
        for key in ("Url", "BrandingThemeID", "SentToContact"):
            if key in sent:
                out[key] = sent[key]
        if sent.get("CurrencyCode") == _CURRENCY:  # not every text is a schema currency code
            out["CurrencyCode"] = _CURRENCY
        if self.contact is not None:
            out["Contact"] = echo_contact_ref(self.contact)
        if self.lines is not None:
            out["LineItems"] = [echo_line(line) for line in self.lines]
        return out


def echo_contact_ref(ref: dict[str, str]) -> dict[str, Any]:
    """The contact a refused document or bank transaction named, as sent (ContactNumber and
    Name cut to Xero's limits)."""
    return {k: v if k == "ContactID" else v[: 255 if k == "Name" else 50] for k, v in ref.items()}


def echo_line(line: dict[str, Any]) -> dict[str, Any]:
    """A line item as sent, in Xero's form (the sandbox keeps no tracking: ``Tracking: []``)."""
    return {**{k: v for k, v in line.items() if k != "Tracking"}, "Tracking": []}


_LINE_TEXT = ("Description", "ItemCode", "AccountCode", "TaxType")
_LINE_NUMBERS = (
    "Quantity",
    "UnitAmount",
    "LineAmount",
    "TaxAmount",
    "DiscountRate",
    "DiscountAmount",
)


def parse_line(raw: Any, path: str) -> dict[str, Any]:
    obj = as_object(raw, "LineItem", path)
    line: dict[str, Any] = {}
    line_id = as_guid(obj.get("LineItemID"), f"{path}.LineItemID")
    if line_id:
        line["LineItemID"] = line_id
    for name in _LINE_TEXT:
        text = as_text(obj.get(name), f"{path}.{name}")
        if text is not None:
            line[name] = text
    account_id = as_guid(obj.get("AccountID"), f"{path}.AccountID")
    if account_id:
        line["AccountID"] = account_id
    for name in _LINE_NUMBERS:
        number = as_decimal(obj.get(name), f"{path}.{name}")
        if number is not None:
            line[name] = number
    tracking = as_list(obj.get("Tracking"), "LineItemTracking", f"{path}.Tracking")
    if tracking:
        line["Tracking"] = tracking
    return line


def parse_contact_and_lines(
    obj: dict[str, Any], path: str
) -> tuple[dict[str, str] | None, list[dict[str, Any]] | None]:
    """The ``Contact`` and ``LineItems`` of a document or bank transaction, when sent."""
    contact = None
    if obj.get("Contact") is not None:
        contact = parse_contact_ref(obj["Contact"], f"{path}.Contact")
    lines = None
    raw_lines = as_list(obj.get("LineItems"), "LineItem", f"{path}.LineItems")
    if raw_lines is not None:
        lines = [parse_line(item, f"{path}.LineItems[{i}]") for i, item in enumerate(raw_lines)]
    return contact, lines


def parse_contact_ref(raw: Any, path: str) -> dict[str, str]:
    obj = as_object(raw, "Contact", path)
    ref: dict[str, str] = {}
    contact_id = as_guid(obj.get("ContactID"), f"{path}.ContactID")
    if contact_id:
        ref["ContactID"] = contact_id
    for name in ("ContactNumber", "Name"):
        text = as_text(obj.get(name), f"{path}.{name}")
        if text is not None and text.strip():
            ref[name] = text.strip()
    return ref


def parse_document(raw: Any, kind: Kind, path: str) -> Submitted:
    obj = as_object(raw, kind.label.replace(" ", ""), path)
    fields: dict[str, Any] = {}
    doc_id = as_guid(obj.get(kind.id_field), f"{path}.{kind.id_field}")
    type_ = as_enum(
        obj.get("Type"), kind.enum_types, f"{kind.label.replace(' ', '')}Type", f"{path}.Type"
    )
    if type_ is not None:
        fields["Type"] = type_
    status = as_enum(obj.get("Status"), STATUSES, "Status", f"{path}.Status")
    if status is not None:
        fields["Status"] = status
    amount_types = as_enum(
        obj.get("LineAmountTypes"), LINE_AMOUNT_TYPES, "LineAmountType", f"{path}.LineAmountTypes"
    )
    if amount_types is not None:
        fields["LineAmountTypes"] = amount_types
    text_fields = ["Reference", "Url", "CurrencyCode", "BrandingThemeID"]
    if kind.number_field:
        text_fields.append(kind.number_field)
    for name in text_fields:
        if name in obj:
            text = as_text(obj[name], f"{path}.{name}")
            if text is not None:
                fields[name] = text
    for name in ("Date", "DueDate", "ExpectedPaymentDate", "PlannedPaymentDate"):
        day = as_date(obj.get(name), f"{path}.{name}")
        if day is not None:
            fields[name] = day
    sent = as_bool(obj.get("SentToContact"), f"{path}.SentToContact")
    if sent is not None:
        fields["SentToContact"] = sent
    contact, lines = parse_contact_and_lines(obj, path)
    return Submitted(fields=fields, contact=contact, lines=lines, doc_id=doc_id)


def parse_body(body: bytes, kind: Kind) -> list[Submitted]:
    """Deserialise ``{"Invoices": [...]}`` (or ``CreditNotes``) or one document object."""
    no_data = MESSAGES["no_data"].format(label=kind.label.replace(" ", ""))
    data = load_body(body, no_data)
    if not isinstance(data, dict):
        raise post_data_invalid(
            "Unexpected character encountered while parsing value: [. Path ''."
            if isinstance(data, list)
            else f"Error converting value {to_json(data)} to type '{kind.collection}'. Path ''."
        )
    if kind.collection in data:
        items = as_list(data[kind.collection], kind.label.replace(" ", ""), kind.collection) or []
        parsed = [
            parse_document(item, kind, f"{kind.collection}[{i}]") for i, item in enumerate(items)
        ]
    else:
        parsed = [parse_document(data, kind, "")]
    if not parsed:
        raise post_data_invalid(no_data)
    return parsed


# -- writing --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The result for one submitted document: the stored row, or why it was refused."""

    row: DocRow | None
    errors: list[str] = field(default_factory=list)
    created: bool = False


class _Refused(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors)
        self.errors = errors


def resolve_contact(
    conn: sqlite3.Connection,
    tenant_id: str,
    ref: dict[str, str],
    *,
    now_ms: int,
    errors: list[str],
) -> contact_rules.ContactRow | None:
    """The contact a document names: by ContactID, else ContactNumber, else Name (an unknown
    Name creates a contact, as Xero does)."""
    if not ref:
        errors.append(MESSAGES["contact_required"])
        return None
    if "ContactID" in ref:
        row = contact_rules.get_row(conn, tenant_id, ref["ContactID"])
        if row is None:
            errors.append(MESSAGES["unknown_contact_id"].format(id=ref["ContactID"]))
            return None
        # Xero renames the contact when the Name differs (a third-party report, not documented):
        # refused here, so that no client renames a contact by accident.
        name = ref.get("Name")
        if name and contact_rules.name_key(name) != contact_rules.name_key(row.data["Name"]):
            errors.append(MESSAGES["contact_renamed"].format(id=row.contact_id, name=name))
            return None
        return row
    if "ContactNumber" in ref:
        row = contact_rules.contact_by_id_or_number(conn, tenant_id, ref["ContactNumber"])
        if row is not None and contact_rules.number_key(ref["ContactNumber"]) == (
            contact_rules.number_key(row.data.get("ContactNumber"))
        ):
            return row
        if "Name" not in ref:
            errors.append(MESSAGES["unknown_contact_number"].format(number=ref["ContactNumber"]))
            return None
    key = contact_rules.name_key(ref["Name"])
    found = conn.execute(
        "SELECT contact_id FROM contacts WHERE tenant_id = ? AND name_key = ? "
        "ORDER BY status = 'ACTIVE' DESC, seq LIMIT 1",
        (tenant_id, key),
    ).fetchone()
    if found is not None:
        return contact_rules.get_row(conn, tenant_id, found["contact_id"])
    sub = contact_rules.Submitted(fields={k: v for k, v in ref.items() if k != "ContactID"})
    outcome = contact_rules.write_contact(conn, tenant_id, sub, mode="create", now_ms=now_ms)
    if outcome.row is None:
        errors.extend(outcome.errors)
    return outcome.row


def check_lines(
    conn: sqlite3.Connection,
    tenant_id: str,
    lines: list[dict[str, Any]],
    *,
    label: str,
    account_required: bool,
    discount_error: str | None,
) -> list[str]:
    """What is wrong with a document's lines; fills in each line's AccountID and default
    TaxType from its account. ``discount_error`` is the message for a discount where none is
    allowed (None: discounts allowed)."""
    errors: list[str] = []
    if not lines:
        errors.append(MESSAGES["lines_required"].format(label=label))
    for line in lines:
        if not (line.get("Description") or "").strip():
            errors.append(MESSAGES["description"])
        elif len(line["Description"]) > _DESCRIPTION_LIMIT:
            errors.append(
                MESSAGES["too_long"].format(field="Description", limit=_DESCRIPTION_LIMIT)
            )
        if line.get("Tracking"):
            errors.append(MESSAGES["tracking"])
        if line.get("ItemCode"):
            errors.append(MESSAGES["item_code"])
        has_discount = (
            line.get("DiscountRate") is not None or line.get("DiscountAmount") is not None
        )
        if has_discount and discount_error:
            errors.append(discount_error)
        account = None
        if line.get("AccountID"):
            account = find_account(conn, tenant_id, account_id=line["AccountID"])
            if account is None:
                errors.append(MESSAGES["account_id"].format(id=line["AccountID"]))
        elif line.get("AccountCode"):
            account = find_account(conn, tenant_id, code=line["AccountCode"])
            if account is None or account.get("Type") == "BANK":
                errors.append(MESSAGES["account"].format(code=line["AccountCode"]))
                account = None
        if account is not None:
            line["AccountCode"] = account.get("Code", "")
            line["AccountID"] = account["AccountID"]
            line.setdefault("TaxType", account.get("TaxType"))
        elif account_required:
            errors.append(MESSAGES["account_required"].format(label=label))
        if line.get("TaxType") and line["TaxType"] not in TAX_RATES:
            errors.append(MESSAGES["tax_rate"])
    return list(dict.fromkeys(errors))


def next_number(conn: sqlite3.Connection, tenant_id: str, kind: Kind, prefix: str) -> str:
    """The organisation's next automatic number, skipping numbers already taken by hand."""
    row = conn.execute(
        "SELECT next FROM sequences WHERE tenant_id = ? AND name = ?", (tenant_id, prefix)
    ).fetchone()
    n = row["next"] if row else 1
    while True:
        candidate = f"{prefix}{n:04d}"
        n += 1
        if find_by_number(conn, tenant_id, kind, candidate) is None:
            break
    conn.execute(
        "INSERT INTO sequences (tenant_id, name, next) VALUES (?, ?, ?) "
        "ON CONFLICT (tenant_id, name) DO UPDATE SET next = excluded.next",
        (tenant_id, prefix, n),
    )
    return candidate


def _status_errors(kind: Kind, existing: DocRow | None, wanted: str) -> list[str]:
    label = kind.label
    if existing is None:
        if wanted == "PAID":
            return [MESSAGES["status_paid"].format(label=label.lower())]
        if wanted not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            return [MESSAGES["status_create"].format(label=label.lower())]
        return []
    current = existing.status
    if current in ("PAID", "VOIDED", "DELETED"):
        return [MESSAGES["not_modifiable"].format(label=label)]
    if existing.applied:
        # Xero refuses every edit of a sales document with money applied (even a Reference);
        # since 2026 some fields of paid bills are editable, with exceptions it has not
        # published. The sandbox refuses bills too (stricter).
        return [MESSAGES["applied"]]
    if wanted == "PAID":
        return [
            MESSAGES["not_modifiable"].format(label=label),
            MESSAGES["status_paid"].format(label=label.lower()),
        ]
    allowed = _MOVES[current]
    if wanted not in allowed:
        return [
            MESSAGES["not_modifiable"].format(label=label),
            MESSAGES["status_move"].format(
                current=current,
                label=label.lower(),
                allowed=" or ".join(s for s in allowed if s != current),
                wanted=wanted,
            ),
        ]
    return []


def write_document(
    conn: sqlite3.Connection,
    tenant_id: str,
    kind: Kind,
    sub: Submitted,
    *,
    mode: str,
    now_ms: int,
    target_id: str | None = None,
    unitdp: int = 2,
    created_by: str | None = None,
) -> Outcome:
    """Apply one submitted invoice or credit note. ``mode``: ``create`` (PUT), ``upsert``
    (POST /Invoices: matched by id, else by number) or ``update`` (POST /Invoices/{id})."""
    try:
        with savepoint(conn):
            return _write(
                conn,
                tenant_id,
                kind,
                sub,
                mode=mode,
                now_ms=now_ms,
                target_id=target_id,
                unitdp=unitdp,
                created_by=created_by,
            )
    except _Refused as refused:
        return Outcome(None, refused.errors)


def _find_existing(
    conn: sqlite3.Connection,
    tenant_id: str,
    kind: Kind,
    sub: Submitted,
    mode: str,
    target_id: str | None,
) -> DocRow | None:
    label, field_ = kind.label, kind.id_field
    if mode == "create":
        if sub.doc_id:
            raise _Refused(
                [
                    MESSAGES["id_on_create"].format(
                        field=field_, label=label.lower(), collection=kind.collection
                    )
                ]
            )
        return None
    wanted = target_id if mode == "update" else sub.doc_id
    if wanted:
        existing = get_document(conn, tenant_id, wanted, kind)
        if existing is None:
            raise _Refused([MESSAGES["unknown_id"].format(label=label, field=field_)])
        return existing
    # Only automatically numbered types have unique numbers to match on (ACCREC, ACCRECCREDIT).
    number = sub.fields.get(kind.number_field or "")
    type_ = sub.fields.get("Type") or next(iter(kind.auto_number), None)
    if number and type_ in kind.auto_number:
        return find_by_number(conn, tenant_id, kind, number, type_)
    return None


def _write(
    conn: sqlite3.Connection,
    tenant_id: str,
    kind: Kind,
    sub: Submitted,
    *,
    mode: str,
    now_ms: int,
    target_id: str | None,
    unitdp: int,
    created_by: str | None,
) -> Outcome:
    existing = _find_existing(conn, tenant_id, kind, sub, mode, target_id)
    current = existing.data if existing is not None else {}
    sent = sub.fields
    label = kind.label
    errors: list[str] = []

    type_ = sent.get("Type") or current.get("Type")
    if existing is not None and type_ != existing.type:
        raise _Refused([MESSAGES["type_fixed"].format(label=label.lower())])
    if type_ not in kind.types:
        raise _Refused(
            [MESSAGES["type_required"].format(label=label.lower(), types=", ".join(kind.types))]
        )
    wanted = sent.get("Status") or (existing.status if existing else "DRAFT")
    status_errors = _status_errors(kind, existing, wanted)
    if status_errors:
        raise _Refused(status_errors)

    # Who the document is for.
    contact: contact_rules.ContactRow | None
    contact_changed = existing is None or sub.contact is not None
    if sub.contact is not None or existing is None:
        contact = resolve_contact(conn, tenant_id, sub.contact or {}, now_ms=now_ms, errors=errors)
        if contact is not None and existing is not None:
            contact_changed = contact.contact_id != existing.contact_id
    else:
        assert existing is not None
        contact = contact_rules.get_row(conn, tenant_id, existing.contact_id)
    # A document of a contact archived since may still be voided, deleted or moved to an active
    # contact; any other change is refused (Xero does not document the case: stricter).
    status_only = existing is not None and wanted in ("VOIDED", "DELETED")
    if contact is not None and contact.status != "ACTIVE" and (contact_changed or not status_only):
        errors.append(MESSAGES["contact_archived"])

    # Lines, dates, numbers and the other fields.
    if sub.lines is not None:
        lines = _merge_lines(current.get("LineItems", []), sub.lines, kind, errors)
    else:
        lines = [_stored_line(item) for item in current.get("LineItems", [])]
    if kind.name == "creditnote":
        discount_error: str | None = MESSAGES["credit_discount"]
    else:
        discount_error = None if type_ == "ACCREC" else MESSAGES["discount"]
    errors += check_lines(
        conn,
        tenant_id,
        lines,
        label=label.lower(),
        account_required=wanted in ("SUBMITTED", "AUTHORISED"),
        discount_error=discount_error,
    )
    amount_types = sent.get("LineAmountTypes") or current.get("LineAmountTypes") or "Exclusive"
    today = org_today(now_ms)
    day = sent.get("Date") or (date_of_ms(existing.date_ms) if existing else today)
    due: date | None = sent.get("DueDate")
    if due is None and existing is not None and existing.due_date_ms is not None:
        due = date_of_ms(existing.due_date_ms)
    # Whether Xero fills a missing DueDate from the payment terms is not documented: the
    # sandbox requires one on approved invoices (stricter).
    if kind.name == "invoice" and wanted in ("SUBMITTED", "AUTHORISED") and due is None:
        errors.append(MESSAGES["due_date"])
    currency = sent.get("CurrencyCode")
    if currency is not None and currency.strip().upper() != _CURRENCY:
        errors.append(MESSAGES["currency"].format(code=currency.strip()))
    for name, limit in _STRING_LIMITS.items():
        if len(sent.get(name) or "") > limit:
            errors.append(MESSAGES["too_long"].format(field=name, limit=limit))
    fields = {
        k: current.get(k)
        for k in ("Reference", "Url", "BrandingThemeID", "SentToContact")
        if current.get(k) is not None
    }
    for key in ("ExpectedPaymentDate", "PlannedPaymentDate"):
        if current.get(key):
            fields[key] = current[key]
    fields.update({k: v for k, v in sent.items() if k not in ("Type", "Status")})
    if fields.get("SentToContact") and wanted != "AUTHORISED":
        errors.append(MESSAGES["sent_to_contact"].format(label=label.lower()))

    number = _number(conn, tenant_id, kind, type_, sent, existing, errors)
    doc_id = existing.doc_id if existing else str(uuid.uuid4())
    data, money_errors = compose(
        kind,
        doc_id=doc_id,
        type_=type_,
        status=wanted,
        number=number,
        fields=fields,
        lines=lines,
        amount_types=amount_types,
        day=day,
        due=due,
        unitdp=unitdp,
    )
    errors += money_errors
    if data["Total"] < 0:
        errors.append(MESSAGES["negative"].format(label=label.lower()))
    if errors or contact is None:
        raise _Refused(list(dict.fromkeys(errors)))

    if existing is None and number is None and type_ in kind.auto_number:
        number = next_number(conn, tenant_id, kind, kind.auto_number[type_])
        assert kind.number_field is not None
        data[kind.number_field] = number
    if existing is None:
        store_new(
            conn,
            tenant_id,
            kind,
            data,
            contact_id=contact.contact_id,
            day_ms=date_ms(day),
            due_ms=date_ms(due) if due else None,
            now_ms=now_ms,
            created_by=created_by,
        )
    else:
        conn.execute(
            "UPDATE documents SET type = ?, number = ?, number_key = ?, reference = ?, "
            "contact_id = ?, status = ?, date_ms = ?, due_date_ms = ?, total = ?, "
            "updated_ms = ?, data = ?, lines = ?, lines4 = ?, applied = ? WHERE doc_id = ?",
            (
                type_,
                number or None,
                number_key(number),
                data.get("Reference") or None,
                contact.contact_id,
                wanted,
                date_ms(day),
                date_ms(due) if due else None,
                cents(data["Total"]),
                now_ms,
                *_encode(data),
                doc_id,
            ),
        )
        mark_contact(conn, contact.contact_id, type_)
    row = refresh(conn, doc_id, now_ms=now_ms)
    return Outcome(row, created=existing is None)


def _number(
    conn: sqlite3.Connection,
    tenant_id: str,
    kind: Kind,
    type_: str,
    sent: dict[str, Any],
    existing: DocRow | None,
    errors: list[str],
) -> str | None:
    if kind.number_field is None:
        return None
    number = sent.get(kind.number_field)
    if number is None:
        return existing.number if existing else None
    number = number.strip()
    if len(number) > 255:
        errors.append(MESSAGES["too_long"].format(field=kind.number_field, limit=255))
    if number and type_ in kind.auto_number:
        clash = find_by_number(conn, tenant_id, kind, number, type_)
        if clash is not None and (existing is None or clash.doc_id != existing.doc_id):
            errors.append(MESSAGES["number_unique"].format(label=kind.label))
    return number or None


def _stored_line(item: dict[str, Any]) -> dict[str, Any]:
    """A stored line as if sent again: its amounts are recomputed, its id kept."""
    return {
        k: item[k]
        for k in (
            "LineItemID",
            "Description",
            "Quantity",
            "UnitAmount",
            "TaxType",
            "AccountCode",
            "AccountID",
            "DiscountRate",
            "DiscountAmount",
        )
        if item.get(k) is not None
    }


def _merge_lines(
    current: list[dict[str, Any]], sent: list[dict[str, Any]], kind: Kind, errors: list[str]
) -> list[dict[str, Any]]:
    """The lines after an update: sent lines with a known LineItemID change that line, lines
    without one are new, and stored lines not sent are deleted (as Xero does)."""
    by_id = {item["LineItemID"]: item for item in current}
    merged = []
    for line in sent:
        line_id = line.get("LineItemID")
        if line_id is None:
            merged.append(dict(line))
        elif line_id in by_id:
            base = _stored_line(by_id[line_id])
            if "LineAmount" in line and not ({"Quantity", "UnitAmount"} & set(line)):
                base.pop("UnitAmount", None)  # a new LineAmount alone sets the price
            merged.append({**base, **line})
        else:
            errors.append(MESSAGES["line_item_id"].format(id=line_id, label=kind.label.lower()))
    return merged


def insert_invoice(
    conn: sqlite3.Connection,
    tenant_id: str,
    data: dict[str, Any],
    *,
    now_ms: int,
    kind: Kind = INVOICE,
    doc_id: str | None = None,
    created_by: str | None = None,
) -> str:
    """Store a document from Xero's request JSON (``Type``, ``Contact: {ContactID}``,
    ``LineItems``, ``Date``/``DueDate`` as dates or ``YYYY-MM-DD``, ``Status``, a number)
    without validation, for the seed and benchmarks; its totals are computed as usual. The
    caller keeps it consistent: no PAID status without payments."""
    day = data["Date"] if isinstance(data["Date"], date) else date.fromisoformat(data["Date"])
    due_raw = data.get("DueDate")
    due = due_raw if isinstance(due_raw, date) or due_raw is None else date.fromisoformat(due_raw)
    lines: list[dict[str, Any]] = [
        {k: Decimal(str(v)) if k in _LINE_NUMBERS else v for k, v in line.items()}
        for line in data["LineItems"]
    ]
    account_tax = {code: tax for code, _, _, tax, _, _ in STANDARD_CHART}
    for line in lines:
        if line.get("AccountCode") and "TaxType" not in line:
            line["TaxType"] = account_tax.get(line["AccountCode"])
    doc_id = doc_id or str(uuid.uuid4())
    number = data.get(kind.number_field) if kind.number_field else None
    stored, _ = compose(
        kind,
        doc_id=doc_id,
        type_=data["Type"],
        status=data.get("Status", "DRAFT"),
        number=number,
        fields={k: v for k, v in data.items() if k in ("Reference", "SentToContact")},
        lines=lines,
        amount_types=data.get("LineAmountTypes", "Exclusive"),
        day=day,
        due=due,
        unitdp=4,
    )
    return store_new(
        conn,
        tenant_id,
        kind,
        stored,
        contact_id=data["Contact"]["ContactID"],
        day_ms=date_ms(day),
        due_ms=date_ms(due) if due else None,
        now_ms=now_ms,
        created_by=created_by,
    )


# -- reading --------------------------------------------------------------------------------


class _Resolver:
    """Document properties for ``where`` and ``order``; notes whether the contact is needed."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.needs_contact = False
        self.fields: dict[str, Field] = {
            kind.id_field.lower(): Field("d.doc_id", "guid"),
            "type": Field("d.type", "string"),
            "status": Field("d.status", "string"),
            "reference": Field("d.reference", "string"),
            "contact.contactid": Field("d.contact_id", "guid"),
            "contact.name": Field("c.name", "string"),
            "contact.contactnumber": Field("c.contact_number", "string"),
            "date": Field("d.date_ms", "date", not_null=True),
            "updateddateutc": Field("d.updated_ms", "date", not_null=True),
            "total": Field("(d.total / 100.0)", "number", not_null=True),
            "subtotal": Field("json_extract(d.data, '$.SubTotal')", "number"),
            "totaltax": Field("json_extract(d.data, '$.TotalTax')", "number"),
            "currencycode": Field("json_extract(d.data, '$.CurrencyCode')", "string"),
            "lineamounttypes": Field("json_extract(d.data, '$.LineAmountTypes')", "string"),
        }
        if kind.number_field:
            self.fields[kind.number_field.lower()] = Field("d.number", "string")
        if kind.is_credit:
            self.fields["remainingcredit"] = Field(
                "(d.amount_due / 100.0)", "number", not_null=True
            )
        else:
            self.fields.update(
                {
                    "duedate": Field("d.due_date_ms", "date"),
                    "amountdue": Field("(d.amount_due / 100.0)", "number", not_null=True),
                    "amountpaid": Field("(d.amount_paid / 100.0)", "number", not_null=True),
                    "amountcredited": Field("(d.amount_credited / 100.0)", "number", not_null=True),
                    "senttocontact": Field("json_extract(d.data, '$.SentToContact')", "bool"),
                }
            )

    def __call__(self, path: str) -> Field | None:
        found = self.fields.get(path.lower())
        if found is not None and found.sql.startswith("c."):
            self.needs_contact = True
        return found


@dataclass
class DocQuery:
    where: str | None = None
    order: str | None = None
    ids: list[str] | None = None
    numbers: list[str] | None = None
    contact_ids: list[str] | None = None
    statuses: list[str] | None = None
    page: int | None = None
    page_size: int = 100
    modified_since_ms: int | None = None
    search_term: str | None = None
    created_by: str | None = None


def _in(column: str, values: list[str], clauses: list[str], params: list[Any]) -> None:
    clauses.append(f"{column} IN ({','.join('?' * len(values))})")
    params.extend(values)


def list_documents(
    conn: sqlite3.Connection, tenant_id: str, kind: Kind, q: DocQuery
) -> tuple[list[DocRow], int]:
    """One page of documents (the first 100 when unpaged) and how many match in all.

    The page's keys are found on the indexes first; only the page's rows are then read, so a
    page costs the same near the end of a large organisation as at its start."""
    clauses = ["d.tenant_id = ?", "d.kind = ?"]
    params: list[Any] = [tenant_id, kind.name]
    if q.ids is not None:
        _in("d.doc_id", q.ids, clauses, params)
    if q.numbers is not None:
        keys = [k for k in (number_key(n) for n in q.numbers) if k]
        _in("d.number_key", keys, clauses, params)
    if q.contact_ids is not None:
        _in("d.contact_id", q.contact_ids, clauses, params)
    if q.statuses is not None:
        _in("d.status", q.statuses, clauses, params)
    if q.modified_since_ms is not None:
        clauses.append("d.updated_ms >= ?")
        params.append(q.modified_since_ms)
    if q.created_by is not None:
        clauses.append("d.created_by = ?")
        params.append(q.created_by)
    if q.search_term:
        like = "%" + q.search_term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("(d.number LIKE ? ESCAPE '\\' OR d.reference LIKE ? ESCAPE '\\')")
        params.extend([like + "%", like + "%"])
    resolver = _Resolver(kind)
    if q.where:
        sql, where_params = compile_where(q.where, resolver, kind.label.replace(" ", ""))
        clauses.append(sql)
        params.extend(where_params)
    order = compile_order(q.order, resolver, kind.label.replace(" ", "")) if q.order else []
    source = "documents d"
    if resolver.needs_contact:
        source += " LEFT JOIN contacts c ON c.contact_id = d.contact_id"
    seqs, total = page_keys(
        conn,
        source,
        "d.seq",
        clauses,
        params,
        order,
        page=q.page or 1,
        page_size=q.page_size,
        filtered=len(clauses) > 2,
    )
    rows = {r["seq"]: _row(r) for r in fetch_keyed(conn, _SELECT, "d.seq", seqs)}
    return [rows[s] for s in seqs], total


def page_keys(
    conn: sqlite3.Connection,
    source: str,
    key: str,
    clauses: list[str],
    params: list[Any],
    order: list[str],
    *,
    page: int,
    page_size: int,
    filtered: bool,
) -> tuple[list[int], int]:
    """The row numbers of one page of a list, and how many rows match in all.

    Only keys are read here, from the indexes, so a page costs the same near the end of a
    large organisation as at its start; the page's rows are read afterwards (``fetch_keyed``).
    Xero does not document its default order: the sandbox answers in creation order. When the
    list is filtered, ``+key`` keeps SQLite from walking the creation-order index for its
    order, so that it uses the filter's own index (a learner's ten invoices among 200,000 are
    then found at once)."""
    where_sql = " AND ".join(clauses)
    by_creation = f"+{key} ASC" if filtered else f"{key} ASC"
    total = int(
        conn.execute(f"SELECT count(*) FROM {source} WHERE {where_sql}", params).fetchone()[0]
    )
    keys = [
        r[0]
        for r in conn.execute(
            f"SELECT {key} FROM {source} WHERE {where_sql} "
            f"ORDER BY {', '.join([*order, by_creation])} LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size],
        )
    ]
    return keys, total


def fetch_keyed(
    conn: sqlite3.Connection, select: str, key: str, keys: list[int]
) -> list[sqlite3.Row]:
    """The rows of ``select`` whose ``key`` is among ``keys`` (in no particular order)."""
    if not keys:
        return []
    sql = f"{select} WHERE {key} IN ({','.join('?' * len(keys))})"
    return conn.execute(sql, keys).fetchall()


def move_documents(conn: sqlite3.Connection, tenant_id: str, source_id: str, target_id: str) -> int:
    """Xero's web-app Merge moves every document of the merged-away contact to the one kept,
    paid or not, with its payments and allocations. The documents' UpdatedDateUTC is left as
    it was (whether Xero moves it is not documented; a client that follows MergedToContactID
    works either way). Returns how many documents moved."""
    moved = conn.execute(
        "UPDATE documents SET contact_id = ? WHERE tenant_id = ? AND contact_id = ?",
        (target_id, tenant_id, source_id),
    ).rowcount
    conn.execute(
        "UPDATE bank_transactions SET contact_id = ? WHERE tenant_id = ? AND contact_id = ?",
        (target_id, tenant_id, source_id),
    )
    source = conn.execute(
        "SELECT is_customer, is_supplier FROM contacts WHERE contact_id = ?", (source_id,)
    ).fetchone()
    if source is not None:
        conn.execute(
            "UPDATE contacts SET is_customer = max(is_customer, ?), "
            "is_supplier = max(is_supplier, ?) WHERE contact_id = ?",
            (source["is_customer"], source["is_supplier"], target_id),
        )
    return int(moved)


def documents_of_contact(conn: sqlite3.Connection, tenant_id: str, contact_id: str) -> list[DocRow]:
    rows = conn.execute(
        f"{_SELECT} WHERE d.tenant_id = ? AND d.contact_id = ? ORDER BY d.date_ms, d.seq",
        (tenant_id, contact_id),
    ).fetchall()
    return [_row(r) for r in rows]


def balances(
    conn: sqlite3.Connection, tenant_id: str, contact_ids: list[str], *, today: date
) -> dict[str, dict[str, Any]]:
    """Contact ``Balances``: what approved sales invoices (AccountsReceivable) and bills
    (AccountsPayable) still owe, and how much of it is past its due date."""
    out = {
        cid: {
            "AccountsReceivable": {"Outstanding": ZERO, "Overdue": ZERO},
            "AccountsPayable": {"Outstanding": ZERO, "Overdue": ZERO},
        }
        for cid in contact_ids
    }
    if not contact_ids:
        return out
    today_ms = date_ms(today)
    for chunk_start in range(0, len(contact_ids), 500):
        chunk = contact_ids[chunk_start : chunk_start + 500]
        rows = conn.execute(
            "SELECT contact_id, type, sum(amount_due) AS outstanding, "
            "sum(CASE WHEN due_date_ms < ? THEN amount_due ELSE 0 END) AS overdue "
            "FROM documents WHERE tenant_id = ? AND kind = 'invoice' AND status = 'AUTHORISED' "
            f"AND contact_id IN ({','.join('?' * len(chunk))}) GROUP BY contact_id, type",
            [today_ms, tenant_id, *chunk],
        ).fetchall()
        for r in rows:
            side = "AccountsReceivable" if r["type"] == "ACCREC" else "AccountsPayable"
            out[r["contact_id"]][side] = {
                "Outstanding": from_cents(r["outstanding"]),
                "Overdue": from_cents(r["overdue"]),
            }
    return out
