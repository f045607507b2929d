"""The sandbox's demo organisation as matching input, with its truth (docs/seed.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact
from learnerledger.matching import Pair
from learnerledger.sandbox import seed

TODAY = date(2026, 11, 1)


def _address(a: seed.Address | None) -> Address:
    if a is None:
        return Address()
    return Address(a.line1, a.suburb, a.state, a.postcode, a.country)


def learner_of(p: seed.Person) -> Learner:
    return Learner(
        ref_internal=p.ref_internal,
        first_name=p.first_name,
        last_name=p.last_name,
        preferred_name=p.preferred_name,
        email=p.email,
        mobile=p.mobile,
        phone_home=p.phone_home,
        phone_work=p.phone_work,
        date_of_birth=p.date_of_birth,
        street=_address(p.street),
        postal=_address(p.postal),
        sync_to_xero=p.sync_to_xero,
    )


def contact_of(c: seed.LegacyContact) -> MirroredContact:
    return MirroredContact(
        contact_id=c.key,
        name=str(c.contact["Name"]),
        contact_number=c.contact.get("ContactNumber"),
        status=str(c.contact.get("ContactStatus", "ACTIVE")),
        merged_to=None,
        updated_ms=0,
        data=c.contact,
    )


@dataclass
class Seeded:
    learners: list[Learner]
    contacts: list[MirroredContact]
    truth: set[tuple[str, str]]  # (ref_internal, contact key) of every true duplicate
    variants: dict[str, str]


def seeded(scale: float = 1.0, seed_n: int = 1) -> Seeded:
    people = seed.demo_people(seed_n, scale, today=TODAY)
    legacy = seed.legacy_contacts(people, seed_n, today=TODAY)
    truth = {(c.person_ref, c.key) for c in legacy if c.person_ref and c.kind == "person"}
    return Seeded(
        [learner_of(p) for p in people],
        [contact_of(c) for c in legacy],
        truth,
        {c.key: c.variant for c in legacy},
    )


def quality(pairs: list[Pair], truth: set[tuple[str, str]]) -> tuple[float, float, int, int]:
    """Precision of the ``auto`` pairs, recall of all pairs (at ``review``), and the counts."""
    auto = {(p.ref_internal, p.contact_id) for p in pairs if p.status == "auto"}
    found = {(p.ref_internal, p.contact_id) for p in pairs}
    precision = len(auto & truth) / len(auto) if auto else 1.0
    recall = len(found & truth) / len(truth) if truth else 1.0
    return precision, recall, len(auto), len(found)
