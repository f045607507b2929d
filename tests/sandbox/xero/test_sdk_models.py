"""Conformance: every answer of the Accounting API, read through the models of Xero's official
Python SDK (xero-python), means what the sandbox wrote.

A seeded organisation (documents in every status, deleted payments and allocations, archived
and merged contacts) is read and written through the SDK's own api methods: every list (paged,
unpaged, ``summaryOnly``, ``unitdp=4``), every single read, every PUT and POST answer (refused
items included) and the error answers. Each raw answer is then walked beside the model the SDK
made of it: every field must be one the SDK's model knows, of the type it declares (text as
text, amounts as numbers, dates as ``/Date(ms+zzzz)/``, enums among their values), with the
same value once read. A field named or written differently from Xero anywhere fails the test,
and so does an endpoint that no call reached."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

import httpx
import pytest
from xero_python.accounting import (
    Account,
    Address,
    Allocation,
    Allocations,
    BankTransaction,
    BankTransactions,
    Contact,
    ContactPerson,
    Contacts,
    CreditNote,
    CreditNotes,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Payment,
    PaymentDelete,
    Payments,
    Phone,
)
from xero_python.api_client.deserializer import deserialize
from xero_python.exceptions import AccountingBadRequestException
from xero_python.identity import IdentityApi

from conftest import XeroSandbox
from learnerledger.sandbox.xero import Limits
from learnerledger.sandbox.xero.seed import seed_organisation
from sandbox_documents import SDK

_MS_DATE = re.compile(r"/Date\(-?\d+([+-]\d{4})?\)/")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?")
_ENVELOPE = frozenset({"Id", "Status", "ProviderName", "DateTimeUTC"})
# Fields Xero sends that neither its OpenAPI description nor the SDK declares: the day of a
# date field as text beside the ``/Date(...)/`` value (Xero's own answers carry both).
_XERO_ONLY = frozenset({"DateString", "DueDateString"})
_WORDS = {
    "str": "text",
    "float": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "date[ms-format]": "a /Date(ms+zzzz)/ date",
    "datetime[ms-format]": "a /Date(ms+zzzz)/ timestamp",
    "date": "an ISO date",
    "datetime": "an ISO timestamp",
}


def _mismatches(raw: Any, read: Any, type_name: str, path: str) -> list[str]:
    """Where ``read`` (what the SDK made of ``raw`` as ``type_name``) differs from ``raw``."""
    if raw is None:
        return []
    listed = re.fullmatch(r"list\[(.+)\]", type_name)
    if listed:
        if not isinstance(raw, list) or not isinstance(read, list) or len(raw) != len(read):
            return [f"{path}: a list expected, got {raw!r}"]
        return [
            problem
            for i, (r, m) in enumerate(zip(raw, read, strict=True))
            for problem in _mismatches(r, m, listed.group(1), f"{path}[{i}]")
        ]
    if type_name == "str":
        ok = isinstance(raw, str) and read == raw
    elif type_name == "float":
        ok = isinstance(raw, int | Decimal) and not isinstance(raw, bool) and read == raw
    elif type_name == "int":
        ok = isinstance(raw, int) and not isinstance(raw, bool) and read == raw
    elif type_name == "bool":
        ok = isinstance(raw, bool) and read is raw
    elif type_name in ("date[ms-format]", "datetime[ms-format]"):
        ok = isinstance(raw, str) and _MS_DATE.fullmatch(raw) is not None
    elif type_name in ("date", "datetime"):
        ok = isinstance(raw, str) and _ISO.fullmatch(raw) is not None
    elif isinstance(read, Enum):
        ok = read.value == raw
    else:
        if not isinstance(raw, dict) or not hasattr(read, "attribute_map"):
            return [f"{path}: a {type_name} object expected, got {raw!r}"]
        return _object_mismatches(raw, read, path)
    what = _WORDS.get(type_name, type_name)
    return [] if ok else [f"{path}: {raw!r} is not {what} (the SDK read {read!r})"]


def _object_mismatches(
    raw: dict[str, Any], read: Any, path: str, allowed: frozenset[str] = frozenset()
) -> list[str]:
    fields = {key: attr for attr, key in read.attribute_map.items()}
    problems = []
    for key, value in raw.items():
        if key in allowed or key in _XERO_ONLY:
            continue
        if key not in fields:
            problems.append(f"{path}.{key}: not a field of the SDK's {type(read).__name__}")
            continue
        attr = fields[key]
        problems += _mismatches(
            value, getattr(read, attr), read.openapi_types[attr], f"{path}.{key}"
        )
    return problems


class Reader:
    """Calls the SDK and checks each answer against the model the SDK made of it."""

    def __init__(self, sdk: SDK) -> None:
        self.sdk = sdk
        self.found: dict[str, str] = {}  # by path without list indices: the first problem

    @property
    def problems(self) -> list[str]:
        return list(self.found.values())

    def _note(self, problems: list[str]) -> None:
        for problem in problems:
            self.found.setdefault(re.sub(r"\[\d+\]", "[]", problem.split(":")[0]), problem)

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method: Callable[..., Any] = getattr(self.sdk.accounting, name)
        model = method("", *args, **kwargs)
        self.check(name, self.sdk.client.last_response.data, model)
        return model

    def connections(self, base_url: str) -> Any:
        """``GET /connections`` through the SDK's IdentityApi."""
        found = IdentityApi(self.sdk.client, base_url=base_url).get_connections()
        raw = json.loads(self.sdk.client.last_response.data, parse_float=Decimal)
        self._note(_mismatches(raw, found, "list[Connection]", "get_connections"))
        return found

    def check(self, name: str, body: bytes, model: Any) -> None:
        raw = json.loads(body, parse_float=Decimal)
        self._note(_object_mismatches(raw, model, name, allowed=_ENVELOPE))

    def refused(self, name: str, item_type: str, *args: Any, **kwargs: Any) -> list[str]:
        """Call ``name`` expecting a 400; read the answer as the SDK's ``Error`` model, each of
        its Elements as ``item_type`` (Xero echoes the refused items there); their messages."""
        with pytest.raises(AccountingBadRequestException) as info:
            getattr(self.sdk.accounting, name)("", *args, **kwargs)
        raw = json.loads(info.value.body, parse_float=Decimal)
        finder = self.sdk.accounting.get_model_finder()
        error = deserialize("Error", raw, finder)
        elements = raw.get("Elements", [])
        head = {k: v for k, v in raw.items() if k != "Elements"}
        self._note(_object_mismatches(head, error, f"{name} (400)"))
        messages = []
        for i, element in enumerate(elements):
            item = deserialize(item_type, element, finder)
            self._note(_mismatches(element, item, item_type, f"{name} (400).Elements[{i}]"))
            messages += [e["Message"] for e in element.get("ValidationErrors", [])]
        return messages


