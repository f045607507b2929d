"""Money applied to documents: payments, allocations of credits, and the bank transactions that
create prepayments and overpayments.

* A **payment** pays an AUTHORISED invoice (or refunds a credit note, prepayment or overpayment)
  from a bank account, never for more than is open on it. Payments cannot be changed; Xero's way
  to undo one is ``POST /Payments/{id}`` with ``{"Status": "DELETED"}``.
* An **allocation** applies an AUTHORISED credit (credit note, prepayment, overpayment) to an
  AUTHORISED invoice of the same contact, never for more than either has open. It is removed with
  ``DELETE /CreditNotes/{id}/Allocations/{AllocationID}`` (likewise for the others).
* A **bank transaction** of Type ``RECEIVE-PREPAYMENT`` or ``RECEIVE-OVERPAYMENT`` (or their
  ``SPEND-`` twins) creates the prepayment or overpayment; ``RECEIVE`` and ``SPEND`` are money in
  and out with no document. Transfers are not part of the sandbox.

Each write recomputes the documents it touches (``documents.refresh``), which sets or clears
PAID. Every item is validated before anything is written and runs in a savepoint, so a refused
item changes nothing.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from learnerledger.sandbox.xero import documents as docs
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
from learnerledger.sandbox.xero.documents import (
    CREDIT_TARGET,
    KINDS,
    OVERPAYMENT,
    PREPAYMENT,
    DocRow,
    Kind,
    compact_contact,
    compose,
    get_document,
    parse_contact_and_lines,
    savepoint,
)
from learnerledger.sandbox.xero.errors import post_data_invalid
from learnerledger.sandbox.xero.money import MAX_AMOUNT, cents, from_cents, q2
from learnerledger.sandbox.xero.organisation import find_account
from learnerledger.sandbox.xero.where import Field, compile_order, compile_where
from learnerledger.sandbox.xero.wire import (
    date_ms,
    date_string,
    day_fields,
    from_json,
    iso_z,
    ms_date,
    to_json,
)

__all__ = [
    "BANK_TRANSACTION_TYPES",
    "MESSAGES",
    "PAYMENT_TYPES",
    "PaymentQuery",
    "allocate",
    "create_bank_transaction",
    "create_payment",
    "delete_allocation",
    "delete_payment",
    "get_bank_transaction",
    "get_payment",
    "insert_allocation",
    "insert_bank_transaction",
    "insert_payment",
    "list_bank_transactions",
    "list_payments",
    "mark_payment_deleted",
    "parse_allocations",
    "parse_bank_transactions",
    "parse_payments",
    "render_bank_transaction",
    "render_payment",
]

# The PaymentType of a payment, by the Type of the document it pays or refunds.
PAYMENT_TYPES = {
    "ACCREC": "ACCRECPAYMENT",
    "ACCPAY": "ACCPAYPAYMENT",
    "ACCRECCREDIT": "ARCREDITPAYMENT",
    "ACCPAYCREDIT": "APCREDITPAYMENT",
    "RECEIVE-PREPAYMENT": "ARPREPAYMENTPAYMENT",
    "SPEND-PREPAYMENT": "APPREPAYMENTPAYMENT",
    "RECEIVE-OVERPAYMENT": "AROVERPAYMENTPAYMENT",
    "SPEND-OVERPAYMENT": "APOVERPAYMENTPAYMENT",
}
BANK_TRANSACTION_TYPES = (
    "RECEIVE",
    "RECEIVE-OVERPAYMENT",
    "RECEIVE-PREPAYMENT",
    "SPEND",
    "SPEND-OVERPAYMENT",
    "SPEND-PREPAYMENT",
    "RECEIVE-TRANSFER",
    "SPEND-TRANSFER",
)
_CREDIT_KIND_OF_TYPE = {
    "RECEIVE-PREPAYMENT": PREPAYMENT,
    "SPEND-PREPAYMENT": PREPAYMENT,
    "RECEIVE-OVERPAYMENT": OVERPAYMENT,
    "SPEND-OVERPAYMENT": OVERPAYMENT,
}

MESSAGES = {
    # Xero
    "authorised_only": "Payments can only be made against authorised documents.",
    "exceeds": "Payment amount exceeds the amount outstanding on this document",
    "allocation_exceeds": "{label} cannot be allocated as amount is greater than amount "
    "outstanding",
    "paid_off": "The invoice you are trying to allocate to has already been paid off",
    "contact_archived": docs.MESSAGES["contact_archived"],
    "contact_required": docs.MESSAGES["contact_required"],
    # the sandbox's wording
    "no_target": "A payment must name the document it pays: Invoice (InvoiceID or "
    "InvoiceNumber), CreditNote (CreditNoteID or CreditNoteNumber), Prepayment or Overpayment.",
    "unknown_target": "No {label} has the {field} {value}.",
    "no_account": "A payment needs an Account (AccountID or Code) to pay into or out of.",
    "account": "Account must be valid.",
    "bank_account": "Payments go into or out of a bank account (or an account with payments "
    "enabled); account {code} is neither.",
    "date_required": "{what} needs a Date.",
    "amount_required": "{what} needs an Amount greater than zero.",
    "too_large": "Amount {amount} is too large: amounts must stay below 1,000,000,000,000.",
    "status_create": "A new payment is AUTHORISED; delete one with POST /Payments/{PaymentID} "
    'and {"Status": "DELETED"}.',
    "delete_only": 'A payment cannot be changed, only deleted: send {"Status": "DELETED"}.',
    "already_deleted": "This payment has already been deleted.",
    "reconciled": "This payment is reconciled and cannot be deleted through the API; "
    "unreconcile it first.",
    "no_invoice": "An allocation needs the Invoice (its InvoiceID) the credit is applied to.",
    "unknown_invoice": "No invoice has the InvoiceID {id}.",
    "credit_not_authorised": "Only an AUTHORISED {label} can be allocated; this one is {status}.",
    "invoice_not_authorised": "Credit can only be allocated to an AUTHORISED invoice; this one "
    "is {status}.",
    "type_mismatch": "Credit of Type {credit_type} can only be allocated to invoices of Type "
    "{invoice_type}.",
    "other_contact": "The {label} and the invoice belong to different contacts; a credit can "
    "only be allocated to its own contact's invoices.",
    "bank_type": "Bank transactions of Type {type} are not part of the sandbox; it takes "
    "RECEIVE, SPEND, RECEIVE-PREPAYMENT, RECEIVE-OVERPAYMENT, SPEND-PREPAYMENT and "
    "SPEND-OVERPAYMENT.",
    "bank_status": "A new bank transaction is AUTHORISED.",
    "bank_account_required": "A bank transaction needs a BankAccount (AccountID or Code) of type "
    "BANK.",
    "discount": "Discounts may not be applied to bank transactions.",
    "overpayment_tax": "An overpayment has no tax: its LineAmountTypes must be NoTax.",
    "negative": "The total of a bank transaction must be greater than zero.",
}


class _Refused(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors)
        self.errors = errors


def _no_data(item_type: str) -> str:
    return (
        "No data has been processed for this endpoint. This endpoint is expecting "
        f"{item_type} data to be specifed in the request body."
    )


def _body_items(body: bytes, collection: str, item_type: str) -> list[tuple[Any, str]]:
    """The items of ``{"<collection>": [...]}`` or of one bare item, each with its path."""
    data = load_body(body, _no_data(item_type))
    if isinstance(data, dict) and collection in data:
        items = as_list(data[collection], item_type, collection) or []
        paths = [f"{collection}[{i}]" for i in range(len(items))]
    elif isinstance(data, dict):
        items, paths = [data], [""]
    else:
        raise post_data_invalid(
            f"Cannot deserialize the current JSON {'array' if isinstance(data, list) else 'value'}"
            f" into type '{collection}'. Path ''."
        )
    if not items:
        raise post_data_invalid(_no_data(item_type))
    return list(zip(items, paths, strict=True))


def _account_ref(raw: Any, path: str) -> dict[str, str]:
    obj = as_object(raw, "Account", path)
    ref: dict[str, str] = {}
    account_id = as_guid(obj.get("AccountID"), f"{path}.AccountID")
    if account_id:
        ref["AccountID"] = account_id
    code = as_text(obj.get("Code"), f"{path}.Code")
    if code:
        ref["Code"] = code
    return ref


def _amount(sent: Decimal | None, what: str, errors: list[str]) -> Decimal | None:
    """The amount of a payment or allocation in cents' precision, or None (and why) when it is
    missing, not above zero or beyond any invoice."""
    if sent is not None and abs(sent) >= MAX_AMOUNT:
        errors.append(MESSAGES["too_large"].format(amount=f"{sent:f}"))
        return None
    amount = q2(sent) if sent is not None else None
    if amount is None or amount <= 0:
        errors.append(MESSAGES["amount_required"].format(what=what))
        return None
    return amount


def _find_bank_account(
    conn: sqlite3.Connection, tenant_id: str, ref: dict[str, str], errors: list[str]
) -> dict[str, Any] | None:
    if "AccountID" in ref:
        account = find_account(conn, tenant_id, account_id=ref["AccountID"])
    else:
        account = find_account(conn, tenant_id, code=ref["Code"])
    if account is None:
        errors.append(MESSAGES["account"])
        return None
    if account.get("Type") != "BANK" and not account.get("EnablePaymentsToAccount"):
        errors.append(MESSAGES["bank_account"].format(code=account.get("Code", "")))
        return None
    return account


# -- payments -------------------------------------------------------------------------------


@dataclass
class SubmittedPayment:
    target: dict[str, str]  # one of InvoiceID, InvoiceNumber, CreditNoteID, ...
    account: dict[str, str]
    day: date | None
    amount: Decimal | None
    fields: dict[str, Any] = field(default_factory=dict)

    def echo(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.fields)
        for key, value in self.target.items():
            if key.startswith("Invoice"):
                out.setdefault("Invoice", {})[key] = value
            elif key.startswith("CreditNote"):
                out.setdefault("CreditNote", {})[key] = value
            else:
                out[key.removesuffix("ID")] = {key: value}
        if self.account:
            out["Account"] = dict(self.account)
        if self.day is not None:
            out.update(day_fields("Date", self.day))
        if self.amount is not None:
            out["Amount"] = self.amount
        return out


def _parse_payment(raw: Any, path: str) -> SubmittedPayment:
    obj = as_object(raw, "Payment", path)
    target: dict[str, str] = {}
    for key, type_name, fields_ in (
        ("Invoice", "Invoice", ("InvoiceID", "InvoiceNumber")),
        ("CreditNote", "CreditNote", ("CreditNoteID", "CreditNoteNumber")),
        ("Prepayment", "Prepayment", ("PrepaymentID",)),
        ("Overpayment", "Overpayment", ("OverpaymentID",)),
    ):
        if obj.get(key) is None:
            continue
        sub = as_object(obj[key], type_name, f"{path}.{key}")
        for name in fields_:
            value = (
                as_guid(sub.get(name), f"{path}.{key}.{name}")
                if name.endswith("ID")
                else as_text(sub.get(name), f"{path}.{key}.{name}")
            )
            if value:
                target[name] = value
    for name in ("InvoiceNumber", "CreditNoteNumber"):
        text = as_text(obj.get(name), f"{path}.{name}")
        if text:
            target.setdefault(name, text)
    account: dict[str, str] = {}
    if obj.get("Account") is not None:
        account = _account_ref(obj["Account"], f"{path}.Account")
    code = as_text(obj.get("Code"), f"{path}.Code")
    if code and not account:
        account = {"Code": code}
    fields_out: dict[str, Any] = {}
    reference = as_text(obj.get("Reference"), f"{path}.Reference")
    if reference is not None:
        fields_out["Reference"] = reference
    reconciled = as_bool(obj.get("IsReconciled"), f"{path}.IsReconciled")
    if reconciled is not None:
        fields_out["IsReconciled"] = reconciled
    status = as_enum(
        obj.get("Status"), ("AUTHORISED", "DELETED"), "PaymentStatus", f"{path}.Status"
    )
    if status is not None:
        fields_out["Status"] = status
    return SubmittedPayment(
        target=target,
        account=account,
        day=as_date(obj.get("Date"), f"{path}.Date"),
        amount=as_decimal(obj.get("Amount"), f"{path}.Amount"),
        fields=fields_out,
    )


def parse_payments(body: bytes) -> list[SubmittedPayment]:
    """``{"Payments": [...]}`` or one payment object."""
    return [_parse_payment(item, path) for item, path in _body_items(body, "Payments", "Payment")]


@dataclass
class PaymentRow:
    payment_id: str
    doc_id: str
    status: str
    payment_type: str
    date_ms: int
    amount: int
    reconciled: bool
    updated_ms: int
    data: dict[str, Any]
    doc_kind: str
    doc_type: str
    doc_number: str | None
    contact_id: str
    contact_name: str | None


_PAYMENT_SELECT = (
    "SELECT p.*, d.kind AS doc_kind, d.type AS doc_type, d.number AS doc_number, "
    "d.contact_id AS contact_id, c.name AS contact_name FROM payments p "
    "JOIN documents d ON d.doc_id = p.doc_id LEFT JOIN contacts c ON c.contact_id = d.contact_id"
)


def _payment_row(r: sqlite3.Row) -> PaymentRow:
    return PaymentRow(
        payment_id=r["payment_id"],
        doc_id=r["doc_id"],
        status=r["status"],
        payment_type=r["payment_type"],
        date_ms=r["date_ms"],
        amount=r["amount"],
        reconciled=bool(r["reconciled"]),
        updated_ms=r["updated_ms"],
        data=from_json(r["data"]),
        doc_kind=r["doc_kind"],
        doc_type=r["doc_type"],
        doc_number=r["doc_number"],
        contact_id=r["contact_id"],
        contact_name=r["contact_name"],
    )


def get_payment(conn: sqlite3.Connection, tenant_id: str, payment_id: str) -> PaymentRow | None:
    r = conn.execute(
        f"{_PAYMENT_SELECT} WHERE p.tenant_id = ? AND p.payment_id = ?", (tenant_id, payment_id)
    ).fetchone()
    return None if r is None else _payment_row(r)


def render_payment(row: PaymentRow) -> dict[str, Any]:
    """A payment as Xero returns it, with the document it pays (its kind's own key)."""
    out = row.data
    out["Status"] = row.status
    out["UpdatedDateUTC"] = ms_date(row.updated_ms)
    out["UpdatedDateUTCString"] = iso_z(row.updated_ms)
    kind = KINDS[row.doc_kind]
    ref: dict[str, Any] = {"Type": row.doc_type, kind.id_field: row.doc_id}
    if kind.number_field:
        ref[kind.number_field] = row.doc_number or ""
    ref["Contact"] = compact_contact(row.contact_id, row.contact_name)
    ref["LineItems"] = []
    ref["CurrencyCode"] = "AUD"
    # Xero shows a refunded credit note under "Invoice" too; the sandbox uses each kind's key,
    # which is what the Payment schema describes.
    out[{"invoice": "Invoice", "creditnote": "CreditNote"}.get(kind.name, kind.label)] = ref
    return out


def _find_target(
    conn: sqlite3.Connection, tenant_id: str, target: dict[str, str]
) -> tuple[DocRow | None, str | None]:
    if not target:
        return None, MESSAGES["no_target"]
    for key, kind in (
        ("InvoiceID", docs.INVOICE),
        ("CreditNoteID", docs.CREDIT_NOTE),
        ("PrepaymentID", PREPAYMENT),
        ("OverpaymentID", OVERPAYMENT),
    ):
        if key in target:
            row = get_document(conn, tenant_id, target[key], kind)
            if row is None:
                return None, MESSAGES["unknown_target"].format(
                    label=kind.label.lower(), field=key, value=target[key]
                )
            return row, None
    for key, kind, type_ in (
        ("InvoiceNumber", docs.INVOICE, "ACCREC"),
        ("CreditNoteNumber", docs.CREDIT_NOTE, "ACCRECCREDIT"),
    ):
        if key in target:
            row = docs.find_by_number(conn, tenant_id, kind, target[key], type_)
            if row is None:
                return None, MESSAGES["unknown_target"].format(
                    label=kind.label.lower(), field=key, value=target[key]
                )
            return row, None
    return None, MESSAGES["no_target"]


@dataclass
class PaymentOutcome:
    row: PaymentRow | None
    errors: list[str] = field(default_factory=list)


def create_payment(
    conn: sqlite3.Connection, tenant_id: str, sub: SubmittedPayment, *, now_ms: int
) -> PaymentOutcome:
    """Pay a document (or refund a credit) from a bank account."""
    errors: list[str] = []
    if sub.fields.get("Status", "AUTHORISED") != "AUTHORISED":
        return PaymentOutcome(None, [MESSAGES["status_create"]])
    doc, problem = _find_target(conn, tenant_id, sub.target)
    if problem:
        errors.append(problem)
    account = None
    if not sub.account:
        errors.append(MESSAGES["no_account"])
    else:
        account = _find_bank_account(conn, tenant_id, sub.account, errors)
    if sub.day is None:  # Xero's docs list it among the required elements
        errors.append(MESSAGES["date_required"].format(what="A payment"))
    amount = _amount(sub.amount, "A payment", errors)
    if doc is not None:
        if doc.status != "AUTHORISED":
            errors.append(MESSAGES["authorised_only"])
        elif amount is not None and cents(amount) > doc.amount_due:
            errors.append(MESSAGES["exceeds"])
    if errors or doc is None or account is None or amount is None or sub.day is None:
        return PaymentOutcome(None, list(dict.fromkeys(errors)))
    payment_id = str(uuid.uuid4())
    insert_payment(
        conn,
        tenant_id,
        doc,
        payment_id=payment_id,
        day=sub.day,
        amount=amount,
        account=account,
        reference=sub.fields.get("Reference", ""),
        reconciled=bool(sub.fields.get("IsReconciled", False)),
        now_ms=now_ms,
    )
    row = get_payment(conn, tenant_id, payment_id)
    assert row is not None
    return PaymentOutcome(row)


def insert_payment(
    conn: sqlite3.Connection,
    tenant_id: str,
    doc: DocRow,
    *,
    payment_id: str,
    day: date,
    amount: Decimal,
    account: dict[str, Any],
    reference: str,
    reconciled: bool,
    now_ms: int,
) -> None:
    """Store a payment and recompute its document (no validation: ``create_payment`` and the
    seed check first)."""
    payment_type = PAYMENT_TYPES[doc.type]
    data = {
        "PaymentID": payment_id,
        "Date": ms_date(date_ms(day)),
        "DateString": date_string(date_ms(day)),
        "BankAmount": q2(amount),
        "Amount": q2(amount),
        "Reference": reference,
        "CurrencyRate": Decimal("1.000000"),
        "PaymentType": payment_type,
        "Status": "AUTHORISED",
        "HasAccount": True,
        "IsReconciled": reconciled,
        "Account": {"AccountID": account["AccountID"], "Code": account.get("Code", "")},
        "HasValidationErrors": False,
    }
    conn.execute(
        "INSERT INTO payments (tenant_id, payment_id, doc_id, status, payment_type, date_ms, "
        "amount, reconciled, updated_ms, data) VALUES (?, ?, ?, 'AUTHORISED', ?, ?, ?, ?, ?, ?)",
        (
            tenant_id,
            payment_id,
            doc.doc_id,
            payment_type,
            date_ms(day),
            cents(amount),
            int(reconciled),
            now_ms,
            to_json(data),
        ),
    )
    docs.refresh(conn, doc.doc_id, now_ms=now_ms)


def delete_payment(
    conn: sqlite3.Connection, tenant_id: str, payment: PaymentRow, body: bytes, *, now_ms: int
) -> PaymentOutcome:
    """``POST /Payments/{id}`` with ``{"Status": "DELETED"}``: the only change Xero allows."""
    item, path = _body_items(body, "Payments", "Payment")[0]
    obj = as_object(item, "PaymentDelete", path)
    status = as_enum(
        obj.get("Status"), ("AUTHORISED", "DELETED"), "PaymentStatus", f"{path}.Status".lstrip(".")
    )
    if status != "DELETED":
        return PaymentOutcome(None, [MESSAGES["delete_only"]])
    if payment.status == "DELETED":
        return PaymentOutcome(None, [MESSAGES["already_deleted"]])
    if payment.reconciled:
        # Whether Xero deletes a reconciled payment through the API is not documented: refused
        # (stricter).
        return PaymentOutcome(None, [MESSAGES["reconciled"]])
    mark_payment_deleted(conn, payment.payment_id, payment.doc_id, now_ms=now_ms)
    row = get_payment(conn, tenant_id, payment.payment_id)
    assert row is not None
    return PaymentOutcome(row)


def mark_payment_deleted(
    conn: sqlite3.Connection, payment_id: str, doc_id: str, *, now_ms: int
) -> None:
    """Delete a payment and recompute its document (no checks: ``delete_payment`` and the
    seed check first)."""
    conn.execute(
        "UPDATE payments SET status = 'DELETED', updated_ms = ? WHERE payment_id = ?",
        (now_ms, payment_id),
    )
    docs.refresh(conn, doc_id, now_ms=now_ms)


def _payment_resolver(path: str) -> Field | None:
    fields = {
        "paymentid": Field("p.payment_id", "guid"),
        "status": Field("p.status", "string"),
        "paymenttype": Field("p.payment_type", "string"),
        "date": Field("p.date_ms", "date", not_null=True),
        "amount": Field("(p.amount / 100.0)", "number", not_null=True),
        "reference": Field("json_extract(p.data, '$.Reference')", "string"),
        "isreconciled": Field("p.reconciled", "bool"),
        "updateddateutc": Field("p.updated_ms", "date", not_null=True),
        "invoice.invoiceid": Field("p.doc_id", "guid"),
        "invoice.invoicenumber": Field("d.number", "string"),
        "invoice.type": Field("d.type", "string"),
        "invoice.contact.contactid": Field("d.contact_id", "guid"),
        "creditnote.creditnoteid": Field("p.doc_id", "guid"),
        "account.accountid": Field("json_extract(p.data, '$.Account.AccountID')", "guid"),
        "account.code": Field("json_extract(p.data, '$.Account.Code')", "string"),
    }
    return fields.get(path.lower())


@dataclass
class PaymentQuery:
    where: str | None = None
    order: str | None = None
    page: int | None = None
    page_size: int = 100
    modified_since_ms: int | None = None


def list_payments(
    conn: sqlite3.Connection, tenant_id: str, q: PaymentQuery
) -> tuple[list[PaymentRow], int]:
    clauses = ["p.tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if q.modified_since_ms is not None:
        clauses.append("p.updated_ms >= ?")
        params.append(q.modified_since_ms)
    needs_document = False

    def resolve(path: str) -> Field | None:
        nonlocal needs_document
        found = _payment_resolver(path)
        needs_document = needs_document or (found is not None and found.sql.startswith("d."))
        return found

    if q.where:
        sql, where_params = compile_where(q.where, resolve, "Payment")
        clauses.append(sql)
        params.extend(where_params)
    order = compile_order(q.order, resolve, "Payment") if q.order else []
    source = "payments p"
    if needs_document:  # the paid document's number, type or contact is asked about
        source += " JOIN documents d ON d.doc_id = p.doc_id"
    seqs, total = docs.page_keys(
        conn,
        source,
        "p.seq",
        clauses,
        params,
        order,
        page=q.page or 1,
        page_size=q.page_size,
        filtered=len(clauses) > 1,
    )
    rows = {
        r["seq"]: _payment_row(r) for r in docs.fetch_keyed(conn, _PAYMENT_SELECT, "p.seq", seqs)
    }
    return [rows[s] for s in seqs], total


# -- allocations ----------------------------------------------------------------------------


@dataclass
class SubmittedAllocation:
    invoice_id: str | None
    amount: Decimal | None
    day: date | None

    def echo(self) -> dict[str, Any]:
        """The allocation as sent. Amount, Invoice and Date are required by Xero's schema, so
        one that was left out is shown empty (0, {}, the epoch)."""
        return {
            "Invoice": {"InvoiceID": self.invoice_id} if self.invoice_id else {},
            "Amount": self.amount if self.amount is not None else Decimal(0),
            "Date": ms_date(date_ms(self.day) if self.day is not None else 0),
        }


def parse_allocations(body: bytes) -> list[SubmittedAllocation]:
    """``{"Allocations": [...]}`` or one allocation object."""
    out = []
    for raw, path in _body_items(body, "Allocations", "Allocation"):
        obj = as_object(raw, "Allocation", path)
        invoice_id = None
        if obj.get("Invoice") is not None:
            invoice = as_object(obj["Invoice"], "Invoice", f"{path}.Invoice")
            invoice_id = as_guid(invoice.get("InvoiceID"), f"{path}.Invoice.InvoiceID")
        out.append(
            SubmittedAllocation(
                invoice_id=invoice_id,
                amount=as_decimal(obj.get("Amount"), f"{path}.Amount"),
                day=as_date(obj.get("Date"), f"{path}.Date"),
            )
        )
    return out


@dataclass
class AllocationOutcome:
    allocation: dict[str, Any] | None
    errors: list[str] = field(default_factory=list)


def allocate(
    conn: sqlite3.Connection,
    tenant_id: str,
    credit: DocRow,
    sub: SubmittedAllocation,
    *,
    now_ms: int,
) -> AllocationOutcome:
    """Apply part of a credit to an invoice of the same contact."""
    kind = KINDS[credit.kind]
    errors: list[str] = []
    invoice = None
    if not sub.invoice_id:
        errors.append(MESSAGES["no_invoice"])
    else:
        invoice = get_document(conn, tenant_id, sub.invoice_id, docs.INVOICE)
        if invoice is None:
            errors.append(MESSAGES["unknown_invoice"].format(id=sub.invoice_id))
    if sub.day is None:
        errors.append(MESSAGES["date_required"].format(what="An allocation"))
    amount = _amount(sub.amount, "An allocation", errors)
    if credit.status == "PAID":
        errors.append(MESSAGES["allocation_exceeds"].format(label=kind.label))
    elif credit.status != "AUTHORISED":
        errors.append(
            MESSAGES["credit_not_authorised"].format(label=kind.label.lower(), status=credit.status)
        )
    if invoice is not None and not errors:
        if CREDIT_TARGET[credit.type] != invoice.type:
            errors.append(
                MESSAGES["type_mismatch"].format(
                    credit_type=credit.type, invoice_type=CREDIT_TARGET[credit.type]
                )
            )
        elif invoice.contact_id != credit.contact_id:
            # Not documented for credit notes (linked transactions refuse it): stricter.
            errors.append(MESSAGES["other_contact"].format(label=kind.label.lower()))
        elif invoice.status == "PAID":
            errors.append(MESSAGES["paid_off"])
        elif invoice.status != "AUTHORISED":
            errors.append(MESSAGES["invoice_not_authorised"].format(status=invoice.status))
        elif amount is not None and (
            cents(amount) > invoice.amount_due or cents(amount) > credit.amount_due
        ):
            errors.append(MESSAGES["allocation_exceeds"].format(label=kind.label))
    if errors or invoice is None or amount is None or sub.day is None:
        return AllocationOutcome(None, list(dict.fromkeys(errors)))
    allocation_id = insert_allocation(
        conn, tenant_id, credit, invoice, amount=amount, day=sub.day, now_ms=now_ms
    )
    return AllocationOutcome(
        _render_allocation(conn, allocation_id, credit_kind=kind, deleted=False)
    )


def insert_allocation(
    conn: sqlite3.Connection,
    tenant_id: str,
    credit: DocRow,
    invoice: DocRow,
    *,
    amount: Decimal,
    day: date,
    now_ms: int,
    allocation_id: str | None = None,
) -> str:
    """Store an allocation and recompute both documents (no validation: ``allocate`` and the
    seed check first)."""
    allocation_id = allocation_id or str(uuid.uuid4())
    conn.execute(
        "INSERT INTO allocations (tenant_id, allocation_id, credit_id, invoice_id, amount, "
        "date_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            tenant_id,
            allocation_id,
            credit.doc_id,
            invoice.doc_id,
            cents(amount),
            date_ms(day),
            now_ms,
        ),
    )
    docs.refresh(conn, credit.doc_id, now_ms=now_ms)
    docs.refresh(conn, invoice.doc_id, now_ms=now_ms)
    return allocation_id


def _render_allocation(
    conn: sqlite3.Connection, allocation_id: str, *, credit_kind: Kind, deleted: bool
) -> dict[str, Any]:
    a = conn.execute(
        "SELECT a.*, i.number AS invoice_number, i.type AS invoice_type, c.number AS credit_number "
        "FROM allocations a JOIN documents i ON i.doc_id = a.invoice_id "
        "JOIN documents c ON c.doc_id = a.credit_id WHERE a.allocation_id = ?",
        (allocation_id,),
    ).fetchone()
    credit: dict[str, Any] = {credit_kind.id_field: a["credit_id"]}
    if credit_kind.number_field:
        credit[credit_kind.number_field] = a["credit_number"] or ""
    credit["LineItems"] = []
    out: dict[str, Any] = {
        "AllocationID": a["allocation_id"],
        "Amount": from_cents(a["amount"]),
        "Date": ms_date(a["date_ms"]),
        "Invoice": {
            "InvoiceID": a["invoice_id"],
            "InvoiceNumber": a["invoice_number"] or "",
            "Type": a["invoice_type"],
            "LineItems": [],
        },
        credit_kind.label.replace(" ", ""): credit,
    }
    if deleted:
        out["IsDeleted"] = True
    return out


def delete_allocation(
    conn: sqlite3.Connection, tenant_id: str, credit: DocRow, allocation_id: str, *, now_ms: int
) -> dict[str, Any] | None:
    """Remove an allocation; None when the credit has no such (undeleted) allocation."""
    found = conn.execute(
        "SELECT invoice_id FROM allocations WHERE tenant_id = ? AND allocation_id = ? "
        "AND credit_id = ? AND deleted = 0",
        (tenant_id, allocation_id, credit.doc_id),
    ).fetchone()
    if found is None:
        return None
    conn.execute("UPDATE allocations SET deleted = 1 WHERE allocation_id = ?", (allocation_id,))
    docs.refresh(conn, credit.doc_id, now_ms=now_ms)
    docs.refresh(conn, found["invoice_id"], now_ms=now_ms)
    return _render_allocation(conn, allocation_id, credit_kind=KINDS[credit.kind], deleted=True)


# -- bank transactions: prepayments and overpayments ------------------------------------------


@dataclass
class SubmittedBankTransaction:
    fields: dict[str, Any]
    contact: dict[str, str] | None
    lines: list[dict[str, Any]] | None
    bank_account: dict[str, str]

    def echo(self) -> dict[str, Any]:
        """The transaction as sent, in Xero's serialisation (see ``documents.Submitted.echo``)."""
        out: dict[str, Any] = {}
        for key, value in self.fields.items():
            if key == "Date":
                out.update(day_fields(key, value))
            elif key == "CurrencyCode" and value != "AUD":
                continue  # not every text is one of the schema's currency codes
            else:
                out[key] = value
        if self.contact is not None:
            out["Contact"] = docs.echo_contact_ref(self.contact)
        if self.lines is not None:
            out["LineItems"] = [docs.echo_line(line) for line in self.lines]
        out["BankAccount"] = dict(self.bank_account)
        # Xero's schema requires these three; a refused transaction that lacked them shows
        # placeholders (documented in docs/sandbox.md).
        out.setdefault("Type", "RECEIVE")
        out.setdefault("LineItems", [])
        return out


def parse_bank_transactions(body: bytes) -> list[SubmittedBankTransaction]:
    out = []
    for raw, path in _body_items(body, "BankTransactions", "BankTransaction"):
        obj = as_object(raw, "BankTransaction", path)
        fields_out: dict[str, Any] = {}
        type_ = as_enum(
            obj.get("Type"), BANK_TRANSACTION_TYPES, "BankTransactionType", f"{path}.Type"
        )
        if type_ is not None:
            fields_out["Type"] = type_
        status = as_enum(
            obj.get("Status"), ("AUTHORISED", "DELETED", "VOIDED"), "Status", f"{path}.Status"
        )
        if status is not None:
            fields_out["Status"] = status
        amount_types = as_enum(
            obj.get("LineAmountTypes"),
            docs.LINE_AMOUNT_TYPES,
            "LineAmountType",
            f"{path}.LineAmountTypes",
        )
        if amount_types is not None:
            fields_out["LineAmountTypes"] = amount_types
        for name in ("Reference", "CurrencyCode", "Url"):
            text = as_text(obj.get(name), f"{path}.{name}")
            if text is not None:
                fields_out[name] = text
        day = as_date(obj.get("Date"), f"{path}.Date")
        if day is not None:
            fields_out["Date"] = day
        reconciled = as_bool(obj.get("IsReconciled"), f"{path}.IsReconciled")
        if reconciled is not None:
            fields_out["IsReconciled"] = reconciled
        contact, lines = parse_contact_and_lines(obj, path)
        bank: dict[str, str] = {}
        if obj.get("BankAccount") is not None:
            bank = _account_ref(obj["BankAccount"], f"{path}.BankAccount")
        out.append(SubmittedBankTransaction(fields_out, contact, lines, bank))
    return out


@dataclass
class BankTransactionRow:
    bank_transaction_id: str
    type: str
    contact_id: str
    status: str
    updated_ms: int
    data: dict[str, Any]
    contact_name: str | None


_BT_SELECT = (
    "SELECT b.*, c.name AS contact_name FROM bank_transactions b "
    "LEFT JOIN contacts c ON c.contact_id = b.contact_id"
)


def _bt_row(r: sqlite3.Row) -> BankTransactionRow:
    return BankTransactionRow(
        bank_transaction_id=r["bank_transaction_id"],
        type=r["type"],
        contact_id=r["contact_id"],
        status=r["status"],
        updated_ms=r["updated_ms"],
        data=from_json(r["data"]),
        contact_name=r["contact_name"],
    )


def get_bank_transaction(
    conn: sqlite3.Connection, tenant_id: str, bank_transaction_id: str
) -> BankTransactionRow | None:
    r = conn.execute(
        f"{_BT_SELECT} WHERE b.tenant_id = ? AND b.bank_transaction_id = ?",
        (tenant_id, bank_transaction_id),
    ).fetchone()
    return None if r is None else _bt_row(r)


def render_bank_transaction(row: BankTransactionRow, *, unitdp: int = 2) -> dict[str, Any]:
    out = row.data
    out["Contact"] = compact_contact(row.contact_id, row.contact_name)
    out["UpdatedDateUTC"] = ms_date(row.updated_ms)
    if unitdp != 4:
        for item in out.get("LineItems", []):
            item["UnitAmount"] = q2(item["UnitAmount"])
    return out


@dataclass
class BankTransactionOutcome:
    row: BankTransactionRow | None
    errors: list[str] = field(default_factory=list)


def create_bank_transaction(
    conn: sqlite3.Connection,
    tenant_id: str,
    sub: SubmittedBankTransaction,
    *,
    now_ms: int,
    unitdp: int = 2,
) -> BankTransactionOutcome:
    """Money received or spent; a prepayment or overpayment document when the Type says so."""
    try:
        with savepoint(conn):
            return _create_bank_transaction(conn, tenant_id, sub, now_ms=now_ms, unitdp=unitdp)
    except _Refused as refused:
        return BankTransactionOutcome(None, refused.errors)


def _create_bank_transaction(
    conn: sqlite3.Connection,
    tenant_id: str,
    sub: SubmittedBankTransaction,
    *,
    now_ms: int,
    unitdp: int,
) -> BankTransactionOutcome:
    type_ = sub.fields.get("Type")
    if type_ is None or type_.endswith("-TRANSFER"):
        raise _Refused([MESSAGES["bank_type"].format(type=type_ or "(none)")])
    if sub.fields.get("Status", "AUTHORISED") != "AUTHORISED":
        raise _Refused([MESSAGES["bank_status"]])
    errors: list[str] = []
    contact = docs.resolve_contact(conn, tenant_id, sub.contact or {}, now_ms=now_ms, errors=errors)
    if contact is not None and contact.status != "ACTIVE":
        errors.append(MESSAGES["contact_archived"])
    bank = None
    if not sub.bank_account:
        errors.append(MESSAGES["bank_account_required"])
    else:
        bank = _find_bank_account(conn, tenant_id, sub.bank_account, errors)
        if bank is not None and bank.get("Type") != "BANK":
            errors.append(MESSAGES["bank_account_required"])
    credit_kind = _CREDIT_KIND_OF_TYPE.get(type_)
    lines = [dict(line) for line in sub.lines or []]
    amount_types = sub.fields.get("LineAmountTypes") or (
        "NoTax" if credit_kind is OVERPAYMENT else "Exclusive"
    )
    if credit_kind is OVERPAYMENT and amount_types != "NoTax":
        errors.append(MESSAGES["overpayment_tax"])
    errors += docs.check_lines(
        conn,
        tenant_id,
        lines,
        label="bank transaction",
        account_required=credit_kind is not OVERPAYMENT,
        discount_error=MESSAGES["discount"],
    )
    currency = sub.fields.get("CurrencyCode")
    if currency is not None and currency.strip().upper() != "AUD":
        errors.append(docs.MESSAGES["currency"].format(code=currency.strip()))
    day = sub.fields.get("Date") or docs.org_today(now_ms)
    doc_id = str(uuid.uuid4())
    data, money_errors = compose(
        credit_kind or PREPAYMENT,
        doc_id=doc_id,
        type_=type_,
        status="AUTHORISED",
        number=None,
        fields={"Reference": sub.fields.get("Reference", "")},
        lines=lines,
        amount_types=amount_types,
        day=day,
        due=None,
        unitdp=unitdp,
    )
    errors += money_errors
    if data["Total"] <= 0 and lines:
        errors.append(MESSAGES["negative"])
    if errors or contact is None or bank is None:
        raise _Refused(list(dict.fromkeys(errors)))

    row = insert_bank_transaction(
        conn,
        tenant_id,
        type_=type_,
        contact_id=contact.contact_id,
        bank=bank,
        data=data,
        day=day,
        reference=sub.fields.get("Reference", ""),
        reconciled=bool(sub.fields.get("IsReconciled", False)),
        now_ms=now_ms,
    )
    return BankTransactionOutcome(row)


def insert_bank_transaction(
    conn: sqlite3.Connection,
    tenant_id: str,
    *,
    type_: str,
    contact_id: str,
    bank: dict[str, Any],
    data: dict[str, Any],
    day: date,
    reference: str,
    reconciled: bool,
    now_ms: int,
    bank_transaction_id: str | None = None,
) -> BankTransactionRow:
    """Store a bank transaction and, for a prepayment or overpayment Type, its document
    (``data``, made by ``documents.compose``). No validation: ``create_bank_transaction`` and
    the seed check first."""
    bt_id = bank_transaction_id or str(uuid.uuid4())
    credit_kind = _CREDIT_KIND_OF_TYPE.get(type_)
    linked = None
    if credit_kind is not None:
        linked = str(data[credit_kind.id_field])
        docs.store_new(
            conn,
            tenant_id,
            credit_kind,
            data,
            contact_id=contact_id,
            day_ms=date_ms(day),
            due_ms=None,
            now_ms=now_ms,
            created_by=None,
        )
        docs.refresh(conn, linked, now_ms=now_ms)
    bt: dict[str, Any] = {
        "BankTransactionID": bt_id,
        "BankAccount": {
            "AccountID": bank["AccountID"],
            "Code": bank.get("Code", ""),
            "Name": bank.get("Name", ""),
        },
        "Type": type_,
        "Reference": reference,
        "IsReconciled": reconciled,
        "CurrencyRate": Decimal("1.000000"),
        "DateString": date_string(date_ms(day)),
        "Date": ms_date(date_ms(day)),
        "Status": "AUTHORISED",
        "LineAmountTypes": data["LineAmountTypes"],
        "LineItems": data["LineItems"],
        "SubTotal": data["SubTotal"],
        "TotalTax": data["TotalTax"],
        "Total": data["Total"],
        "CurrencyCode": "AUD",
        "HasAttachments": False,
    }
    if credit_kind is not None:
        bt[credit_kind.id_field] = linked
    conn.execute(
        "INSERT INTO bank_transactions (tenant_id, bank_transaction_id, type, contact_id, "
        "status, date_ms, total, doc_id, updated_ms, data) "
        "VALUES (?, ?, ?, ?, 'AUTHORISED', ?, ?, ?, ?, ?)",
        (
            tenant_id,
            bt_id,
            type_,
            contact_id,
            date_ms(day),
            cents(data["Total"]),
            linked,
            now_ms,
            to_json(bt),
        ),
    )
    docs.mark_contact(conn, contact_id, "ACCREC" if type_.startswith("RECEIVE") else "ACCPAY")
    row = get_bank_transaction(conn, tenant_id, bt_id)
    assert row is not None
    return row


def _bt_resolver(path: str) -> Field | None:
    fields = {
        "banktransactionid": Field("b.bank_transaction_id", "guid"),
        "type": Field("b.type", "string"),
        "status": Field("b.status", "string"),
        "date": Field("b.date_ms", "date", not_null=True),
        "contact.contactid": Field("b.contact_id", "guid"),
        "updateddateutc": Field("b.updated_ms", "date", not_null=True),
        "total": Field("(b.total / 100.0)", "number", not_null=True),
        "reference": Field("json_extract(b.data, '$.Reference')", "string"),
        "isreconciled": Field("json_extract(b.data, '$.IsReconciled')", "bool"),
    }
    return fields.get(path.lower())


def list_bank_transactions(
    conn: sqlite3.Connection, tenant_id: str, q: PaymentQuery
) -> tuple[list[BankTransactionRow], int]:
    clauses = ["b.tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if q.modified_since_ms is not None:
        clauses.append("b.updated_ms >= ?")
        params.append(q.modified_since_ms)
    if q.where:
        sql, where_params = compile_where(q.where, _bt_resolver, "BankTransaction")
        clauses.append(sql)
        params.extend(where_params)
    order = compile_order(q.order, _bt_resolver, "BankTransaction") if q.order else []
    seqs, total = docs.page_keys(
        conn,
        "bank_transactions b",
        "b.seq",
        clauses,
        params,
        order,
        page=q.page or 1,
        page_size=q.page_size,
        filtered=len(clauses) > 1,
    )
    rows = {r["seq"]: _bt_row(r) for r in docs.fetch_keyed(conn, _BT_SELECT, "b.seq", seqs)}
    return [rows[s] for s in seqs], total
