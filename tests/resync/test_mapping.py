"""Which learner a document belongs to: the link table (own and absorbed contacts), the
ContactNumber, Xero's merge chains (either way round), and clear reasons when none."""

from __future__ import annotations

from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.resync.mapping import (
    CONTACT_NOT_MIRRORED,
    NO_CONTACT,
    NO_SMS_ID,
    NOT_A_LEARNER,
    UNKNOWN_LEARNER,
    LearnerFinder,
    LearnerRef,
    Match,
    NoMatch,
)

ADA = LearnerRef("DAU0000001", "wisenet", "10001")
GRACE = LearnerRef("DAU0000002", "wisenet", "10002")
CSV_LEARNER = LearnerRef("CSV0000003", "csv", None)


def contact(
    contact_id: str,
    name: str,
    number: str | None = None,
    *,
    merged_to: str | None = None,
) -> MirroredContact:
    return MirroredContact(
        contact_id=contact_id,
        name=name,
        contact_number=number,
        status="ARCHIVED" if merged_to else "ACTIVE",
        merged_to=merged_to,
        updated_ms=0,
        data={},
    )


def finder(
    *contacts: MirroredContact, links: dict[str, tuple[str, str]] | None = None
) -> LearnerFinder:
    learners = {r.ref_internal: r for r in (ADA, GRACE, CSV_LEARNER)}
    return LearnerFinder(ContactIndex.of(contacts), links or {}, learners)


def matched(found: Match | NoMatch) -> Match:
    assert isinstance(found, Match), found
    return found


def test_the_link_table_comes_first_then_the_contact_number() -> None:
    find = finder(
        contact("own", "Ada Lovelace DAU0000001", "DAU0000001"),
        contact("legacy", "ada lovelace"),
        contact("numbered", "A. Lovelace", "dau0000001"),
        contact("mislabelled", "Grace H", "DAU0000001"),
        links={
            "own": (ADA.ref_internal, "learner"),
            "legacy": (ADA.ref_internal, "absorbed"),
            "mislabelled": (GRACE.ref_internal, "absorbed"),
        },
    )
    assert (matched(find.find("own")).learner, matched(find.find("own")).via) == (ADA, "learner")
    assert matched(find.find("legacy")).via == "absorbed"
    by_number = matched(find.find("numbered"))  # RefInternal in any case
    assert (by_number.learner, by_number.via) == (ADA, "contact_number")
    # a link says more than a Contact Code typed on the wrong contact
    assert matched(find.find("mislabelled")).learner == GRACE


def test_a_merged_contacts_documents_are_the_learner_of_the_contact_it_was_merged_into() -> None:
    find = finder(
        contact("legacy", "Jo Smith", merged_to="grace"),
        contact("grace", "Grace Hopper DAU0000002", "DAU0000002"),
        contact("older", "J Smith", merged_to="legacy"),
        links={"legacy": (ADA.ref_internal, "absorbed")},
    )
    # Xero moved the documents to Grace's contact: the link to Ada is out of date.
    found = matched(find.find("legacy"))
    assert (found.learner, found.contact_id, found.merged) == (GRACE, "grace", True)
    assert matched(find.find("older")).learner == GRACE  # merges of merges


def test_a_merge_the_wrong_way_round_still_finds_the_learner() -> None:
    find = finder(
        contact("own", "Ada Lovelace DAU0000001", "DAU0000001", merged_to="legacy"),
        contact("legacy", "Ada L"),
    )
    found = matched(find.find("own"))
    assert (found.learner, found.contact_id) == (ADA, "own")


def test_a_loop_of_merges_ends() -> None:
    find = finder(contact("a", "A", merged_to="b"), contact("b", "B", merged_to="a"))
    found = find.find("a")
    assert isinstance(found, NoMatch)
    assert found.code == NOT_A_LEARNER


def test_documents_of_no_learner_say_why_and_what_would_help() -> None:
    find = finder(
        contact("employer", "Harbour Constructions", "HBRCON"),
        contact("walk-in", "Cash customer"),
        contact("stale", "Old learner", "DAU0009999"),
        contact("lost-link", "Linked"),
        links={"lost-link": ("DAU0008888", "learner")},
    )
    employer = find.find("employer")
    assert isinstance(employer, NoMatch)
    assert employer.code == NOT_A_LEARNER
    assert "'Harbour Constructions'" in employer.reason
    assert "'HBRCON'" in employer.reason
    assert "merge it in Xero" in employer.reason
    walk_in = find.find("walk-in")
    assert isinstance(walk_in, NoMatch)
    assert "no Contact Code" in walk_in.reason
    stale = find.find("stale")
    assert isinstance(stale, NoMatch)
    assert stale.code == NOT_A_LEARNER
    lost = find.find("lost-link")
    assert isinstance(lost, NoMatch)
    assert lost.code == UNKNOWN_LEARNER
    assert "DAU0008888" in lost.reason
    assert "pull learners" in lost.reason
    missing = find.find("never-mirrored")
    assert isinstance(missing, NoMatch)
    assert missing.code == CONTACT_NOT_MIRRORED
    nobody = find.find(None)
    assert isinstance(nobody, NoMatch)
    assert nobody.code == NO_CONTACT


def test_a_wisenet_learner_without_its_learner_id_cannot_be_written() -> None:
    learners = {"DAU0000001": LearnerRef("DAU0000001", "wisenet", None)}
    find = LearnerFinder(ContactIndex.of([contact("own", "Ada", "DAU0000001")]), {}, learners)
    found = find.find("own")
    assert isinstance(found, NoMatch)
    assert found.code == NO_SMS_ID


def test_a_csv_learner_needs_no_sms_id() -> None:
    find = finder(contact("c", "Csv learner", "CSV0000003"))
    assert matched(find.find("c")).learner == CSV_LEARNER
