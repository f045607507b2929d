"""The Wisenet sandbox seed: the same people as the Xero sandbox's legacy contacts, most
flagged Sync to Xero, with the incomplete records a sync must report; every record valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from learnerledger.sandbox.seed import demo_people, legacy_contacts
from learnerledger.sandbox.wisenet import SandboxStore, SeedConflict, model, seed_account
from learnerledger.sandbox.wisenet.api import invoice_item
from learnerledger.sandbox.wisenet.seed import SEED_TODAY


@pytest.fixture
def seeded(tmp_path: Path) -> SandboxStore:
    store = SandboxStore(tmp_path / "w.db")
    seed_account(store)
    return store


def learners(store: SandboxStore) -> list[dict[str, object]]:
    with store.read() as conn:
        rows = conn.execute("SELECT data FROM learners ORDER BY learner_id").fetchall()
    return [json.loads(r["data"]) for r in rows]


def test_the_learners_are_the_demo_people(seeded: SandboxStore) -> None:
    people = demo_people(1, 1.0, today=SEED_TODAY)
    records = learners(seeded)
    assert [r["Personal"]["LearnerNumber"] for r in records] == [  # type: ignore[index]
        p.ref_internal for p in people
    ]
    assert [r["LearnerId"] for r in records] == [p.learner_id for p in people]
    legacy_refs = {
        c.person_ref for c in legacy_contacts(people, 1, today=SEED_TODAY) if c.person_ref
    }
    assert legacy_refs <= {p.ref_internal for p in people}


def test_most_are_flagged_and_the_awkward_cases_are_there(seeded: SandboxStore) -> None:
    records = learners(seeded)
    personals = [r["Personal"] for r in records]
    flagged = sum(1 for p in personals if p.get("SyncToXero"))  # type: ignore[union-attr]
    assert 0.75 * len(records) < flagged < len(records)
    assert any(not (p.get("EmailAddresses") or {}).get("Email") for p in personals)  # type: ignore[union-attr]
    streets = [p.get("StreetAddress") for p in personals]  # type: ignore[union-attr]
    assert any(s is None for s in streets)
    assert any(s and s.get("StateId") is None for s in streets)  # type: ignore[union-attr]
    assert any(s and s.get("Postcode") is None for s in streets)  # type: ignore[union-attr]
    names = [(p["FirstName"], p["LastName"]) for p in personals]  # type: ignore[index]
    assert len(set(names)) < len(names)


def test_every_seeded_record_is_valid_for_the_api(seeded: SandboxStore) -> None:
    for record in learners(seeded)[:200]:
        model.read_body(model.LEARNER, record, label="seeded learner")
    with seeded.read() as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("workplaces", "positions", "invoices")
        }
        invoices = [json.loads(r[0]) for r in conn.execute("SELECT data FROM invoices LIMIT 50")]
    assert all(counts.values())
    for invoice in invoices:
        model.read_body(model.INVOICE, invoice_item(invoice)["Data"], label="seeded invoice")


def test_seeding_twice_needs_replace(seeded: SandboxStore) -> None:
    with pytest.raises(SeedConflict, match="--replace"):
        seed_account(seeded)
    report = seed_account(seeded, seed=2, scale=0.5, replace=True)
    assert report.learners == 300
    assert len(learners(seeded)) == 300
