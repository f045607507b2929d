"""The cluster safeguards: shared contacts, near rivals, no chains."""

from __future__ import annotations

from learnerledger.domain.learner import Learner
from learnerledger.matching import find_duplicates

from .test_score import FELICITY, contact


def test_a_contact_matching_two_learners_is_never_auto() -> None:
    twin = Learner("DAU0000090", first_name="Felicity", last_name="Jones", mobile="0412 345 678")
    c = contact("c1", Name="Felicity Jones", Phones=[{"PhoneNumber": "0412345678"}])
    pairs = find_duplicates([FELICITY, twin], [c])
    assert {p.ref_internal for p in pairs} == {"DAU0000072", "DAU0000090"}
    for p in pairs:
        assert p.status == "review"
        assert "also matches learner" in p.reasons[-1]
        assert p.evidence[-1].field == "cluster"


def test_a_learner_with_a_near_rival_is_never_auto() -> None:
    a = contact("a", Name="Felicity Jones", EmailAddress="felicity.jones@gmail.com")
    b = contact("b", Name="Fliss Jones", Phones=[{"PhoneNumber": "0412 345 678"}])
    pairs = find_duplicates([FELICITY], [a, b])
    assert len(pairs) == 2
    assert all(p.status == "review" for p in pairs)
    assert any("scores nearly as high" in r for p in pairs for r in p.reasons)


def test_two_contacts_that_are_evidently_one_person_stay_auto() -> None:
    a = contact("a", Name="Felicity Jones", EmailAddress="felicity.jones@gmail.com")
    b = contact(
        "b",
        Name="Jones, Felicity",
        EmailAddress="felicity.jones@gmail.com",
        Phones=[{"PhoneNumber": "0412 345 678"}],
    )
    pairs = find_duplicates([FELICITY], [a, b])
    assert [p.status for p in pairs] == ["auto", "auto"]
    assert pairs[0].score >= pairs[1].score


def test_chains_are_not_followed() -> None:
    # b is like the learner's contact a, but not like the learner: it is not in the cluster
    a = contact("a", Name="Felicity Jones", EmailAddress="felicity.jones@gmail.com")
    b = contact("b", Name="Felicia Jonas", EmailAddress="felicia.jonas@gmail.com")
    assert [p.contact_id for p in find_duplicates([FELICITY], [a, b])] == ["a"]


def test_pairs_are_sorted_by_learner_then_score() -> None:
    tom = Learner("DAU0000001", first_name="Tom", last_name="Nguyen", mobile="0400 000 001")
    cs = [
        contact("x", Name="Felicity Jones", EmailAddress="felicity.jones@gmail.com"),
        contact("y", Name="Tom Nguyen", Phones=[{"PhoneNumber": "0400000001"}]),
    ]
    assert [p.ref_internal for p in find_duplicates([FELICITY, tom], cs)] == [
        "DAU0000001",
        "DAU0000072",
    ]
