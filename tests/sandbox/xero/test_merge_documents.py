"""Xero's web-app Merge moves every document of the merged-away contact, paid or not, to the
contact kept: money is conserved, and the contact's screen shows what it holds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from conftest import XeroSandbox
from sandbox_documents import Books, line


def _merge(sandbox: XeroSandbox, source: str, target: str) -> httpx.Response:
    return httpx.post(
        f"{sandbox.url}/sandbox/organisations/{sandbox.tenant_id}/contacts/{source}/merge",
        json={"TargetContactID": target},
    )


def _holdings(books: Books, contact: str) -> dict[str, Any]:
    """What the API says a contact holds: its documents and the money on them."""
    found: dict[str, Any] = {}
    for collection, id_field, open_field in (
        ("Invoices", "InvoiceID", "AmountDue"),
        ("CreditNotes", "CreditNoteID", "RemainingCredit"),
        ("Prepayments", "PrepaymentID", "RemainingCredit"),
        ("Overpayments", "OverpaymentID", "RemainingCredit"),
    ):
        where = f'Contact.ContactID==Guid("{contact}")'
        body = books.json(books.http.get(f"/{collection}", params={"where": where, "page": 1}))
        for doc in body[collection]:
            found[doc[id_field]] = (doc["Status"], doc["Total"], doc[open_field])
    return found


def test_merge_moves_every_document(xero_sandbox: XeroSandbox, books: Books) -> None:
    legacy = books.contact("Jones, Felicity")
    survivor = books.contact("Felicity Jones DAU0000072", ContactNumber="DAU0000072")
    draft = books.invoice(legacy, status="DRAFT")
    part_paid = books.invoice(legacy, line("400"))
    books.pay(part_paid["InvoiceID"], "150")
    paid = books.invoice(legacy, line("100"))
    payment = books.pay(paid["InvoiceID"], "100")
    credited = books.invoice(legacy, line("90"))
    credit = books.credit_note(legacy, line("50"))
    books.allocate(credit["CreditNoteID"], credited["InvoiceID"], "50")
    voided = books.invoice(legacy, status="AUTHORISED")
    books.update("Invoices", voided["InvoiceID"], Status="VOIDED")
    prepayment = books.receive("PREPAYMENT", legacy, "300")
    overpayment = books.receive("OVERPAYMENT", legacy, "20")
    survivors_own = books.invoice(survivor, line("10"))

    before = _holdings(books, legacy)
    assert len(before) == 8
    updated_before = books.get("Invoices", paid["InvoiceID"])["UpdatedDateUTC"]
    response = _merge(xero_sandbox, legacy, survivor)
    assert response.status_code == 200, response.text

    assert _holdings(books, legacy) == {}
    after = _holdings(books, survivor)
    assert {k: v for k, v in after.items() if k != survivors_own["InvoiceID"]} == before
    moved = books.get("Invoices", paid["InvoiceID"])
    assert moved["Contact"]["ContactID"] == survivor
    assert moved["UpdatedDateUTC"] == updated_before  # see docs/sandbox.md
    assert (
        books.get("Payments", payment["PaymentID"])["Invoice"]["Contact"]["ContactID"] == survivor
    )
    for doc_id, collection in (
        (prepayment["PrepaymentID"], "Prepayments"),
        (overpayment["OverpaymentID"], "Overpayments"),
        (credit["CreditNoteID"], "CreditNotes"),
        (draft["InvoiceID"], "Invoices"),
    ):
        assert books.get(collection, doc_id)["Contact"]["ContactID"] == survivor
    kept = books.json(books.http.get(f"/Contacts/{survivor}"))["Contacts"][0]
    assert kept["IsCustomer"] is True
    assert kept["Balances"]["AccountsReceivable"]["Outstanding"] == Decimal(
        "300.00"
    )  # 250 + 40 + 10
    gone = books.json(books.http.get(f"/Contacts/{legacy}"))["Contacts"][0]
    assert (gone["ContactStatus"], gone["MergedToContactID"]) == ("ARCHIVED", survivor)
    assert gone["Balances"]["AccountsReceivable"]["Outstanding"] == Decimal("0.00")


def test_a_refused_merge_moves_nothing(xero_sandbox: XeroSandbox, books: Books) -> None:
    legacy = books.contact("Stays Put")
    invoice = books.invoice(legacy)
    response = _merge(xero_sandbox, legacy, "00000000-0000-0000-0000-000000000009")
    assert response.status_code == 400
    assert books.get("Invoices", invoice["InvoiceID"])["Contact"]["ContactID"] == legacy


def test_the_contact_screen_lists_its_documents(xero_sandbox: XeroSandbox, books: Books) -> None:
    legacy, survivor = books.contact("Screen Legacy"), books.contact("Screen Survivor")
    invoice = books.invoice(legacy, line("123.45"), InvoiceNumber="SCREEN-1")
    base = f"{xero_sandbox.url}/sandbox/organisations/{xero_sandbox.tenant_id}/contacts"
    page = httpx.get(f"{base}/{legacy}").text
    assert "SCREEN-1" in page
    assert "123.45" in page
    assert "1 documents" in page
    done = httpx.post(f"{base}/{legacy}/merge", data={"target": survivor})
    assert done.status_code == 303
    assert "SCREEN-1" not in httpx.get(f"{base}/{legacy}").text
    assert "SCREEN-1" in httpx.get(f"{base}/{survivor}").text
    assert invoice["InvoiceNumber"] == "SCREEN-1"
