"""docs/field-mapping.md keeps up with the code: every field a hop reads, writes or sends is on
the page, and what the page says is never read, never written or not sent is not.

Each hop is run on a sample with every field filled in, and the fields it touches are walked:
the Wisenet mapping on a learner holding every field Wisenet declares (the sandbox's model),
the contact mapping on that learner, the resync's shape on an invoice with payments and every
kind of credit applied. A field added to the code without the page fails here."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from learnerledger.domain.contact import ALL_FIELDS, DEFAULT_NAME_TEMPLATE, ContactMapping
from learnerledger.domain.contact import PLACEHOLDERS as NAME_PLACEHOLDERS
from learnerledger.domain.learner import Address, Learner
from learnerledger.invoice_template import CONTACT_FIELDS, LINE_ITEM_FIELDS
from learnerledger.resync.export import EXPORT_COLUMNS
from learnerledger.resync.shape import (
    CREDIT_KINDS,
    INVOICE_FIELDS,
    allocations,
    open_credit,
    wisenet_invoice,
)
from learnerledger.sandbox.wisenet.model import INVOICE, LEARNER, expand, learner_relationships
from learnerledger.sources import csvfile
from learnerledger.sources.wisenet.mapping import Lookups, learner_from_item
from resync.test_shape import CREDIT_ID, PREPAY_ID, document, xero_line

ROOT = Path(__file__).resolve().parent.parent
# Without its code blocks, whose comment lines would read as headings.
PAGE = re.sub(
    r"^```.*?^```\n",
    "",
    (ROOT / "docs" / "field-mapping.md").read_text(encoding="utf-8"),
    flags=re.MULTILINE | re.DOTALL,
)

WISENET = "From Wisenet to the learner table"
NEVER_READ = "Wisenet fields never read"
CSV = "From a CSV export to the learner table"
CONTACT = "From the learner to its Xero contact"
SETTINGS = "Choosing the fields: `contact_fields` and `contact_name_template`"
NEVER_WRITTEN = "Fields the organisation owns, never written"
RESYNC = "From Xero's documents to Wisenet's invoices"
NOT_SENT = "What is not sent, and why"
CSV_SOURCE = "A CSV source"
PRINTS = "What the invoice prints"


# -- reading the page -------------------------------------------------------------------------


def section(title: str, *, whole: bool = True) -> str:
    """The text under the heading ``title`` up to the next heading of its level or above (or,
    with ``whole=False``, up to the next heading of any level)."""
    match = re.search(rf"^(#+) {re.escape(title)}\n", PAGE, re.MULTILINE)
    assert match, f"docs/field-mapping.md has no heading {title!r}"
    level = len(match.group(1))
    stop = rf"^#{{1,{level}}} " if whole else r"^#+ "
    end = re.search(stop, PAGE[match.end() :], re.MULTILINE)
    return PAGE[match.end() : match.end() + end.start()] if end else PAGE[match.end() :]


def ticked(text: str) -> set[str]:
    """Every `quoted` token."""
    return set(re.findall(r"`([^`\n]+)`", text))


def table_cells(text: str, column: int | None = None) -> set[str]:
    """The quoted tokens of the table rows in ``text`` (of one column, when given)."""
    found: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = line.strip().strip("|").split("|")
        for cell in cells if column is None else cells[column : column + 1]:
            found |= ticked(cell)
    return found


def segments(tokens: set[str]) -> set[str]:
    """The tokens and each part of the dotted ones (`Personal.FirstName` gives `FirstName`),
    lists without their brackets (`LineItems[]` gives `LineItems`)."""
    plain = {token.replace("[]", "") for token in tokens}
    return plain | {part for token in plain for part in token.split(".")}


def bullet(text: str, starts: str) -> set[str]:
    """The quoted tokens of the list item in ``text`` that begins with ``starts``."""
    match = re.search(rf"^- {re.escape(starts)}(.*?)(?=^- |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no list item beginning {starts!r}"
    return ticked(match.group(1))


# -- walking what the code touches ------------------------------------------------------------


class Recording(dict[str, Any]):
    """A JSON object that notes the path of every key asked of it (``Data.Personal.FirstName``;
    a list's items as ``States[]``)."""

    def __init__(self, value: dict[str, Any], seen: set[str], path: str = "") -> None:
        super().__init__({key: _record(item, seen, f"{path}{key}") for key, item in value.items()})
        self.seen = seen
        self.path = path

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(self.path + key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(self.path + key)
        return super().__getitem__(key)


def _record(value: Any, seen: set[str], path: str) -> Any:
    if isinstance(value, dict):
        return Recording(value, seen, path + ".")
    if isinstance(value, list):
        return [_record(item, seen, path + "[]") for item in value]
    return value


def leaves(model: dict[str, Any], path: str = "") -> Iterator[str]:
    """The dotted path of every field a sandbox model declares."""
    for name, spec in model.items():
        if isinstance(spec, dict):
            yield from leaves(spec, f"{path}{name}.")
        else:
            yield path + name


def keys(value: Any) -> Iterator[str]:
    """Every key of a JSON value, at every depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys(item)


class _NoCombos:
    """The Wisenet client's combos, never needed: the sample's Relationships carry its rows."""

    def combo(self, name: str) -> list[dict[str, Any]]:
        raise AssertionError(f"the sample learner should need no /combos/{name}")


def _address(**parts: Any) -> dict[str, Any]:
    # The composed line left empty, so the mapping reads every part it builds a line from.
    return {"UnitDetails": "4", "StreetNumber": "17", "StreetName": "Wattle Rd",
            "BuildingName": "Wattle Court", "ExtraAddressLine": "Rear entrance",
            "SuburbTownCity": "Parramatta", "StateId": 2, "Postcode": "2150", "CountryId": 13,
            **parts}  # fmt: skip


def wisenet_sample() -> tuple[Learner, set[str]]:
    """A learner holding every field Wisenet declares, through the mapping; and the paths of
    the fields the mapping asked for (relative to ``Data``, or under ``Relationships``)."""
    personal = {
        "LearnerNumber": "DAU0000072",
        "FirstName": "Felicity",
        "LastName": "Jones",
        "PreferredNamed": "Flick",
        "DateOfBirth": "1996-08-14T00:00:00",
        "SyncToXero": True,
        "TaxFileNumber": "123456782",
        "PhoneNumbers": {"Mobile": "0412 345 678", "PhoneHome": "02 9876 5432"},
        "EmailAddresses": {"Email": "felicity@example.com"},
        "StreetAddress": _address(),
        "PostalAddress": _address(Postcode="2124"),
    }
    data = expand(
        LEARNER,
        {"LearnerId": 4021, "LastModifiedTimeStamp": "2026-03-04T22:17:05", "Personal": personal},
    )
    item = {"Data": data, "Relationships": learner_relationships(data["Personal"])}
    seen: set[str] = set()
    learner = learner_from_item(Recording(item, seen), Lookups(_NoCombos()))
    read = {p.removeprefix("Data.") for p in seen if p.startswith(("Data.", "Relationships."))}
    return learner, read


LEARNER_SAMPLE, WISENET_READ = wisenet_sample()


def _learner_fields() -> Iterator[str]:
    for f in dataclasses.fields(Learner):
        if f.name in ("street", "postal"):
            yield from (f"{f.name}.{a.name}" for a in dataclasses.fields(Address))
        else:
            yield f.name


# -- 1. Wisenet -> the learner table --------------------------------------------------------


def test_every_wisenet_field_read_is_in_the_table_and_every_other_is_listed_as_never_read() -> None:
    table = segments(table_cells(section(WISENET, whole=False)))
    never = ticked(section(NEVER_READ))
    declared = set(leaves(LEARNER))
    assert declared, "the sandbox's learner model declares no field"
    unlisted = []
    for path in sorted(declared):
        if path in WISENET_READ:
            if path.rsplit(".", 1)[-1] not in table:
                unlisted.append(f"{path} (read: belongs in the table)")
        elif not any(path == n or path.startswith(n + ".") for n in never):
            unlisted.append(f"{path} (not read: belongs under {NEVER_READ!r})")
    assert not unlisted, unlisted


def test_nothing_listed_as_never_read_is_read() -> None:
    never = ticked(section(NEVER_READ)) - {"Relationships", "States[]", "Countries[]"}
    read = [p for p in WISENET_READ for n in never if p == n or p.startswith(n + ".")]
    assert not read, f"listed as never read, but the mapping reads {read}"


def test_the_lookup_rows_read_are_in_the_table() -> None:
    table = segments(table_cells(section(WISENET, whole=False)))
    lookups = {p for p in WISENET_READ if p.startswith("Relationships.")}
    assert lookups, "the sample learner's state and country came from its Relationships"
    missing = [p for p in sorted(lookups) if not set(p.replace("[]", "").split(".")) <= table]
    assert not missing, missing


@pytest.mark.parametrize("title", [WISENET, CSV])
def test_every_field_of_the_learner_table_is_in_each_source_table(title: str) -> None:
    table = table_cells(section(title, whole=False), column=0)
    missing = [f for f in _learner_fields() if f not in table]
    assert not missing, f"{title}: {missing}"


# -- 2. CSV -> the learner table ------------------------------------------------------------


def test_every_csv_column_and_other_spelling_is_in_the_table() -> None:
    table = table_cells(section(CSV, whole=False), column=1)
    missing = [c for c in csvfile.COLUMNS if c not in table]
    loosened = {csvfile._loose(t) for t in table}
    missing += [alias for alias in csvfile._ALIASES if alias not in loosened]
    assert not missing, missing


def test_every_sync_to_xero_value_the_import_understands_is_listed() -> None:
    listed = {t.casefold() for t in ticked(section(CSV, whole=False))}
    missing = sorted((csvfile._TRUE | csvfile._FALSE) - listed)
    assert not missing, missing


# -- 3. The learner -> its Xero contact -----------------------------------------------------


def written(mapping: ContactMapping) -> set[str]:
    """Every key the mapping writes for the sample learner, and each phone's and address's
    type."""
    contact = mapping.contact(LEARNER_SAMPLE)
    types = {
        item[kind]
        for kind, group in (("PhoneType", "Phones"), ("AddressType", "Addresses"))
        for item in contact.get(group, [])
    }
    return set(keys(contact)) | types


def test_every_field_the_mapping_can_own_is_in_the_xero_table() -> None:
    first = table_cells(section(CONTACT, whole=False), column=0)
    missing = [f for f in ALL_FIELDS if f not in first]
    assert not missing, f"contact_fields accepts {missing}, which the page's table lacks"
    named = {t for t in first if re.fullmatch(r"(Phones|Addresses)\.\w+", t)}
    assert named <= set(ALL_FIELDS), f"the table names {named - set(ALL_FIELDS)}"


def test_every_key_the_mapping_writes_is_in_the_xero_table() -> None:
    table = segments(table_cells(section(CONTACT, whole=False)))
    missing = sorted(written(ContactMapping()) - table)
    assert not missing, missing


def test_the_settings_values_are_on_the_page() -> None:
    text = section(SETTINGS)
    listed = ticked(text)
    missing = [f for f in ALL_FIELDS if f not in listed]
    missing += [f"{{{p}}}" for p in NAME_PLACEHOLDERS if f"{{{p}}}" not in listed]
    assert not missing, missing
    assert DEFAULT_NAME_TEMPLATE in ticked(section(CONTACT, whole=False))


def test_nothing_listed_as_owned_by_the_organisation_is_written() -> None:
    never = ticked(section(NEVER_WRITTEN))
    assert "AccountNumber" in never
    overlap = sorted(never & written(ContactMapping()))
    assert not overlap, f"listed as never written, but the mapping writes {overlap}"


# -- 4. Xero's documents -> Wisenet's invoices ----------------------------------------------


def credit(kind: str, credit_id: str, invoice_day: str) -> Any:
    """A credit of ``kind`` applied to the sample invoice, with its own record's allocation."""
    xero_type, _, _ = CREDIT_KINDS[kind]
    return document(
        kind,
        document_id=credit_id,
        type=xero_type,
        status="AUTHORISED",
        remaining_credit=Decimal("15.00"),
        Allocations=[
            {"Invoice": {"InvoiceID": INVOICE_ID}, "Amount": Decimal("10.00"), "Date": invoice_day}
        ],
    )


INVOICE_ID = document().document_id
OVERPAY_ID = "c0000000-0000-4000-8000-000000000003"
CREDITS = [
    credit("credit_note", CREDIT_ID, "/Date(1773100800000+0000)/"),
    credit("prepayment", PREPAY_ID, "/Date(1773187200000+0000)/"),
    credit("overpayment", OVERPAY_ID, "/Date(1773273600000+0000)/"),
]


def invoice() -> Any:
    """A sales invoice with a whole, a fractional and a discounted line, a payment, and a
    credit note, a prepayment and an overpayment applied to it."""
    return document(
        LineItems=[
            xero_line("1.0000", "1250.00", "1250.00", ItemCode="CERT3"),
            xero_line("2.5000", "40.00", "100.00"),
            xero_line("1.0000", "100.00", "90.00", DiscountRate=Decimal("10")),
        ],
        Payments=[
            {
                "PaymentID": "p1",
                "Date": "/Date(1773014400000+0000)/",
                "Amount": 500,
                "Reference": "Direct debit",
            }
        ],
        CreditNotes=[{"CreditNoteID": CREDIT_ID, "AppliedAmount": Decimal("10.00")}],
        Prepayments=[{"PrepaymentID": PREPAY_ID, "AppliedAmount": Decimal("10.00")}],
        Overpayments=[{"OverpaymentID": OVERPAY_ID, "AppliedAmount": Decimal("10.00")}],
    )


def shaped(doc: Any) -> Any:
    applied = [a for c in CREDITS for _, a in allocations(c)]
    return wisenet_invoice(doc, learner_id=4021, applied=applied)


def test_every_key_the_resync_sends_is_on_the_page() -> None:
    result = shaped(invoice())
    body = result.body
    listed = segments(ticked(section(RESYNC, whole=False)))
    sent = set(keys(body)) | {p["Type"] for p in body["Payments"]}
    assert {"Payment", "CreditNote", "Prepayment", "Overpayment"} <= sent
    missing = sorted(sent - listed)
    assert not missing, missing
    # The page says every field of Wisenet's Invoice is sent.
    assert set(body) == set(INVOICE_FIELDS) == set(INVOICE)


def test_every_note_on_what_wisenet_cannot_hold_is_on_the_page() -> None:
    codes = {note.code for note in shaped(invoice()).notes}
    codes |= {note.code for c in CREDITS if (note := open_credit(c)) is not None}
    assert codes == {"fractional_quantity", "discount", "open_credit"}
    missing = sorted(codes - ticked(section(RESYNC)))
    assert not missing, missing


@pytest.mark.parametrize(
    ("starts", "where"),
    [("of the invoice:", "invoice"), ("of a line:", "LineItems"), ("of a payment:", "Payments")],
)
def test_what_is_listed_as_not_sent_changes_nothing_sent(starts: str, where: str) -> None:
    fields = bullet(section(NOT_SENT), starts)
    assert fields, f"the list item {starts!r} names no field"
    doc = invoice()
    before = shaped(doc).body
    for field in sorted(fields):
        marker = f"changed {field}"
        if where == "invoice":
            data = {**doc.data, field: marker}
        else:
            data = {**doc.data, where: [{**i, field: marker} for i in doc.data[where]]}
        after = shaped(replace(doc, data=data)).body
        assert after == before, f"{field} ({starts}) is listed as not sent, but it changes the body"


def test_the_csv_export_columns_are_on_the_page() -> None:
    missing = [c for c in EXPORT_COLUMNS if c not in ticked(section(CSV_SOURCE))]
    assert not missing, missing


# -- 5. What the invoice prints ---------------------------------------------------------------


def test_the_invoice_templates_fields_are_on_the_page() -> None:
    listed = ticked(section(PRINTS))
    missing = [f for f in (*CONTACT_FIELDS, *LINE_ITEM_FIELDS) if f not in listed]
    assert not missing, missing
    assert "ContactName" in listed  # what the template prints instead of


# -- links --------------------------------------------------------------------------------------


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _links() -> Iterator[tuple[Path, str, str]]:
    for source in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target, anchor in re.findall(
            r"\]\(([\w./-]*\.md)(?:#([\w-]+))?\)", source.read_text(encoding="utf-8")
        ):
            yield source, target, anchor


def test_the_links_to_and_from_the_page_arrive() -> None:
    page = ROOT / "docs" / "field-mapping.md"
    broken = []
    for source, target, anchor in _links():
        path = (source.parent / target).resolve()
        if page not in (source, path):
            continue
        if not path.is_file():
            broken.append(f"{source.name}: {target}")
            continue
        headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
        if anchor and anchor not in {_anchor(h) for h in headings}:
            broken.append(f"{source.name}: {target}#{anchor}")
    assert not broken, broken
    linked_from = {
        source.name for source, target, _ in _links() if target.endswith("field-mapping.md")
    }
    assert {"README.md", "getting-started.md", "sync.md"} <= linked_from
