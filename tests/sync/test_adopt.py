"""``make_plan`` in mode ``adopt``, pure: which existing contact a learner without one takes
over, which learners wait for a person, and what is never adopted. The rules are tested with
the duplicate finder's answer given (so they hold whatever its internals become), and the
whole way with the finder itself on plain cases."""

from __future__ import annotations

from typing import Any

import pytest

from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.domain.states import PlanState
from learnerledger.matching import Evidence, Pair
from learnerledger.sync.plan import make_plan
from sync.test_plan import MAPPING, contact, learner

EMAIL = Evidence("email", "exact", 1.0, 9.0, "dau1@example.com agrees")
NAME = Evidence("first_name", "nickname", 0.9, 5.0, "'fliss' is a form of the same name")
AGAINST = Evidence("address", "disagree", 0.0, -1.5, "the addresses differ")


def pair(
    contact_id: str, score: float = 0.999, status: str = "auto", ref: str = "DAU1", **kw: Any
) -> Pair:
    values: dict[str, Any] = {
        "ref_internal": ref,
        "contact_id": contact_id,
        "survivor_id": None,
        "score": score,
        "status": status,
        "evidence": (EMAIL, NAME, AGAINST),
        "reasons": (),
    }
    values.update(kw)
    return Pair(**values)


def legacy(contact_id: str, name: str = "JONES, Felicity", **kw: Any) -> MirroredContact:
    data = {"Name": name, "EmailAddress": "dau1@example.com", **kw.pop("data", {})}
    return contact(contact_id, data, **kw)


def adopt_plan(
    *learners: Any,
    contacts: tuple[MirroredContact, ...] = (),
    pairs: tuple[Pair, ...] | None = (),
    **kw: Any,
) -> Any:
    return make_plan(
        learners or (learner("DAU1"),),
        ContactIndex.of(contacts),
        kw.pop("linked", {}),
        mapping=MAPPING,
        mode="adopt",
        pairs=None if pairs is None else list(pairs),
        **kw,
    )


def only(plan: Any, ref: str = "DAU1") -> Any:
    return next(i for i in plan.items if i.ref_internal == ref)


def test_one_sure_match_is_adopted_with_the_learners_identity_and_only_what_changes() -> None:
    old = legacy("old", data={"FirstName": "Felicity", "AccountNumber": "DEB-0042"})
    item = only(adopt_plan(contacts=(old,), pairs=(pair("old"),)))
    assert (item.state, item.contact_id, item.codes) == (
        PlanState.ADOPT,
        "old",
        ("adopt_auto_match",),
    )
    mapped = MAPPING.contact(learner("DAU1"))
    assert item.payload["ContactID"] == "old"
    assert item.payload["ContactNumber"] == "DAU1"
    assert item.payload["Name"] == "Felicity Jones DAU1"
    # Fields already right are not sent; the organisation's own fields are never touched.
    assert "EmailAddress" not in item.payload
    assert "FirstName" not in item.payload
    assert "AccountNumber" not in item.payload
    assert set(item.payload) - {"ContactID"} < set(mapped)
    assert item.changes["Name"] == {"from": "JONES, Felicity", "to": "Felicity Jones DAU1"}
    assert item.link
    assert "its invoices and payments stay where they are" in item.reasons[0]
    (shown,) = item.candidates
    assert (shown.contact_id, shown.name, shown.status) == ("old", "JONES, Felicity", "auto")
    assert shown.summary == (
        "dau1@example.com agrees; 'fliss' is a form of the same name; the addresses differ"
    )


@pytest.mark.parametrize(
    ("held", "code", "says"),
    [
        ({"status": "ARCHIVED"}, "match_archived", "restore it in Xero"),
        ({"merged_to": "c9"}, "match_merged_away", "was merged into contact c9"),
        (
            {"data": {"ContactNumber": "STU-00123"}},
            "match_has_contact_code",
            "already carries the Contact Code 'STU-00123'",
        ),
    ],
    ids=["archived", "merged", "numbered"],
)
def test_a_sure_match_that_cannot_take_the_identity_waits_for_a_person(
    held: dict[str, Any], code: str, says: str
) -> None:
    old = legacy("old", **held)
    item = only(adopt_plan(contacts=(old,), pairs=(pair("old"),)))
    assert item.state is PlanState.REVIEW
    assert item.codes == ("possible_matches", code)
    assert says in item.reasons[1]
    assert item.payload is None
    assert item.candidates[0].refused_code == code


