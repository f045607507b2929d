"""Helpers for the Xero sandbox's document tests: ``Books``, a small client that writes an
organisation's invoices, credit notes, payments and allocations through the HTTP API (the
``books`` fixture in tests/sandbox/xero/conftest.py gives one)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import httpx

from conftest import XeroSandbox
from learnerledger.sandbox.xero import documents as docs
from learnerledger.sandbox.xero.wire import from_json


def line(
    amount: str | int, *, account: str = "210", description: str = "Course fee"
) -> dict[str, Any]:
    return {
        "Description": description,
        "Quantity": 1,
        "UnitAmount": str(amount),
        "AccountCode": account,
    }


class Books:
    """Write and read documents of one sandbox organisation; every helper asserts success."""

    def __init__(self, sandbox: XeroSandbox, http: httpx.Client) -> None:
        self.sandbox = sandbox
        self.http = http

    @staticmethod
    def json(response: httpx.Response) -> Any:
        """The body with amounts as Decimal, as a careful client reads it."""
        return from_json(response.content)

    def contact(self, name: str, **fields: Any) -> str:
        response = self.http.put("/Contacts", json={"Contacts": [{"Name": name, **fields}]})
        assert response.status_code == 200, response.text
        return str(response.json()["Contacts"][0]["ContactID"])

    def put(
        self, path: str, key: str, *items: dict[str, Any], summarize: bool = False, **params: Any
    ) -> httpx.Response:
        if not summarize:
            params["summarizeErrors"] = "false"
        return self.http.put(path, params=params, json={key: list(items)})

    def invoice(
        self,
        contact_id: str,
        *lines: dict[str, Any],
        status: str = "AUTHORISED",
        type_: str = "ACCREC",
        date: str = "2026-10-01",
        due: str | None = "2026-10-31",
        **fields: Any,
    ) -> dict[str, Any]:
        body = {
            "Type": type_,
            "Contact": {"ContactID": contact_id},
            "Date": date,
            "Status": status,
            "LineItems": list(lines) or [line("1000.00")],
            **fields,
        }
        if due is not None:
            body["DueDate"] = due
        response = self.put("/Invoices", "Invoices", body)
        assert response.status_code == 200, response.text
        [item] = self.json(response)["Invoices"]
        assert item["StatusAttributeString"] == "OK", item
        return dict(item)

    def credit_note(
        self,
        contact_id: str,
        *lines: dict[str, Any],
        status: str = "AUTHORISED",
        type_: str = "ACCRECCREDIT",
        **fields: Any,
    ) -> dict[str, Any]:
        body = {
            "Type": type_,
            "Contact": {"ContactID": contact_id},
            "Date": "2026-10-02",
            "Status": status,
            "LineItems": list(lines) or [line("200.00")],
            **fields,
        }
        response = self.put("/CreditNotes", "CreditNotes", body)
        assert response.status_code == 200, response.text
        [item] = self.json(response)["CreditNotes"]
        assert item["StatusAttributeString"] == "OK", item
        return dict(item)

    def try_pay(
        self, target: dict[str, Any], amount: str, *, date: str = "2026-10-05", **fields: Any
    ) -> dict[str, Any]:
        body = {"Account": {"Code": "090"}, "Date": date, "Amount": amount, **target, **fields}
        response = self.put("/Payments", "Payments", body)
        assert response.status_code == 200, response.text
        [item] = self.json(response)["Payments"]
        return dict(item)

    def pay(self, invoice_id: str, amount: str, **fields: Any) -> dict[str, Any]:
        item = self.try_pay({"Invoice": {"InvoiceID": invoice_id}}, amount, **fields)
        assert item["StatusAttributeString"] == "OK", item
        return item

    def try_allocate(
        self, collection: str, credit_id: str, invoice_id: str, amount: str
    ) -> dict[str, Any]:
        response = self.http.put(
            f"/{collection}/{credit_id}/Allocations",
            params={"summarizeErrors": "false"},
            json={
                "Allocations": [
                    {"Invoice": {"InvoiceID": invoice_id}, "Amount": amount, "Date": "2026-10-06"}
                ]
            },
        )
        assert response.status_code == 200, response.text
        [item] = self.json(response)["Allocations"]
        return dict(item)

    def allocate(
        self, credit_id: str, invoice_id: str, amount: str, collection: str = "CreditNotes"
    ) -> dict[str, Any]:
        item = self.try_allocate(collection, credit_id, invoice_id, amount)
        assert item["StatusAttributeString"] == "OK", item
        return item

    def get(self, collection: str, doc_id: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(f"/{collection}/{doc_id}", params=params)
        assert response.status_code == 200, response.text
        return dict(self.json(response)[collection][0])

    def update(self, collection: str, doc_id: str, **fields: Any) -> httpx.Response:
        return self.http.post(
            f"/{collection}/{doc_id}",
            params={"summarizeErrors": "false"},
            json={collection: [fields]},
        )

    def receive(self, kind: str, contact_id: str, amount: str, **fields: Any) -> dict[str, Any]:
        """A RECEIVE-PREPAYMENT or RECEIVE-OVERPAYMENT bank transaction; its document."""
        line_item: dict[str, Any] = {
            "Description": f"{kind.lower()} received",
            "LineAmount": amount,
        }
        if kind == "PREPAYMENT":
            line_item["AccountCode"] = "210"
        body = {
            "Type": f"RECEIVE-{kind}",
            "Contact": {"ContactID": contact_id},
            "BankAccount": {"Code": "090"},
            "Date": "2026-10-03",
            "LineItems": [line_item],
            **fields,
        }
        if kind == "OVERPAYMENT":
            body["LineAmountTypes"] = "NoTax"
        response = self.put("/BankTransactions", "BankTransactions", body)
        assert response.status_code == 200, response.text
        [bank] = self.json(response)["BankTransactions"]
        assert bank["StatusAttributeString"] == "OK", bank
        collection = "Prepayments" if kind == "PREPAYMENT" else "Overpayments"
        return self.get(collection, bank[f"{kind.title()}ID"])


def errors(item: dict[str, Any]) -> list[str]:
    return [e["Message"] for e in item.get("ValidationErrors", [])]


class SDK:
    """Xero's official Python SDK (xero-python) pointed at a sandbox, as a client sets it up."""

    def __init__(self, sandbox: XeroSandbox) -> None:
        from xero_python.accounting import AccountingApi
        from xero_python.api_client import ApiClient, Configuration
        from xero_python.api_client.oauth2 import OAuth2Token

        self.saved: dict[str, Any] = {}
        self.client = ApiClient(
            Configuration(
                oauth2_token=OAuth2Token(
                    client_id=sandbox.client_id, client_secret=sandbox.client_secret
                )
            ),
            pool_threads=1,
        )
        self.client.oauth2_token_getter(lambda: self.saved.get("token"))
        self.client.oauth2_token_saver(lambda token: self.saved.update(token=token))
        # urllib3 would otherwise sleep through Retry-After and retry on its own.
        self.client.rest_client.pool_manager.connection_pool_kw["retries"] = False
        self.accounting = AccountingApi(self.client, base_url=sandbox.api_url)

    def close(self) -> None:
        self.client.rest_client.pool_manager.clear()  # the SDK has no close(); free its sockets


