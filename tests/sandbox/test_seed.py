"""The demo data: the same on every run, acceptable to Xero, and realistic in its proportions."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learnerledger.sandbox.seed import (
    LegacyContact,
    Person,
    demo_people,
    legacy_contacts,
    seed_summary,
)

TODAY = date(2026, 11, 1)
DOCS = Path(__file__).parents[2] / "docs" / "seed.md"
STATES = {"NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT"}
# First digit of a postcode by state (ACT shares 2 with NSW; NT's postcodes start with 0).
POSTCODE_LEAD = {"NSW": "2", "ACT": "2", "VIC": "3", "QLD": "4", "SA": "5", "WA": "6", "TAS": "7"}
POSTCODE_LEAD["NT"] = "0"
MOBILE = re.compile(r"^(04\d{2} \d{3} \d{3}|04\d{8}|\+61 4\d{2} \d{3} \d{3}|\+614\d{8})$")
PERSON_VARIANTS = {"exact", "surname-first", "initial+title", "nickname", "typo", "maiden-name"}
PERSON_VARIANTS |= {"swapped", "case", "middle-name", "family-email", "email-domain"}
PERSON_VARIANTS |= {"landline-only", "old-address", "no-address", "ref-contact-number"}
PERSON_VARIANTS |= {"old-contact-number"}
UNRELATED_VARIANTS = {"supplier", "trainer", "similar-name", "namesake"}
# Xero's field lengths for a contact, its phones and its addresses.
CONTACT_LIMITS = dict.fromkeys(["Name", "FirstName", "LastName", "EmailAddress"], 255)
CONTACT_LIMITS |= dict.fromkeys(
    ["ContactNumber", "AccountNumber", "TaxNumber", "ContactStatus"], 50
)
PHONE_LIMITS = {"PhoneType": 50, "PhoneNumber": 50, "PhoneAreaCode": 10, "PhoneCountryCode": 20}
ADDRESS_LIMITS = dict.fromkeys(["AddressType", "PostalCode", "Country"], 50)
ADDRESS_LIMITS |= {"AddressLine1": 500, "City": 255, "Region": 255}
SUFFIX = re.compile(r"( \(.+\)| \d+)$")  # what a finance officer adds to tell namesakes apart
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@pytest.fixture(scope="module")
def scale1() -> tuple[list[Person], list[LegacyContact]]:
    people = demo_people()
    return people, legacy_contacts(people)


@pytest.fixture(scope="module")
def scale10() -> tuple[list[Person], list[LegacyContact]]:
    people = demo_people(scale=10)
    return people, legacy_contacts(people)


def check_people(people: Sequence[Person], today: date = TODAY) -> None:
    refs = [p.ref_internal for p in people]
    assert all(re.fullmatch(r"DAU\d{7}", ref) for ref in refs)
    assert refs == sorted(set(refs)), "RefInternal is unique and increasing"
    ids = [p.learner_id for p in people]
    assert ids == sorted(set(ids)), "learner_id is unique and increasing"
    end = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    for p in people:
        assert p.first_name
        assert p.last_name
        assert p.first_name == p.first_name.strip()
        assert p.gender in {"M", "F", "X"}
        assert p.title in {"Mr", "Ms", "Mrs", "Miss", "Dr", "Mx", ""}
        assert not p.mobile or MOBILE.match(p.mobile), p.mobile
        assert p.date_of_birth is None or 16 <= (today - p.date_of_birth).days // 365 <= 69
        assert p.modified_utc.tzinfo is not None
        assert end - timedelta(days=3 * 365) <= p.modified_utc < end
        for address in (p.street, p.postal):
            if address is None:
                continue
            assert address.state in STATES | {""}
            assert address.country == "Australia"
            assert address.postcode == "" or re.fullmatch(r"\d{4}", address.postcode)
            if address.state and address.postcode:
                assert address.postcode[0] == POSTCODE_LEAD[address.state], address
    by_family = Counter(p.family_id for p in people if p.family_id is not None)
    assert all(2 <= n <= 4 for n in by_family.values())


def check_contacts(
    people: Sequence[Person], contacts: Sequence[LegacyContact], today: date = TODAY
) -> None:
    refs = {p.ref_internal for p in people}
    keys = [c.key for c in contacts]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"L\d{6}", k) for k in keys)
    active = [c.contact["Name"].casefold() for c in contacts if is_active(c)]
    assert len(set(active)) == len(active), "Xero allows one active contact per name"
    numbers = [c.contact["ContactNumber"] for c in contacts if "ContactNumber" in c.contact]
    assert len(set(numbers)) == len(numbers)
    accounts = [c.contact["AccountNumber"] for c in contacts if "AccountNumber" in c.contact]
    assert len(set(accounts)) == len(accounts)
    end = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    for c in contacts:
        data = c.contact
        json.dumps(data)
        assert set(data) <= set(CONTACT_LIMITS) | {"Phones", "Addresses"}
        assert data["Name"].strip() == data["Name"]
        assert data["Name"]
        assert data["ContactStatus"] in {"ACTIVE", "ARCHIVED"}
        assert all(len(data[k]) <= limit for k, limit in CONTACT_LIMITS.items() if k in data)
        assert "EmailAddress" not in data or EMAIL.match(data["EmailAddress"])
        for phone in data.get("Phones", []):
            assert phone["PhoneType"] in {"DEFAULT", "DDI", "MOBILE", "FAX"}
            assert phone["PhoneNumber"]
            assert all(len(phone[k]) <= limit for k, limit in PHONE_LIMITS.items() if k in phone)
        for address in data.get("Addresses", []):
            assert address["AddressType"] in {"STREET", "POBOX"}
            assert all(len(address[k]) <= n for k, n in ADDRESS_LIMITS.items() if k in address)
            assert set(address) <= set(ADDRESS_LIMITS)
        assert end - timedelta(days=3 * 365) <= c.updated_utc < end
        if c.kind == "person":
            assert c.person_ref in refs
            assert c.variant in PERSON_VARIANTS
        else:
            assert c.person_ref is None
            assert c.variant in (UNRELATED_VARIANTS if c.kind == "unrelated" else {"employer"})
        number = data.get("ContactNumber")
        if c.variant == "ref-contact-number":
            assert number == c.person_ref
        elif c.variant == "old-contact-number":
            assert re.fullmatch(r"STU-\d{5}", number or "")
        else:
            assert number is None
    assert [c.updated_utc for c in contacts] == sorted(c.updated_utc for c in contacts)


def is_active(contact: LegacyContact) -> bool:
    return bool(contact.contact["ContactStatus"] == "ACTIVE")


def digest(seed: int, scale: float) -> str:
    people = demo_people(seed, scale)
    return hashlib.sha256(repr((people, legacy_contacts(people, seed))).encode()).hexdigest()


# -- determinism ----------------------------------------------------------------------------


def test_same_arguments_give_the_same_data() -> None:
    people = demo_people(7, 0.5)
    assert people == demo_people(7, 0.5)
    assert legacy_contacts(people, 7) == legacy_contacts(demo_people(7, 0.5), 7)


def test_another_seed_gives_other_data() -> None:
    assert demo_people(1, 0.2) != demo_people(2, 0.2)
    people = demo_people(1, 0.2)
    assert legacy_contacts(people, 1) != legacy_contacts(people, 2)


def test_a_larger_scale_is_deterministic_too() -> None:
    assert demo_people(3, 2.0) == demo_people(3, 2.0)
    assert len(demo_people(3, 2.0)) == 2 * len(demo_people(3, 1.0))


def test_the_data_does_not_depend_on_string_hashing() -> None:
    """Another interpreter with other hash seeds produces the same bytes."""
    code = (
        "import hashlib; from learnerledger.sandbox.seed import demo_people, legacy_contacts;"
        "p = demo_people(5, 0.3); c = legacy_contacts(p, 5);"
        "print(hashlib.sha256(repr((p, c)).encode()).hexdigest())"
    )
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == digest(5, 0.3)


def test_dates_follow_today_not_the_clock() -> None:
    today = date(2019, 3, 15)
    people = demo_people(1, 0.2, today=today)
    check_people(people, today)
    check_contacts(people, legacy_contacts(people, 1, today=today), today)


# -- size -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "count"), [(0, 0), (0.001, 1), (0.01, 6), (0.5, 300), (1, 600), (2.5, 1500)]
)
def test_scale_sets_the_number_of_learners(scale: float, count: int) -> None:
    people = demo_people(scale=scale)
    assert len(people) == count
    contacts = legacy_contacts(people)
    kinds = Counter(c.kind for c in contacts)
    assert kinds["employer"] == round(count * 0.12)
    assert kinds["unrelated"] == round(count * 0.05)
    check_people(people)
    check_contacts(people, contacts)


@pytest.mark.parametrize("scale", [-0.5, 1000.5, float("nan")])
def test_scale_out_of_range_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="scale must be between 0 and 1000"):
        demo_people(scale=scale)


@pytest.mark.slow
def test_scale_100_is_valid() -> None:
    """60,000 learners: generated in a few seconds (see docs/seed.md), and still valid."""
    people = demo_people(scale=100)
    assert len(people) == 60_000
    contacts = legacy_contacts(people)
    check_people(people)
    check_contacts(people, contacts)


# -- learners -------------------------------------------------------------------------------


def test_learners_are_valid(
    scale1: tuple[list[Person], list[LegacyContact]],
    scale10: tuple[list[Person], list[LegacyContact]],
) -> None:
    check_people(scale1[0])
    check_people(scale10[0])


def test_namesakes_are_different_people(scale1: tuple[list[Person], list[LegacyContact]]) -> None:
    people = scale1[0]
    jacks = [p for p in people if (p.first_name, p.last_name) == ("Jack", "Smith")]
    felicities = [p for p in people if (p.first_name, p.last_name) == ("Felicity", "Jones")]
    assert len(jacks) >= 3
    assert len(felicities) >= 2
    for namesakes in (jacks, felicities):
        births = [p.date_of_birth for p in namesakes]
        assert None not in births
        assert len(set(births)) == len(births)
        assert len({p.ref_internal for p in namesakes}) == len(namesakes)


def test_even_a_tiny_set_has_a_pair_of_namesakes() -> None:
    names = Counter((p.first_name, p.last_name) for p in demo_people(scale=0.01))
    assert max(names.values()) >= 2


def test_names_are_diverse(scale1: tuple[list[Person], list[LegacyContact]]) -> None:
    people = scale1[0]
    surnames = {p.last_name for p in people}
    first_names = {p.first_name for p in people}
    assert any("'" in s for s in surnames), "O'Brien, D'Souza"
    assert any("-" in s for s in surnames), "Smith-Jones"
    assert any(" " in s for s in surnames), "Van der Berg, Dela Cruz"
    assert {"Nguyen", "Le"} & surnames
    assert any(not n.isascii() for n in first_names | surnames), "Zoë, José, Søren"
    assert len(surnames) > 200
    assert len(first_names) > 200
    assert sum(bool(p.preferred_name) for p in people) > 20


def test_some_records_are_incomplete(scale1: tuple[list[Person], list[LegacyContact]]) -> None:
    people = scale1[0]
    assert any(p.street and not (p.street.state and p.street.postcode) for p in people)
    assert any(p.email and not EMAIL.match(p.email) for p in people)
    assert any(p.email == "" for p in people)
    assert any(
        p.postal and p.postal.line1.upper().startswith(("PO BOX", "P.O. BOX")) for p in people
    )
    assert any(p.street and p.street.state == "NT" and p.street.postcode[0] == "0" for p in people)


def test_households_share_an_id_and_often_an_email(
    scale1: tuple[list[Person], list[LegacyContact]],
) -> None:
    families: dict[int, list[Person]] = {}
    for p in scale1[0]:
        if p.family_id is not None:
            families.setdefault(p.family_id, []).append(p)
    assert len(families) >= 15
    shared = [f for f in families.values() if len({p.email for p in f}) < len(f)]
    assert len(shared) >= 5
    assert any(len({p.street for p in f}) == 1 for f in families.values())


# -- legacy contacts ------------------------------------------------------------------------


def test_contacts_are_valid(
    scale1: tuple[list[Person], list[LegacyContact]],
    scale10: tuple[list[Person], list[LegacyContact]],
) -> None:
    check_contacts(*scale1)
    check_contacts(*scale10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_proportions_at_scale_1(seed: int) -> None:
    people = demo_people(seed)
    check_proportions(people, legacy_contacts(people, seed))


def test_proportions_at_scale_10(scale10: tuple[list[Person], list[LegacyContact]]) -> None:
    check_proportions(*scale10)
    variants = {c.variant for c in scale10[1]}
    assert variants == PERSON_VARIANTS | UNRELATED_VARIANTS | {"employer"}


def check_proportions(people: Sequence[Person], contacts: Sequence[LegacyContact]) -> None:
    n = len(people)
    per_person = Counter(c.person_ref for c in contacts if c.person_ref)
    assert 0.50 <= sum(v == 1 for v in per_person.values()) / n <= 0.60
    assert 0.05 <= sum(v == 2 for v in per_person.values()) / n <= 0.11
    assert max(per_person.values()) == 2
    assert 0.80 <= sum(p.sync_to_xero for p in people) / n <= 0.90
    persons = [c.contact for c in contacts if c.kind == "person"]

    def share(test: Callable[[dict[str, Any]], bool]) -> float:
        return sum(map(test, persons)) / len(persons)

    assert 0.01 <= share(lambda c: c["ContactStatus"] == "ARCHIVED") <= 0.06
    assert 0.33 <= share(lambda c: not (c.get("FirstName") and c.get("LastName"))) <= 0.47
    assert 0.12 <= share(lambda c: not c.get("EmailAddress")) <= 0.28
    assert 0.002 <= share(lambda c: c.get("ContactNumber", "").startswith("DAU")) <= 0.03
    assert 0.002 <= share(lambda c: c.get("ContactNumber", "").startswith("STU-")) <= 0.03
    assert 0.2 <= Counter(c.variant for c in contacts)["exact"] / len(persons) <= 0.45


def test_ground_truth_matches_what_the_contact_says(
    scale1: tuple[list[Person], list[LegacyContact]],
) -> None:
    people, contacts = scale1
    by_ref = {p.ref_internal: p for p in people}
    for c in contacts:
        if c.kind != "person":
            continue
        p, data = by_ref[c.person_ref or ""], c.contact
        if c.variant == "exact":
            assert data["Name"].startswith(f"{p.first_name} {p.last_name}")
        elif c.variant == "surname-first":
            assert data["Name"].startswith(f"{p.last_name}, {p.first_name}")
        elif c.variant == "case":
            assert data["Name"].casefold().startswith(f"{p.first_name} {p.last_name}".casefold())
        elif c.variant == "maiden-name":
            assert data["EmailAddress"].casefold() == p.email.casefold()
            assert not data["Name"].startswith(f"{p.first_name} {p.last_name}")
        elif c.variant == "email-domain":
            local, domain = data["EmailAddress"].split("@")
            assert p.email.startswith(local + "@")
            assert not p.email.endswith("@" + domain)
        elif c.variant == "typo":
            typed = SUFFIX.sub("", data["Name"])
            assert typed != f"{p.first_name} {p.last_name}"
            assert abs(len(typed) - len(p.first_name) - len(p.last_name) - 1) <= 1
        elif c.variant == "ref-contact-number":
            assert data["ContactNumber"] == p.ref_internal
        elif c.variant == "landline-only":
            assert [ph["PhoneType"] for ph in data["Phones"]] == ["DEFAULT"]
        elif c.variant == "no-address":
            assert "Addresses" not in data


def test_siblings_share_a_family_email(scale10: tuple[list[Person], list[LegacyContact]]) -> None:
    people, contacts = scale10
    family = {p.ref_internal: p.family_id for p in people}
    owners: dict[str, set[int | None]] = {}
    for c in contacts:
        if c.variant == "family-email" and c.person_ref:
            owners.setdefault(c.contact["EmailAddress"], set()).add(family[c.person_ref])
    shared = [email for email, fams in owners.items() if len(fams) == 1 and None not in fams]
    assert any("family" in email for email in owners)
    assert shared


def test_name_collisions_are_resolved_as_a_finance_officer_would(
    scale1: tuple[list[Person], list[LegacyContact]],
) -> None:
    names = [c.contact["Name"] for c in scale1[1] if is_active(c)]
    assert any(re.search(r" \([A-Z][A-Za-z ]+\)$", name) for name in names)
    assert any(name.startswith("Jack Smith") and name != "Jack Smith" for name in names)


def test_employers_look_like_australian_businesses(
    scale1: tuple[list[Person], list[LegacyContact]],
) -> None:
    employers = [c.contact for c in scale1[1] if c.kind == "employer"]
    assert any(c["Name"].endswith("Pty Ltd") for c in employers)
    emails = [c["EmailAddress"] for c in employers if "EmailAddress" in c]
    assert sum(e.startswith("accounts@") for e in emails) > len(emails) / 3
    assert all(c.get("Phones") and c.get("Addresses") for c in employers)
    for c in employers:
        if "TaxNumber" in c:  # an ABN with a valid checksum
            digits = [int(d) for d in c["TaxNumber"].replace(" ", "")]
            digits[0] -= 1
            weights = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
            assert sum(w * d for w, d in zip(weights, digits, strict=True)) % 89 == 0


def test_unrelated_people_include_hard_negatives(
    scale10: tuple[list[Person], list[LegacyContact]],
) -> None:
    people, contacts = scale10
    first_names: dict[str, set[str]] = {}
    for p in people:
        first_names.setdefault(p.last_name, set()).add(p.first_name)
    emails = {p.email.casefold() for p in people}

    def close_to_a_learner(name: str) -> bool:
        """Same surname and initial as some learner, another first name."""
        parts = name.split(" ")
        for i in range(1, len(parts)):
            first, last = " ".join(parts[:i]), " ".join(parts[i:])
            if any(f[:1] == first[:1] and f != first for f in first_names.get(last, ())):
                return True
        return False

    similar = [c.contact for c in contacts if c.variant == "similar-name"]
    assert similar
    assert all(close_to_a_learner(SUFFIX.sub("", c["Name"])) for c in similar)
    assert all(c["EmailAddress"].casefold() not in emails for c in similar if "EmailAddress" in c)
    namesakes = [SUFFIX.sub("", c.contact["Name"]) for c in contacts if c.variant == "namesake"]
    full_names = {f"{p.first_name} {p.last_name}" for p in people}
    assert namesakes
    assert all(name in full_names for name in namesakes)


def test_legacy_contacts_of_no_people() -> None:
    assert legacy_contacts([]) == []


@settings(max_examples=25, deadline=None, database=None)
@given(seed=st.integers(min_value=-(10**9), max_value=10**9), scale=st.sampled_from([0.02, 0.1]))
def test_any_seed_gives_valid_data(seed: int, scale: float) -> None:
    people = demo_people(seed, scale)
    contacts = legacy_contacts(people, seed)
    check_people(people)
    check_contacts(people, contacts)


# -- summary and docs -----------------------------------------------------------------------


def test_summary_adds_up(scale1: tuple[list[Person], list[LegacyContact]]) -> None:
    summary = seed_summary(*scale1)
    assert list(summary) == sorted(summary)
    assert summary["people"] == 600
    total = summary["contacts"]
    assert total == sum(v for k, v in summary.items() if k.startswith("contacts.kind."))
    assert total == sum(v for k, v in summary.items() if k.startswith("contacts.variant."))
    assert total == summary["contacts.status.ACTIVE"] + summary["contacts.status.ARCHIVED"]
    by_count = [summary[f"people.legacy_contacts.{n}"] for n in range(3)]
    assert sum(by_count) == 600
    assert by_count[1] + 2 * by_count[2] == summary["contacts.kind.person"]


def test_the_docs_show_the_current_numbers(
    scale1: tuple[list[Person], list[LegacyContact]],
    scale10: tuple[list[Person], list[LegacyContact]],
) -> None:
    rows = re.findall(
        r"^\| `([\w.+-]+)` +\| +(\d+) +\| +(\d+) +\|$", DOCS.read_text(encoding="utf-8"), re.M
    )
    documented = {key: (int(one), int(ten)) for key, one, ten in rows}
    one, ten = seed_summary(*scale1), seed_summary(*scale10)
    assert documented == {key: (one.get(key, 0), ten.get(key, 0)) for key in one | ten}
