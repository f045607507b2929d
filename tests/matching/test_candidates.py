"""Blocking brings every kind of hand-typed duplicate together with its learner, and drops a
key too common to be worth its pairs."""

from __future__ import annotations

from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact
from learnerledger.matching.candidates import candidate_pairs
from learnerledger.matching.records import tables

from .test_score import contact

HOME = Address("14 Smith Street", "Parramatta", "NSW", "2150")
FELICITY = Learner(
    "DAU0000072",
    first_name="Felicity",
    last_name="Birkenhead",
    email="fbirk@example.com",
    mobile="0412 345 678",
    street=HOME,
)


def _paired(learners: list[Learner], contacts: list[MirroredContact]) -> set[tuple[str, str]]:
    vocab, ls, cs = tables(learners, contacts, {})
    i, j = candidate_pairs(ls, cs, vocab)
    return {(ls.refs[a], cs.contacts[b].contact_id) for a, b in zip(i, j, strict=True)}


def test_each_kind_of_duplicate_shares_a_key_with_its_learner() -> None:
    kinds = {
        "typo early in the surname": contact("c1", Name="Felicity Bitkenhead"),
        "nickname and initial": contact("c2", Name="Fliss Birkenhead"),
        "swapped": contact("c3", Name="Birkenhead Felicity"),
        "surname alone": contact("c4", Name="Birkenhead"),
        "first name alone": contact("c5", Name="Felicity"),
        "maiden name, same mailbox": contact("c6", Name="Felicity Moss", EmailAddress="fbirk@x.au"),
        "the mobile only": contact("c7", Name="F B", Phones=[{"PhoneNumber": "+61412345678"}]),
        "name mangled, at the address": contact(
            "c8",
            Name="Phelissity Byrkinhed",
            Addresses=[{"AddressLine1": "14 Smith St", "City": "Parramatta", "PostalCode": "2150"}],
        ),
        "the reference": contact("c9", Name="Someone Else DAU0000072"),
    }
    found = _paired([FELICITY], list(kinds.values()))
    missing = [k for k, c in kinds.items() if (FELICITY.ref_internal, c.contact_id) not in found]
    assert not missing


def test_a_stranger_shares_no_key() -> None:
    stranger = contact(
        "c1",
        Name="Olaf Stenmark",
        EmailAddress="olaf@stenmark.se",
        Addresses=[{"AddressLine1": "3 Fjord Vag", "City": "Malmo", "PostalCode": "21119"}],
    )
    assert _paired([FELICITY], [stranger]) == set()


def test_a_key_shared_by_too_many_pairs_is_dropped_but_a_reference_never_is() -> None:
    learners = [
        Learner(f"REF{n:04d}", first_name=f"Person{chr(65 + n % 26)}{n}", last_name="Nguyen")
        for n in range(60)
    ]
    contacts = [contact(f"c{n}", Name="Nguyen") for n in range(40)]  # 60 x 40 > 2,000
    contacts.append(contact("mine", Name="Nguyen REF0007"))
    found = _paired(learners, contacts)
    assert found == {("REF0007", "mine")}
