"""``sync learners --mode adopt`` end to end over HTTP on the Xero sandbox: a learner whose
contact was typed in by hand before the integration takes that contact over (its documents
stay on it, no second contact is made); a possible match waits for a decision, then a confirm
adopts and a reject creates; ``--mode duplicate`` still always creates. With the sandbox's
seeded organisation, every adopt is a true pair and every document stays where it was."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import ConnectedXero, XeroSandbox
from learnerledger.cli import main
from learnerledger.domain.learner import Address
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.store import duplicates as pairs_repo
from learnerledger.store import links
from learnerledger.sync import sync_learners
from matching.seeded import learner_of
from merge.test_duplicates import STREET
from sandbox_documents import Books
from sync.test_sync_learners import ROOMY, by_number, make_learner, put_learners, xero_contacts


class Organisation:
    """A sandbox organisation with the hand-typed contacts of three learners, an invoice and a
    payment on Felicity's, and a CLI bound to the test's store."""

    def __init__(self, setup: ConnectedXero, tmp_path: Path) -> None:
        self.setup = setup
        self.tmp_path = tmp_path
        books = Books(setup.sandbox, setup.sandbox.http())
        self.books = books
        self.felicity = books.contact(
            "JONES, Felicity",
            EmailAddress="Felicity.Jones@Example.com",
            Addresses=[STREET],
            AccountNumber="DEB-0042",
        )
        self.invoice = books.invoice(self.felicity)
        books.pay(self.invoice["InvoiceID"], "250.00")
        self.sam = books.contact("Sam Nguyen")  # the name alone: a person decides
        self.oliver = books.contact("SMITH, Oliver")
        self.tom = books.contact("Tom Jones", EmailAddress="tom@example.com", Addresses=[STREET])
        street = Address("14 Wattle St", "Parramatta", "NSW", "2150", "Australia")
        put_learners(
            setup.store,
            make_learner("DAU0000001", email="felicity.jones@example.com", street=street),
            make_learner("DAU0000002", first="Samantha", last="Nguyen", mobile="+61400000002"),
            make_learner("DAU0000003", first="Oliver", last="Smith", mobile="+61400000003"),
            make_learner("DAU0000004", first="Priya", last="Natarajan", mobile="+61400000004"),
        )

    def cli(self, *args: str) -> Any:
        base = [
            "--home",
            str(self.setup.config.home),
            "--database-url",
            f"sqlite:///{self.tmp_path / 'learnerledger.db'}",
        ]
        result = CliRunner().invoke(main, [*base, *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result

    def contact(self, contact_id: str) -> dict[str, Any]:
        [held] = self.setup.sandbox.http().get(f"/Contacts/{contact_id}").json()["Contacts"]
        return dict(held)

    def linked(self) -> dict[str, str]:
        with self.setup.store.read() as conn:
            return links.load_links(conn, self.setup.connection.id)[0]


@pytest.fixture
def org(make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path) -> Organisation:
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    return Organisation(connect_xero(sandbox), tmp_path)


def test_the_hand_typed_contact_is_adopted_with_its_documents_and_no_duplicate_is_made(
    org: Organisation,
) -> None:
    plan = org.cli("sync", "learners", "--dry-run", "--json")
    items = {x["ref_internal"]: x for x in plan["learners"]}
    assert {r: x["state"] for r, x in items.items()} == {
        "DAU0000001": "adopt",
        "DAU0000002": "review",
        "DAU0000003": "review",
        "DAU0000004": "create",
    }
    adopt = items["DAU0000001"]
    assert adopt["contact_id"] == org.felicity
    [best] = adopt["candidates"]
    assert (best["contact_id"], best["name"], best["status"]) == (
        org.felicity,
        "JONES, Felicity",
        "auto",
    )
    assert best["score"] >= 0.99
    assert "felicity.jones@example.com agrees" in best["summary"]
    assert adopt["changes"]["ContactNumber"] == {"from": "", "to": "DAU0000001"}
    assert plan["api_calls"] == 3  # one create, one update batch (the adopt), one check
    human = org.cli("sync", "learners", "--dry-run").output
    assert f"DAU0000001 adopt: 'JONES, Felicity' ({org.felicity}), score" in human
    assert "evidence: " in human
    assert "DAU0000002 review: waits for a decision" in human
    assert f"{org.sam} 'Sam Nguyen'" in human

    before = len(xero_contacts(org.setup.sandbox))
    result = org.cli("sync", "learners", "--json")
    assert result["status"] == "succeeded", result["message"]
    assert (result["counts"]["adopted"], result["counts"]["created"]) == (1, 1)
    assert result["counts"]["review"] == 2
    contacts = xero_contacts(org.setup.sandbox)
    assert len(contacts) == before + 1  # only Priya's contact is new
    assert by_number(contacts) == Counter({"DAU0000001": 1, "DAU0000004": 1})
    held = org.contact(org.felicity)
    assert (held["ContactNumber"], held["Name"]) == ("DAU0000001", "Felicity Jones DAU0000001")
    assert held["EmailAddress"] == "felicity.jones@example.com"
    assert held["AccountNumber"] == "DEB-0042"  # the organisation's own field is left alone
    assert held["ContactStatus"] == "ACTIVE"
    # Its history stays where it is: the invoice and its payment are still on it.
    http = org.setup.sandbox.http()
    [invoice] = http.get(f"/Invoices/{org.invoice['InvoiceID']}").json()["Invoices"]
    assert invoice["Contact"]["ContactID"] == org.felicity
    assert [p["Amount"] for p in invoice["Payments"]] == [250.0]
    listed = http.get("/Invoices", params={"ContactIDs": org.felicity}).json()["Invoices"]
    assert [i["InvoiceID"] for i in listed] == [org.invoice["InvoiceID"]]
    assert org.linked()["DAU0000001"] == org.felicity
    # Tom shares Felicity's address but is someone else: untouched.
    assert not org.contact(org.tom).get("ContactNumber")

    again = org.cli("sync", "learners", "--json")
    assert again["counts"]["unchanged"] == 2
    assert again["counts"]["calls"] <= 2


def test_a_review_waits_then_confirm_adopts_and_reject_creates(org: Organisation) -> None:
    first = org.cli("sync", "learners", "--json")
    assert first["counts"]["review"] == 2
    waiting = {e["ref_internal"] for e in first["errors"] if e["state"] == "review"}
    assert waiting == {"DAU0000002", "DAU0000003"}
    listed = org.cli("duplicates", "--status", "review", "--json")
    pairs = {(p["ref_internal"], p["contact_id"]): p for p in listed["pairs"]}
    assert {("DAU0000002", org.sam), ("DAU0000003", org.oliver)} <= set(pairs)
    assert pairs["DAU0000002", org.sam]["survivor_id"] is None  # no contact of its own yet
    # Adopted: Felicity's contact is hers now, not a pair.
    assert all(p["contact_id"] != org.felicity for p in listed["pairs"])

    # Waiting learners cost nothing while nobody decides.
    still = org.cli("sync", "learners", "--json")
    assert still["counts"]["review"] == 2
    assert still["counts"]["calls"] <= 2

    org.cli("duplicates", "confirm", "DAU0000002", org.sam)
    org.cli("duplicates", "reject", "DAU0000003", org.oliver)
    plan = org.cli("sync", "learners", "--dry-run", "--json")
    items = {x["ref_internal"]: x for x in plan["learners"]}
    assert items["DAU0000002"]["state"] == "adopt"
    assert items["DAU0000002"]["codes"] == ["adopt_confirmed_match"]
    assert items["DAU0000003"]["state"] == "create"
    assert items["DAU0000003"]["codes"] == ["matches_rejected"]
    decided = org.cli("sync", "learners", "--json")
    assert (decided["counts"]["adopted"], decided["counts"]["created"]) == (1, 1)
    assert org.contact(org.sam)["ContactNumber"] == "DAU0000002"
    assert not org.contact(org.oliver).get("ContactNumber")
    contacts = xero_contacts(org.setup.sandbox)
    refs = ["DAU0000001", "DAU0000002", "DAU0000003", "DAU0000004"]
    assert {r: by_number(contacts)[r] for r in refs} == dict.fromkeys(refs, 1)
    assert set(org.linked()) == set(refs)
    stored = pairs_repo.list_pairs(org.setup.store, org.setup.connection.id)
    decisions = {(p.ref_internal, p.contact_id): p.decision for p in stored}
    assert decisions["DAU0000003", org.oliver] == "rejected"  # kept for good


def test_duplicate_mode_still_always_creates(org: Organisation) -> None:
    before = len(xero_contacts(org.setup.sandbox))
    result = org.cli("sync", "learners", "--mode", "duplicate", "--json")
    assert result["counts"]["created"] == 4
    assert result["counts"]["adopted"] == result["counts"]["review"] == 0
    assert result["plan"]["mode"] == "duplicate"
    assert all(x["candidates"] == [] for x in result["plan"]["learners"])
    assert len(xero_contacts(org.setup.sandbox)) == before + 4
    assert not org.contact(org.felicity).get("ContactNumber")
    assert pairs_repo.list_pairs(org.setup.store, org.setup.connection.id) == []


def _truth(sandbox: XeroSandbox) -> tuple[set[tuple[str, str]], dict[str, set[str]]]:
    """The seed's true (learner, contact) pairs, and each contact's documents."""
    with sandbox.store.tx() as conn:
        truth = {
            (str(ref), str(contact_id))
            for contact_id, ref in conn.execute(
                "SELECT contact_id, person_ref FROM seed_truth WHERE person_ref IS NOT NULL"
            )
        }
        documents: dict[str, set[str]] = {}
        for contact_id, doc_id in conn.execute("SELECT contact_id, doc_id FROM documents"):
            documents.setdefault(str(contact_id), set()).add(str(doc_id))
    return truth, documents


@pytest.mark.slow
def test_on_the_seeded_organisation_every_adopt_is_right_and_keeps_its_documents(
    make_xero_sandbox: Any, connect_xero: Any
) -> None:
    from learnerledger.sandbox.seed import demo_people
    from learnerledger.sandbox.xero.seed import SEED_TODAY

    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    setup: ConnectedXero = connect_xero(sandbox)
    seeded = seed_organisation(sandbox.store, scale=0.25)
    learners = [learner_of(p) for p in demo_people(1, 0.25, today=SEED_TODAY)]
    put_learners(setup.store, *learners)
    truth, documents_before = _truth(sandbox)
    with setup.client() as client:
        report = sync_learners(setup.store, client, mode="adopt")
    assert report.status == "succeeded", report.message
    counts = report.counts()
    assert counts["failed"] == 0
    adopted = {(i.ref_internal, i.contact_id) for i in report.plan.writes("adopt")}
    assert counts["adopted"] == len(adopted) > 10
    assert counts["review"] > 0
    assert adopted <= truth  # every contact adopted is the learner's own hand-typed one
    contacts = xero_contacts(sandbox)
    numbers = by_number(contacts)
    synced = [i.ref_internal for i in report.plan.items if i.state in ("adopt", "create")]
    assert {r: numbers[r] for r in synced} == dict.fromkeys(synced, 1)
    assert len(contacts) == seeded.contacts + counts["created"]
    _, documents_after = _truth(sandbox)
    assert documents_after == documents_before  # nothing moved, nothing lost
    with setup.client() as client:
        again = sync_learners(setup.store, client, mode="adopt")
    assert again.adopted == again.created == 0
    assert again.calls <= 2