@pytest.fixture
def seeded(make_xero_sandbox: Any) -> XeroSandbox:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=100_000, day=1_000_000))
    seed_organisation(sandbox.store, scale=0.2)
    return sandbox


@pytest.fixture
def reader(seeded: XeroSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reader]:
    from xero_python.api_client.oauth2 import TokenApi

    monkeypatch.setattr(TokenApi, "client_credentials_token_url", seeded.url + "/connect/token")
    sdk = SDK(seeded)
    sdk.client.get_client_credentials_token()
    yield Reader(sdk)
    sdk.close()


def _line(amount: str, account: str = "210", **fields: Any) -> LineItem:
    return LineItem(
        description="Diploma of Community Services",
        quantity=Decimal(3),
        unit_amount=Decimal(amount),
        account_code=account,
        **fields,
    )


def _with(model: Any, **changes: Any) -> Any:
    """A copy of an SDK model with some fields changed."""
    changed = copy.deepcopy(model)
    for name, value in changes.items():
        setattr(changed, name, value)
    return changed


def _by_status(items: list[Any]) -> list[Any]:
    """One item of each status (the first of each)."""
    return list({item.status: item for item in reversed(items)}.values())


def _read_everything(read: Reader, seeded: XeroSandbox) -> None:
    """Every GET the sandbox serves, on the seeded organisation."""
    assert [str(c.tenant_id) for c in read.connections(seeded.url)] == [seeded.tenant_id]
    read("get_organisations")
    accounts = read("get_accounts").accounts
    read("get_accounts", where='Type=="BANK"', order="Code")
    read("get_account", accounts[0].account_id)

    read("get_contacts")
    contacts = read("get_contacts", page=1, page_size=1000, include_archived=True).contacts
    read("get_contacts", page=1, summary_only=True)
    archived = [c for c in contacts if c.contact_status == "ARCHIVED"]
    assert archived, "the seed has archived contacts"
    for contact in (contacts[0], archived[0]):
        read("get_contact", contact.contact_id)
    numbered = next(c for c in contacts if c.contact_number)
    read("get_contact_by_contact_number", numbered.contact_number)

    for name, collection in (
        ("invoice", "invoices"),
        ("credit_note", "credit_notes"),
        ("prepayment", "prepayments"),
        ("overpayment", "overpayments"),
    ):
        read(f"get_{collection}")
        paged = getattr(read(f"get_{collection}", page=1, page_size=1000), collection)
        getattr(read(f"get_{collection}", page=1, unitdp=4), collection)
        assert len({d.status for d in paged}) >= 2, collection
        for doc in _by_status(paged):
            doc_id = getattr(doc, f"{name}_id")
            read(f"get_{name}", doc_id)
            if name in ("invoice", "credit_note"):
                read(f"get_{name}", doc_id, unitdp=4)
    read("get_invoices", page=1, summary_only=True)
    read("get_invoices", statuses=["PAID", "VOIDED"], page=1)

    read("get_payments")
    payments = read("get_payments", page=1, page_size=1000).payments
    for payment in _by_status(payments):
        read("get_payment", payment.payment_id)

    read("get_bank_transactions")
    banked = read("get_bank_transactions", page=1, page_size=1000).bank_transactions
    read("get_bank_transactions", page=1, unitdp=4)
    for kind in {b.type: b for b in banked}.values():
        read("get_bank_transaction", kind.bank_transaction_id)


