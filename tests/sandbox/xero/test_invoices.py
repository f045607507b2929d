"""Invoices in the sandbox behave as Xero's do: totals in Decimal with GST, automatic numbers,
the status machine and the edit rules, line items on update, contacts, reading and listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import XeroSandbox
from learnerledger.sandbox.xero import Limits
from sandbox_documents import Books, errors, line

NOT_MODIFIABLE = "Invoice not of valid status for modification"
APPLIED = "This document cannot be edited as it has a payment or credit note allocated to it."


def test_totals_are_decimal_with_gst_per_line(books: Books) -> None:
    contact = books.contact("Felicity Jones")
    invoice = books.invoice(
        contact,
        line("1200.00"),  # accredited training: GST free (210)
        {"Description": "Learner kit", "Quantity": 2, "UnitAmount": "55.50", "AccountCode": "200"},
    )
    assert invoice["InvoiceNumber"] == "INV-0001"
    assert invoice["Status"] == "AUTHORISED"
    kit = invoice["LineItems"][1]
    assert (kit["TaxType"], kit["TaxAmount"], kit["LineAmount"]) == (
        "OUTPUT",
        Decimal("11.10"),
        Decimal("111.00"),
    )
    assert invoice["LineItems"][0]["TaxType"] == "EXEMPTOUTPUT"
    assert invoice["SubTotal"] == Decimal("1311.00")
    assert invoice["TotalTax"] == Decimal("11.10")
    assert invoice["Total"] == invoice["AmountDue"] == Decimal("1322.10")
    assert (invoice["AmountPaid"], invoice["AmountCredited"]) == (Decimal("0.00"), Decimal("0.00"))
    assert invoice["Contact"]["ContactID"] == contact
    assert invoice["Date"] == "/Date(1790812800000+0000)/"  # 2026-10-01, midnight UTC
    assert invoice["DateString"] == "2026-10-01T00:00:00"
    assert books.invoice(contact)["InvoiceNumber"] == "INV-0002"


def test_money_is_written_as_json_numbers_with_two_decimals(books: Books) -> None:
    contact = books.contact("Wire Format")
    invoice = books.invoice(contact, line("100"))
    raw = books.http.get(f"/Invoices/{invoice['InvoiceID']}").text
    assert '"Total":100.00' in raw
    assert '"AmountDue":100.00' in raw
    assert '"Quantity":1.0000' in raw
    assert '"CurrencyRate":1.000000' in raw


@pytest.mark.parametrize(
    ("amount_types", "unit_amount", "tax", "sub_total", "total"),
    [
        ("Exclusive", "100.00", "10.00", "100.00", "110.00"),
        ("Inclusive", "110.00", "10.00", "100.00", "110.00"),
        ("NoTax", "100.00", "0.00", "100.00", "100.00"),
        # Half up, not half even: 0.05 at 10% is 0.005 of tax, which rounds to 0.01.
        ("Exclusive", "0.05", "0.01", "0.05", "0.06"),
        ("Exclusive", "10.005", "1.00", "10.01", "11.01"),
    ],
)
def test_line_amount_types_and_rounding(
    books: Books, amount_types: str, unit_amount: str, tax: str, sub_total: str, total: str
) -> None:
    contact = books.contact("Rounding Rita")
    invoice = books.invoice(contact, line(unit_amount, account="200"), LineAmountTypes=amount_types)
    assert invoice["TotalTax"] == Decimal(tax)
    assert invoice["SubTotal"] == Decimal(sub_total)
    assert invoice["Total"] == Decimal(total)


def test_unit_amounts_keep_four_decimals_with_unitdp(books: Books) -> None:
    contact = books.contact("Four Decimals")
    response = books.put(
        "/Invoices",
        "Invoices",
        {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact},
            "DueDate": "2026-12-01",
            "LineItems": [
                {
                    "Description": "Hourly",
                    "Quantity": 3,
                    "UnitAmount": "33.3333",
                    "AccountCode": "210",
                }
            ],
        },
        unitdp=4,
    )
    [item] = books.json(response)["Invoices"]
    assert item["LineItems"][0]["UnitAmount"] == Decimal("33.3333")
    assert item["Total"] == Decimal("100.00")
    assert books.get("Invoices", item["InvoiceID"])["LineItems"][0]["UnitAmount"] == Decimal(
        "33.33"
    )
    four = books.get("Invoices", item["InvoiceID"], unitdp=4)
    assert four["LineItems"][0]["UnitAmount"] == Decimal("33.3333")


def test_quantity_or_unit_amount_follows_from_line_amount(books: Books) -> None:
    contact = books.contact("Line Amount Only")
    invoice = books.invoice(
        contact,
        {"Description": "Deposit", "LineAmount": "250.00", "AccountCode": "210"},
        {"Description": "Two books", "Quantity": 2, "LineAmount": "90.00", "AccountCode": "210"},
    )
    first, second = invoice["LineItems"]
    assert (first["Quantity"], first["UnitAmount"]) == (Decimal("1.0000"), Decimal("250.00"))
    assert second["UnitAmount"] == Decimal("45.00")
    assert invoice["Total"] == Decimal("340.00")


def test_a_line_total_that_does_not_add_up_is_refused(books: Books) -> None:
    contact = books.contact("Bad Sums")
    response = books.put(
        "/Invoices",
        "Invoices",
        {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact},
            "LineItems": [
                {"Description": "x", "Quantity": 2, "UnitAmount": "10", "LineAmount": "25"}
            ],
        },
    )
    [item] = response.json()["Invoices"]
    assert errors(item) == ["The line total 25.00 does not match the expected line total 20.00"]


def test_discounts_on_sales_invoices_only(books: Books) -> None:
    contact = books.contact("Discount Dan")
    invoice = books.invoice(
        contact,
        {
            "Description": "Course",
            "Quantity": 1,
            "UnitAmount": "1000",
            "DiscountRate": "10",
            "AccountCode": "210",
        },
    )
    assert invoice["Total"] == Decimal("900.00")
    assert invoice["TotalDiscount"] == Decimal("100.00")
    assert invoice["IsDiscounted"] is True
    bill = books.put(
        "/Invoices",
        "Invoices",
        {
            "Type": "ACCPAY",
            "Contact": {"ContactID": contact},
            "LineItems": [
                {
                    "Description": "Rent",
                    "UnitAmount": "100",
                    "DiscountAmount": "5",
                    "AccountCode": "400",
                }
            ],
        },
    )
    assert errors(bill.json()["Invoices"][0]) == [
        "Discounts may not be applied to ACCPAY invoices."
    ]


def test_contact_must_be_identified(books: Books) -> None:
    for contact in (None, {}, {"EmailAddress": "x@example.com"}):
        body: dict[str, Any] = {"Type": "ACCREC", "LineItems": [line("10")]}
        if contact is not None:
            body["Contact"] = contact
        [item] = books.put("/Invoices", "Invoices", body).json()["Invoices"]
        assert errors(item) == [
            "The Contact must contain at least 1 of the following elements to identify the "
            "contact: Name, ContactID, ContactNumber"
        ]


def test_contact_by_number_or_by_name(books: Books) -> None:
    known = books.contact("Known Learner", ContactNumber="DAU0000001")
    by_number = books.put(
        "/Invoices",
        "Invoices",
        {"Type": "ACCREC", "Contact": {"ContactNumber": "DAU0000001"}, "LineItems": [line("5")]},
    ).json()["Invoices"][0]
    assert by_number["Contact"]["ContactID"] == known
    unknown = books.put(
        "/Invoices",
        "Invoices",
        {"Type": "ACCREC", "Contact": {"ContactNumber": "NOPE"}, "LineItems": [line("5")]},
    ).json()["Invoices"][0]
    assert unknown["StatusAttributeString"] == "ERROR"
    new = books.put(
        "/Invoices",
        "Invoices",
        {"Type": "ACCREC", "Contact": {"Name": "Brand New Person"}, "LineItems": [line("5")]},
    ).json()["Invoices"][0]
    assert new["Contact"]["Name"] == "Brand New Person"
    made = books.http.get("/Contacts", params={"where": 'Name=="Brand New Person"'}).json()
    assert made["Contacts"][0]["ContactID"] == new["Contact"]["ContactID"]


def test_a_refused_invoice_creates_no_contact_either(books: Books) -> None:
    response = books.put(
        "/Invoices",
        "Invoices",
        {
            "Type": "ACCREC",
            "Contact": {"Name": "Nobody Yet"},
            "LineItems": [{"Description": "", "UnitAmount": "5"}],
        },
    )
    assert response.json()["Invoices"][0]["StatusAttributeString"] == "ERROR"
    assert books.http.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"] == []


def test_a_contact_id_with_another_name_is_refused(books: Books) -> None:
    contact = books.contact("Real Name")
    [item] = books.put(
        "/Invoices",
        "Invoices",
        {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact, "Name": "Other"},
            "LineItems": [line(1)],
        },
    ).json()["Invoices"]
    assert "Send the ContactID alone" in errors(item)[0]


def test_archived_contacts_take_no_new_invoices(books: Books) -> None:
    contact = books.contact("Gone Away")
    books.http.post(f"/Contacts/{contact}", json={"ContactStatus": "ARCHIVED"})
    [item] = books.put(
        "/Invoices",
        "Invoices",
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [line("10")]},
    ).json()["Invoices"]
    assert errors(item) == [
        "The contact with the specified contact details has been archived. The contact must "
        "be un-archived before creating new invoices or credit notes."
    ]


def test_invoice_numbers_are_unique_for_sales_only(books: Books) -> None:
    contact = books.contact("Numbered")
    books.invoice(contact, InvoiceNumber="WEB-100")
    [clash] = books.put(
        "/Invoices",
        "Invoices",
        {
            "Type": "ACCREC",
            "InvoiceNumber": "web-100",
            "Contact": {"ContactID": contact},
            "LineItems": [line(1)],
        },
    ).json()["Invoices"]
    assert errors(clash) == ["Invoice # must be unique."]
    for _ in range(2):
        books.invoice(contact, line("50", account="400"), type_="ACCPAY", InvoiceNumber="BILL-1")
    numbers = books.http.get("/Invoices", params={"where": 'Type=="ACCPAY"'}).json()["Invoices"]
    assert [i["InvoiceNumber"] for i in numbers] == ["BILL-1", "BILL-1"]


def test_automatic_numbers_skip_numbers_taken_by_hand(books: Books) -> None:
    contact = books.contact("Skipper")
    books.invoice(contact, InvoiceNumber="INV-0001")
    assert books.invoice(contact)["InvoiceNumber"] == "INV-0002"


def test_status_machine(books: Books) -> None:
    contact = books.contact("Status Sam")
    draft = books.invoice(contact, status="DRAFT", due=None)
    assert draft["Status"] == "DRAFT"
    assert draft["AmountDue"] == draft["Total"]
    submitted = books.update(
        "Invoices", draft["InvoiceID"], Status="SUBMITTED", DueDate="2026-11-30"
    )
    assert submitted.json()["Invoices"][0]["Status"] == "SUBMITTED"
    approved = books.update("Invoices", draft["InvoiceID"], Status="AUTHORISED")
    assert approved.json()["Invoices"][0]["Status"] == "AUTHORISED"
    # An approved invoice is voided, not deleted, and cannot go back to draft.
    for wanted in ("DELETED", "DRAFT"):
        [item] = books.update("Invoices", draft["InvoiceID"], Status=wanted).json()["Invoices"]
        assert errors(item)[0] == NOT_MODIFIABLE
        assert "AUTHORISED invoice can become VOIDED" in errors(item)[1]
    voided = books.update("Invoices", draft["InvoiceID"], Status="VOIDED").json()["Invoices"][0]
    assert voided["Status"] == "VOIDED"
    assert voided["AmountDue"] == Decimal("0")  # Xero owes nothing on a voided invoice
    for change in ({"Reference": "x"}, {"Status": "AUTHORISED"}, {"Status": "VOIDED"}):
        [item] = books.update("Invoices", draft["InvoiceID"], **change).json()["Invoices"]
        assert errors(item) == [NOT_MODIFIABLE]

    other = books.invoice(contact, status="DRAFT", due=None)
    deleted = books.update("Invoices", other["InvoiceID"], Status="DELETED").json()["Invoices"]
    assert deleted[0]["Status"] == "DELETED"
    [paid] = books.update("Invoices", books.invoice(contact)["InvoiceID"], Status="PAID").json()[
        "Invoices"
    ]
    assert errors(paid)[0] == NOT_MODIFIABLE


def test_new_invoices_cannot_start_paid_voided_or_deleted(books: Books) -> None:
    contact = books.contact("Starter")
    for status in ("PAID", "VOIDED", "DELETED"):
        [item] = books.put(
            "/Invoices",
            "Invoices",
            {
                "Type": "ACCREC",
                "Status": status,
                "Contact": {"ContactID": contact},
                "LineItems": [line(1)],
            },
        ).json()["Invoices"]
        assert item["StatusAttributeString"] == "ERROR", status


def test_approved_invoices_need_a_due_date_and_account_codes(books: Books) -> None:
    contact = books.contact("Strict Sue")
    [item] = books.put(
        "/Invoices",
        "Invoices",
        {
            "Type": "ACCREC",
            "Status": "AUTHORISED",
            "Contact": {"ContactID": contact},
            "LineItems": [{"Description": "No account", "UnitAmount": "10"}],
        },
    ).json()["Invoices"]
    assert errors(item) == [
        "Each line item of this invoice needs an AccountCode.",
        "An approved invoice needs a DueDate.",
    ]
    draft = books.invoice(
        contact, {"Description": "No account yet", "UnitAmount": "10"}, status="DRAFT", due=None
    )
    assert draft["Status"] == "DRAFT"


def test_bad_account_tax_and_currency_are_refused(books: Books) -> None:
    contact = books.contact("Bad Codes")
    cases = [
        ({"LineItems": [line("1", account="999")]}, "Account code '999' is not a valid code"),
        ({"LineItems": [line("1", account="090")]}, "Account code '090' is not a valid code"),
        ({"LineItems": [{**line("1"), "TaxType": "NOPE"}]}, "Tax rate must be valid."),
        ({"LineItems": [line("1")], "CurrencyCode": "EUR"}, "not subscribed to currency EUR"),
        ({"LineItems": [{**line("1"), "ItemCode": "COURSE"}]}, "no items"),
        ({"LineItems": [line("-5")]}, "negative total"),
        ({"LineItems": [line("1e15")]}, "UnitAmount 1000000000000000 is too large"),
        ({"LineItems": [{**line("10"), "DiscountRate": "150"}]}, "between 0 and 100"),
        ({"LineItems": []}, "at least one line item"),
    ]
    for extra, fragment in cases:
        body = {"Type": "ACCREC", "Contact": {"ContactID": contact}, **extra}
        [item] = books.put("/Invoices", "Invoices", body).json()["Invoices"]
        assert any(fragment in e for e in errors(item)), (extra, errors(item))


def test_edits_are_refused_once_money_is_applied(books: Books) -> None:
    contact, survivor = books.contact("Legacy Learner"), books.contact("Learner DAU0000007")
    invoice = books.invoice(contact)
    payment = books.pay(invoice["InvoiceID"], "100.00")
    for change in (
        {"Reference": "only the reference"},
        {"Contact": {"ContactID": survivor}},
        {"Status": "VOIDED"},
    ):
        [item] = books.update("Invoices", invoice["InvoiceID"], **change).json()["Invoices"]
        assert errors(item) == [APPLIED]
    deleted = books.http.post(f"/Payments/{payment['PaymentID']}", json={"Status": "DELETED"})
    assert deleted.json()["Payments"][0]["Status"] == "DELETED"
    moved = books.update(
        "Invoices", invoice["InvoiceID"], Contact={"ContactID": survivor}, Status="AUTHORISED"
    ).json()["Invoices"][0]
    assert moved["StatusAttributeString"] == "OK"
    assert moved["Contact"]["ContactID"] == survivor
    assert moved["AmountPaid"] == Decimal("0.00")


def test_fully_paid_invoices_are_paid_and_frozen(books: Books) -> None:
    contact = books.contact("Payer Pat")
    invoice = books.invoice(contact, line("300.00"))
    books.pay(invoice["InvoiceID"], "100.00", date="2026-10-05")
    books.pay(invoice["InvoiceID"], "200.00", date="2026-10-09")
    paid = books.get("Invoices", invoice["InvoiceID"])
    assert paid["Status"] == "PAID"
    assert paid["AmountDue"] == Decimal("0.00")
    assert paid["AmountPaid"] == Decimal("300.00")
    assert paid["FullyPaidOnDate"] == "/Date(1791504000000+0000)/"  # 2026-10-09
    assert [p["Amount"] for p in paid["Payments"]] == [Decimal("100.00"), Decimal("200.00")]
    [item] = books.update("Invoices", invoice["InvoiceID"], Reference="late").json()["Invoices"]
    assert errors(item) == [NOT_MODIFIABLE]


def test_a_zero_invoice_is_paid_when_approved(books: Books) -> None:
    contact = books.contact("Free Course")
    invoice = books.invoice(contact, line("0.00"))
    assert invoice["Status"] == "PAID"


def test_line_items_on_update(books: Books) -> None:
    contact = books.contact("Line Editor")
    invoice = books.invoice(
        contact,
        line("100", description="Unit 1"),
        line("200", description="Unit 2"),
        status="DRAFT",
    )
    first, second = invoice["LineItems"]
    response = books.update(
        "Invoices",
        invoice["InvoiceID"],
        LineItems=[
            {"LineItemID": second["LineItemID"], "UnitAmount": "250"},
            {"Description": "Unit 3", "Quantity": 1, "UnitAmount": "50", "AccountCode": "210"},
        ],
    )
    updated = books.json(response)["Invoices"][0]
    assert [li["Description"] for li in updated["LineItems"]] == ["Unit 2", "Unit 3"]
    assert updated["LineItems"][0]["LineItemID"] == second["LineItemID"]
    assert updated["LineItems"][0]["UnitAmount"] == Decimal("250.00")
    assert updated["Total"] == Decimal("300.00")
    assert first["LineItemID"] not in {li["LineItemID"] for li in updated["LineItems"]}
    [bad] = books.update(
        "Invoices", invoice["InvoiceID"], LineItems=[{"LineItemID": first["LineItemID"]}]
    ).json()["Invoices"]
    assert "is not a line of this invoice" in errors(bad)[0]


def test_the_type_of_an_invoice_is_fixed(books: Books) -> None:
    contact = books.contact("Fixed Type")
    invoice = books.invoice(contact, status="DRAFT")
    [item] = books.update("Invoices", invoice["InvoiceID"], Type="ACCPAY").json()["Invoices"]
    assert errors(item) == ["The Type of an existing invoice cannot be changed."]


def test_post_updates_by_id_or_number_and_creates_otherwise(books: Books) -> None:
    contact = books.contact("Upserter")
    invoice = books.invoice(contact, status="DRAFT", InvoiceNumber="UP-1")
    by_number = books.http.post(
        "/Invoices", json={"Invoices": [{"InvoiceNumber": "UP-1", "Reference": "found"}]}
    )
    assert by_number.json()["Invoices"][0]["InvoiceID"] == invoice["InvoiceID"]
    assert by_number.json()["Invoices"][0]["Reference"] == "found"
    created = books.http.post(
        "/Invoices",
        json={"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [line(3)]},
    )
    assert created.json()["Invoices"][0]["InvoiceID"] != invoice["InvoiceID"]
    unknown = books.http.post(
        "/Invoices",
        params={"summarizeErrors": "false"},
        json={"Invoices": [{"InvoiceID": "00000000-0000-0000-0000-000000000001"}]},
    )
    assert errors(unknown.json()["Invoices"][0]) == [
        "An existing Invoice with the specified InvoiceID could not be found"
    ]
    assert (
        books.http.post(
            "/Invoices/00000000-0000-0000-0000-000000000001", json={"Reference": "x"}
        ).status_code
        == 404
    )


def test_put_never_updates(books: Books) -> None:
    contact = books.contact("Put Only")
    invoice = books.invoice(contact, status="DRAFT")
    [item] = books.put(
        "/Invoices", "Invoices", {"InvoiceID": invoice["InvoiceID"], "Reference": "x"}
    ).json()["Invoices"]
    assert "POST /Invoices/{InvoiceID}" in errors(item)[0]


def test_default_errors_are_summarised_but_valid_invoices_are_saved(books: Books) -> None:
    contact = books.contact("Batchy")
    response = books.put(
        "/Invoices",
        "Invoices",
        {"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [line(1)]},
        {"Type": "ACCREC", "Contact": {}, "LineItems": [line(2)]},
        summarize=True,
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["ErrorNumber"], body["Type"]) == (10, "ValidationException")
    assert len(body["Elements"]) == 1
    assert body["Elements"][0]["HasErrors"] is True
    assert len(books.http.get("/Invoices").json()["Invoices"]) == 1


def test_read_by_id_and_by_number(books: Books) -> None:
    contact = books.contact("Reader")
    invoice = books.invoice(contact)
    assert books.get("Invoices", invoice["InvoiceNumber"])["InvoiceID"] == invoice["InvoiceID"]
    assert books.http.get("/Invoices/INV-9999").status_code == 404
    assert books.http.get("/Invoices/00000000-0000-0000-0000-000000000000").status_code == 404


def test_contacts_become_customers_without_a_new_updated_date(books: Books) -> None:
    contact = books.contact("Becomes Customer")
    before = books.http.get(f"/Contacts/{contact}").json()["Contacts"][0]
    assert before["IsCustomer"] is False
    books.invoice(contact, status="DRAFT")
    after = books.http.get(f"/Contacts/{contact}").json()["Contacts"][0]
    assert after["IsCustomer"] is True
    assert after["IsSupplier"] is False
    assert after["UpdatedDateUTC"] == before["UpdatedDateUTC"]


def test_balances_show_what_is_outstanding_and_overdue(
    xero_sandbox: XeroSandbox, books: Books
) -> None:
    contact = books.contact("Owes Money")
    today = datetime.fromtimestamp(xero_sandbox.clock.now(), tz=UTC).date()
    books.invoice(
        contact,
        line("100"),
        date=str(today - timedelta(days=40)),
        due=str(today - timedelta(days=10)),
    )
    books.invoice(contact, line("50"), date=str(today), due=str(today + timedelta(days=30)))
    books.invoice(contact, line("500"), status="DRAFT")
    books.invoice(contact, line("70", account="400"), type_="ACCPAY")
    balances = books.json(books.http.get(f"/Contacts/{contact}"))["Contacts"][0]["Balances"]
    assert balances["AccountsReceivable"] == {
        "Outstanding": Decimal("150.00"),
        "Overdue": Decimal("100.00"),
    }
    assert balances["AccountsPayable"]["Outstanding"] == Decimal("77.00")  # 70 + GST
    paged = books.json(books.http.get("/Contacts", params={"page": 1}))["Contacts"][0]
    assert paged["Balances"] == balances
    assert "Balances" not in books.http.get("/Contacts").json()["Contacts"][0]
    xero_sandbox.clock.advance(45 * 86_400)
    http = xero_sandbox.http()  # a new token: the old one has expired
    later = books.json(http.get(f"/Contacts/{contact}"))["Contacts"][0]["Balances"]
    assert later["AccountsReceivable"]["Overdue"] == Decimal("150.00")


# -- listing ----------------------------------------------------------------------------------


@pytest.fixture
def listed(books: Books) -> dict[str, Any]:
    """Five invoices of two contacts across statuses and dates."""
    ann, bob = books.contact("Ann Archer"), books.contact("Bob Baker")
    made = {
        "a1": books.invoice(ann, line("100"), date="2024-03-01", Reference="Cert III"),
        "a2": books.invoice(ann, line("200"), date="2025-07-15", status="DRAFT"),
        "b1": books.invoice(bob, line("300"), date="2025-01-10"),
        "b2": books.invoice(bob, line("400", account="400"), type_="ACCPAY", date="2026-02-01"),
        "b3": books.invoice(bob, line("500"), date="2026-05-05", status="SUBMITTED"),
    }
    return {"ann": ann, "bob": bob, **made}


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [i["InvoiceID"] for i in response.json()["Invoices"]]


def test_paging_and_pagination(books: Books, listed: dict[str, Any]) -> None:
    first = books.http.get("/Invoices", params={"page": 1, "pageSize": 2}).json()
    assert first["pagination"] == {"page": 1, "pageSize": 2, "pageCount": 3, "itemCount": 5}
    seen = []
    for page in (1, 2, 3):
        seen += _ids(books.http.get("/Invoices", params={"page": page, "pageSize": 2}))
    assert seen == [listed[k]["InvoiceID"] for k in ("a1", "a2", "b1", "b2", "b3")]
    assert first["Invoices"][0]["LineItems"]  # paged lists carry the lines
    unpaged = books.http.get("/Invoices").json()
    assert "pagination" not in unpaged
    assert all(i["LineItems"] == [] for i in unpaged["Invoices"])
    capped = books.http.get("/Invoices", params={"page": 1, "pageSize": 5000}).json()
    assert capped["pagination"]["pageSize"] == 1000


def test_where_filters(books: Books, listed: dict[str, Any]) -> None:
    def where(expr: str) -> set[str]:
        return set(_ids(books.http.get("/Invoices", params={"where": expr, "page": 1})))

    ids = {k: v["InvoiceID"] for k, v in listed.items() if isinstance(v, dict)}
    assert where("Date >= DateTime(2025, 01, 01) && Date < DateTime(2026, 01, 01)") == {
        ids["a2"],
        ids["b1"],
    }
    assert where('Status=="AUTHORISED"') == {ids["a1"], ids["b1"], ids["b2"]}
    assert where(f'Contact.ContactID==Guid("{listed["ann"]}")') == {ids["a1"], ids["a2"]}
    assert where('Type=="ACCPAY"') == {ids["b2"]}
    assert where('Contact.Name=="Bob Baker" AND AmountDue > 350') == {ids["b2"], ids["b3"]}
    assert where('Reference.Contains("Cert")') == {ids["a1"]}
    bad = books.http.get("/Invoices", params={"where": "Nope == 1"})
    assert bad.status_code == 400
    assert bad.json()["Message"] == "No property or field 'Nope' exists in type 'Invoice'"


def test_explicit_filters(books: Books, listed: dict[str, Any]) -> None:
    get = books.http.get
    assert set(_ids(get("/Invoices", params={"Statuses": "DRAFT,SUBMITTED"}))) == {
        listed["a2"]["InvoiceID"],
        listed["b3"]["InvoiceID"],
    }
    assert len(_ids(get("/Invoices", params={"ContactIDs": listed["ann"]}))) == 2
    numbers = f"{listed['a1']['InvoiceNumber']},{listed['b1']['InvoiceNumber']}"
    assert len(_ids(get("/Invoices", params={"InvoiceNumbers": numbers}))) == 2
    ids = f"{listed['a1']['InvoiceID']},{listed['b3']['InvoiceID']}"
    assert len(_ids(get("/Invoices", params={"IDs": ids}))) == 2
    assert get("/Invoices", params={"IDs": "nope"}).status_code == 400
    assert get("/Invoices", params={"Statuses": "LOST"}).status_code == 400
    assert len(_ids(get("/Invoices", params={"searchTerm": "cert iii"}))) == 1
    assert len(_ids(get("/Invoices", params={"createdByMyApp": "true"}))) == 5


def test_order(books: Books, listed: dict[str, Any]) -> None:
    newest_first = _ids(books.http.get("/Invoices", params={"order": "Date DESC", "page": 1}))
    assert newest_first[0] == listed["b3"]["InvoiceID"]
    by_total = _ids(books.http.get("/Invoices", params={"order": "Total ASC"}))
    assert by_total[0] == listed["a1"]["InvoiceID"]


def test_if_modified_since(xero_sandbox: XeroSandbox, books: Books, listed: dict[str, Any]) -> None:
    xero_sandbox.clock.advance(60)
    since = datetime.fromtimestamp(xero_sandbox.clock.now(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    xero_sandbox.clock.advance(1)
    books.pay(listed["b1"]["InvoiceID"], "10.00")
    changed = _ids(
        books.http.get("/Invoices", params={"page": 1}, headers={"If-Modified-Since": since})
    )
    assert changed == [listed["b1"]["InvoiceID"]]


def test_summary_only_leaves_out_lines_and_payments(books: Books, listed: dict[str, Any]) -> None:
    items = books.http.get("/Invoices", params={"page": 1, "summaryOnly": "true"}).json()[
        "Invoices"
    ]
    assert len(items) == 5
    assert all("LineItems" not in i and "Payments" not in i for i in items)
    assert all("Total" in i and "AmountDue" in i for i in items)


# -- scopes, errors and idempotency ------------------------------------------------------------


def _client_with(xero_sandbox: XeroSandbox, *scopes: str) -> httpx.Client:
    """An app granted only ``scopes`` (granular or broad), connected to the organisation."""
    client_id = "app-" + "-".join(scopes)
    xero_sandbox.store.register_app(
        client_id,
        "secret",
        kind="custom",
        name=client_id,
        scopes=scopes,
        tenant_id=xero_sandbox.tenant_id,
        now_ms=xero_sandbox.clock.now_ms(),
    )
    return xero_sandbox.http(token=xero_sandbox.token(client_id, "secret"))


def test_scopes(xero_sandbox: XeroSandbox, books: Books) -> None:
    contact = books.contact("Scoped")
    books.invoice(contact)
    reader = _client_with(xero_sandbox, "accounting.invoices.read")
    assert reader.get("/Invoices").status_code == 200
    assert reader.get("/CreditNotes").status_code == 200
    assert reader.put("/Invoices", json={"Invoices": []}).status_code == 403
    assert reader.get("/Payments").status_code == 403
    payer = _client_with(xero_sandbox, "accounting.payments.read")
    assert payer.get("/Payments").status_code == 200
    assert payer.get("/Prepayments").status_code == 200
    assert payer.get("/Invoices").status_code == 403
    broad = _client_with(xero_sandbox, "accounting.transactions.read")
    assert broad.get("/Overpayments").status_code == 200
    assert broad.get("/BankTransactions").status_code == 200
    assert broad.put("/Payments", json={"Payments": []}).status_code == 403
    writer = _client_with(xero_sandbox, "accounting.invoices")
    assert writer.get("/Invoices").status_code == 200
    made = writer.put(
        "/Invoices",
        json={"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [line(1)]},
    )
    assert made.status_code == 200


def test_wrong_types_fail_the_whole_request(books: Books) -> None:
    contact = books.contact("Typed")
    cases = {
        '{"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": "%s"}, "LineItems": '
        '[{"Description": "x", "Quantity": "lots"}]}]}': "Invoices[0].LineItems[0].Quantity",
        '{"Invoices": [{"Type": "INVOICE"}]}': "Invoices[0].Type",
        '{"Invoices": [{"Date": "yesterday"}]}': "Invoices[0].Date",
        '{"Invoices": [{"LineItems": {"Description": "x"}}]}': "JSON array",
        '{"Invoices": [{"Contact": "%s"}]}': "Contact",
        '{"Invoices": [{"Status": "PAID"}, {"LineItems": [{"UnitAmount": true}]}]}': "UnitAmount",
        '{"Invoices": [{"LineItems": [{"UnitAmount": 1e400}]}]}': "too large or too small",
    }
    for content, fragment in cases.items():
        response = books.http.put("/Invoices", content=content.replace("%s", contact).encode())
        assert response.status_code == 400, content
        assert response.json()["Type"] == "PostDataInvalidException", response.text
        assert fragment in response.json()["Message"], (content, response.json())
    assert books.http.get("/Invoices").json()["Invoices"] == []


def test_idempotent_create(books: Books) -> None:
    contact = books.contact("Once Only")
    body = {
        "Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact}, "LineItems": [line(9)]}]
    }
    first = books.http.put("/Invoices", json=body, headers={"Idempotency-Key": "inv-1"})
    second = books.http.put("/Invoices", json=body, headers={"Idempotency-Key": "inv-1"})
    assert first.json()["Invoices"][0]["InvoiceID"] == second.json()["Invoices"][0]["InvoiceID"]
    assert len(books.http.get("/Invoices").json()["Invoices"]) == 1


_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    ).map(str),
    st.text(max_size=12),
    st.sampled_from(
        ["ACCREC", "ACCPAY", "AUTHORISED", "DRAFT", "VOIDED", "2026-10-01", "210", "200"]
    ),
)
_line = st.fixed_dictionaries(
    {},
    optional={
        "Description": _value,
        "Quantity": _value,
        "UnitAmount": _value,
        "LineAmount": _value,
        "AccountCode": _value,
        "TaxType": _value,
        "DiscountRate": _value,
        "LineItemID": _value,
    },
)
_invoice = st.fixed_dictionaries(
    {},
    optional={
        "Type": _value,
        "Status": _value,
        "Date": _value,
        "DueDate": _value,
        "LineAmountTypes": _value,
        "InvoiceNumber": _value,
        "Contact": st.one_of(
            _value, st.fixed_dictionaries({}, optional={"Name": _value, "ContactID": _value})
        ),
        "LineItems": st.one_of(_value, st.lists(_line, max_size=3)),
    },
)


@pytest.fixture
def roomy(make_xero_sandbox: Any) -> httpx.Client:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=100_000, day=1_000_000))
    return sandbox.http()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(invoices=st.lists(_invoice, max_size=3), method=st.sampled_from(["PUT", "POST"]))
def test_no_invoice_body_breaks_the_server(
    roomy: httpx.Client, invoices: list[dict[str, Any]], method: str
) -> None:
    response = roomy.request(
        method,
        "/Invoices",
        params={"summarizeErrors": "false"},
        content=json.dumps({"Invoices": invoices}),
    )
    assert response.status_code in (200, 400), response.text
    response.json()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "page",
                "pageSize",
                "where",
                "order",
                "IDs",
                "ContactIDs",
                "Statuses",
                "InvoiceNumbers",
                "summaryOnly",
                "unitdp",
                "searchTerm",
                "createdByMyApp",
            ]
        ),
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(
                [
                    "Date >= DateTime(2025, 01, 01)",
                    "AmountDue > 1e400",
                    "Total == null",
                    'Contact.Name.Contains("a")',
                    "99999999999999999999",
                    "DRAFT,PAID",
                ]
            ),
        ),
        max_size=4,
    ),
    collection=st.sampled_from(
        ["Invoices", "CreditNotes", "Payments", "Prepayments", "Overpayments", "BankTransactions"]
    ),
)
def test_no_query_breaks_the_server(
    roomy: httpx.Client, params: dict[str, str], collection: str
) -> None:
    response = roomy.get(f"/{collection}", params=params)
    assert response.status_code in (200, 400), response.text
