"""``report reconcile``: what the Wisenet sandbox holds, read back over its API, against what
the Xero sandbox holds, learner by learner. After a resync of a varied organisation both sides
agree exactly; every kind of difference made afterwards is found with its likely cause."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from learnerledger.cli import main
from learnerledger.resync import Reconciliation, reconcile
from learnerledger.store import links
from resync.conftest import World, as_json, day
from resync.test_resync import allocate, merge
from sandbox_documents import line


def compare(world: World) -> Reconciliation:
    with world.xero.client() as client:
        return reconcile(world.store, client, wisenet=world.target())


def seeded(world: World) -> dict[str, str]:
    """Three learners with a varied year of documents, a legacy contact merged into one of
    them, another absorbed but not merged, and an employer. Returns the learners by name."""
    ada, grace, alan = world.add_learners("Ada Lovelace", "Grace Hopper", "Alan Turing")
    contacts = world.contacts
    paid = world.invoice(ada, "1850.00", date=day(200))
    world.books.pay(paid["InvoiceID"], "1850.00", date=day(190))
    part = world.invoice(ada, "2495.00", date=day(90))
    world.books.pay(part["InvoiceID"], "495.00", date=day(80))
    credited = world.invoice(grace, "3200.00", date=day(150))
    credit = world.books.credit_note(contacts[grace], line("200.00"), Date=day(140))
    allocate(world, "CreditNotes", credit["CreditNoteID"], credited["InvoiceID"], "200.00")
    prepaid = world.invoice(grace, "145.00", date=day(60))
    deposit = world.books.receive("PREPAYMENT", contacts[grace], "100.00", Date=day(70))
    allocate(world, "Prepayments", deposit["PrepaymentID"], prepaid["InvoiceID"], "100.00")
    overpaid = world.invoice(alan, "75.00", date=day(50))
    extra = world.books.receive("OVERPAYMENT", contacts[alan], "80.00", Date=day(45))
    allocate(world, "Overpayments", extra["OverpaymentID"], overpaid["InvoiceID"], "75.00")
    voided = world.invoice(alan, "4950.00", date=day(30))
    assert world.books.update("Invoices", voided["InvoiceID"], Status="VOIDED").status_code == 200
    world.invoice(alan, "89.00", date=day(3), status="DRAFT")
    hours = {
        "Description": "Tutoring",
        "Quantity": "2.5",
        "UnitAmount": "60.00",
        "AccountCode": "210",
    }
    world.invoice(alan, lines=[hours], date=day(20))
    legacy = world.books.contact("G. Hopper")
    world.invoice(legacy, "1290.00", date=day(120))
    merge(world, legacy, contacts[grace])
    absorbed = world.books.contact("Turing, A")
    with world.store.transaction() as conn:
        links.absorb_contact(conn, world.xero.connection.id, alan, absorbed)
    kept = world.invoice(absorbed, "2200.00", date=day(100))
    world.books.pay(kept["InvoiceID"], "1000.00", date=day(95))
    employer = world.books.contact("Harbour Constructions")
    world.invoice(employer, "4800.00", date=day(40))
    return {"ada": ada, "grace": grace, "alan": alan}


def xero_totals(world: World, refs: dict[str, str]) -> dict[str, tuple[Decimal, int]]:
    """What Xero holds per learner, read from Xero's API: outstanding on approved invoices and
    the number of sales invoices, through the learners' own contacts and the absorbed one."""
    http = world.sandbox.http()
    invoices = http.get("/Invoices", params={"page": 1, "pageSize": 1000}).json()["Invoices"]
    owner = {world.contacts[ref]: ref for ref in refs.values()}
    with world.store.read() as conn:
        for contact_id, (ref, _) in links.load_contact_learners(
            conn, world.xero.connection.id
        ).items():
            owner.setdefault(contact_id, ref)
    totals: dict[str, list[Any]] = defaultdict(lambda: [Decimal("0.00"), 0])
    for invoice in invoices:
        ref = owner.get(invoice["Contact"]["ContactID"])
        if ref is None or invoice["Type"] != "ACCREC":
            continue
        totals[ref][1] += 1
        if invoice["Status"] == "AUTHORISED":
            totals[ref][0] += Decimal(str(invoice["AmountDue"]))
    return {ref: (t[0], t[1]) for ref, t in totals.items()}


