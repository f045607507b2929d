"""The model fitted to the data: families among the learners cap what a household shares, a
contact is one person, the evidence adds up to the score, and the answer is the same every
run."""

from __future__ import annotations

import gc
import math

from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact
from learnerledger.matching import find_duplicates

from .test_score import contact

STREETS = ["Wattle", "Banksia", "Grevillea", "Acacia", "Waratah", "Boronia", "Melaleuca"]
FIRSTS = ["Ava", "Noah", "Mia", "Liam", "Zoe", "Jack", "Isla", "Leo", "Ruby", "Owen"]
LASTS = ["Marsh", "Quill", "Thorne", "Vance", "Pryor", "Lusk", "Odell", "Yates", "Keel", "Rook"]


def _learners(*, families: bool) -> list[Learner]:
    """300 learners of ten surnames, each at an address of its own; with ``families``, every
    second one a sibling of the one before (the same surname and address, another first
    name)."""
    out: list[Learner] = []
    for n in range(300):
        first, last = FIRSTS[n % 10], LASTS[(n // 10) % 10]
        home = Address(f"{n + 1} {STREETS[n % 7]} St", f"Suburb {n}", "NSW", f"{2000 + 3 * n}")
        if families and n % 2:
            last, home = out[-1].last_name, out[-1].street
        out.append(Learner(f"REF{n:04d}", first_name=first, last_name=last, street=home))
    return out


def _retyped(learner: Learner, first: str) -> MirroredContact:
    """The learner's contact with the first name typed as another name altogether."""
    a = learner.street
    return contact(
        f"c-{learner.ref_internal}",
        Name=f"{first} {learner.last_name}",
        Addresses=[
            {"AddressLine1": a.line, "City": a.suburb, "Region": a.state, "PostalCode": a.postcode}
        ],
    )


def test_a_shared_surname_and_address_weigh_by_how_often_learners_share_them() -> None:
    # Without families, a contact at a learner's address with its surname is that learner
    # even under another first name; where siblings share both, it stays apart.
    for families, expected in ((False, True), (True, False)):
        learners = _learners(families=families)
        target = learners[4]  # the same learner in both sets
        pairs = find_duplicates(learners, [_retyped(target, "Bartholomew")])
        found = {(p.ref_internal, p.contact_id) for p in pairs}
        assert ((target.ref_internal, f"c-{target.ref_internal}") in found) is expected, families


def test_a_contact_much_more_like_one_learner_is_not_offered_to_the_other() -> None:
    home = Address("14 Smith Street", "Parramatta", "NSW", "2150")
    felicity = Learner(
        "A1", first_name="Felicity", last_name="Jones", email="fjones@example.com", street=home
    )
    emily = Learner(
        "A2", first_name="Emily", last_name="Jones", email="ejones@example.com", street=home
    )
    c = contact(
        "c1",
        Name="Emily Jones",
        EmailAddress="ejones@example.com",
        Addresses=[{"AddressLine1": "14 Smith St", "City": "Parramatta", "PostalCode": "2150"}],
    )
    pairs = find_duplicates([felicity, emily], [c])
    assert [(p.ref_internal, p.status) for p in pairs] == [("A2", "auto")]


def test_a_contact_like_two_learners_alike_is_listed_for_both_and_never_auto() -> None:
    twins = [
        Learner(f"T{n}", first_name="Sam", last_name="Okafor", email=f"s{n}@okafor.example")
        for n in (1, 2)
    ]
    c = contact("c1", Name="Sam Okafor", EmailAddress="sam@okafor.example")
    pairs = find_duplicates(twins, [c])
    assert {p.ref_internal for p in pairs} == {"T1", "T2"}
    assert all(p.status == "review" for p in pairs)
    assert all(p.score < 0.5 for p in pairs)  # each has its share of the doubt
    assert all(any("also matches learner" in r for r in p.reasons) for p in pairs)


def test_the_evidence_adds_up_to_the_score() -> None:
    learner = Learner(
        "DAU0000072",
        first_name="Felicity",
        last_name="Jones",
        email="felicity.jones@gmail.com",
        mobile="0412 345 678",
    )
    c = contact("c1", Name="Jones, Fliss", Phones=[{"PhoneNumber": "+61 412 345 678"}])
    (pair,) = find_duplicates([learner], [c])
    bits = sum(e.weight for e in pair.evidence)
    assert math.isclose(1 / (1 + 2**-bits), pair.score, rel_tol=1e-9)
    assert {e.field for e in pair.evidence} >= {"prior", "first_name", "last_name", "mobile"}


def test_the_same_data_gives_the_same_pairs_and_the_collector_is_left_as_found() -> None:
    learners = _learners(families=True)
    contacts = [_retyped(x, x.first_name) for x in learners[::3]]
    assert gc.isenabled()
    first = find_duplicates(learners, contacts)
    assert gc.isenabled()
    assert first == find_duplicates(list(reversed(learners)), list(reversed(contacts)))
    gc.disable()
    try:
        find_duplicates(learners, contacts)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nothing_to_compare_and_malformed_contacts_never_crash() -> None:
    bob = Learner("A", first_name="Bob", last_name="Li")
    assert find_duplicates([], []) == []
    assert find_duplicates([bob], []) == []
    assert find_duplicates([], [contact("x", Name="Bob Li")]) == []
    assert find_duplicates([Learner("B")], [contact("x")]) == []
    odd = contact(
        "x",
        Name="Bob Li",
        Phones="not a list",
        Addresses=[None, 3, {"AddressLine1": None, "PostalCode": 2150}],
        EmailAddress=5,
    )
    (pair,) = find_duplicates([bob], [odd])
    assert pair.status == "review"  # the name alone