def test_another_learners_own_contact_is_never_adopted() -> None:
    theirs = legacy("theirs", name="Felicity Jones DAU2", data={"ContactNumber": ""})
    plan = adopt_plan(
        learner("DAU1"),
        learner("DAU2"),
        contacts=(theirs,),
        pairs=(pair("theirs"),),
        linked={"DAU2": "theirs"},
    )
    item = only(plan)
    assert item.state is PlanState.REVIEW
    assert item.codes[1] == "match_is_another_learners"
    assert "learner DAU2's own contact" in item.reasons[1]


def test_weaker_or_ambiguous_matches_wait_for_a_person_and_name_each_candidate() -> None:
    a, b = legacy("a"), legacy("b", name="F Jones")
    weak = only(adopt_plan(contacts=(a,), pairs=(pair("a", 0.9, "review"),)))
    assert (weak.state, weak.codes) == (PlanState.REVIEW, ("possible_matches",))
    assert (
        "1 existing contact may be this learner: 'JONES, Felicity' (a, score 0.90"
        in (weak.reasons[0])
    )
    assert "learnerledger duplicates confirm DAU1 CONTACT_ID" in weak.reasons[0]
    two_sure = only(adopt_plan(contacts=(a, b), pairs=(pair("a"), pair("b", 0.998))))
    assert two_sure.state is PlanState.REVIEW
    assert [c.contact_id for c in two_sure.candidates] == ["a", "b"]  # best first
    # A contact held back by the finder's safeguards but scoring higher is a rival.
    rival = pair("b", 0.9999, "review", reasons=("the contact also matches learner DAU7",))
    outscored = only(adopt_plan(contacts=(a, b), pairs=(pair("a"), rival)))
    assert outscored.state is PlanState.REVIEW


def test_a_far_weaker_candidate_beside_one_sure_match_does_not_stop_the_adopt() -> None:
    a, b = legacy("a"), legacy("b", name="F Jones")
    item = only(adopt_plan(contacts=(a, b), pairs=(pair("a"), pair("b", 0.6, "review"))))
    assert (item.state, item.contact_id) == (PlanState.ADOPT, "a")
    assert [c.contact_id for c in item.candidates] == ["a", "b"]


def test_a_rejected_pair_is_never_adopted_and_all_rejected_means_create() -> None:
    a = legacy("a")
    item = only(
        adopt_plan(contacts=(a,), pairs=(pair("a"),), decisions={("DAU1", "a"): "rejected"})
    )
    assert (item.state, item.codes) == (PlanState.CREATE, ("matches_rejected",))
    assert item.payload == MAPPING.contact(learner("DAU1"))
    assert item.candidates[0].status == "rejected"


def test_a_confirmed_pair_is_adopted_even_below_auto() -> None:
    a, b = legacy("a"), legacy("b", name="F Jones")
    item = only(
        adopt_plan(
            contacts=(a, b),
            pairs=(pair("a", 0.97, "review"), pair("b", 0.96, "review")),
            decisions={("DAU1", "b"): "confirmed"},
        )
    )
    assert (item.state, item.contact_id, item.codes) == (
        PlanState.ADOPT,
        "b",
        ("adopt_confirmed_match",),
    )
    assert "a person confirmed it is this learner" in item.reasons[0]
    assert item.candidates[0].contact_id == "b"


def test_a_confirmed_contact_that_cannot_be_adopted_gives_a_new_contact_to_merge_into() -> None:
    archived = legacy("a", status="ARCHIVED")
    item = only(
        adopt_plan(
            contacts=(archived,),
            pairs=(pair("a"),),
            decisions={("DAU1", "a"): "confirmed"},
        )
    )
    assert item.state is PlanState.CREATE
    assert item.codes == ("confirmed_not_adoptable", "match_archived")
    assert "`learnerledger merge` then moves" in item.reasons[0]


def test_a_confirmed_pair_the_finder_no_longer_makes_is_not_adopted() -> None:
    item = only(
        adopt_plan(contacts=(legacy("gone"),), pairs=(), decisions={("DAU1", "gone"): "confirmed"})
    )
    assert item.state is PlanState.CREATE
    assert item.codes == ("confirmed_not_adoptable", "match_no_longer_found")


def test_one_contact_confirmed_for_two_learners_is_adopted_by_neither() -> None:
    shared = legacy("x")
    plan = adopt_plan(
        learner("DAU1"),
        learner("DAU2", first="Tom"),
        contacts=(shared,),
        pairs=(pair("x", 0.9, "review"), pair("x", 0.9, "review", ref="DAU2")),
        decisions={("DAU1", "x"): "confirmed", ("DAU2", "x"): "confirmed"},
    )
    for ref, other in (("DAU1", "DAU2"), ("DAU2", "DAU1")):
        item = only(plan, ref)
        assert item.state is PlanState.REVIEW
        assert item.codes[-1] == "match_claimed_twice"
        assert f"also confirmed as learner {other}" in item.reasons[-1]


