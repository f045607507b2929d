"""Payments (create, delete, list), prepayments and overpayments created as bank transactions,
their allocations and refunds, and plain RECEIVE/SPEND bank transactions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import XeroSandbox
from learnerledger.sandbox.xero import Limits
from sandbox_documents import Books, errors, line

EXCEEDS = "Payment amount exceeds the amount outstanding on this document"
AUTHORISED_ONLY = "Payments can only be made against authorised documents."


@pytest.fixture
def invoice(books: Books) -> dict[str, Any]:
    return books.invoice(books.contact("Paying Learner"), line("300.00"))


def test_a_payment_reduces_what_is_due(books: Books, invoice: dict[str, Any]) -> None:
    payment = books.pay(invoice["InvoiceID"], "120.50", Reference="Card 4242")
    assert payment["PaymentType"] == "ACCRECPAYMENT"
    assert payment["Status"] == "AUTHORISED"
    assert payment["Amount"] == Decimal("120.50")
    assert payment["Account"]["Code"] == "090"
    assert payment["Invoice"]["InvoiceID"] == invoice["InvoiceID"]
    assert payment["Invoice"]["InvoiceNumber"] == invoice["InvoiceNumber"]
    assert payment["Invoice"]["Contact"]["ContactID"] == invoice["Contact"]["ContactID"]
    after = books.get("Invoices", invoice["InvoiceID"])
    assert (after["AmountPaid"], after["AmountDue"]) == (Decimal("120.50"), Decimal("179.50"))
    assert after["Payments"][0]["PaymentID"] == payment["PaymentID"]
    assert after["Payments"][0]["Reference"] == "Card 4242"
    assert books.get("Payments", payment["PaymentID"])["Amount"] == Decimal("120.50")


def test_payments_by_invoice_number_and_account_id(books: Books, invoice: dict[str, Any]) -> None:
    accounts = books.http.get("/Accounts", params={"where": 'Code=="091"'}).json()["Accounts"]
    item = books.try_pay(
        {"InvoiceNumber": invoice["InvoiceNumber"]},
        "10",
        Account={"AccountID": accounts[0]["AccountID"]},
    )
    assert item["StatusAttributeString"] == "OK"
    assert item["Account"]["Code"] == "091"


def test_what_a_payment_may_not_do(books: Books, invoice: dict[str, Any]) -> None:
    target = {"Invoice": {"InvoiceID": invoice["InvoiceID"]}}
    assert errors(books.try_pay(target, "300.01")) == [EXCEEDS]
    draft = books.invoice(books.contact("Draft Owner"), status="DRAFT")
    assert errors(books.try_pay({"Invoice": {"InvoiceID": draft["InvoiceID"]}}, "1")) == [
        AUTHORISED_ONLY
    ]
    assert "bank account" in errors(books.try_pay(target, "1", Account={"Code": "200"}))[0]
    assert errors(books.try_pay(target, "1", Account={"Code": "999"})) == ["Account must be valid."]
    assert "needs a Date" in errors(books.try_pay(target, "1", Date=None))[0]
    assert "greater than zero" in errors(books.try_pay(target, "0"))[0]
    assert "must name the document" in errors(books.try_pay({}, "1"))[0]
    unknown = {"Invoice": {"InvoiceID": "00000000-0000-0000-0000-000000000001"}}
    assert "No invoice has the InvoiceID" in errors(books.try_pay(unknown, "1"))[0]
    assert books.get("Invoices", invoice["InvoiceID"])["AmountPaid"] == Decimal("0.00")


def test_paid_invoices_take_no_more_payments(books: Books, invoice: dict[str, Any]) -> None:
    books.pay(invoice["InvoiceID"], "300.00")
    again = books.try_pay({"Invoice": {"InvoiceID": invoice["InvoiceID"]}}, "1")
    assert errors(again) == [AUTHORISED_ONLY]


def test_deleting_a_payment(books: Books, invoice: dict[str, Any]) -> None:
    payment = books.pay(invoice["InvoiceID"], "300.00")
    assert books.get("Invoices", invoice["InvoiceID"])["Status"] == "PAID"
    wrong = books.http.post(f"/Payments/{payment['PaymentID']}", json={"Status": "AUTHORISED"})
    assert wrong.status_code == 400
    assert "only deleted" in wrong.json()["Elements"][0]["ValidationErrors"][0]["Message"]
    deleted = books.http.post(
        f"/Payments/{payment['PaymentID']}", json={"Payments": [{"Status": "DELETED"}]}
    )
    assert deleted.status_code == 200
    assert deleted.json()["Payments"][0]["Status"] == "DELETED"
    back = books.get("Invoices", invoice["InvoiceID"])
    assert (back["Status"], back["AmountDue"], back["Payments"]) == (
        "AUTHORISED",
        Decimal("300.00"),
        [],
    )
    twice = books.http.post(f"/Payments/{payment['PaymentID']}", json={"Status": "DELETED"})
    assert twice.status_code == 400
    missing = books.http.post(
        "/Payments/00000000-0000-0000-0000-000000000001", json={"Status": "DELETED"}
    )
    assert missing.status_code == 404


def test_reconciled_payments_are_not_deleted(books: Books, invoice: dict[str, Any]) -> None:
    payment = books.pay(invoice["InvoiceID"], "5", IsReconciled=True)
    refused = books.http.post(f"/Payments/{payment['PaymentID']}", json={"Status": "DELETED"})
    assert refused.status_code == 400
    assert books.get("Invoices", invoice["InvoiceID"])["AmountPaid"] == Decimal("5.00")


def test_post_creates_one_payment_and_put_a_batch(books: Books, invoice: dict[str, Any]) -> None:
    single = books.http.post(
        "/Payments",
        json={
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
            "Account": {"Code": "090"},
            "Date": "2026-10-05",
            "Amount": 50,
        },
    )
    assert single.status_code == 200
    batch = books.http.put(
        "/Payments",
        json={
            "Payments": [
                {
                    "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                    "Account": {"Code": "090"},
                    "Date": "2026-10-06",
                    "Amount": 50,
                },
                {
                    "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                    "Account": {"Code": "090"},
                    "Date": "2026-10-06",
                    "Amount": 500,
                },
            ]
        },
    )
    assert batch.status_code == 400  # summarised by default, the valid payment saved
    [element] = batch.json()["Elements"]
    assert element["ValidationErrors"] == [{"Message": EXCEEDS}]
    assert books.get("Invoices", invoice["InvoiceID"])["AmountPaid"] == Decimal("100.00")


def test_listing_payments(xero_sandbox: XeroSandbox, books: Books) -> None:
    contact = books.contact("Many Payments")
    first, second = books.invoice(contact), books.invoice(contact)
    paid = [
        books.pay(first["InvoiceID"], "10", date="2026-09-01"),
        books.pay(second["InvoiceID"], "20", date="2026-10-01"),
    ]
    xero_sandbox.clock.advance(60)
    since = datetime.fromtimestamp(xero_sandbox.clock.now(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    xero_sandbox.clock.advance(1)
    late = books.pay(second["InvoiceID"], "30", date="2026-10-02")
    books.http.post(f"/Payments/{paid[0]['PaymentID']}", json={"Status": "DELETED"})

    def ids(**params: Any) -> list[str]:
        response = books.http.get("/Payments", params=params)
        assert response.status_code == 200, response.text
        return [p["PaymentID"] for p in response.json()["Payments"]]

    assert ids(page=1) == [paid[0]["PaymentID"], paid[1]["PaymentID"], late["PaymentID"]]
    assert ids(where='Status=="AUTHORISED"') == [paid[1]["PaymentID"], late["PaymentID"]]
    assert ids(where="Date >= DateTime(2026, 10, 01)", order="Amount DESC") == [
        late["PaymentID"],
        paid[1]["PaymentID"],
    ]
    assert ids(where=f'Invoice.InvoiceID==Guid("{first["InvoiceID"]}")') == [paid[0]["PaymentID"]]
    changed = books.http.get("/Payments", headers={"If-Modified-Since": since}).json()
    assert {p["PaymentID"] for p in changed["Payments"]} == {
        late["PaymentID"],
        paid[0]["PaymentID"],  # deleted after the moment: its UpdatedDateUTC moved
    }
    paged = books.http.get("/Payments", params={"page": 2, "pageSize": 2}).json()
    assert paged["pagination"] == {"page": 2, "pageSize": 2, "pageCount": 2, "itemCount": 3}


# -- prepayments and overpayments ----------------------------------------------------------------


def test_a_prepayment_is_received_then_allocated(books: Books) -> None:
    contact = books.contact("Early Payer")
    prepayment = books.receive("PREPAYMENT", contact, "500.00")
    assert prepayment["Type"] == "RECEIVE-PREPAYMENT"
    assert prepayment["Status"] == "AUTHORISED"
    assert prepayment["Total"] == prepayment["RemainingCredit"] == Decimal("500.00")
    assert prepayment["Contact"]["ContactID"] == contact
    invoice = books.invoice(contact, line("800.00"))
    books.allocate(prepayment["PrepaymentID"], invoice["InvoiceID"], "500.00", "Prepayments")
    after = books.get("Invoices", invoice["InvoiceID"])
    assert after["AmountCredited"] == Decimal("500.00")
    assert after["AmountDue"] == Decimal("300.00")
    assert after["Prepayments"][0]["PrepaymentID"] == prepayment["PrepaymentID"]
    used = books.get("Prepayments", prepayment["PrepaymentID"])
    assert (used["Status"], used["RemainingCredit"]) == ("PAID", Decimal("0.00"))
    listed = books.http.get("/Prepayments", params={"page": 1}).json()
    assert [p["PrepaymentID"] for p in listed["Prepayments"]] == [prepayment["PrepaymentID"]]
    contact_after = books.http.get(f"/Contacts/{contact}").json()["Contacts"][0]
    assert contact_after["IsCustomer"] is True


def test_an_overpayment_is_allocated_removed_and_refunded(books: Books) -> None:
    contact = books.contact("Paid Too Much")
    overpayment = books.receive("OVERPAYMENT", contact, "75.00")
    assert overpayment["LineAmountTypes"] == "NoTax"
    invoice = books.invoice(contact, line("60.00"))
    allocation = books.allocate(
        overpayment["OverpaymentID"], invoice["InvoiceID"], "60.00", "Overpayments"
    )
    assert allocation["Overpayment"]["OverpaymentID"] == overpayment["OverpaymentID"]
    assert books.get("Invoices", invoice["InvoiceID"])["Status"] == "PAID"
    refund = books.try_pay({"Overpayment": {"OverpaymentID": overpayment["OverpaymentID"]}}, "15")
    assert refund["PaymentType"] == "AROVERPAYMENTPAYMENT"
    assert books.get("Overpayments", overpayment["OverpaymentID"])["Status"] == "PAID"
    removed = books.http.delete(
        f"/Overpayments/{overpayment['OverpaymentID']}/Allocations/{allocation['AllocationID']}"
    )
    assert removed.json()["IsDeleted"] is True
    back = books.get("Overpayments", overpayment["OverpaymentID"])
    assert (back["Status"], back["RemainingCredit"]) == ("AUTHORISED", Decimal("60.00"))
    assert books.get("Invoices", invoice["InvoiceID"])["Status"] == "AUTHORISED"


def test_bank_transactions_the_sandbox_takes(books: Books) -> None:
    contact = books.contact("Bank Person")

    def put(body: dict[str, Any]) -> dict[str, Any]:
        base = {
            "Contact": {"ContactID": contact},
            "BankAccount": {"Code": "090"},
            "LineItems": [{"Description": "x", "LineAmount": "10", "AccountCode": "260"}],
        }
        response = books.put("/BankTransactions", "BankTransactions", {**base, **body})
        assert response.status_code == 200, response.text
        return dict(books.json(response)["BankTransactions"][0])

    received = put({"Type": "RECEIVE"})
    assert received["StatusAttributeString"] == "OK"
    assert received["Total"] == Decimal("11.00")
    assert "PrepaymentID" not in received
    spent = put(
        {
            "Type": "SPEND",
            "LineItems": [{"Description": "Fees", "LineAmount": "5", "AccountCode": "404"}],
        }
    )
    assert spent["Total"] == Decimal("5.00")
    assert "not part of the sandbox" in errors(put({"Type": "RECEIVE-TRANSFER"}))[0]
    assert "bank account" in errors(put({"Type": "RECEIVE", "BankAccount": {"Code": "200"}}))[0]
    assert (
        "NoTax" in errors(put({"Type": "RECEIVE-OVERPAYMENT", "LineAmountTypes": "Exclusive"}))[0]
    )
    assert (
        "AccountCode"
        in errors(
            put(
                {
                    "Type": "RECEIVE-PREPAYMENT",
                    "LineItems": [{"Description": "x", "LineAmount": "1"}],
                }
            )
        )[0]
    )
    listed = books.http.get("/BankTransactions", params={"where": 'Type=="SPEND"'}).json()
    assert [b["BankTransactionID"] for b in listed["BankTransactions"]] == [
        spent["BankTransactionID"]
    ]
    assert books.get("BankTransactions", received["BankTransactionID"])["Type"] == "RECEIVE"


# -- no body breaks the server ------------------------------------------------------------------

_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["10", "1e40", "-3", "0.005", "090", "2026-10-05", "/Date(0)/", "DELETED"]),
    st.text(max_size=10),
)
_ref = st.one_of(_value, st.fixed_dictionaries({}, optional={"InvoiceID": _value, "Code": _value}))
_item = st.fixed_dictionaries(
    {},
    optional={
        "Invoice": _ref,
        "CreditNote": _ref,
        "Overpayment": _ref,
        "Account": _ref,
        "BankAccount": _ref,
        "Contact": _ref,
        "Amount": _value,
        "Date": _value,
        "Type": st.one_of(_value, st.sampled_from(["RECEIVE-PREPAYMENT", "RECEIVE-OVERPAYMENT"])),
        "Status": _value,
        "LineItems": st.one_of(
            _value,
            st.lists(
                st.dictionaries(
                    st.sampled_from(["Description", "LineAmount", "AccountCode", "Quantity"]),
                    _value,
                    max_size=4,
                ),
                max_size=2,
            ),
        ),
    },
)


@pytest.fixture
def roomy(make_xero_sandbox: Any) -> tuple[httpx.Client, dict[str, str]]:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=100_000, day=1_000_000))
    books = Books(sandbox, sandbox.http())
    contact = books.contact("Fuzzed")
    ids = {
        "invoice": books.invoice(contact)["InvoiceID"],
        "credit": books.credit_note(contact)["CreditNoteID"],
    }
    payment = books.pay(ids["invoice"], "1")
    ids["payment"] = payment["PaymentID"]
    return books.http, ids


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(_value, _item, st.fixed_dictionaries({"Payments": st.lists(_item, max_size=2)})),
    endpoint=st.sampled_from(["payments", "allocations", "bank", "delete"]),
)
def test_no_money_body_breaks_the_server(
    roomy: tuple[httpx.Client, dict[str, str]], body: Any, endpoint: str
) -> None:
    http, ids = roomy
    path, method = {
        "payments": ("/Payments", "PUT"),
        "allocations": (f"/CreditNotes/{ids['credit']}/Allocations", "PUT"),
        "bank": ("/BankTransactions", "PUT"),
        "delete": (f"/Payments/{ids['payment']}", "POST"),
    }[endpoint]
    response = http.request(
        method, path, params={"summarizeErrors": "false"}, content=json.dumps(body)
    )
    assert response.status_code in (200, 400), response.text
    response.json()
