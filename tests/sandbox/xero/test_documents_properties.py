"""Properties of the sandbox's money, over random sequences of operations.

Whatever clients do (invoices and credit notes created, approved, edited, voided and deleted;
payments made and deleted; credit, prepayments and overpayments allocated and unallocated):

* no amount is ever negative;
* a live invoice owes ``AmountDue == Total - AmountPaid - AmountCredited``; a VOIDED or DELETED
  one owes nothing and has nothing applied; a credit keeps ``RemainingCredit == Total -
  allocated - refunded``; the amounts shown equal the payments and allocations stored;
* PAID is exactly "approved and nothing left open";
* every refused operation leaves the store exactly as it was.

The machine runs against the store-level functions (fast, many examples) and, with fewer
examples, over HTTP against a running sandbox.
"""

from __future__ import annotations

import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from conftest import XeroSandbox, start_xero_sandbox
from learnerledger.sandbox.xero import Clock, Limits, SandboxStore, prepare_store
from learnerledger.sandbox.xero import documents as docs
from learnerledger.sandbox.xero import payments as pay
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.sandbox.xero.store import DEFAULT_TENANT_ID
from learnerledger.sandbox.xero.wire import from_json, to_json
from sandbox_documents import check_books

TENANT = DEFAULT_TENANT_ID
ROOMY = Limits(concurrency=50, minute=1_000_000, day=10_000_000, app_minute=10_000_000)

# Mostly round amounts that can meet (so that allocations and payments fit), some anything.
amounts = st.one_of(
    st.sampled_from(["0", "10", "50", "100", "110.00", "0.01"]).map(Decimal),
    st.integers(min_value=-500, max_value=60_000).map(lambda c: Decimal(c).scaleb(-2)),
)
statuses = st.one_of(
    st.just("AUTHORISED"),
    st.sampled_from(["DRAFT", "SUBMITTED", "AUTHORISED", "VOIDED", "DELETED", "PAID"]),
)
accounts = st.sampled_from(["200", "210"])
contacts = st.sampled_from([0, 0, 1])  # mostly one contact, so that credit meets invoices


def _lines(values: list[Decimal], account: str) -> list[dict[str, Any]]:
    return [
        {"Description": f"Unit {i}", "Quantity": 1, "UnitAmount": v, "AccountCode": account}
        for i, v in enumerate(values)
    ]


