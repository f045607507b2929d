"""Xero's documents in Wisenet's shape: payments and credits folded into ``Payments[]``, lines
Wisenet v1 cannot hold as they are, open credit, and the digest that decides what is written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from learnerledger.domain.documents import MirroredDocument
from learnerledger.resync.shape import (
    allocations,
    canonical,
    digest,
    open_credit,
    outstanding,
    wisenet_invoice,
)

INVOICE_ID = "9F1C2D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F"
CREDIT_ID = "c0000000-0000-4000-8000-000000000001"
PREPAY_ID = "c0000000-0000-4000-8000-000000000002"


def xero_line(quantity: str, unit: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "Description": "Certificate III tuition",
        "Quantity": Decimal(quantity),
        "UnitAmount": Decimal(unit),
        "LineAmount": Decimal(amount),
        "AccountCode": "210",
        "TaxType": "EXEMPTOUTPUT",
        "TaxAmount": Decimal("0.00"),
        **extra,
    }


def document(kind: str = "invoice", **data: Any) -> MirroredDocument:
    fields: dict[str, Any] = {
        "kind": kind,
        "document_id": INVOICE_ID,
        "type": "ACCREC",
        "number": "INV-0042",
        "reference": "CERT3-2026-T1",
        "status": "AUTHORISED",
        "contact_id": "contact-1",
        "applies_to_id": None,
        "date": date(2026, 3, 5),
        "due_date": date(2026, 3, 19),
        "currency": "AUD",
        "total": Decimal("1250.00"),
        "amount_due": Decimal("650.00"),
        "amount_paid": Decimal("500.00"),
        "amount_credited": Decimal("100.00"),
        "remaining_credit": None,
        "updated_ms": 1_773_290_469_123,
        "data": {"LineItems": [xero_line("1.0000", "1250.00", "1250.00")]},
    }
    for key in list(data):
        if key in fields:
            fields[key] = data.pop(key)
    fields["data"] = {**fields["data"], **data}
    return MirroredDocument(**fields)


def test_an_invoice_takes_wisenets_shape_with_its_payments_and_credits() -> None:
    doc = document(
        Payments=[{"PaymentID": "p1", "Date": "/Date(1773100800000+0000)/", "Amount": 500}],
        CreditNotes=[
            {"CreditNoteID": CREDIT_ID, "AppliedAmount": Decimal("100.00"), "Date": "/Date(0)/"}
        ],
    )
    credit = document(
        "credit_note",
        document_id=CREDIT_ID,
        type="ACCRECCREDIT",
        Allocations=[
            {
                "Amount": Decimal("100.00"),
                "Date": "/Date(1773187200000+0000)/",
                "Invoice": {"InvoiceID": INVOICE_ID.lower()},
            }
        ],
    )
    [(invoice_id, applied)] = allocations(credit)
    assert invoice_id == INVOICE_ID.lower()
    shaped = wisenet_invoice(doc, learner_id=4021, applied=[applied])
    assert shaped.notes == ()
    body = shaped.body
    assert body == {
        "InvoiceId": INVOICE_ID,
        "LearnerId": 4021,
        "InvoiceNumber": "INV-0042",
        "InvoiceReference": "CERT3-2026-T1",
        "SourceAppKey": "Xero",
        "Status": "AUTHORISED",
        "Date": "2026-03-05T00:00:00",
        "DueDate": "2026-03-19T00:00:00",
        "LineItems": [
            {
                "ItemCode": None,
                "Description": "Certificate III tuition",
                "Quantity": 1,
                "UnitAmount": Decimal("1250.00"),
                "AccountCode": "210",
                "TaxType": "EXEMPTOUTPUT",
                "TaxAmount": Decimal("0.00"),
                "LineAmount": Decimal("1250.00"),
            }
        ],
        "AmountTotal": Decimal("1250.00"),
        "AmountDue": Decimal("650.00"),
        "AmountPaid": Decimal("500.00"),
        "AmountCredited": Decimal("100.00"),
        "UpdateDateUtc": "2026-03-12T04:41:09.123",
        # the credit note on the day it was applied (its own record), not the day it was raised
        "Payments": [
            {"Type": "Payment", "Date": "2026-03-10T00:00:00", "Amount": 500},
            {"Type": "CreditNote", "Date": "2026-03-11T00:00:00", "Amount": Decimal("100.00")},
        ],
    }


def test_prepayments_and_overpayments_are_payments_of_their_own_type() -> None:
    doc = document(
        Prepayments=[{"PrepaymentID": PREPAY_ID, "AppliedAmount": Decimal("300.00")}],
        Overpayments=[
            {"OverpaymentID": "o1", "AppliedAmount": Decimal("12.34"), "Date": "2026-03-07"}
        ],
    )
    payments = wisenet_invoice(doc, learner_id=1).body["Payments"]
    assert payments == [
        {"Type": "Prepayment", "Date": None, "Amount": Decimal("300.00")},
        {"Type": "Overpayment", "Date": "2026-03-07T00:00:00", "Amount": Decimal("12.34")},
    ]


def test_a_fractional_quantity_is_rounded_only_when_the_amount_stays() -> None:
    kept = wisenet_invoice(
        document(LineItems=[xero_line("2.0004", "50.00", "100.00")]), learner_id=1
    )
    assert kept.body["LineItems"][0]["Quantity"] == 2
    assert kept.body["LineItems"][0]["UnitAmount"] == Decimal("50.00")
    assert [n.code for n in kept.notes] == ["fractional_quantity"]
    assert "unchanged" in kept.notes[0].message

    folded = wisenet_invoice(
        document(LineItems=[xero_line("1.5", "100.00", "150.00")]), learner_id=1
    )
    line = folded.body["LineItems"][0]
    assert (line["Quantity"], line["UnitAmount"], line["LineAmount"]) == (
        1,
        Decimal("150.00"),
        Decimal("150.00"),
    )
    assert [n.code for n in folded.notes] == ["fractional_quantity"]
    assert "Line 1" in folded.notes[0].message
    assert "1.5" in folded.notes[0].message


def test_a_discounted_line_is_sent_at_its_amount() -> None:
    shaped = wisenet_invoice(
        document(LineItems=[xero_line("2", "100.00", "180.00", DiscountRate=Decimal("10"))]),
        learner_id=1,
    )
    line = shaped.body["LineItems"][0]
    assert (line["Quantity"], line["UnitAmount"], line["LineAmount"]) == (
        1,
        Decimal("180.00"),
        Decimal("180.00"),
    )
    assert [n.code for n in shaped.notes] == ["discount"]


def test_open_credit_is_not_representable_and_applied_credit_is_not_listed() -> None:
    open_note = document(
        "credit_note", type="ACCRECCREDIT", number="CN-0007", remaining_credit=Decimal("50.00")
    )
    note = open_credit(open_note)
    assert note is not None
    assert note.code == "open_credit"
    assert "CN-0007" in note.message
    assert "50.00" in note.message
    spent = document("credit_note", type="ACCRECCREDIT", remaining_credit=Decimal("0.00"))
    assert open_credit(spent) is None
    draft = document(
        "prepayment", type="RECEIVE-PREPAYMENT", status="DRAFT", remaining_credit=Decimal("5")
    )
    assert open_credit(draft) is None
    supplier = document("credit_note", type="ACCPAYCREDIT", remaining_credit=Decimal("50.00"))
    assert open_credit(supplier) is None


def test_outstanding_counts_approved_invoices_only() -> None:
    assert outstanding("AUTHORISED", Decimal("650.00")) == Decimal("650.00")
    for status in ("DRAFT", "SUBMITTED", "PAID", "VOIDED", "DELETED", None):
        assert outstanding(status, Decimal("650.00")) == Decimal("0.00")


def test_what_wisenet_answers_compares_equal_to_what_was_sent() -> None:
    sent = wisenet_invoice(document(), learner_id=4021).body
    # Wisenet answers amounts as plain numbers, every declared field present, ids in any case.
    answered = {
        **sent,
        "InvoiceId": INVOICE_ID.lower(),
        "AmountTotal": 1250,
        "AmountDue": Decimal("650"),
        "LineItems": [{**sent["LineItems"][0], "UnitAmount": 1250, "TaxAmount": 0}],
        "Relationships": {},
    }
    assert canonical(answered) == canonical(sent)
    assert digest("wisenet", "DAU0000001", answered) == digest("wisenet", "DAU0000001", sent)


def test_the_digest_changes_with_the_learner_the_sms_and_the_money() -> None:
    body = wisenet_invoice(document(), learner_id=4021).body
    base = digest("wisenet", "DAU0000001", body)
    assert digest("wisenet", "DAU0000002", body) != base
    assert digest("csv", "DAU0000001", body) != base
    assert digest("wisenet", "DAU0000001", {**body, "AmountDue": Decimal("649.99")}) != base
    assert digest("wisenet", "DAU0000001", {**body, "Status": "PAID"}) != base


@given(
    st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2),
    st.integers(min_value=0, max_value=4),
)
def test_an_amount_compares_by_value_whatever_its_trailing_zeros(
    amount: Decimal, zeros: int
) -> None:
    padded = amount.quantize(Decimal(1).scaleb(-(2 + zeros)))
    as_number: Any = int(amount) if amount == amount.to_integral_value() else amount
    assert canonical({"AmountDue": padded}) == canonical({"AmountDue": as_number})
