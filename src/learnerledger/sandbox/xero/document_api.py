"""The Accounting API's document endpoints: Invoices, CreditNotes, Payments, Prepayments,
Overpayments, their Allocations, and BankTransactions (the subset that creates prepayments and
overpayments, plus plain RECEIVE and SPEND).

Each endpoint takes the query parameters Xero documents for it and ignores others, as Xero does:
``Statuses``, ``ContactIDs``, ``InvoiceNumbers``, ``IDs``, ``createdByMyApp`` and ``searchTerm``
exist on ``GET /Invoices`` only. Reads need ``accounting.transactions`` (or ``.read``) or the
granular scope of the endpoint (``accounting.invoices``, ``accounting.payments``,
``accounting.banktransactions``, each also as ``.read``); writes need a scope without ``.read``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.responses import Response

from learnerledger.sandbox.xero import documents as docs
from learnerledger.sandbox.xero import payments as pay
from learnerledger.sandbox.xero.documents import DocQuery, Kind
from learnerledger.sandbox.xero.errors import (
    QUERY_PARSE,
    ApiError,
    api_exception,
    not_found,
    validation_exception,
)
from learnerledger.sandbox.xero.http import (
    Call,
    Endpoint,
    guid_list_param,
    int_param,
    modified_since,
    page_params,
    pagination,
)
from learnerledger.sandbox.xero.wire import JSON_MEDIA_TYPE, json_response, parse_guid, to_json

__all__ = ["endpoints"]

_TRANSACTIONS_READ = ("accounting.transactions", "accounting.transactions.read")
_INVOICES_READ = (*_TRANSACTIONS_READ, "accounting.invoices", "accounting.invoices.read")
_INVOICES_WRITE = ("accounting.transactions", "accounting.invoices")
_PAYMENTS_READ = (*_TRANSACTIONS_READ, "accounting.payments", "accounting.payments.read")
_PAYMENTS_WRITE = ("accounting.transactions", "accounting.payments")
_BANK_READ = (
    *_TRANSACTIONS_READ,
    "accounting.banktransactions",
    "accounting.banktransactions.read",
)
_BANK_WRITE = ("accounting.transactions", "accounting.banktransactions")


def endpoints() -> list[Endpoint]:
    """The document endpoints of the Accounting API."""
    found: list[Endpoint] = []
    for kind, read, write in (
        (docs.INVOICE, _INVOICES_READ, _INVOICES_WRITE),
        (docs.CREDIT_NOTE, _INVOICES_READ, _INVOICES_WRITE),
    ):
        base = "/" + kind.collection
        found += [
            Endpoint("GET", base, _bind(get_documents, kind), read),
            Endpoint("PUT", base, _bind(put_documents, kind), write),
            Endpoint("POST", base, _bind(post_documents, kind), write),
            Endpoint("GET", base + r"/([^/]+)", _bind(get_document, kind), read),
            Endpoint("POST", base + r"/([^/]+)", _bind(post_document, kind), write),
        ]
    for kind, write in (
        (docs.CREDIT_NOTE, _INVOICES_WRITE),
        (docs.PREPAYMENT, _PAYMENTS_WRITE),
        (docs.OVERPAYMENT, _PAYMENTS_WRITE),
    ):
        base = "/" + kind.collection + r"/([^/]+)/Allocations"
        found += [
            Endpoint("PUT", base, _bind(put_allocations, kind), write),
            Endpoint("DELETE", base + r"/([^/]+)", _bind(delete_allocation, kind), write),
        ]
    for kind in (docs.PREPAYMENT, docs.OVERPAYMENT):
        base = "/" + kind.collection
        found += [
            Endpoint("GET", base, _bind(get_documents, kind), _PAYMENTS_READ),
            Endpoint("GET", base + r"/([^/]+)", _bind(get_document, kind), _PAYMENTS_READ),
        ]
    return [
        *found,
        Endpoint("GET", "/Payments", get_payments, _PAYMENTS_READ),
        Endpoint("PUT", "/Payments", put_payments, _PAYMENTS_WRITE),
        Endpoint("POST", "/Payments", put_payments, _PAYMENTS_WRITE),
        Endpoint("GET", r"/Payments/([^/]+)", get_payment, _PAYMENTS_READ),
        Endpoint("POST", r"/Payments/([^/]+)", post_payment, _PAYMENTS_WRITE),
        Endpoint("GET", "/BankTransactions", get_bank_transactions, _BANK_READ),
        Endpoint("PUT", "/BankTransactions", put_bank_transactions, _BANK_WRITE),
        Endpoint("POST", "/BankTransactions", put_bank_transactions, _BANK_WRITE),
        Endpoint("GET", r"/BankTransactions/([^/]+)", get_bank_transaction, _BANK_READ),
    ]


def _bind(handler: Callable[[Call, Kind], Response], kind: Kind) -> Callable[[Call], Response]:
    def bound(call: Call) -> Response:
        return handler(call, kind)

    return bound


def _unitdp(call: Call) -> int:
    return 4 if int_param(call, "unitdp") == 4 else 2


def _list_body(
    call: Call, key: str, items: list[str], page: int | None, size: int, total: int
) -> Response:
    """The envelope of a list, ``pagination`` on paged calls; ``items`` are JSON texts, joined
    in without being decoded again."""
    body = call.envelope(key, [])
    if page is not None:
        body = {
            "Id": body["Id"],
            "Status": body["Status"],
            "ProviderName": body["ProviderName"],
            "DateTimeUTC": body["DateTimeUTC"],
            "pagination": pagination(page, size, total),
            key: [],
        }
    text = to_json(body)
    assert text.endswith("[]}")  # the list is the envelope's last member
    return Response(text[:-3] + "[" + ",".join(items) + "]}", media_type=JSON_MEDIA_TYPE)


_Item = TypeVar("_Item")
# One item of a write: the item as Xero answers it, or None and the reasons it was refused.
Written = tuple[dict[str, Any] | None, list[str]]


def _batch(
    call: Call,
    key: str,
    submitted: Sequence[_Item],
    write: Callable[[sqlite3.Connection, _Item], Written],
    echo: Callable[[_Item], dict[str, Any]],
    error_flag: str | None = "HasErrors",
) -> Response:
    """Write each item on its own (batches are not atomic) and answer as Xero does: with
    ``summarizeErrors=false`` a 200 with every item's own status, otherwise one 400 naming
    the refused items (the accepted ones are saved all the same)."""
    summarize = call.summarize_errors
    results: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with call.store.tx() as conn:
        for sub in submitted:
            item, errors = write(conn, sub)
            if item is None:
                item = {**echo(sub), "ValidationErrors": [{"Message": m} for m in errors]}
                if error_flag:
                    item[error_flag] = True
                failed.append(item)
            if not summarize:
                item["StatusAttributeString"] = "ERROR" if errors else "OK"
            results.append(item)
    if summarize and failed:
        return validation_exception(failed)
    return json_response(call.envelope(key, results))


def _text_list(call: Call, name: str) -> list[str] | None:
    raw = call.params.get(name.lower())
    if not raw:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


# -- invoices, credit notes, prepayments, overpayments ---------------------------------------


def get_documents(call: Call, kind: Kind) -> Response:
    page, page_size = page_params(call)
    query = DocQuery(
        where=call.params.get("where") or None,
        order=call.params.get("order") or None,
        page=page,
        page_size=page_size,
        modified_since_ms=modified_since(call),
    )
    if kind is docs.INVOICE:
        statuses = _text_list(call, "Statuses")
        for status in statuses or []:
            if status.upper() not in docs.STATUSES:
                raise ApiError(
                    api_exception(QUERY_PARSE, f"'{status}' is not a valid invoice status.")
                )
        query.statuses = [s.upper() for s in statuses] if statuses else None
        query.ids = guid_list_param(call, "IDs")
        query.contact_ids = guid_list_param(call, "ContactIDs")
        query.numbers = _text_list(call, "InvoiceNumbers")
        query.search_term = call.params.get("searchterm") or None
        if call.flag("createdByMyApp"):
            query.created_by = call.app.client_id
    summary = kind is docs.INVOICE and call.flag("summaryOnly")
    unitdp = _unitdp(call)
    with call.store.read() as conn:
        rows, total = docs.list_documents(conn, call.tenant_id, kind, query)
    items = [
        docs.render_text(row, unitdp=unitdp, lines=page is not None, summary=summary)
        for row in rows
    ]
    return _list_body(call, kind.collection, items, page, page_size, total)


def _lookup(call: Call, kind: Kind, key: str) -> docs.DocRow | None:
    with call.store.read() as conn:
        guid = parse_guid(key)
        row = docs.get_document(conn, call.tenant_id, guid, kind) if guid else None
        if row is None and kind is docs.INVOICE:
            row = docs.find_by_number(conn, call.tenant_id, kind, key)
    return row


def get_document(call: Call, kind: Kind) -> Response:
    """``GET /Invoices/{InvoiceID}`` (or ``{InvoiceNumber}``), ``GET /CreditNotes/{id}``, ..."""
    row = _lookup(call, kind, call.path_args[0])
    if row is None:
        return not_found()
    item = docs.render(row, unitdp=_unitdp(call))
    return json_response(call.envelope(kind.collection, [item]))


def _write_documents(call: Call, kind: Kind, mode: str, target_id: str | None = None) -> Response:
    submitted = docs.parse_body(call.body, kind)
    if mode == "update":
        submitted = submitted[:1]
    unitdp = _unitdp(call)

    def write(conn: sqlite3.Connection, sub: docs.Submitted) -> Written:
        outcome = docs.write_document(
            conn,
            call.tenant_id,
            kind,
            sub,
            mode=mode,
            now_ms=call.now_ms,
            target_id=target_id,
            unitdp=unitdp,
            created_by=call.app.client_id,
        )
        if outcome.row is None:
            return None, outcome.errors
        return docs.render(outcome.row, unitdp=unitdp), []

    return _batch(call, kind.collection, submitted, write, lambda sub: sub.echo(kind))


def put_documents(call: Call, kind: Kind) -> Response:
    return _write_documents(call, kind, "create")


def post_documents(call: Call, kind: Kind) -> Response:
    return _write_documents(call, kind, "upsert")


def post_document(call: Call, kind: Kind) -> Response:
    guid = parse_guid(call.path_args[0])
    with call.store.read() as conn:
        row = docs.get_document(conn, call.tenant_id, guid, kind) if guid else None
    if row is None:
        return not_found()
    return _write_documents(call, kind, "update", target_id=row.doc_id)


# -- allocations ----------------------------------------------------------------------------


def put_allocations(call: Call, kind: Kind) -> Response:
    submitted = pay.parse_allocations(call.body)
    guid = parse_guid(call.path_args[0])
    with call.store.read() as conn:
        found = docs.get_document(conn, call.tenant_id, guid, kind) if guid else None
    if found is None:
        return not_found()
    credit_id = found.doc_id

    def write(conn: sqlite3.Connection, sub: pay.SubmittedAllocation) -> Written:
        credit = docs.get_document(conn, call.tenant_id, credit_id, kind)  # as of this item
        assert credit is not None
        outcome = pay.allocate(conn, call.tenant_id, credit, sub, now_ms=call.now_ms)
        return outcome.allocation, outcome.errors

    return _batch(
        call, "Allocations", submitted, write, pay.SubmittedAllocation.echo, error_flag=None
    )


def delete_allocation(call: Call, kind: Kind) -> Response:
    """Xero answers with the allocation itself (not in an envelope), ``IsDeleted: true``."""
    guid = parse_guid(call.path_args[0])
    allocation_id = parse_guid(call.path_args[1])
    with call.store.tx() as conn:
        credit = docs.get_document(conn, call.tenant_id, guid, kind) if guid else None
        if credit is None or allocation_id is None:
            return not_found()
        removed = pay.delete_allocation(
            conn, call.tenant_id, credit, allocation_id, now_ms=call.now_ms
        )
    if removed is None:
        return not_found()
    return json_response(removed)


# -- payments -------------------------------------------------------------------------------


def get_payments(call: Call) -> Response:
    page, page_size = page_params(call)
    query = pay.PaymentQuery(
        where=call.params.get("where") or None,
        order=call.params.get("order") or None,
        page=page,
        page_size=page_size,
        modified_since_ms=modified_since(call),
    )
    with call.store.read() as conn:
        rows, total = pay.list_payments(conn, call.tenant_id, query)
    items = [to_json(pay.render_payment(row)) for row in rows]
    return _list_body(call, "Payments", items, page, page_size, total)


def get_payment(call: Call) -> Response:
    guid = parse_guid(call.path_args[0])
    with call.store.read() as conn:
        row = pay.get_payment(conn, call.tenant_id, guid) if guid else None
    if row is None:
        return not_found()
    return json_response(call.envelope("Payments", [pay.render_payment(row)]))


def put_payments(call: Call) -> Response:
    """``PUT /Payments`` (a batch) and ``POST /Payments`` (one): both create."""
    submitted = pay.parse_payments(call.body)

    def write(conn: sqlite3.Connection, sub: pay.SubmittedPayment) -> Written:
        outcome = pay.create_payment(conn, call.tenant_id, sub, now_ms=call.now_ms)
        if outcome.row is None:
            return None, outcome.errors
        return pay.render_payment(outcome.row), []

    return _batch(
        call,
        "Payments",
        submitted,
        write,
        pay.SubmittedPayment.echo,
        error_flag="HasValidationErrors",
    )


def post_payment(call: Call) -> Response:
    """``POST /Payments/{PaymentID}`` with ``{"Status": "DELETED"}`` deletes the payment."""
    guid = parse_guid(call.path_args[0])
    with call.store.tx() as conn:
        row = pay.get_payment(conn, call.tenant_id, guid) if guid else None
        if row is None:
            return not_found()
        outcome = pay.delete_payment(conn, call.tenant_id, row, call.body, now_ms=call.now_ms)
    if outcome.row is None:
        element = {
            **pay.render_payment(row),
            "HasValidationErrors": True,
            "ValidationErrors": [{"Message": m} for m in outcome.errors],
        }
        return validation_exception([element])
    return json_response(call.envelope("Payments", [pay.render_payment(outcome.row)]))


# -- bank transactions ----------------------------------------------------------------------


def get_bank_transactions(call: Call) -> Response:
    page, page_size = page_params(call)
    query = pay.PaymentQuery(
        where=call.params.get("where") or None,
        order=call.params.get("order") or None,
        page=page,
        page_size=page_size,
        modified_since_ms=modified_since(call),
    )
    unitdp = _unitdp(call)
    with call.store.read() as conn:
        rows, total = pay.list_bank_transactions(conn, call.tenant_id, query)
    items = []
    for row in rows:
        item = pay.render_bank_transaction(row, unitdp=unitdp)
        if page is None:
            item["LineItems"] = []
        items.append(to_json(item))
    return _list_body(call, "BankTransactions", items, page, page_size, total)


def get_bank_transaction(call: Call) -> Response:
    guid = parse_guid(call.path_args[0])
    with call.store.read() as conn:
        row = pay.get_bank_transaction(conn, call.tenant_id, guid) if guid else None
    if row is None:
        return not_found()
    item = pay.render_bank_transaction(row, unitdp=_unitdp(call))
    return json_response(call.envelope("BankTransactions", [item]))


def put_bank_transactions(call: Call) -> Response:
    """Create bank transactions (``POST`` creates too: the sandbox does not update them)."""
    submitted = pay.parse_bank_transactions(call.body)
    unitdp = _unitdp(call)

    def write(conn: sqlite3.Connection, sub: pay.SubmittedBankTransaction) -> Written:
        outcome = pay.create_bank_transaction(
            conn, call.tenant_id, sub, now_ms=call.now_ms, unitdp=unitdp
        )
        if outcome.row is None:
            return None, outcome.errors
        return pay.render_bank_transaction(outcome.row, unitdp=unitdp), []

    return _batch(
        call,
        "BankTransactions",
        submitted,
        write,
        pay.SubmittedBankTransaction.echo,
        error_flag=None,
    )
