"""Credit notes: their numbers and status machine, allocation to invoices (and removal), refunds,
and the edits Xero refuses once a credit note is applied."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sandbox_documents import Books, errors, line

APPLIED = "This document cannot be edited as it has a payment or credit note allocated to it."


@pytest.fixture
def learner(books: Books) -> dict[str, Any]:
    contact = books.contact("Credit Learner")
    return {
        "contact": contact,
        "invoice": books.invoice(contact, line("500.00")),
        "credit": books.credit_note(contact, line("200.00")),
    }


def test_credit_notes_are_numbered_and_hold_their_credit(books: Books) -> None:
    contact = books.contact("Numbered Credit")
    credit = books.credit_note(contact, line("120.00"))
    assert credit["CreditNoteNumber"] == "CN-0001"
    assert credit["Type"] == "ACCRECCREDIT"
    assert credit["RemainingCredit"] == credit["Total"] == Decimal("120.00")
    assert credit["Allocations"] == []
    assert books.credit_note(contact)["CreditNoteNumber"] == "CN-0002"
    [clash] = books.put(
        "/CreditNotes",
        "CreditNotes",
        {
            "Type": "ACCRECCREDIT",
            "CreditNoteNumber": "cn-0001",
            "Contact": {"ContactID": contact},
            "LineItems": [line(1)],
        },
    ).json()["CreditNotes"]
    assert errors(clash) == ["Credit Note # must be unique."]


def test_allocation_moves_credit_onto_the_invoice(books: Books, learner: dict[str, Any]) -> None:
    invoice, credit = learner["invoice"], learner["credit"]
    allocation = books.allocate(credit["CreditNoteID"], invoice["InvoiceID"], "150.00")
    assert allocation["Amount"] == Decimal("150.00")
    assert allocation["Invoice"]["InvoiceID"] == invoice["InvoiceID"]
    assert allocation["CreditNote"]["CreditNoteID"] == credit["CreditNoteID"]
    after = books.get("Invoices", invoice["InvoiceID"])
    assert after["AmountCredited"] == Decimal("150.00")
    assert after["AmountDue"] == Decimal("350.00")
    assert after["Status"] == "AUTHORISED"
    [applied] = after["CreditNotes"]
    assert applied["CreditNoteID"] == credit["CreditNoteID"]
    assert applied["AppliedAmount"] == Decimal("150.00")
    note = books.get("CreditNotes", credit["CreditNoteID"])
    assert note["RemainingCredit"] == Decimal("50.00")
    assert [a["AllocationID"] for a in note["Allocations"]] == [allocation["AllocationID"]]


def test_allocation_limits(books: Books, learner: dict[str, Any]) -> None:
    invoice, credit = learner["invoice"], learner["credit"]
    too_much = books.try_allocate(
        "CreditNotes", credit["CreditNoteID"], invoice["InvoiceID"], "200.01"
    )
    assert errors(too_much) == [
        "Credit Note cannot be allocated as amount is greater than amount outstanding"
    ]
    small = books.invoice(learner["contact"], line("20.00"))
    over_due = books.try_allocate("CreditNotes", credit["CreditNoteID"], small["InvoiceID"], "25")
    assert errors(over_due) == errors(too_much)
    for amount in ("0", "-5"):
        item = books.try_allocate(
            "CreditNotes", credit["CreditNoteID"], invoice["InvoiceID"], amount
        )
        assert item["StatusAttributeString"] == "ERROR"


def test_credit_fully_used_and_invoice_fully_credited_are_paid(
    books: Books, learner: dict[str, Any]
) -> None:
    contact = learner["contact"]
    invoice = books.invoice(contact, line("200.00"))
    credit = learner["credit"]
    allocation = books.allocate(credit["CreditNoteID"], invoice["InvoiceID"], "200.00")
    assert books.get("Invoices", invoice["InvoiceID"])["Status"] == "PAID"
    assert books.get("CreditNotes", credit["CreditNoteID"])["Status"] == "PAID"
    paid_off = books.try_allocate(
        "CreditNotes", books.credit_note(contact)["CreditNoteID"], invoice["InvoiceID"], "1"
    )
    assert errors(paid_off) == [
        "The invoice you are trying to allocate to has already been paid off"
    ]

    removed = books.http.delete(
        f"/CreditNotes/{credit['CreditNoteID']}/Allocations/{allocation['AllocationID']}"
    )
    assert removed.status_code == 200
    assert removed.json()["IsDeleted"] is True
    assert removed.json()["AllocationID"] == allocation["AllocationID"]
    again = books.get("Invoices", invoice["InvoiceID"])
    assert (again["Status"], again["AmountDue"]) == ("AUTHORISED", Decimal("200.00"))
    assert "FullyPaidOnDate" not in again
    note = books.get("CreditNotes", credit["CreditNoteID"])
    assert (note["Status"], note["RemainingCredit"]) == ("AUTHORISED", Decimal("200.00"))
    assert note["Allocations"] == []
    gone = books.http.delete(
        f"/CreditNotes/{credit['CreditNoteID']}/Allocations/{allocation['AllocationID']}"
    )
    assert gone.status_code == 404


def test_only_approved_credit_goes_to_approved_invoices_of_the_same_contact(
    books: Books, learner: dict[str, Any]
) -> None:
    contact, invoice = learner["contact"], learner["invoice"]
    draft_credit = books.credit_note(contact, status="DRAFT")
    item = books.try_allocate(
        "CreditNotes", draft_credit["CreditNoteID"], invoice["InvoiceID"], "1"
    )
    assert errors(item) == ["Only an AUTHORISED credit note can be allocated; this one is DRAFT."]
    draft_invoice = books.invoice(contact, status="DRAFT")
    item = books.try_allocate(
        "CreditNotes", learner["credit"]["CreditNoteID"], draft_invoice["InvoiceID"], "1"
    )
    assert "AUTHORISED invoice" in errors(item)[0]
    stranger = books.invoice(books.contact("Someone Else"))
    item = books.try_allocate(
        "CreditNotes", learner["credit"]["CreditNoteID"], stranger["InvoiceID"], "1"
    )
    assert "different contacts" in errors(item)[0]
    bill = books.invoice(contact, line("50", account="400"), type_="ACCPAY")
    item = books.try_allocate(
        "CreditNotes", learner["credit"]["CreditNoteID"], bill["InvoiceID"], "1"
    )
    assert errors(item) == [
        "Credit of Type ACCRECCREDIT can only be allocated to invoices of Type ACCREC."
    ]
    missing = books.http.put(
        "/CreditNotes/00000000-0000-0000-0000-000000000001/Allocations",
        json={"Allocations": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 1}]},
    )
    assert missing.status_code == 404


def test_applied_credit_notes_cannot_be_edited_or_voided(
    books: Books, learner: dict[str, Any]
) -> None:
    credit = learner["credit"]
    allocation = books.allocate(credit["CreditNoteID"], learner["invoice"]["InvoiceID"], "10")
    for change in ({"Reference": "x"}, {"Status": "VOIDED"}):
        [item] = books.update("CreditNotes", credit["CreditNoteID"], **change).json()["CreditNotes"]
        assert errors(item) == [APPLIED]
    # The invoice it is applied to is frozen too.
    [item] = books.update("Invoices", learner["invoice"]["InvoiceID"], Reference="x").json()[
        "Invoices"
    ]
    assert errors(item) == [APPLIED]
    books.http.delete(
        f"/CreditNotes/{credit['CreditNoteID']}/Allocations/{allocation['AllocationID']}"
    )
    voided = books.update("CreditNotes", credit["CreditNoteID"], Status="VOIDED")
    note = books.json(voided)["CreditNotes"][0]
    assert (note["Status"], note["RemainingCredit"]) == ("VOIDED", Decimal("0.00"))


def test_a_credit_note_is_refunded_with_a_payment(books: Books, learner: dict[str, Any]) -> None:
    credit = learner["credit"]
    refund = books.try_pay({"CreditNote": {"CreditNoteID": credit["CreditNoteID"]}}, "80.00")
    assert refund["StatusAttributeString"] == "OK"
    assert refund["PaymentType"] == "ARCREDITPAYMENT"
    assert refund["CreditNote"]["CreditNoteNumber"] == credit["CreditNoteNumber"]
    note = books.get("CreditNotes", credit["CreditNoteID"])
    assert note["RemainingCredit"] == Decimal("120.00")
    assert [p["Amount"] for p in note["Payments"]] == [Decimal("80.00")]
    too_much = books.try_pay({"CreditNoteNumber": credit["CreditNoteNumber"]}, "120.01")
    assert errors(too_much) == ["Payment amount exceeds the amount outstanding on this document"]


def test_credit_notes_have_no_discounts(books: Books) -> None:
    contact = books.contact("No Discount")
    [item] = books.put(
        "/CreditNotes",
        "CreditNotes",
        {
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": contact},
            "LineItems": [{**line("10"), "DiscountRate": "5"}],
        },
    ).json()["CreditNotes"]
    assert errors(item) == ["Discounts may not be applied to credit notes."]


def test_credit_notes_list_and_filter(books: Books) -> None:
    contact = books.contact("Listed Credit")
    made = [
        books.credit_note(contact, line("10")),
        books.credit_note(contact, line("20"), status="DRAFT"),
        books.credit_note(contact, line("30", account="400"), type_="ACCPAYCREDIT"),
    ]
    body = books.http.get("/CreditNotes", params={"page": 1, "pageSize": 2}).json()
    assert body["pagination"] == {"page": 1, "pageSize": 2, "pageCount": 2, "itemCount": 3}
    drafts = books.http.get("/CreditNotes", params={"where": 'Status=="DRAFT"'}).json()
    assert [c["CreditNoteID"] for c in drafts["CreditNotes"]] == [made[1]["CreditNoteID"]]
    payable = books.http.get(
        "/CreditNotes", params={"where": 'Type=="ACCPAYCREDIT" && RemainingCredit > 20'}
    ).json()
    assert [c["CreditNoteID"] for c in payable["CreditNotes"]] == [made[2]["CreditNoteID"]]
    assert made[2]["CreditNoteNumber"] == ""  # only sales credit notes are numbered automatically


def test_allocations_in_a_batch_report_each_item(books: Books, learner: dict[str, Any]) -> None:
    credit, invoice = learner["credit"], learner["invoice"]
    response = books.http.put(
        f"/CreditNotes/{credit['CreditNoteID']}/Allocations",
        json={
            "Allocations": [
                {
                    "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                    "Amount": 50,
                    "Date": "2026-10-06",
                },
                {
                    "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                    "Amount": 500,
                    "Date": "2026-10-06",
                },
            ]
        },
    )
    assert response.status_code == 400  # summarised by default; the first one is saved
    assert books.get("CreditNotes", credit["CreditNoteID"])["RemainingCredit"] == Decimal("150.00")
    no_date = books.http.put(
        f"/CreditNotes/{credit['CreditNoteID']}/Allocations",
        params={"summarizeErrors": "false"},
        json={"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": 5},
    )
    assert errors(no_date.json()["Allocations"][0]) == ["An allocation needs a Date."]
