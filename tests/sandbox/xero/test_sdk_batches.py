"""Conformance: a batch with one accepted and one refused item, sent with
``summarizeErrors=false`` through Xero's official Python SDK (xero-python), is read back whole
for every kind of record the sandbox takes in batches. The refused item comes back in Xero's
own serialisation (``/Date(ms+0000)/`` dates, Decimal amounts) with its ValidationErrors, so
the SDK reads both items; a raw echo of the request (``"Date": "2026-12-01"``) would make the
SDK refuse the whole answer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from xero_python.accounting import (
    Account,
    Address,
    Allocation,
    Allocations,
    BankTransaction,
    BankTransactions,
    Contact,
    Contacts,
    CreditNote,
    CreditNotes,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Payment,
    Payments,
    Phone,
)

from sandbox_documents import SDK, Books


def _line(amount: str, account: str = "210") -> LineItem:
    return LineItem(
        description="Certificate IV in Training and Assessment",
        quantity=Decimal(2),
        unit_amount=Decimal(amount),
        account_code=account,
    )


def _messages(item: object) -> list[str]:
    return [e.message for e in getattr(item, "validation_errors", None) or []]


def test_contacts(xero_sdk: SDK) -> None:
    good = Contact(
        name="Good Learner DAU0000001",
        contact_number="DAU0000001",
        phones=[Phone(phone_type="MOBILE", phone_number="0412 345 678")],
        addresses=[Address(address_type="STREET", city="Ballarat", region="VIC")],
    )
    bad = Contact(
        name="Bad Learner DAU0000002",
        contact_number="DAU0000002",
        email_address="not-an-address",
        phones=[Phone(phone_type="MOBILE", phone_number="0400 000 000")],
        addresses=[Address(address_type="POBOX", city="Geelong", postal_code="3220")],
    )
    # PUT creates the good contact; POST then updates it (matched by its ContactNumber).
    for write, email in (
        (xero_sdk.accounting.create_contacts, "good@example.com"),
        (xero_sdk.accounting.update_or_create_contacts, "good.again@example.com"),
    ):
        good.email_address = email
        result = write("", Contacts(contacts=[good, bad]), summarize_errors=False)
        ok, refused = result.contacts
        assert (ok.status_attribute_string, refused.status_attribute_string) == ("OK", "ERROR")
        assert ok.contact_id is not None
        assert ok.email_address == email
        assert ok.updated_date_utc.tzinfo is not None
        assert refused.has_validation_errors is True
        assert _messages(refused) == ["Email address must be valid."]
        assert refused.name == "Bad Learner DAU0000002"
        assert refused.contact_number == "DAU0000002"
        assert refused.contact_id is None
        assert [p.phone_number for p in refused.phones if p.phone_type == "MOBILE"] == [
            "0400 000 000"
        ]


def test_invoices(xero_sdk: SDK, books: Books) -> None:
    contact = books.contact("Sdk Batch Invoice")
    good = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact),
        line_items=[_line("100.00")],
        date=date(2026, 11, 2),
        due_date=date(2026, 11, 30),
        reference="Good",
        status="AUTHORISED",
    )
    bad = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact),
        line_items=[_line("50.00", account="999")],
        date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        reference="Refused",
        status="AUTHORISED",
    )
    for write in (
        xero_sdk.accounting.create_invoices,
        xero_sdk.accounting.update_or_create_invoices,
    ):
        result = write("", Invoices(invoices=[good, bad]), summarize_errors=False)
        ok, refused = result.invoices
        assert (ok.status_attribute_string, refused.status_attribute_string) == ("OK", "ERROR")
        assert ok.total == Decimal("200.00")
        assert ok.date == date(2026, 11, 2)
        assert ok.invoice_number.startswith("INV-")
        assert refused.has_errors is True
        assert _messages(refused) == [
            "Account code '999' is not a valid code for this document.",
            "Each line item of this invoice needs an AccountCode.",
        ]
        assert (refused.date, refused.due_date) == (date(2026, 12, 1), date(2026, 12, 31))
        assert refused.reference == "Refused"
        assert str(refused.contact.contact_id) == contact
        assert refused.line_items[0].unit_amount == Decimal("50.00")
        assert refused.line_items[0].account_code == "999"
    assert len(xero_sdk.accounting.get_invoices("", page=1).invoices) == 2


def test_credit_notes(xero_sdk: SDK, books: Books) -> None:
    contact = books.contact("Sdk Batch Credit")
    notes = [
        CreditNote(
            type="ACCRECCREDIT",
            contact=Contact(contact_id=contact),
            line_items=[_line(amount, account=account)],
            date=day,
            status="AUTHORISED",
        )
        for amount, account, day in (
            ("20.00", "210", date(2026, 11, 3)),
            ("30.00", "999", date(2026, 12, 2)),
        )
    ]
    for write in (
        xero_sdk.accounting.create_credit_notes,
        xero_sdk.accounting.update_or_create_credit_notes,
    ):
        result = write("", CreditNotes(credit_notes=notes), summarize_errors=False)
        ok, refused = result.credit_notes
        assert (ok.status_attribute_string, refused.status_attribute_string) == ("OK", "ERROR")
        assert ok.remaining_credit == Decimal("40.00")
        assert ok.date == date(2026, 11, 3)
        assert refused.has_errors is True
        assert _messages(refused) == [
            "Account code '999' is not a valid code for this document.",
            "Each line item of this credit note needs an AccountCode.",
        ]
        assert refused.date == date(2026, 12, 2)
        assert refused.line_items[0].unit_amount == Decimal("30.00")


def test_payments(xero_sdk: SDK, books: Books) -> None:
    contact = books.contact("Sdk Batch Payer")
    invoice_id = books.invoice(contact)["InvoiceID"]  # 1000.00
    result = xero_sdk.accounting.create_payments(
        "",
        Payments(
            payments=[
                Payment(
                    invoice=Invoice(invoice_id=invoice_id),
                    account=Account(code="090"),
                    date=date(2026, 11, 5),
                    amount=Decimal("400.00"),
                    reference="First instalment",
                ),
                Payment(
                    invoice=Invoice(invoice_id=invoice_id),
                    account=Account(code="090"),
                    date=date(2026, 12, 5),
                    amount=Decimal("600.01"),
                    reference="Too much",
                ),
            ]
        ),
        summarize_errors=False,
    )
    ok, refused = result.payments
    assert (ok.status_attribute_string, refused.status_attribute_string) == ("OK", "ERROR")
    assert ok.amount == Decimal("400.00")
    assert ok.date == date(2026, 11, 5)
    assert ok.payment_type == "ACCRECPAYMENT"
    assert refused.has_validation_errors is True
    assert _messages(refused) == ["Payment amount exceeds the amount outstanding on this document"]
    assert refused.date == date(2026, 12, 5)
    assert refused.amount == Decimal("600.01")
    assert str(refused.invoice.invoice_id) == invoice_id
    assert refused.account.code == "090"


@pytest.mark.parametrize("kind", ["PREPAYMENT", "OVERPAYMENT"])
def test_bank_transactions(xero_sdk: SDK, books: Books, kind: str) -> None:
    contact = books.contact(f"Sdk Batch {kind.title()}")
    line = LineItem(description="Received early", line_amount=Decimal("80.00"))
    if kind == "PREPAYMENT":
        line.account_code = "210"
    amount_types = LineAmountTypes.NOTAX if kind == "OVERPAYMENT" else LineAmountTypes.EXCLUSIVE
    transactions = [
        BankTransaction(
            type=f"RECEIVE-{kind}",
            contact=Contact(contact_id=contact),
            bank_account=Account(code=bank),
            line_items=[line],
            date=day,
            line_amount_types=amount_types,
        )
        for bank, day in (("090", date(2026, 11, 6)), ("200", date(2026, 12, 6)))
    ]
    for write in (
        xero_sdk.accounting.create_bank_transactions,
        xero_sdk.accounting.update_or_create_bank_transactions,
    ):
        result = write("", BankTransactions(bank_transactions=transactions), summarize_errors=False)
        ok, refused = result.bank_transactions
        assert (ok.status_attribute_string, refused.status_attribute_string) == ("OK", "ERROR")
        assert ok.total == Decimal("80.00")
        assert ok.date == date(2026, 11, 6)
        assert (ok.prepayment_id if kind == "PREPAYMENT" else ok.overpayment_id) is not None
        assert _messages(refused) == [
            "Payments go into or out of a bank account (or an account with payments enabled); "
            "account 200 is neither."
        ]
        assert refused.date == date(2026, 12, 6)
        assert refused.type == f"RECEIVE-{kind}"
        assert refused.bank_account.code == "200"
        assert refused.line_items[0].line_amount == Decimal("80.00")


@pytest.mark.parametrize("kind", ["CREDITNOTE", "PREPAYMENT", "OVERPAYMENT"])
def test_allocations(xero_sdk: SDK, books: Books, kind: str) -> None:
    contact = books.contact(f"Sdk Batch Allocation {kind.title()}")
    invoice_id = books.invoice(contact)["InvoiceID"]
    allocations = Allocations(
        allocations=[
            Allocation(invoice=Invoice(invoice_id=invoice_id), amount=Decimal("50.00"), date=day)
            for day in (date(2026, 11, 7), date(2026, 12, 7))
        ]
    )
    if kind == "CREDITNOTE":
        credit_id = books.credit_note(contact, status="AUTHORISED")["CreditNoteID"]  # 200.00
        allocations.allocations[1].amount = Decimal("150.01")
        result = xero_sdk.accounting.create_credit_note_allocation(
            "", credit_id, allocations, summarize_errors=False
        )
        label = "Credit Note"
    elif kind == "PREPAYMENT":
        credit_id = books.receive(kind, contact, "80.00")["PrepaymentID"]
        allocations.allocations[1].amount = Decimal("30.01")
        result = xero_sdk.accounting.create_prepayment_allocations(
            "", credit_id, allocations, summarize_errors=False
        )
        label = "Prepayment"
    else:
        credit_id = books.receive(kind, contact, "80.00")["OverpaymentID"]
        allocations.allocations[1].amount = Decimal("30.01")
        result = xero_sdk.accounting.create_overpayment_allocations(
            "", credit_id, allocations, summarize_errors=False
        )
        label = "Overpayment"
    ok, refused = result.allocations
    assert (ok.status_attribute_string, refused.status_attribute_string) == ("OK", "ERROR")
    assert ok.amount == Decimal("50.00")
    assert ok.date == date(2026, 11, 7)
    assert ok.allocation_id is not None
    assert _messages(refused) == [
        f"{label} cannot be allocated as amount is greater than amount outstanding"
    ]
    assert refused.date == date(2026, 12, 7)
    assert str(refused.invoice.invoice_id) == invoice_id