def _write_contacts(read: Reader, seeded: XeroSandbox) -> tuple[str, str]:
    """Contact writes, accepted and refused; two contacts of the organisation."""
    person = ContactPerson(first_name="Ada", last_name="Byrne", email_address="ada@example.com")
    full = Contact(
        name="Ada Byrne DAU0001001",
        first_name="Ada",
        last_name="Byrne",
        contact_number="DAU0001001",
        email_address="ada.byrne@example.com",
        phones=[Phone(phone_type="MOBILE", phone_number="0412 000 111")],
        addresses=[
            Address(
                address_type="STREET",
                address_line1="1 Lydiard St",
                city="Ballarat",
                region="VIC",
                postal_code="3350",
                country="Australia",
            )
        ],
        contact_persons=[person],
    )
    refused = Contact(name="Refused <name>", email_address="nope", contact_number="DAU0001002")
    made = read("create_contacts", Contacts(contacts=[full, refused]), summarize_errors=False)
    contact_id = made.contacts[0].contact_id
    other = read(
        "update_or_create_contacts",
        Contacts(contacts=[Contact(name="Ben Cole DAU0001003", contact_number="DAU0001003")]),
    ).contacts[0]
    read("update_or_create_contacts", Contacts(contacts=[full, refused]), summarize_errors=False)
    read(
        "update_contact",
        contact_id,
        Contacts(contacts=[Contact(contact_id=contact_id, email_address="ada@example.org")]),
    )
    assert read.refused(
        "create_contacts", "Contact", Contacts(contacts=[Contact(name="Ben Cole DAU0001003")])
    ) == [
        "The contact name Ben Cole DAU0001003 is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    ]
    return str(contact_id), str(other.contact_id)


def _write_documents(read: Reader, contact: str) -> None:
    """Document, payment and allocation writes, each accepted and refused."""
    invoice = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact),
        line_items=[_line("110.1234", discount_rate=Decimal(10))],
        date=date(2026, 10, 1),
        due_date=date(2026, 10, 31),
        expected_payment_date=date(2026, 10, 20),
        reference="Term 4",
        status="AUTHORISED",
    )
    bad = Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact),
        line_items=[_line("10.00", account="999")],
        date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        status="AUTHORISED",
    )
    first = read("create_invoices", Invoices(invoices=[invoice, bad]), summarize_errors=False)
    invoice_id = first.invoices[0].invoice_id
    read("create_invoices", Invoices(invoices=[invoice]), unitdp=4)
    read("update_or_create_invoices", Invoices(invoices=[invoice, bad]), summarize_errors=False)
    draft = read("create_invoices", Invoices(invoices=[_with(invoice, status="DRAFT")])).invoices[0]
    read("update_invoice", draft.invoice_id, Invoices(invoices=[Invoice(reference="Changed")]))
    read("update_invoice", draft.invoice_id, Invoices(invoices=[Invoice(status="DELETED")]))
    assert read.refused("create_invoices", "Invoice", Invoices(invoices=[bad])) == [
        "Account code '999' is not a valid code for this document.",
        "Each line item of this invoice needs an AccountCode.",
    ]

    note = CreditNote(
        type="ACCRECCREDIT",
        contact=Contact(contact_id=contact),
        line_items=[_line("20.00")],
        date=date(2026, 10, 2),
        status="AUTHORISED",
    )
    bad_note = CreditNote(
        type="ACCRECCREDIT", contact=Contact(contact_id=contact), line_items=[], status="DRAFT"
    )
    notes = read(
        "create_credit_notes", CreditNotes(credit_notes=[note, bad_note]), summarize_errors=False
    )
    credit_id = notes.credit_notes[0].credit_note_id
    read(
        "update_or_create_credit_notes",
        CreditNotes(credit_notes=[note, bad_note]),
        summarize_errors=False,
    )
    read("update_credit_note", credit_id, CreditNotes(credit_notes=[CreditNote(reference="R")]))
    allocation = Allocation(
        invoice=Invoice(invoice_id=invoice_id), amount=Decimal("10.00"), date=date(2026, 10, 6)
    )
    too_much = Allocation(
        invoice=Invoice(invoice_id=invoice_id), amount=Decimal("999.00"), date=date(2026, 10, 6)
    )
    done = read(
        "create_credit_note_allocation",
        credit_id,
        Allocations(allocations=[allocation, too_much]),
        summarize_errors=False,
    )
    read("delete_credit_note_allocations", credit_id, done.allocations[0].allocation_id)
    assert read.refused(
        "create_credit_note_allocation",
        "Allocation",
        credit_id,
        Allocations(allocations=[too_much]),
    ) == ["Credit Note cannot be allocated as amount is greater than amount outstanding"]

    pay = Payment(
        invoice=Invoice(invoice_id=invoice_id),
        account=Account(code="090"),
        date=date(2026, 10, 5),
        amount=Decimal("50.00"),
        reference="Card",
    )
    paid = read("create_payment", pay).payments[0]
    read(
        "create_payments",
        Payments(payments=[pay, _with(pay, amount=Decimal("1000000.00"))]),
        summarize_errors=False,
    )
    read("delete_payment", paid.payment_id, PaymentDelete(status="DELETED"))
    assert read.refused(
        "delete_payment", "Payment", paid.payment_id, PaymentDelete(status="DELETED")
    ) == ["This payment has already been deleted."]

    for kind in ("PREPAYMENT", "OVERPAYMENT"):
        line = LineItem(description="Paid ahead", line_amount=Decimal("30.00"))
        if kind == "PREPAYMENT":
            line.account_code = "210"
        received = BankTransaction(
            type=f"RECEIVE-{kind}",
            contact=Contact(contact_id=contact),
            bank_account=Account(code="090"),
            line_items=[line],
            date=date(2026, 10, 3),
            line_amount_types=(
                LineAmountTypes.NOTAX if kind == "OVERPAYMENT" else LineAmountTypes.EXCLUSIVE
            ),
        )
        wrong_bank = _with(received, bank_account=Account(code="200"))
        made = read(
            "create_bank_transactions",
            BankTransactions(bank_transactions=[received, wrong_bank]),
            summarize_errors=False,
        ).bank_transactions[0]
        read(
            "update_or_create_bank_transactions",
            BankTransactions(bank_transactions=[received]),
            unitdp=4,
        )
        credit = kind.lower()
        done = read(
            f"create_{credit}_allocations",
            getattr(made, f"{credit}_id"),
            Allocations(allocations=[allocation, too_much]),
            summarize_errors=False,
        )
        read(
            f"delete_{credit}_allocations",
            getattr(made, f"{credit}_id"),
            done.allocations[0].allocation_id,
        )


