"""The normal forms of names, e-mails, phones and addresses, messy input first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learnerledger.matching.normalize import (
    PersonName,
    company_reason,
    fold,
    name_groups,
    normalize_address,
    normalize_email,
    normalize_phone,
    parse_name,
    strip_name_tail,
)


def _reads(name: str, first: str = "", last: str = "") -> set[tuple[str, str]]:
    return {(r.first, r.family) for r in parse_name(name, first, last)}


def test_fold_removes_case_accents_punctuation_and_spacing() -> None:
    assert fold("  Zoë  O'Brien-Smith ") == "zoe o brien smith"
    assert fold("SØREN Müller") == "soren muller"
    assert fold("José\tGarcía") == "jose garcia"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jones, Felicity", ("felicity", "jones")),
        ("JONES, Felicity", ("felicity", "jones")),
        ("Ms F. Jones", ("f", "jones")),
        ("Mr P. Harris", ("p", "harris")),
        ("Dr Felicity Jones PhD", ("felicity", "jones")),
        ("Felicity Jones (2)", ("felicity", "jones")),
        ("Felicity Jones (Salisbury)", ("felicity", "jones")),
        ("Minh Nguyen 2", ("minh", "nguyen")),
        ("Felicity Jones DAU0000072", ("felicity", "jones")),
        ("Fliss Jones", ("fliss", "jones")),
        ("Sean O'Brien", ("sean", "obrien")),
        ("Anna Van der Berg", ("anna", "vanderberg")),
        ("Zoe Harper Young", ("zoe", "harperyoung")),
    ],
)
def test_messy_names_are_read(name: str, expected: tuple[str, str]) -> None:
    assert expected in _reads(name)
    assert parse_name(name)[0].family  # the best reading first has a surname


def test_a_middle_name_is_a_given_name() -> None:
    assert ("zoe", "young") in _reads("Zoe Harper Young")
    (zoe,) = [r for r in parse_name("Zoe Harper Young") if r.family == "young" and not r.swapped]
    assert zoe.given == ("zoe", "harper")


def test_swapped_names_are_read_both_ways() -> None:
    readings = parse_name("Chen Bo")
    assert PersonName(("chen",), "bo") in readings
    assert PersonName(("bo",), "chen", swapped=True) in readings


def test_first_and_last_name_fields_are_read_first() -> None:
    assert parse_name("Wymarra, Kirra", "Kirra", "Wymarra")[0] == PersonName(("kirra",), "wymarra")


def test_a_couple_is_two_people() -> None:
    readings = parse_name("Felicity & Tom Jones")
    assert all(r.couple for r in readings)
    assert {("felicity", "jones"), ("tom", "jones")} <= {(r.first, r.family) for r in readings}
    assert {("felicity", "jones"), ("tom", "smith")} <= _reads("Felicity Jones and Tom Smith")


def test_the_name_tail_and_its_reference() -> None:
    assert strip_name_tail("Tahnee Walker DAU0001110") == ("Tahnee Walker", "DAU0001110")
    assert strip_name_tail("Felicity Jones (2)") == ("Felicity Jones", "")
    assert strip_name_tail("Jack Smith (Coolangatta)") == ("Jack Smith", "")
    assert strip_name_tail("Rey Torres STU-00126") == ("Rey Torres", "STU-00126")


@pytest.mark.parametrize(
    ("a", "b"),
    [("fliss", "felicity"), ("bob", "robert"), ("liz", "elizabeth"), ("bill", "william")],
)
def test_nicknames_share_a_group(a: str, b: str) -> None:
    assert name_groups(a) & name_groups(b)


def test_unrelated_names_share_no_group() -> None:
    assert not name_groups("felicity") & name_groups("robert")
    assert name_groups("zzzz") == frozenset()


@pytest.mark.parametrize(
    "name",
    [
        "Phillips Aged Care Pty. Ltd.",
        "Acme Plumbing Pty Ltd",
        "Smith & Co",
        "Brown & Sons Carpentry",
        "Parramatta City Council",
        "St Mary's School",
        "The Nguyen Family Trust",
        "Globex Inc",
    ],
)
def test_companies_are_detected(name: str) -> None:
    assert company_reason({"Name": name})


def test_a_company_by_its_mailbox_tax_number_or_supplier_flag() -> None:
    assert company_reason({"Name": "Jane Doe", "EmailAddress": "accounts@doe.com.au"})
    assert company_reason({"Name": "Jane Doe", "TaxNumber": "51 824 753 556"})
    assert company_reason({"Name": "Jane Doe", "IsSupplier": True})
    assert not company_reason({"Name": "Jane Doe", "IsSupplier": True, "IsCustomer": True})


@pytest.mark.parametrize("name", ["Felicity Jones", "Jones, Felicity", "Ms F. Jones", "Le Ng"])
def test_people_are_not_companies(name: str) -> None:
    assert company_reason({"Name": name, "EmailAddress": "f.jones@gmail.com"}) == ""


def test_emails() -> None:
    assert normalize_email(" Jane.Smith@Gmail.com ").address == "janesmith@gmail.com"
    assert normalize_email("jane.smith+xero@googlemail.com").address == "janesmith@gmail.com"
    assert normalize_email("Jane.Smith+news@outlook.com").address == "jane.smith@outlook.com"
    assert normalize_email("accounts@acme.com.au").role
    for bad in ("", "n/a", "jane.smith@", "jane.smith@gmail", "a@b@c.com"):
        assert not normalize_email(bad)


@pytest.mark.parametrize(
    "typed",
    ["0412 345 678", "0412345678", "+61 412 345 678", "+61412345678", "61412345678"],
)
def test_mobiles(typed: str) -> None:
    phone = normalize_phone(typed)
    assert (phone.number, phone.kind) == ("0412345678", "mobile")


@pytest.mark.parametrize("typed", ["(02) 9876 5432", "02 9876 5432", "0298765432"])
def test_landlines(typed: str) -> None:
    assert normalize_phone(typed) == normalize_phone("9876 5432", "02")
    assert normalize_phone(typed).kind == "landline"


def test_a_landline_without_its_area_code_keeps_its_tail() -> None:
    assert normalize_phone("9876 5432").tail == normalize_phone("(02) 9876 5432").tail
    assert normalize_phone("1300 123 456").kind == "service"
    assert normalize_phone("+44 20 7946 0958").number == "+442079460958"
    assert not normalize_phone("n/a")


def test_addresses() -> None:
    a = normalize_address("Unit 2, 14 Smith Street", "Parramatta", "New South Wales", "2150")
    b = normalize_address("2/14 Smith St", "PARRAMATTA", "NSW", "2150")
    assert a == b
    assert a.line == "2/14 smith st"
    assert normalize_address("U2 14 Smith St").line == "2/14 smith st"
    assert normalize_address("14 Smith Rd").line == normalize_address("14 Smith Road").line
    assert normalize_address("5 Kent Ave").line == normalize_address("5 Kent Avenue").line
    assert normalize_address("P.O. Box 123").line == "po box 123"
    assert normalize_address("x", "Darwin", "Northern Territory", "800").postcode == "0800"
    assert normalize_address("x", "", "Northern Territory").state == "NT"


_text = st.text(max_size=60)


@given(_text)
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(_text, _text, _text)
def test_parse_name_never_raises(name: str, first: str, last: str) -> None:
    for r in parse_name(name, first, last):
        assert all(r.given)
        assert isinstance(r.family, str)


@given(_text)
def test_strip_name_tail_is_idempotent(text: str) -> None:
    once, _ = strip_name_tail(text)
    assert strip_name_tail(once)[0] == once


@given(_text)
def test_email_is_idempotent(text: str) -> None:
    once = normalize_email(text)
    assert normalize_email(once.address).address == once.address


@given(st.text(alphabet="0123456789 +()-", max_size=20), st.text(max_size=5))
def test_phone_is_idempotent(text: str, area: str) -> None:
    once = normalize_phone(text, area)
    if once:
        assert normalize_phone(once.number) == once


@given(_text, _text, _text, _text)
def test_address_is_idempotent(line: str, suburb: str, state: str, postcode: str) -> None:
    once = normalize_address(line, suburb, state, postcode)
    assert normalize_address(once.line, once.suburb, once.state, once.postcode) == once


@given(st.dictionaries(st.sampled_from(["Name", "EmailAddress", "TaxNumber"]), _text))
def test_company_reason_never_raises(data: dict[str, str]) -> None:
    assert isinstance(company_reason(data), str)