def test_a_sure_match_confirmed_as_another_learners_duplicate_is_not_adopted() -> None:
    mine = contact("mine", {**MAPPING.contact(learner("DAU2", first="Tom"))})
    old = legacy("old")
    plan = adopt_plan(
        learner("DAU1"),
        learner("DAU2", first="Tom"),
        contacts=(mine, old),
        pairs=(pair("old"),),
        decisions={("DAU2", "old"): "confirmed"},
    )
    item = only(plan)
    assert item.state is PlanState.REVIEW
    assert item.codes[1] == "match_claimed_twice"


def test_the_adopted_contact_must_not_lose_the_name_to_another_contact() -> None:
    old = legacy("old")
    squatter = contact("sq", {"Name": "Felicity Jones DAU1"})
    item = only(adopt_plan(contacts=(old, squatter), pairs=(pair("old"),)))
    assert item.state is PlanState.CONFLICT
    assert item.codes == ("name_taken", "adopt_auto_match")


def test_duplicate_mode_never_adopts() -> None:
    old = legacy("old")
    plan = make_plan(
        [learner("DAU1")],
        ContactIndex.of([old]),
        {},
        mapping=MAPPING,
        mode="duplicate",
        pairs=[pair("old")],
    )
    (item,) = plan.items
    assert (item.state, item.candidates, plan.matched) == (PlanState.CREATE, (), frozenset())


def test_adopts_ride_in_the_update_batches() -> None:
    learners = [learner(f"DAU{n:03d}") for n in range(60)]
    held = [
        contact(f"mine{n}", {**MAPPING.contact(x), "EmailAddress": "old@example.com"})
        for n, x in enumerate(learners[:30])
    ]
    olds = [legacy(f"old{n}", name=f"Old {n}") for n in range(30, 60)]
    pairs = [pair(f"old{n}", ref=f"DAU{n:03d}") for n in range(30, 60)]
    plan = adopt_plan(*learners, contacts=(*held, *olds), pairs=tuple(pairs))
    totals = plan.totals()
    assert (totals["update"], totals["adopt"]) == (30, 30)
    assert plan.calls == 2 + 1  # 60 updates and adopts in two batches, and the check
    assert plan.matched == frozenset(f"DAU{n:03d}" for n in range(30, 60))


def test_the_json_shows_each_candidate_with_its_score_and_evidence() -> None:
    item = only(adopt_plan(contacts=(legacy("a"),), pairs=(pair("a", 0.9, "review"),)))
    (shown,) = item.as_json()["candidates"]
    assert shown["contact_id"] == "a"
    assert shown["name"] == "JONES, Felicity"
    assert (shown["score"], shown["status"], shown["decision"]) == (0.9, "review", None)
    assert shown["summary"].startswith("dau1@example.com agrees")
    assert shown["evidence"][0] == EMAIL.as_json()


# The whole way, with the duplicate finder itself.


def test_with_the_finder_a_hand_typed_contact_is_adopted_and_a_sibling_and_company_are_not() -> (
    None
):
    street = {
        "AddressType": "STREET",
        "AddressLine1": "1 Main Street",
        "City": "Parramatta",
        "Region": "NSW",
        "PostalCode": "2150",
    }
    felicity = contact(
        "felicity",
        {
            "Name": "JONES, Felicity",
            "EmailAddress": "Felicity.Jones@Example.com",
            "Addresses": [street],
        },
    )
    sibling = contact(
        "tom", {"Name": "Tom Jones", "EmailAddress": "tom.jones@example.com", "Addresses": [street]}
    )
    company = contact("co", {"Name": "Jones Plumbing Pty Ltd", "EmailAddress": "a@jp.com.au"})
    plan = adopt_plan(
        learner("DAU1", email="felicity.jones@example.com", mobile=""),
        learner("DAU2", first="Priya", last_name="Natarajan", email="priya@example.com"),
        contacts=(felicity, sibling, company),
        pairs=None,
    )
    states = {i.ref_internal: (i.state, i.contact_id) for i in plan.items}
    assert states == {"DAU1": (PlanState.ADOPT, "felicity"), "DAU2": (PlanState.CREATE, None)}
    assert {c.contact_id for i in plan.items for c in i.candidates} == {"felicity"}


def test_with_the_finder_a_learner_with_a_contact_is_not_matched_again() -> None:
    mine = contact("mine", MAPPING.contact(learner("DAU1")))
    plan = adopt_plan(contacts=(mine, legacy("old")), pairs=None)
    (item,) = plan.items
    assert item.state is PlanState.UNCHANGED
    assert plan.matched == frozenset()