def test_after_a_resync_both_sides_agree_learner_by_learner(world: World) -> None:
    refs = seeded(world)
    report = world.resync()
    assert report.status == "succeeded"
    assert report.unmatched_count == 1  # the employer's invoice

    result = compare(world)

    document = result.as_json()
    assert set(document) == {"mismatches", "learners"}
    assert document["mismatches"] == []
    learners = {row["ref_internal"]: row for row in document["learners"]}
    assert set(learners) == set(refs.values())
    for row in document["learners"]:
        assert set(row) == {
            "ref_internal",
            "xero_outstanding",
            "sms_outstanding",
            "xero_documents",
            "sms_documents",
        }
        assert isinstance(row["xero_outstanding"], str)
        assert isinstance(row["xero_documents"], int)
        assert row["xero_outstanding"] == row["sms_outstanding"]
        assert row["xero_documents"] == row["sms_documents"]
    expected = xero_totals(world, refs)
    for ref, (outstanding, documents) in expected.items():
        assert (Decimal(learners[ref]["xero_outstanding"]), learners[ref]["xero_documents"]) == (
            outstanding,
            documents,
        )
    assert learners[refs["ada"]]["xero_outstanding"] == "2000.00"
    assert learners[refs["grace"]]["xero_documents"] == 3  # its own two and the merged one
    assert learners[refs["alan"]]["xero_documents"] == 5  # four of its own, one absorbed
    assert result.unmatched == 1


def test_every_difference_is_found_with_its_likely_cause(world: World, tmp_path: Path) -> None:
    refs = seeded(world)
    world.resync()
    ada, grace = refs["ada"], refs["grace"]
    wisenet = world.wisenet.http()
    # a new invoice in Xero, not resynced yet
    fresh = world.invoice(ada, "10.00", date=day(1))
    # an invoice changed by hand in Wisenet
    changed_id = next(iter(world.on_learner(grace)))
    changed = dict(world.invoices()[changed_id])
    changed["AmountDue"] = 0
    assert wisenet.put(f"/invoices/{changed_id}", json=as_json(changed)).status_code == 200
    # an invoice an earlier integration left, and one of Wisenet's own
    stale_id = str(uuid.uuid4())
    own_id = str(uuid.uuid4())
    for invoice_id, source in ((stale_id, "Xero"), (own_id, "Wisenet")):
        body = {
            "LearnerId": world.learner_ids[ada],
            "InvoiceNumber": "INV-00001",
            "SourceAppKey": source,
            "Status": "AUTHORISED",
            "AmountTotal": 50,
            "AmountDue": 50,
        }
        assert wisenet.put(f"/invoices/{invoice_id}", json=body).status_code == 200

    result = compare(world)

    causes = {(m.document_id, m.field): m for m in result.mismatches}
    assert set(causes) == {
        (fresh["InvoiceID"].lower(), "document"),
        (changed_id.lower(), "AmountDue"),
        (stale_id, "document"),
    }
    assert causes[(fresh["InvoiceID"].lower(), "document")].cause == "not_resynced"
    hand = causes[(changed_id.lower(), "AmountDue")]
    assert (hand.cause, hand.ref_internal, hand.sms) == ("changed_in_sms", grace, "0")
    assert f"--learner {grace}" in hand.fix
    assert causes[(stale_id, "document")].cause == "not_in_xero"
    learners = {row["ref_internal"]: row for row in result.learners()}
    # Ada: the new invoice only in Xero, the earlier integration's only in Wisenet
    assert learners[ada] == {
        "ref_internal": ada,
        "xero_outstanding": "2010.00",
        "sms_outstanding": "2050.00",
        "xero_documents": 3,
        "sms_documents": 3,
    }

    base = ["--home", str(tmp_path / "home"), "--database-url", str(world.store.engine.url)]
    runner = CliRunner()
    as_csv = runner.invoke(main, [*base, "report", "reconcile", "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    lines = as_csv.stdout.splitlines()
    assert lines[0] == (
        "ref_internal,xero_outstanding,sms_outstanding,xero_documents,sms_documents,"
        "mismatches,causes"
    )
    assert any(row.startswith(f"{grace},") and row.endswith(",1,changed_in_sms") for row in lines)

    fixed = world.resync()
    assert fixed.counts()["written"] == 1
    world.resync(learners=[grace])
    printed = runner.invoke(main, [*base, "report", "reconcile", "--json"])
    assert printed.exit_code == 0, printed.output
    left = json.loads(printed.stdout)["mismatches"]
    assert [(m["document_id"], m["cause"]) for m in left] == [(stale_id, "not_in_xero")]
    human = runner.invoke(main, [*base, "report", "reconcile"])
    assert "1 mismatches" in human.stdout
    assert "not_in_xero" in human.stdout


def test_the_reconciliation_reads_wisenet_a_thousand_invoices_a_call(world: World) -> None:
    world.add_learners("Ada Lovelace")
    world.resync()
    world.reset_calls()
    compare(world)
    assert world.calls() == {"GET /invoices": 1}
    assert httpx.get(world.wisenet.server.url + "/sandbox/calls").status_code == 200