class Books(RuleBasedStateMachine):
    """Operations on one organisation, through ``write``: the store-level functions here, the
    HTTP API in the subclass. ``write`` answers the new document/payment/allocation id, or None
    when the operation was refused."""

    invoices = Bundle("invoices")
    credits = Bundle("credits")  # (kind, id) of credit notes, prepayments, overpayments
    payments = Bundle("payments")
    allocations = Bundle("allocations")  # (kind, credit id, allocation id)

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0
        self.accepted = 0
        self.start()

    # -- the two ways in -------------------------------------------------------------------

    def start(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.store = SandboxStore(Path(self.dir) / "books.db")
        self.clock_ms = 1_790_000_000_000
        prepare_store(self.store, Clock())
        with self.store.tx() as conn:
            self.contacts = [
                insert_contact(conn, TENANT, {"Name": name}, now_ms=self.clock_ms)
                for name in ("Ann Archer", "Bob Baker")
            ]

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def now(self) -> int:
        self.clock_ms += 1000
        return self.clock_ms

    def write(self, op: str, target: str | None, body: dict[str, Any]) -> str | None:
        """Apply one operation with the store-level functions."""
        now = self.now()
        raw = to_json(body).encode()
        with self.store.tx() as conn:
            if op in ("Invoices", "CreditNotes"):
                kind = docs.INVOICE if op == "Invoices" else docs.CREDIT_NOTE
                [sub] = docs.parse_body(raw, kind)
                outcome = docs.write_document(
                    conn,
                    TENANT,
                    kind,
                    sub,
                    mode="update" if target else "create",
                    now_ms=now,
                    target_id=target,
                )
                return outcome.row.doc_id if outcome.row else None
            if op == "Payments":
                [payment] = pay.parse_payments(raw)
                made = pay.create_payment(conn, TENANT, payment, now_ms=now)
                return made.row.payment_id if made.row else None
            if op == "DeletePayment":
                assert target is not None
                row = pay.get_payment(conn, TENANT, target)
                assert row is not None
                deleted = pay.delete_payment(conn, TENANT, row, raw, now_ms=now)
                return target if deleted.row else None
            if op == "BankTransactions":
                [bank] = pay.parse_bank_transactions(raw)
                done = pay.create_bank_transaction(conn, TENANT, bank, now_ms=now)
                if done.row is None:
                    return None
                return str(done.row.data.get("PrepaymentID") or done.row.data["OverpaymentID"])
            kind_name, _, action = op.partition(":")
            kind = docs.KINDS[kind_name]
            credit = docs.get_document(conn, TENANT, target or "", kind)
            assert credit is not None
            if action == "allocate":
                [allocation] = pay.parse_allocations(raw)
                result = pay.allocate(conn, TENANT, credit, allocation, now_ms=now)
                return result.allocation["AllocationID"] if result.allocation else None
            removed = pay.delete_allocation(conn, TENANT, credit, body["AllocationID"], now_ms=now)
            return body["AllocationID"] if removed else None

    # -- observing the books ---------------------------------------------------------------

    def snapshot(self) -> list[Any]:
        with self.store.read() as conn:
            return [
                [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()]
                for table in (
                    "documents",
                    "payments",
                    "allocations",
                    "bank_transactions",
                    "contacts",
                    "sequences",
                )
            ]

    def apply(self, op: str, target: str | None, body: dict[str, Any]) -> str | None:
        before = self.snapshot()
        result = self.write(op, target, body)
        if result is None:
            self.refused += 1
            assert self.snapshot() == before, f"a refused {op} changed the store"
        else:
            self.accepted += 1
        return result

    # -- rules -----------------------------------------------------------------------------

    @rule(
        target=invoices,
        contact=contacts,
        status=statuses,
        values=st.lists(amounts, min_size=0, max_size=3),
        account=accounts,
    )
    def create_invoice(self, contact: int, status: str, values: list[Decimal], account: str) -> Any:
        body = {
            "Type": "ACCREC",
            "Contact": {"ContactID": self.contacts[contact]},
            "Status": status,
            "Date": "2026-10-01",
            "DueDate": "2026-10-31",
            "LineItems": _lines(values, account),
        }
        made = self.apply("Invoices", None, body)
        return made if made is not None else multiple()

    @rule(target=credits, contact=contacts, status=statuses, value=amounts)
    def create_credit_note(self, contact: int, status: str, value: Decimal) -> Any:
        body = {
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": self.contacts[contact]},
            "Status": status,
            "Date": "2026-10-02",
            "LineItems": _lines([value], "210"),
        }
        made = self.apply("CreditNotes", None, body)
        return ("creditnote", made) if made is not None else multiple()

    @rule(
        target=credits,
        contact=contacts,
        kind=st.sampled_from(["PREPAYMENT", "OVERPAYMENT"]),
        value=amounts,
    )
    def receive(self, contact: int, kind: str, value: Decimal) -> Any:
        line: dict[str, Any] = {"Description": "Received", "LineAmount": value}
        if kind == "PREPAYMENT":
            line["AccountCode"] = "210"
        body = {
            "Type": f"RECEIVE-{kind}",
            "Contact": {"ContactID": self.contacts[contact]},
            "BankAccount": {"Code": "090"},
            "Date": "2026-10-03",
            "LineAmountTypes": "NoTax",
            "LineItems": [line],
        }
        made = self.apply("BankTransactions", None, body)
        return (kind.lower(), made) if made is not None else multiple()

    @rule(invoice=invoices, status=statuses)
    def change_status(self, invoice: str, status: str) -> None:
        self.apply("Invoices", invoice, {"Status": status})

    @rule(credit=credits, status=statuses)
    def change_credit_status(self, credit: tuple[str, str], status: str) -> None:
        kind, doc_id = credit
        if kind == "creditnote":
            self.apply("CreditNotes", doc_id, {"Status": status})

    @rule(
        invoice=invoices,
        values=st.lists(amounts, min_size=1, max_size=2),
        contact=contacts,
    )
    def edit(self, invoice: str, values: list[Decimal], contact: int) -> None:
        body = {
            "Contact": {"ContactID": self.contacts[contact]},
            "Reference": "edited",
            "LineItems": _lines(values, "200"),
        }
        self.apply("Invoices", invoice, body)

    @rule(target=payments, invoice=invoices, value=amounts)
    def pay_invoice(self, invoice: str, value: Decimal) -> Any:
        body = {
            "Invoice": {"InvoiceID": invoice},
            "Account": {"Code": "090"},
            "Date": "2026-10-05",
            "Amount": value,
        }
        made = self.apply("Payments", None, body)
        return made if made is not None else multiple()

    @rule(target=payments, credit=credits, value=amounts)
    def refund(self, credit: tuple[str, str], value: Decimal) -> Any:
        kind, doc_id = credit
        key = {"creditnote": "CreditNote", "prepayment": "Prepayment"}.get(kind, "Overpayment")
        body = {
            key: {f"{key}ID": doc_id},
            "Account": {"Code": "090"},
            "Date": "2026-10-07",
            "Amount": value,
        }
        made = self.apply("Payments", None, body)
        return made if made is not None else multiple()

    def open_cents(self, doc_id: str) -> int:
        with self.store.read() as conn:
            doc = docs.get_document(conn, TENANT, doc_id)
        assert doc is not None
        return doc.amount_due

    @rule(target=payments, invoice=invoices)
    def settle(self, invoice: str) -> Any:
        """Pay exactly what is due: the invoice becomes PAID (when it may be paid at all)."""
        return self.pay_invoice(invoice, Decimal(self.open_cents(invoice)).scaleb(-2))

    @rule(target=allocations, credit=credits, invoice=invoices)
    def allocate_what_fits(self, credit: tuple[str, str], invoice: str) -> Any:
        fits = min(self.open_cents(credit[1]), self.open_cents(invoice))
        return self.allocate(credit, invoice, Decimal(fits).scaleb(-2))

    @rule(payment=payments)
    def delete_payment(self, payment: str) -> None:
        self.apply("DeletePayment", payment, {"Status": "DELETED"})

    @rule(target=allocations, credit=credits, invoice=invoices, value=amounts)
    def allocate(self, credit: tuple[str, str], invoice: str, value: Decimal) -> Any:
        kind, doc_id = credit
        body = {"Invoice": {"InvoiceID": invoice}, "Amount": value, "Date": "2026-10-06"}
        made = self.apply(f"{kind}:allocate", doc_id, body)
        return (kind, doc_id, made) if made is not None else multiple()

    @rule(target=allocations, value=amounts, extra=amounts)
    def credit_a_new_invoice(self, value: Decimal, extra: Decimal) -> Any:
        """An approved invoice and credit note for one learner, the credit applied at once."""
        contact = {"ContactID": self.contacts[0]}
        invoice = self.apply(
            "Invoices",
            None,
            {
                "Type": "ACCREC",
                "Contact": contact,
                "Status": "AUTHORISED",
                "DueDate": "2026-10-31",
                "LineItems": _lines([value, extra], "210"),
            },
        )
        credit = self.apply(
            "CreditNotes",
            None,
            {
                "Type": "ACCRECCREDIT",
                "Contact": contact,
                "Status": "AUTHORISED",
                "LineItems": _lines([value], "210"),
            },
        )
        if invoice is None or credit is None:
            return multiple()
        body = {"Invoice": {"InvoiceID": invoice}, "Amount": value, "Date": "2026-10-06"}
        made = self.apply("creditnote:allocate", credit, body)
        return ("creditnote", credit, made) if made is not None else multiple()

    @rule(allocation=consumes(allocations))
    def unallocate(self, allocation: tuple[str, str, str]) -> None:
        kind, doc_id, allocation_id = allocation
        assert self.apply(f"{kind}:unallocate", doc_id, {"AllocationID": allocation_id})

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def money_adds_up(self) -> None:
        with self.store.read() as conn:
            check_books(conn, TENANT)


class BooksOverHttp(Books):
    """The same operations through a running sandbox's API; every answer it gave is checked
    against Xero's OpenAPI description when the example ends."""

    def start(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.sandbox: XeroSandbox = start_xero_sandbox(Path(self.dir) / "books.db", limits=ROOMY)
        self.store = self.sandbox.store
        self.http = self.sandbox.http()
        made = self.http.put(
            "/Contacts", json={"Contacts": [{"Name": "Ann Archer"}, {"Name": "Bob Baker"}]}
        )
        self.contacts = [c["ContactID"] for c in made.json()["Contacts"]]

    def teardown(self) -> None:
        self.sandbox.close()
        self.sandbox.server.stop()
        problems = self.sandbox.recorder.check()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        assert not problems, problems

    def write(self, op: str, target: str | None, body: dict[str, Any]) -> str | None:
        params = {"summarizeErrors": "false"}
        content = to_json(body)
        headers = {"Content-Type": "application/json"}
        response: httpx.Response
        if op in ("Invoices", "CreditNotes"):
            path = f"/{op}/{target}" if target else f"/{op}"
            method = "POST" if target else "PUT"
            response = self.http.request(
                method, path, params=params, content=content, headers=headers
            )
            assert response.status_code == 200, response.text
            [item] = from_json(response.content)[op]
            ok = item["StatusAttributeString"] == "OK"
            return str(item["InvoiceID" if op == "Invoices" else "CreditNoteID"]) if ok else None
        if op == "Payments":
            response = self.http.put("/Payments", params=params, content=content, headers=headers)
            [item] = from_json(response.content)["Payments"]
            return str(item["PaymentID"]) if item["StatusAttributeString"] == "OK" else None
        if op == "DeletePayment":
            response = self.http.post(f"/Payments/{target}", content=content, headers=headers)
            assert response.status_code in (200, 400), response.text
            return target if response.status_code == 200 else None
        if op == "BankTransactions":
            response = self.http.put(
                "/BankTransactions", params=params, content=content, headers=headers
            )
            [item] = from_json(response.content)["BankTransactions"]
            if item["StatusAttributeString"] != "OK":
                return None
            return str(item.get("PrepaymentID") or item["OverpaymentID"])
        kind_name, _, action = op.partition(":")
        collection = docs.KINDS[kind_name].collection
        if action == "allocate":
            response = self.http.put(
                f"/{collection}/{target}/Allocations",
                params=params,
                content=content,
                headers=headers,
            )
            assert response.status_code == 200, response.text
            [item] = from_json(response.content)["Allocations"]
            return str(item["AllocationID"]) if item["StatusAttributeString"] == "OK" else None
        response = self.http.delete(f"/{collection}/{target}/Allocations/{body['AllocationID']}")
        return str(body["AllocationID"]) if response.status_code == 200 else None


TestBooks = Books.TestCase
TestBooks.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestBooksOverHttp = BooksOverHttp.TestCase
TestBooksOverHttp.settings = settings(
    max_examples=6,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