def _routes_reached(sandbox: XeroSandbox) -> set[tuple[str, str]]:
    reached = set()
    for exchange in sandbox.recorder.api_exchanges():
        path = exchange.path.removeprefix("/api.xro/2.0")
        for route in sandbox.sandbox.api.routes:
            if route.method == exchange.method and route.pattern.match(path):
                reached.add((route.method, route.pattern.pattern))
    return reached


def test_every_answer_reads_through_the_sdk_models(reader: Reader, seeded: XeroSandbox) -> None:
    _read_everything(reader, seeded)
    contact, other = _write_contacts(reader, seeded)
    _write_documents(reader, contact)
    merged = httpx.post(
        f"{seeded.url}/sandbox/organisations/{seeded.tenant_id}/contacts/{other}/merge",
        json={"TargetContactID": contact},
    )
    assert merged.status_code == 200, merged.text
    assert str(reader("get_contact", other).contacts[0].merged_to_contact_id) == contact
    reader("get_contacts", page=1, include_archived=True, i_ds=[other, contact])
    themes = reader("get_branding_themes").branding_themes
    assert [t.sort_order for t in themes] == [0]
    assert reader("get_branding_theme", themes[0].branding_theme_id).branding_themes[0].name == (
        "Standard"
    )

    assert not reader.problems, "answers the SDK reads differently:\n" + "\n".join(reader.problems)
    every = {(r.method, r.pattern.pattern) for r in seeded.sandbox.api.routes}
    assert sorted(every - _routes_reached(seeded)) == []
