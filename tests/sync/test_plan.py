"""``make_plan`` on its own: pure, no store and no HTTP. Each learner gets one state, the
contact is found by link then ContactNumber and never by Name, and every reason has a code."""

from __future__ import annotations

from typing import Any

import pytest

from learnerledger.domain.contact import ContactMapping, mapped_hash
from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.domain.states import PlanState
from learnerledger.sync.plan import make_plan

MAPPING = ContactMapping()


def learner(ref: str, first: str = "Felicity", **kw: Any) -> Learner:
    values: dict[str, Any] = {
        "ref_internal": ref,
        "first_name": first,
        "last_name": "Jones",
        "email": f"{ref.lower()}@example.com",
        "mobile": "+61412345678",
        "street": Address("1 Main St", "Parramatta", "NSW", "2150", "Australia"),
        "source": "csv",
    }
    values.update(kw)
    return Learner(**values)


def contact(
    contact_id: str,
    data: dict[str, Any],
    *,
    status: str = "ACTIVE",
    merged_to: str | None = None,
) -> MirroredContact:
    return MirroredContact(
        contact_id=contact_id,
        name=str(data.get("Name", "")),
        contact_number=data.get("ContactNumber"),
        status=status,
        merged_to=merged_to,
        updated_ms=1,
        data=data,
    )


def plan_of(*learners: Learner, contacts: tuple[MirroredContact, ...] = (), **kw: Any) -> Any:
    return make_plan(
        learners, ContactIndex.of(contacts), kw.pop("linked", {}), mapping=MAPPING, **kw
    )


def test_a_new_learner_is_created_with_the_mapped_fields() -> None:
    (item,) = plan_of(learner("DAU1")).items
    assert item.state is PlanState.CREATE
    assert item.payload == MAPPING.contact(learner("DAU1"))
    assert item.payload["Name"] == "Felicity Jones DAU1"
    assert item.mapped_hash == mapped_hash(MAPPING.contact(learner("DAU1")))


def test_a_contact_found_by_its_number_is_updated_with_only_the_changed_fields() -> None:
    held = {**MAPPING.contact(learner("DAU1")), "EmailAddress": "old@example.com"}
    (item,) = plan_of(learner("DAU1"), contacts=(contact("c1", held),)).items
    assert item.state is PlanState.UPDATE
    assert item.payload == {"ContactID": "c1", "EmailAddress": "dau1@example.com"}
    assert item.changes == {"EmailAddress": {"from": "old@example.com", "to": "dau1@example.com"}}
    assert item.link  # found by ContactNumber: the learner's link is recorded


def test_an_equal_contact_is_unchanged_and_linked_once() -> None:
    held = MAPPING.contact(learner("DAU1"))
    (found,) = plan_of(learner("DAU1"), contacts=(contact("c1", held),)).items
    assert (found.state, found.contact_id, found.link) == (PlanState.UNCHANGED, "c1", True)
    digest = mapped_hash(held)
    (linked,) = plan_of(
        learner("DAU1"),
        contacts=(contact("c1", held),),
        linked={"DAU1": "c1"},
        hashes={"DAU1": digest},
    ).items
    assert (linked.state, linked.link) == (PlanState.UNCHANGED, False)


def test_the_link_wins_over_the_contact_number() -> None:
    mine = contact("mine", {**MAPPING.contact(learner("DAU1")), "ContactNumber": ""})
    (item,) = plan_of(learner("DAU1"), contacts=(mine,), linked={"DAU1": "mine"}).items
    assert item.contact_id == "mine"
    assert item.state is PlanState.UPDATE
    assert item.payload == {"ContactID": "mine", "ContactNumber": "DAU1"}


def test_a_namesake_without_the_number_is_never_taken_for_the_learner() -> None:
    namesake = contact("other", {"Name": "Felicity Jones DAU1", "ContactNumber": ""})
    (item,) = plan_of(learner("DAU1"), contacts=(namesake,)).items
    assert item.state is PlanState.CONFLICT
    assert item.codes == ("name_taken",)
    assert "already used by the active contact" in item.reasons[0]
    assert item.payload is None


@pytest.mark.parametrize(
    ("merged_to", "code"), [(None, "contact_archived"), ("c9", "contact_merged_away")]
)
def test_an_archived_carrier_is_a_conflict_with_its_own_code(
    merged_to: str | None, code: str
) -> None:
    held = contact("c1", MAPPING.contact(learner("DAU1")), status="ARCHIVED", merged_to=merged_to)
    (item,) = plan_of(learner("DAU1"), contacts=(held,)).items
    assert (item.state, item.codes) == (PlanState.CONFLICT, (code,))
    assert "Restore" in item.reasons[0]


def test_several_carriers_are_a_conflict() -> None:
    a = contact("a", {"Name": "F Jones", "ContactNumber": "DAU1"})
    b = contact("b", {"Name": "Fliss Jones", "ContactNumber": "dau1"})
    (item,) = plan_of(learner("DAU1"), contacts=(a, b)).items
    assert (item.state, item.codes) == (PlanState.CONFLICT, ("several_contacts_carry_ref",))
    assert "2 contacts carry DAU1" in item.reasons[0]


def test_a_learner_not_ready_is_invalid_with_a_code_per_reason() -> None:
    (item,) = plan_of(learner("DAU1", first="", email="nope")).items
    assert item.state is PlanState.INVALID
    assert len(item.reasons) == 2
    assert item.codes == ("missing_first_name", "invalid_email")
    assert item.fields == ("FirstName", "Email")


def test_learners_not_flagged_are_counted_not_planned() -> None:
    plan = plan_of(learner("DAU1"), learner("DAU2", sync_to_xero=False))
    assert [i.ref_internal for i in plan.items] == ["DAU1"]
    assert plan.not_flagged == 1


def test_totals_count_every_state_including_adopt_and_review() -> None:
    held = MAPPING.contact(learner("DAU2"))
    plan = plan_of(
        learner("DAU1"), learner("DAU2"), learner("DAU3", first=""), contacts=(contact("c", held),)
    )
    assert plan.totals() == {
        "create": 1,
        "update": 0,
        "unchanged": 1,
        "adopt": 0,
        "review": 0,
        "invalid": 1,
        "conflict": 0,
    }
    assert [str(s) for s in PlanState] == list(plan.totals())


def test_the_plan_is_in_ref_order_and_counts_its_calls() -> None:
    plan = plan_of(*(learner(f"DAU{n:03d}") for n in (5, 1, 3)))
    assert [i.ref_internal for i in plan.items] == ["DAU001", "DAU003", "DAU005"]
    assert plan.as_json()["api_calls"] == plan.calls >= 1


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sync mode"):
        plan_of(learner("DAU1"), mode="sideways")
