"""The Xero sandbox re-points documents as Xero's API does (xero-api-notes §4.4), in the batch
``POST /Invoices`` and ``POST /CreditNotes`` a merge sends, and its web app has Xero's Merge
(the contact to keep picked by its Name) and Restore."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import XeroSandbox
from sandbox_documents import Books, errors, line

APPLIED = "This document cannot be edited as it has a payment or credit note allocated to it."
ARCHIVED = (
    "The contact with the specified contact details has been archived. The contact must be "
    "un-archived before creating new invoices or credit notes."
)


@pytest.fixture
def books(xero_sandbox: XeroSandbox) -> Books:
    return Books(xero_sandbox, xero_sandbox.http())


def _archive(books: Books, contact: str) -> None:
    body = {"Contacts": [{"ContactStatus": "ARCHIVED"}]}
    response = books.http.post(f"/Contacts/{contact}", json=body)
    assert response.status_code == 200, response.text


def _repoint(books: Books, collection: str, doc: dict[str, Any], target: str) -> dict[str, Any]:
    id_field = "InvoiceID" if collection == "Invoices" else "CreditNoteID"
    response = books.http.post(
        f"/{collection}",
        params={"summarizeErrors": "false"},
        json={
            collection: [
                {id_field: doc[id_field], "Contact": {"ContactID": target}, "Status": doc["Status"]}
            ]
        },
    )
    assert response.status_code == 200, response.text
    return dict(books.json(response)[collection][0])


def test_what_can_be_re_pointed_by_status(books: Books) -> None:
    legacy, survivor = books.contact("Legacy L"), books.contact("Learner DAU0000009")
    movable = [
        books.invoice(legacy, status="DRAFT"),
        books.invoice(legacy, status="SUBMITTED"),
        books.invoice(legacy),
        books.credit_note(legacy),
    ]
    part_paid = books.invoice(legacy, line("400"))
    books.pay(part_paid["InvoiceID"], "10")
    paid = books.invoice(legacy, line("50"))
    books.pay(paid["InvoiceID"], "50")
    credited = books.invoice(legacy, line("80"))
    allocated = books.credit_note(legacy, line("30"))
    books.allocate(allocated["CreditNoteID"], credited["InvoiceID"], "20")  # 10 left
    voided = books.invoice(legacy)
    books.update("Invoices", voided["InvoiceID"], Status="VOIDED")
    deleted = books.invoice(legacy, status="DRAFT")
    books.update("Invoices", deleted["InvoiceID"], Status="DELETED")

    for doc in movable:
        collection = "CreditNotes" if "CreditNoteID" in doc else "Invoices"
        moved = _repoint(books, collection, doc, survivor)
        assert moved["StatusAttributeString"] == "OK", moved
        assert moved["Contact"]["ContactID"] == survivor
        assert moved["Status"] == doc["Status"]
    refusals = {
        "part paid": (_repoint(books, "Invoices", part_paid, survivor), APPLIED),
        "credited": (_repoint(books, "Invoices", credited, survivor), APPLIED),
        "allocated": (_repoint(books, "CreditNotes", allocated, survivor), APPLIED),
        "paid": (
            _repoint(books, "Invoices", books.get("Invoices", paid["InvoiceID"]), survivor),
            "Invoice not of valid status for modification",
        ),
        "voided": (
            _repoint(books, "Invoices", books.get("Invoices", voided["InvoiceID"]), survivor),
            "Invoice not of valid status for modification",
        ),
        "deleted": (
            _repoint(books, "Invoices", books.get("Invoices", deleted["InvoiceID"]), survivor),
            "Invoice not of valid status for modification",
        ),
    }
    for case, (item, message) in refusals.items():
        assert item["StatusAttributeString"] == "ERROR", case
        assert message in errors(item), (case, errors(item))
    for doc in (part_paid, paid, credited, voided, deleted):
        assert books.get("Invoices", doc["InvoiceID"])["Contact"]["ContactID"] == legacy


def test_nothing_moves_to_an_archived_contact(books: Books) -> None:
    legacy, gone = books.contact("Legacy M"), books.contact("Archived N")
    archived = books.http.post(
        f"/Contacts/{gone}", json={"Contacts": [{"ContactStatus": "ARCHIVED"}]}
    )
    assert archived.status_code == 200, archived.text
    draft = books.invoice(legacy, status="DRAFT")
    item = _repoint(books, "Invoices", draft, gone)
    assert errors(item) == [ARCHIVED]


def _web(sandbox: XeroSandbox, contact: str, action: str, **form: str) -> httpx.Response:
    url = f"{sandbox.url}/sandbox/organisations/{sandbox.tenant_id}/contacts/{contact}/{action}"
    return httpx.post(url, data=form)


def test_merge_by_name_and_restore(xero_sandbox: XeroSandbox, books: Books) -> None:
    legacy = books.contact("Jones, Fliss")
    survivor = books.contact("Fliss Jones DAU0000010", ContactNumber="DAU0000010")
    twin_a, twin_b = books.contact("Sam Lee"), books.contact("Sam Lee (2)")
    paid = books.invoice(legacy, line("70"))
    books.pay(paid["InvoiceID"], "70")

    unknown = _web(xero_sandbox, legacy, "merge", target="Nobody Here")
    assert unknown.status_code == 303
    assert "No%20active%20contact%20is%20named" in unknown.headers["location"]
    merged = _web(xero_sandbox, legacy, "merge", target="fliss jones  DAU0000010")
    assert merged.status_code == 303
    assert books.get("Contacts", legacy)["MergedToContactID"] == survivor
    assert books.get("Invoices", paid["InvoiceID"])["Contact"]["ContactID"] == survivor

    restored = _web(xero_sandbox, legacy, "restore", confirm="yes")  # the button's form
    assert restored.status_code == 303
    contact = books.get("Contacts", legacy)
    assert contact["ContactStatus"] == "ACTIVE"
    assert "MergedToContactID" not in contact
    # Its documents stayed with the contact it was merged into.
    assert books.get("Invoices", paid["InvoiceID"])["Contact"]["ContactID"] == survivor
    assert (
        "Restore"
        not in httpx.get(
            f"{xero_sandbox.url}/sandbox/organisations/{xero_sandbox.tenant_id}/contacts/{legacy}"
        ).text
    )

    # A contact whose Name an active contact now has cannot be restored.
    _archive(books, twin_a)
    renamed = books.http.post(f"/Contacts/{twin_b}", json={"Contacts": [{"Name": "Sam Lee"}]})
    assert renamed.status_code == 200, renamed.text
    refused = httpx.post(
        f"{xero_sandbox.url}/sandbox/organisations/{xero_sandbox.tenant_id}/contacts/{twin_a}/"
        "restore",
        json={},
    )
    assert refused.status_code == 400
    assert "Another active contact is named 'Sam Lee'" in refused.json()["error"]