def check_books(conn: sqlite3.Connection, tenant_id: str) -> int:
    """Assert that every document's money adds up; the number of documents checked.

    No amount is negative; a live invoice owes Total - AmountPaid - AmountCredited, a VOIDED or
    DELETED document owes nothing and has nothing applied, a credit keeps Total - allocated -
    refunded; the amounts equal the payments and allocations stored, and what the document
    shows equals its columns; PAID is exactly "approved and nothing left open"."""
    ids = [
        r[0] for r in conn.execute("SELECT doc_id FROM documents WHERE tenant_id = ?", (tenant_id,))
    ]
    for doc_id in ids:
        doc = docs.get_document(conn, tenant_id, doc_id)
        assert doc is not None
        paid = conn.execute(
            "SELECT coalesce(sum(amount), 0) FROM payments WHERE doc_id = ? "
            "AND status = 'AUTHORISED'",
            (doc.doc_id,),
        ).fetchone()[0]
        column = "credit_id" if doc.kind != "invoice" else "invoice_id"
        applied = conn.execute(
            f"SELECT coalesce(sum(amount), 0) FROM allocations WHERE {column} = ? AND deleted = 0",
            (doc.doc_id,),
        ).fetchone()[0]
        assert (doc.amount_paid, doc.amount_credited) == (paid, applied), doc
        assert min(doc.total, doc.amount_due, doc.amount_paid, doc.amount_credited) >= 0, doc
        if doc.status in ("VOIDED", "DELETED"):
            assert doc.amount_due == doc.amount_paid == doc.amount_credited == 0, doc
        else:
            assert doc.amount_due == doc.total - doc.amount_paid - doc.amount_credited, doc
        assert (doc.status == "PAID") == (
            doc.amount_due == 0 and doc.status in ("AUTHORISED", "PAID")
        ), doc
        shown = docs.render(doc)
        assert shown["Status"] == doc.status
        assert shown["Total"] == Decimal(doc.total).scaleb(-2)
        if doc.kind == "invoice":
            assert shown["AmountDue"] == Decimal(doc.amount_due).scaleb(-2)
            assert shown["AmountPaid"] == Decimal(doc.amount_paid).scaleb(-2)
            assert shown["AmountCredited"] == Decimal(doc.amount_credited).scaleb(-2)
            assert sum(p["Amount"] for p in shown["Payments"]) == Decimal(paid).scaleb(-2)
            credits = shown["CreditNotes"] + shown["Prepayments"] + shown["Overpayments"]
            assert sum(c["AppliedAmount"] for c in credits) == Decimal(applied).scaleb(-2)
        else:
            assert shown["RemainingCredit"] == Decimal(doc.amount_due).scaleb(-2)
            assert sum(a["Amount"] for a in shown["Allocations"]) == Decimal(applied).scaleb(-2)
    return len(ids)
