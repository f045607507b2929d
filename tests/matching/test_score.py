"""Scores and their evidence: a learner against its messy contact, a sibling, a company."""

from __future__ import annotations

from typing import Any

from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact
from learnerledger.matching import MatchSettings, find_duplicates

HOME = Address("14 Smith Street", "Parramatta", "NSW", "2150", "Australia")
FELICITY = Learner(
    "DAU0000072",
    first_name="Felicity",
    last_name="Jones",
    email="felicity.jones@gmail.com",
    mobile="0412 345 678",
    phone_home="(02) 9876 5432",
    street=HOME,
)
TOM = Learner(
    "DAU0000073",
    first_name="Thomas",
    last_name="Jones",
    email="the.jones.family@bigpond.com",
    mobile="0498 765 432",
    phone_home="(02) 9876 5432",
    street=HOME,
)
SETTINGS = MatchSettings()


def contact(contact_id: str, **data: Any) -> MirroredContact:
    return MirroredContact(
        contact_id, str(data.get("Name", "")), data.get("ContactNumber"), "ACTIVE", None, 0, data
    )


def only_pair(learners: list[Learner], c: MirroredContact, ref: str) -> Any:
    pairs = [p for p in find_duplicates(learners, [c]) if p.ref_internal == ref]
    return pairs[0] if pairs else None


def test_a_messy_legacy_contact_scores_auto_with_readable_evidence() -> None:
    c = contact(
        "c1",
        Name="JONES, Fliss",
        EmailAddress="Felicity.Jones+xero@Gmail.com",
        Phones=[{"PhoneType": "DEFAULT", "PhoneAreaCode": "02", "PhoneNumber": "9876 5432"}],
        Addresses=[
            {"AddressLine1": "14 Smith St", "City": "Parramatta", "Region": "New South Wales"}
        ],
    )
    pair = only_pair([FELICITY, TOM], c, "DAU0000072")
    assert pair is not None
    assert pair.score >= SETTINGS.auto
    assert pair.status == "auto"
    fields = {e.field: e.comparison for e in pair.evidence}
    assert fields["first_name"] == "nickname"
    assert fields["last_name"] == "exact"
    assert fields["email"] == "exact"
    assert all(e.detail for e in pair.evidence)
    document = pair.as_json()
    assert document["ref_internal"] == "DAU0000072"
    assert document["evidence"][0]["field"]


def test_initial_and_title() -> None:
    c = contact("c1", Name="Ms F. Jones", Phones=[{"PhoneNumber": "+61 412 345 678"}])
    pair = only_pair([FELICITY, TOM], c, "DAU0000072")
    assert pair is not None
    assert pair.score >= SETTINGS.review


def test_a_sibling_in_the_same_household_stays_below_review() -> None:
    sibling = contact(
        "c2",
        Name="Felicity Jones",
        FirstName="Felicity",
        LastName="Jones",
        EmailAddress="the.jones.family@bigpond.com",
        Phones=[{"PhoneType": "DEFAULT", "PhoneNumber": "02 9876 5432"}],
        Addresses=[{"AddressLine1": "14 Smith St", "City": "Parramatta", "PostalCode": "2150"}],
    )
    # the household's contact for Felicity is not Thomas's
    assert only_pair([FELICITY, TOM], sibling, "DAU0000073") is None


def test_a_sibling_sharing_a_personal_looking_email_stays_below_review() -> None:
    tom = Learner(
        "DAU0000073",
        first_name="Thomas",
        last_name="Jones",
        email="karen.jones@bigpond.com",
        phone_home="(02) 9876 5432",
        street=HOME,
    )
    sister = contact(
        "c3",
        Name="Jones, Emily",
        EmailAddress="karen.jones@bigpond.com",
        Phones=[{"PhoneNumber": "(02) 9876 5432"}],
        Addresses=[{"AddressLine1": "14 Smith Street", "City": "Parramatta", "PostalCode": "2150"}],
    )
    assert only_pair([tom], sister, "DAU0000073") is None


def test_a_company_never_matches_a_person() -> None:
    company = contact(
        "c4",
        Name="Jones Plumbing Pty Ltd",
        FirstName="Felicity",
        LastName="Jones",
        EmailAddress="felicity.jones@gmail.com",
        Phones=[{"PhoneNumber": "0412 345 678"}],
    )
    assert find_duplicates([FELICITY], [company]) == []


def test_a_namesake_with_nothing_else_in_common_is_not_returned() -> None:
    namesake = contact(
        "c5",
        Name="Felicity Jones",
        EmailAddress="fjones77@hotmail.com",
        Phones=[{"PhoneNumber": "0433 111 222"}],
        Addresses=[{"AddressLine1": "9 Other Rd", "City": "Perth", "PostalCode": "6000"}],
    )
    assert find_duplicates([FELICITY], [namesake]) == []


def test_the_name_alone_is_never_auto() -> None:
    (pair,) = find_duplicates([FELICITY], [contact("c6", Name="Felicity Jones")])
    assert pair.status == "review"
    assert "only the name" in pair.reasons[0]


def test_swapped_and_referenced_contacts() -> None:
    swapped = contact("c7", Name="Jones Felicity", EmailAddress="felicity.jones@gmail.com")
    referenced = contact("c8", Name="Felicity Jones DAU0000072")
    pairs = find_duplicates([FELICITY, TOM], [swapped, referenced])
    assert {(p.ref_internal, p.contact_id) for p in pairs} == {
        ("DAU0000072", "c7"),
        ("DAU0000072", "c8"),
    }
    assert [e.field for e in pairs[0].evidence if e.field == "reference"] in ([], ["reference"])


def test_the_survivor_is_not_a_candidate_and_lends_its_details() -> None:
    survivor = contact(
        "own",
        Name="Felicity Jones DAU0000072",
        ContactNumber="DAU0000072",
        EmailAddress="fliss@work.example.com",
    )
    legacy = contact("old", Name="F Jones", EmailAddress="fliss@work.example.com")
    learner = Learner("DAU0000072", first_name="Felicity", last_name="Jones")
    pairs = find_duplicates([learner], [survivor, legacy], survivors={"DAU0000072": "own"})
    assert [(p.contact_id, p.survivor_id) for p in pairs] == [("old", "own")]


def test_a_couple_contact_waits_for_review() -> None:
    couple = contact("c9", Name="Felicity & Tom Jones", EmailAddress="felicity.jones@gmail.com")
    (pair,) = list(find_duplicates([FELICITY], [couple]))
    assert pair.status == "review"
    assert "two people" in pair.reasons[0]
