"""Conformance: Xero's official Python SDK (xero-python) reads and writes the sandbox's documents
as it does Xero's: invoices in batches with per-item errors, paged and filtered reads (Decimal
amounts, dates, pagination), edits refused with Xero's message, payments made and deleted,
credit notes, prepayments and overpayments allocated and unallocated, and contact balances."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from xero_python.accounting import (
    Account,
    Allocation,
    Allocations,
    BankTransaction,
    BankTransactions,
    Contact,
    CreditNote,
    CreditNotes,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Payment,
    PaymentDelete,
    Payments,
)
from xero_python.exceptions import AccountingBadRequestException, NotFoundException

from conftest import XeroSandbox
from sandbox_documents import SDK, Books


def _line(amount: str, account: str = "210") -> LineItem:
    return LineItem(
        description="Certificate IV in Training and Assessment",
        quantity=Decimal(1),
        unit_amount=Decimal(amount),
        account_code=account,
    )


def _invoice(contact_id: str, amount: str, **fields: object) -> Invoice:
    fields.setdefault("status", "AUTHORISED")
    return Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact_id),
        line_items=[_line(amount)],
        date=date(2026, 10, 1),
        due_date=date(2026, 10, 31),
        **fields,
    )


def test_invoices_batch_page_and_filter(xero_sdk: SDK, books: Books) -> None:
    contact = books.contact("Sdk Learner")
    created = xero_sdk.accounting.create_invoices(
        "",
        Invoices(
            invoices=[
                _invoice(contact, "1234.56"),
                Invoice(type="ACCREC", contact=Contact(), line_items=[_line("1")]),
                _invoice(contact, "99.99", reference="Resit"),
            ]
        ),
        summarize_errors=False,
    )
    first, bad, third = created.invoices
    assert [i.status_attribute_string for i in created.invoices] == ["OK", "ERROR", "OK"]
    assert bad.validation_errors[0].message.startswith("The Contact must contain at least 1")
    assert first.total == Decimal("1234.56")
    assert first.amount_due == Decimal("1234.56")
    assert first.status == "AUTHORISED"
    assert first.date == date(2026, 10, 1)
    assert first.line_items[0].line_amount == Decimal("1234.56")

    page = xero_sdk.accounting.get_invoices("", page=1, page_size=1)
    assert page.pagination.item_count == 2
    assert page.pagination.page_count == 2
    assert len(page.invoices) == 1
    filtered = xero_sdk.accounting.get_invoices(
        "",
        where="Date >= DateTime(2026, 10, 01) && Total < 100",
        statuses=["AUTHORISED"],
        contact_i_ds=[contact],
        page=1,
    )
    assert [i.invoice_id for i in filtered.invoices] == [third.invoice_id]
    by_number = xero_sdk.accounting.get_invoices("", invoice_numbers=[first.invoice_number])
    assert [i.invoice_id for i in by_number.invoices] == [first.invoice_id]
    one = xero_sdk.accounting.get_invoice("", first.invoice_id)
    assert one.invoices[0].updated_date_utc.tzinfo is not None
    with pytest.raises(NotFoundException):
        xero_sdk.accounting.get_invoice("", "00000000-0000-0000-0000-000000000001")


def test_if_modified_since_header(xero_sdk: SDK, books: Books, xero_sandbox: XeroSandbox) -> None:
    contact = books.contact("Sdk Since")
    old = books.invoice(contact)
    xero_sandbox.clock.advance(120)
    since = datetime.fromtimestamp(xero_sandbox.clock.now(), tz=UTC)
    xero_sandbox.clock.advance(1)
    new = books.invoice(contact)
    changed = xero_sdk.accounting.get_invoices("", if_modified_since=since, page=1)
    assert [str(i.invoice_id) for i in changed.invoices] == [new["InvoiceID"]]
    assert old["InvoiceID"] != new["InvoiceID"]


def test_payments_and_the_edit_rule(xero_sdk: SDK, books: Books) -> None:
    contact = books.contact("Sdk Payer")
    invoice = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(contact, "300.00")])
    ).invoices[0]
    payment = xero_sdk.accounting.create_payment(
        "",
        Payment(
            invoice=Invoice(invoice_id=invoice.invoice_id),
            account=Account(code="090"),
            date=date(2026, 10, 5),
            amount=Decimal("100.00"),
        ),
    ).payments[0]
    assert payment.amount == Decimal("100.00")
    assert payment.payment_type == "ACCRECPAYMENT"
    with pytest.raises(AccountingBadRequestException) as info:
        xero_sdk.accounting.create_payments(
            "",
            Payments(
                payments=[
                    Payment(
                        invoice=Invoice(invoice_id=invoice.invoice_id),
                        account=Account(code="090"),
                        date=date(2026, 10, 5),
                        amount=Decimal("200.01"),
                    )
                ]
            ),
        )
    assert info.value.reason == "Payment amount exceeds the amount outstanding on this document"
    with pytest.raises(AccountingBadRequestException) as info:
        xero_sdk.accounting.update_invoice(
            "", invoice.invoice_id, Invoices(invoices=[Invoice(reference="changed")])
        )
    assert info.value.reason == (
        "This document cannot be edited as it has a payment or credit note allocated to it."
    )
    deleted = xero_sdk.accounting.delete_payment(
        "", payment.payment_id, PaymentDelete(status="DELETED")
    )
    assert deleted.payments[0].status == "DELETED"
    voided = xero_sdk.accounting.update_invoice(
        "", invoice.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
    )
    assert voided.invoices[0].status == "VOIDED"
    listed = xero_sdk.accounting.get_payments("", where='Status=="DELETED"', page=1)
    assert [p.payment_id for p in listed.payments] == [payment.payment_id]


def test_credit_note_allocation(xero_sdk: SDK, books: Books) -> None:
    contact = books.contact("Sdk Credit")
    invoice = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(contact, "500.00")])
    ).invoices[0]
    credit = xero_sdk.accounting.create_credit_notes(
        "",
        CreditNotes(
            credit_notes=[
                CreditNote(
                    type="ACCRECCREDIT",
                    contact=Contact(contact_id=contact),
                    line_items=[_line("120.00")],
                    date=date(2026, 10, 2),
                    status="AUTHORISED",
                )
            ]
        ),
    ).credit_notes[0]
    assert credit.remaining_credit == Decimal("120.00")
    allocation = xero_sdk.accounting.create_credit_note_allocation(
        "",
        credit.credit_note_id,
        Allocations(
            allocations=[
                Allocation(
                    invoice=Invoice(invoice_id=invoice.invoice_id),
                    amount=Decimal("120.00"),
                    date=date(2026, 10, 6),
                )
            ]
        ),
    ).allocations[0]
    assert allocation.amount == Decimal("120.00")
    after = xero_sdk.accounting.get_invoice("", invoice.invoice_id).invoices[0]
    assert after.amount_credited == Decimal("120.00")
    assert after.credit_notes[0].applied_amount == Decimal("120.00")
    note = xero_sdk.accounting.get_credit_note("", credit.credit_note_id).credit_notes[0]
    assert note.status == "PAID"
    removed = xero_sdk.accounting.delete_credit_note_allocations(
        "", credit.credit_note_id, allocation.allocation_id
    )
    assert removed.is_deleted is True
    note = xero_sdk.accounting.get_credit_note("", credit.credit_note_id).credit_notes[0]
    assert (note.status, note.remaining_credit) == ("AUTHORISED", Decimal("120.00"))


@pytest.mark.parametrize("kind", ["PREPAYMENT", "OVERPAYMENT"])
def test_prepayments_and_overpayments(xero_sdk: SDK, books: Books, kind: str) -> None:
    contact = books.contact(f"Sdk {kind.title()}")
    line = LineItem(description="Received early", line_amount=Decimal("80.00"))
    if kind == "PREPAYMENT":
        line.account_code = "210"
    made = xero_sdk.accounting.create_bank_transactions(
        "",
        BankTransactions(
            bank_transactions=[
                BankTransaction(
                    type=f"RECEIVE-{kind}",
                    contact=Contact(contact_id=contact),
                    bank_account=Account(code="090"),
                    line_items=[line],
                    date=date(2026, 10, 3),
                    line_amount_types=(
                        LineAmountTypes.NOTAX
                        if kind == "OVERPAYMENT"
                        else LineAmountTypes.EXCLUSIVE
                    ),
                )
            ]
        ),
        summarize_errors=False,
    ).bank_transactions[0]
    assert made.status_attribute_string == "OK"
    invoice = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(contact, "80.00")])
    ).invoices[0]
    allocation = Allocations(
        allocations=[
            Allocation(
                invoice=Invoice(invoice_id=invoice.invoice_id),
                amount=Decimal("80.00"),
                date=date(2026, 10, 6),
            )
        ]
    )
    if kind == "PREPAYMENT":
        credit_id = made.prepayment_id
        listed = xero_sdk.accounting.get_prepayments("", page=1).prepayments
        assert [p.prepayment_id for p in listed] == [credit_id]
        done = xero_sdk.accounting.create_prepayment_allocations("", credit_id, allocation)
        assert xero_sdk.accounting.get_prepayment("", credit_id).prepayments[0].status == "PAID"
        removed = xero_sdk.accounting.delete_prepayment_allocations(
            "", credit_id, done.allocations[0].allocation_id
        )
    else:
        credit_id = made.overpayment_id
        listed_over = xero_sdk.accounting.get_overpayments("", page=1).overpayments
        assert [p.overpayment_id for p in listed_over] == [credit_id]
        done = xero_sdk.accounting.create_overpayment_allocations("", credit_id, allocation)
        assert xero_sdk.accounting.get_overpayment("", credit_id).overpayments[0].status == "PAID"
        removed = xero_sdk.accounting.delete_overpayment_allocations(
            "", credit_id, done.allocations[0].allocation_id
        )
    assert removed.is_deleted is True
    assert xero_sdk.accounting.get_invoice("", invoice.invoice_id).invoices[
        0
    ].amount_due == Decimal("80.00")


def test_contact_balances(xero_sdk: SDK, books: Books) -> None:
    contact = books.contact("Sdk Balances")
    xero_sdk.accounting.create_invoices("", Invoices(invoices=[_invoice(contact, "42.00")]))
    found = xero_sdk.accounting.get_contact("", contact).contacts[0]
    assert found.is_customer is True
    assert found.balances.accounts_receivable.outstanding == Decimal("42.00")
    assert found.balances.accounts_receivable.overdue == Decimal("42.00")  # due 2026-10-31


def test_the_life_of_an_invoice_through_the_sdk(
    xero_sdk: SDK, books: Books, xero_sandbox: XeroSandbox
) -> None:
    """The issue's sequence: an AUTHORISED invoice changes contact while unpaid, is part paid,
    then refuses the change with Xero's message; a credit note is allocated; documents are
    voided and deleted where Xero allows it; invoices are paged by date range; and the
    sandbox's Merge moves paid and unpaid documents and sets MergedToContactID."""
    legacy = books.contact("Felicity Jones")
    survivor = books.contact("Felicity Jones DAU0000072")
    invoice = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(legacy, "400.00")])
    ).invoices[0]
    assert invoice.status == "AUTHORISED"
    moved = xero_sdk.accounting.update_invoice(
        "",
        invoice.invoice_id,
        Invoices(invoices=[Invoice(contact=Contact(contact_id=survivor), status="AUTHORISED")]),
    ).invoices[0]
    assert str(moved.contact.contact_id) == survivor
    xero_sdk.accounting.create_payment(
        "",
        Payment(
            invoice=Invoice(invoice_id=invoice.invoice_id),
            account=Account(code="090"),
            date=date(2026, 10, 5),
            amount=Decimal("150.00"),
        ),
    )
    with pytest.raises(AccountingBadRequestException) as info:
        xero_sdk.accounting.update_invoice(
            "", invoice.invoice_id, Invoices(invoices=[Invoice(contact=Contact(contact_id=legacy))])
        )
    assert info.value.reason == (
        "This document cannot be edited as it has a payment or credit note allocated to it."
    )
    credit = xero_sdk.accounting.create_credit_notes(
        "",
        CreditNotes(
            credit_notes=[
                CreditNote(
                    type="ACCRECCREDIT",
                    contact=Contact(contact_id=survivor),
                    line_items=[_line("50.00")],
                    date=date(2026, 10, 6),
                    status="AUTHORISED",
                )
            ]
        ),
    ).credit_notes[0]
    xero_sdk.accounting.create_credit_note_allocation(
        "",
        credit.credit_note_id,
        Allocations(
            allocations=[
                Allocation(
                    invoice=Invoice(invoice_id=invoice.invoice_id),
                    amount=Decimal("50.00"),
                    date=date(2026, 10, 6),
                )
            ]
        ),
    )
    after = xero_sdk.accounting.get_invoice("", invoice.invoice_id).invoices[0]
    assert (after.amount_paid, after.amount_credited, after.amount_due) == (
        Decimal("150.00"),
        Decimal("50.00"),
        Decimal("200.00"),
    )
    # Voiding needs nothing applied: refused here, allowed on an unpaid invoice.
    with pytest.raises(AccountingBadRequestException):
        xero_sdk.accounting.update_invoice(
            "", invoice.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
        )
    unpaid = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(legacy, "75.00")])
    ).invoices[0]
    voided = xero_sdk.accounting.update_invoice(
        "", unpaid.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])
    ).invoices[0]
    assert voided.status == "VOIDED"
    # Deleting is for drafts only.
    draft = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(legacy, "20.00", status="DRAFT")])
    ).invoices[0]
    deleted = xero_sdk.accounting.update_invoice(
        "", draft.invoice_id, Invoices(invoices=[Invoice(status="DELETED")])
    ).invoices[0]
    assert deleted.status == "DELETED"
    with pytest.raises(AccountingBadRequestException):
        xero_sdk.accounting.update_invoice(
            "", invoice.invoice_id, Invoices(invoices=[Invoice(status="DELETED")])
        )
    # Paging by date range.
    later = _invoice(legacy, "10.00")
    later.date, later.due_date = date(2026, 11, 2), date(2026, 11, 30)
    xero_sdk.accounting.create_invoices("", Invoices(invoices=[later]))
    october = xero_sdk.accounting.get_invoices(
        "",
        where="Date >= DateTime(2026, 10, 01) && Date < DateTime(2026, 11, 01)",
        page=1,
        page_size=2,
    )
    assert october.pagination.item_count == 3  # the part-paid, the voided and the deleted one
    assert october.pagination.page_count == 2
    second = xero_sdk.accounting.get_invoices(
        "",
        where="Date >= DateTime(2026, 10, 01) && Date < DateTime(2026, 11, 01)",
        page=2,
        page_size=2,
    )
    in_october = [*october.invoices, *second.invoices]
    assert len({i.invoice_id for i in in_october}) == 3
    assert all(i.date < date(2026, 11, 1) for i in in_october)
    # One more unpaid and one paid invoice on the legacy contact, then Xero's Merge.
    open_one = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(legacy, "33.00")])
    ).invoices[0]
    paid_one = xero_sdk.accounting.create_invoices(
        "", Invoices(invoices=[_invoice(legacy, "44.00")])
    ).invoices[0]
    xero_sdk.accounting.create_payment(
        "",
        Payment(
            invoice=Invoice(invoice_id=paid_one.invoice_id),
            account=Account(code="090"),
            date=date(2026, 10, 7),
            amount=Decimal("44.00"),
        ),
    )
    merged = httpx.post(
        f"{xero_sandbox.url}/sandbox/organisations/{xero_sandbox.tenant_id}/contacts/"
        f"{legacy}/merge",
        json={"TargetContactID": survivor},
    )
    assert merged.status_code == 200
    gone = xero_sdk.accounting.get_contact("", legacy).contacts[0]
    assert gone.contact_status == "ARCHIVED"
    assert str(gone.merged_to_contact_id) == survivor
    held = xero_sdk.accounting.get_invoices("", contact_i_ds=[survivor], page=1)
    statuses = {str(i.invoice_id): i.status for i in held.invoices}
    assert statuses[str(open_one.invoice_id)] == "AUTHORISED"
    assert statuses[str(paid_one.invoice_id)] == "PAID"
    assert xero_sdk.accounting.get_invoices("", contact_i_ds=[legacy], page=1).invoices == []
