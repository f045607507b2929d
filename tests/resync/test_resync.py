"""``resync documents`` end to end over HTTP, Xero sandbox to Wisenet sandbox: the first run
with the default range, incremental runs after new invoices, payments, a credit note and a
prepayment, merges and re-points between runs, unmatched and voided documents, what Wisenet
v1 cannot hold, dry runs, refusals, ranges, and resyncing chosen learners."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from learnerledger.errors import SourceError
from learnerledger.sources.wisenet import client as wisenet_client
from learnerledger.status import collect_status
from learnerledger.store import cursors, history, links
from learnerledger.store import resync as held_store
from resync.conftest import World, as_json, day
from sandbox_documents import line


def puts(world: World) -> int:
    return world.calls().get("PUT /invoices/{id}", 0)


def test_the_first_resync_covers_a_year_before_the_connection_and_a_rerun_costs_nothing(
    world: World,
) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    paid = world.invoice(ada, "1250.00", Reference="CERT3-T1")
    world.books.pay(paid["InvoiceID"], "500.00", date=day(20))
    draft = world.invoice(grace, "99.50", status="DRAFT", date=day(5))
    old = world.invoice(grace, "10.00", date=day(400), due=day(380))
    world.reset_calls()

    report = world.resync()

    today = date.today()
    assert report.status == "succeeded"
    assert report.scope.date_to == today
    assert today - timedelta(days=366) <= report.scope.date_from <= today - timedelta(days=365)
    assert (report.scope.incremental, report.scope.first) == (True, True)
    assert report.counts()["written"] == 2
    held = world.invoices()
    assert set(held) == {paid["InvoiceID"], draft["InvoiceID"]}  # the old one is out of range
    assert old["InvoiceID"] not in held
    sent = held[paid["InvoiceID"]]
    assert sent["LearnerId"] == world.learner_ids[ada]
    assert (sent["SourceAppKey"], sent["Status"], sent["InvoiceReference"]) == (
        "Xero",
        "AUTHORISED",
        "CERT3-T1",
    )
    assert (sent["AmountTotal"], sent["AmountPaid"], sent["AmountDue"]) == (1250, 500, 750)
    assert sent["Payments"] == [{"Type": "Payment", "Date": f"{day(20)}T00:00:00", "Amount": 500}]
    assert sent["LineItems"][0]["Quantity"] == 1
    assert held[draft["InvoiceID"]]["Status"] == "DRAFT"
    assert world.calls() == {"PUT /invoices/{id}": 2}  # one write per document, no reads
    assert report.xero_calls == 5  # contacts and four document streams, one page each
    assert report.message.startswith(f"Resync for {world.xero.connection.name!r}")

    world.reset_calls()
    again = world.resync()
    assert again.counts()["written"] + again.counts()["updated"] == 0
    assert again.unchanged == 2
    assert world.calls() == {}  # an unchanged re-run does not touch Wisenet at all
    assert again.xero_calls == 5
    run = history.last_run(world.store, "resync documents", world.xero.connection.id)
    assert run is not None
    assert run.status == "succeeded"
    assert run.counts["unchanged"] == 2
    assert collect_status(world.store, world.xero.config)["counts"]["documents_resynced"] == 2


def allocate(world: World, collection: str, credit_id: str, invoice_id: str, amount: str) -> None:
    item = world.books.allocate(credit_id, invoice_id, amount, collection=collection)
    assert item["StatusAttributeString"] == "OK"


def test_incremental_runs_write_only_what_changed(world: World) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    first = world.invoice(ada, "1250.00")
    second = world.invoice(grace, "800.00")
    untouched = world.invoice(grace, "45.00")
    world.resync()

    new = world.invoice(ada, "300.00", date=day(3))
    world.books.pay(second["InvoiceID"], "200.00", date=day(4))
    credit = world.books.credit_note(world.contacts[ada], line("100.00"), Date=day(6))
    allocate(world, "CreditNotes", credit["CreditNoteID"], first["InvoiceID"], "100.00")
    prepayment = world.books.receive("PREPAYMENT", world.contacts[grace], "300.00", Date=day(8))
    allocate(world, "Prepayments", prepayment["PrepaymentID"], second["InvoiceID"], "300.00")
    open_credit = world.books.credit_note(world.contacts[grace], line("25.00"), Date=day(2))
    world.reset_calls()

    report = world.resync()

    counts = report.counts()
    assert (counts["written"], counts["updated"], counts["moved"]) == (1, 2, 0)
    assert counts["unchanged"] == 1
    assert world.calls() == {"PUT /invoices/{id}": 3}
    held = world.invoices()
    assert set(held) == {i["InvoiceID"] for i in (first, second, untouched, new)}
    credited = held[first["InvoiceID"]]
    assert (credited["AmountCredited"], credited["AmountDue"]) == (100, 1150)
    assert [p["Type"] for p in credited["Payments"]] == ["CreditNote"]
    paid = held[second["InvoiceID"]]
    assert (paid["AmountPaid"], paid["AmountCredited"], paid["AmountDue"]) == (200, 300, 300)
    assert sorted((p["Type"], p["Amount"]) for p in paid["Payments"]) == [
        ("Payment", 200),
        ("Prepayment", 300),
    ]
    # credit left open has no home in Wisenet v1: listed with what to do, nothing written
    [listed] = report.not_representable
    assert (listed["document_id"], listed["code"], listed["ref_internal"]) == (
        open_credit["CreditNoteID"],
        "open_credit",
        grace,
    )
    assert "25.00" in listed["message"]
    assert counts["not_representable"] == 1
    with world.store.read() as conn:
        streams = {c.stream for c in cursors.list_cursors(conn)}
    floor = report.scope.date_from.isoformat()
    assert {f"{s} {floor}.." for s in ("invoices", "credit_notes", "prepayments")} <= streams


def merge(world: World, source: str, target: str) -> None:
    url = (
        f"{world.sandbox.url}/sandbox/organisations/{world.sandbox.tenant_id}"
        f"/contacts/{source}/merge"
    )
    answer = httpx.post(url, json={"TargetContactID": target})
    assert answer.status_code == 200, answer.text


def test_a_merge_between_two_resyncs_moves_the_documents_to_the_other_learner(
    world: World,
) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    legacy = world.books.contact("Jo Smith")  # typed in by hand years ago
    with world.store.transaction() as conn:
        links.absorb_contact(conn, world.xero.connection.id, ada, legacy)
    invoice = world.invoice(legacy, "640.00")
    world.books.pay(invoice["InvoiceID"], "40.00", date=day(9))
    own = world.invoice(ada, "10.00")
    world.resync()
    assert world.on_learner(ada) == {invoice["InvoiceID"], own["InvoiceID"]}

    merge(world, legacy, world.contacts[grace])  # it was Grace all along
    world.reset_calls()
    report = world.resync()

    assert report.counts()["moved"] == 1
    assert world.on_learner(ada) == {own["InvoiceID"]}  # gone from Ada
    assert world.on_learner(grace) == {invoice["InvoiceID"]}  # and on Grace
    assert world.calls() == {"PUT /invoices/{id}": 1}  # the move is one write
    moved = world.invoices()[invoice["InvoiceID"]]
    assert (moved["AmountPaid"], moved["AmountDue"]) == (40, 600)


def test_a_document_re_pointed_to_another_contact_follows_it(world: World) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    invoice = world.invoice(ada, "75.00", status="DRAFT")
    world.resync()
    answer = world.books.update(
        "Invoices", invoice["InvoiceID"], Contact={"ContactID": world.contacts[grace]}
    )
    assert answer.status_code == 200, answer.text
    report = world.resync()
    assert report.moved == 1
    assert world.on_learner(grace) == {invoice["InvoiceID"]}
    assert world.on_learner(ada) == set()


def test_employer_invoices_are_listed_unmatched_and_one_that_stops_being_a_learners_is_removed(
    world: World,
) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    employer = world.books.contact("Harbour Constructions", ContactNumber="HBRCON")
    group = world.invoice(employer, "4800.00")
    mislaid = world.invoice(ada, "120.00", status="DRAFT")
    world.resync()
    assert set(world.invoices()) == {mislaid["InvoiceID"]}
    # the learner's draft was the employer's all along
    answer = world.books.update("Invoices", mislaid["InvoiceID"], Contact={"ContactID": employer})
    assert answer.status_code == 200, answer.text
    world.reset_calls()

    report = world.resync()

    assert report.removed == 1
    assert world.invoices() == {}
    assert world.calls() == {"DELETE /invoices/{id}": 1}
    unmatched = {u["document_id"]: u for u in report.unmatched}
    assert set(unmatched) == {group["InvoiceID"], mislaid["InvoiceID"]}
    entry = unmatched[group["InvoiceID"]]
    assert (entry["code"], entry["contact"], entry["number"]) == (
        "not_a_learner",
        "Harbour Constructions",
        group["InvoiceNumber"],
    )
    assert "'HBRCON' is no learner's RefInternal" in entry["reason"]
    run = history.last_run(world.store, "resync documents", world.xero.connection.id)
    assert run is not None
    assert {p["code"] for p in run.problems} == {"not_a_learner"}
    assert {p["field"] for p in run.problems} == {"Contact"}


def test_voided_and_deleted_documents_are_updated_not_lost(world: World) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    voided = world.invoice(ada, "500.00")
    deleted = world.invoice(ada, "60.00", status="DRAFT")
    world.resync()
    for invoice, status in ((voided, "VOIDED"), (deleted, "DELETED")):
        answer = world.books.update("Invoices", invoice["InvoiceID"], Status=status)
        assert answer.status_code == 200, answer.text
    world.reset_calls()
    report = world.resync()
    assert report.updated == 2
    held = world.invoices()
    assert (held[voided["InvoiceID"]]["Status"], held[voided["InvoiceID"]]["AmountDue"]) == (
        "VOIDED",
        0,
    )
    assert held[deleted["InvoiceID"]]["Status"] == "DELETED"
    assert world.calls() == {"PUT /invoices/{id}": 2}


def test_lines_wisenet_cannot_hold_are_written_changed_and_listed(world: World) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    hours = {
        "Description": "Tutoring hours",
        "Quantity": "1.5",
        "UnitAmount": "80.00",
        "AccountCode": "210",
    }
    invoice = world.invoice(ada, lines=[hours])
    report = world.resync()
    [listed] = report.not_representable
    assert (listed["document_id"], listed["code"]) == (invoice["InvoiceID"], "fractional_quantity")
    held = world.invoices()[invoice["InvoiceID"]]["LineItems"][0]
    assert (held["Quantity"], held["UnitAmount"], held["LineAmount"]) == (1, 120, 120)


def test_a_dry_run_writes_nothing_and_says_what_the_run_will_write(world: World) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    for ref in (ada, grace, ada):
        world.invoice(ref, "10.00")
    world.reset_calls()

    plan = world.resync(dry_run=True, day_limit=2)

    assert plan.status == "planned"
    assert plan.counts()["written"] == 3
    assert plan.mismatches == 3
    assert world.calls() == {}
    assert world.invoices() == {}
    assert held_store.load_held(world.store, world.xero.connection.id) == {}
    assert plan.budget["wisenet"]["calls_needed"] == 3
    assert plan.budget["wisenet"]["day_left"] == 2
    assert plan.budget["wisenet"]["pauses"] is True
    assert plan.run_id is None
    assert history.last_run(world.store, "resync documents", world.xero.connection.id) is None

    run = world.resync()
    assert run.counts()["written"] == 3
    assert len(world.invoices()) == 3


def test_a_document_wisenet_refuses_is_listed_and_the_rest_are_written(world: World) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    refused = world.invoice(ada, "10.00")
    kept = world.invoice(grace, "20.00")
    # Ada's LearnerId as the store knows it no longer exists in Wisenet
    with world.wisenet.sandbox.store.tx() as conn:
        conn.execute("DELETE FROM learners WHERE learner_id = ?", (world.learner_ids[ada],))

    report = world.resync()

    assert report.status == "succeeded"
    assert (report.refused, report.counts()["written"], report.mismatches) == (1, 1, 1)
    assert set(world.invoices()) == {kept["InvoiceID"]}
    run = history.last_run(world.store, "resync documents", world.xero.connection.id)
    assert run is not None
    [problem] = [p for p in run.problems if p["code"] == "sms_refused"]
    assert refused["InvoiceNumber"] in problem["record"]
    assert ada in problem["message"]
    assert "does not exist" in problem["message"]
    held = held_store.load_held(world.store, world.xero.connection.id)
    assert refused["InvoiceID"] not in held  # nothing pending: the next run tries again


def test_a_document_that_cannot_be_put_in_wisenets_shape_is_listed_and_the_rest_are_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    unsendable = world.invoice(ada, "10.00")
    kept = world.invoice(grace, "20.00")
    body = wisenet_client.invoice_body

    def refuse_one(invoice: Any) -> bytes:
        if invoice.get("InvoiceNumber") == unsendable["InvoiceNumber"]:
            raise SourceError(
                "The amount 1E+20 cannot be sent to Wisenet: it holds 15 digits at most.",
                fix="Correct the amount in Xero.",
            )
        return body(invoice)

    monkeypatch.setattr(wisenet_client, "invoice_body", refuse_one)
    report = world.resync()

    assert report.status == "succeeded"
    assert (report.refused, report.counts()["written"]) == (1, 1)
    assert set(world.invoices()) == {kept["InvoiceID"]}
    run = history.last_run(world.store, "resync documents", world.xero.connection.id)
    assert run is not None
    [problem] = [p for p in run.problems if p["code"] == "sms_refused"]
    assert unsendable["InvoiceNumber"] in problem["record"]
    assert "15 digits at most" in problem["message"]


def test_a_range_reads_under_cursors_of_its_own_and_leaves_the_incremental_ones(
    world: World,
) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    old = world.invoice(ada, "10.00", date=day(500), due=day(480))
    recent = world.invoice(ada, "20.00")
    first = world.resync()
    with world.store.read() as conn:
        before = {c.stream: c.cursor_ms for c in cursors.list_cursors(conn)}
    start = (date.today() - timedelta(days=520)).isoformat()
    end = (date.today() - timedelta(days=450)).isoformat()

    ranged = world.resync(date_from=date.fromisoformat(start), date_to=date.fromisoformat(end))

    assert (ranged.scope.incremental, ranged.counts()["written"]) == (False, 1)
    assert set(world.invoices()) == {old["InvoiceID"], recent["InvoiceID"]}
    with world.store.read() as conn:
        after = {c.stream: c.cursor_ms for c in cursors.list_cursors(conn)}
    floor = first.scope.date_from.isoformat()
    for stream in ("invoices", "credit_notes", "prepayments", "overpayments"):
        assert after[f"{stream} {floor}.."] == before[f"{stream} {floor}.."]
        assert f"{stream} {start}..{end}" in after
    # the incremental runs keep looking after what the ranged run wrote
    answer = world.books.pay(old["InvoiceID"], "10.00", date=day(1))
    assert answer["StatusAttributeString"] == "OK"
    ranged_again = world.resync(
        date_from=date.fromisoformat(start), date_to=date.fromisoformat(end)
    )
    assert ranged_again.updated == 1
    assert world.invoices()[old["InvoiceID"]]["Status"] == "PAID"


def test_resyncing_a_learner_puts_right_what_was_changed_in_wisenet(world: World) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    invoice = world.invoice(ada, "300.00")
    other = world.invoice(grace, "10.00")
    world.resync()
    http = world.wisenet.http()
    tampered = dict(world.invoices()[invoice["InvoiceID"]])
    tampered["AmountDue"] = 0
    tampered["Status"] = "PAID"
    assert http.put(f"/invoices/{invoice['InvoiceID']}", json=as_json(tampered)).status_code == 200
    assert world.resync().counts()["updated"] == 0  # nothing changed in Xero

    world.reset_calls()
    report = world.resync(learners=[ada.lower()])

    assert world.calls() == {"GET /invoices": 1, "PUT /invoices/{id}": 1}
    assert report.updated == 1
    assert world.invoices()[invoice["InvoiceID"]]["Status"] == "AUTHORISED"
    assert world.invoices()[other["InvoiceID"]]["AmountDue"] == 10
    with pytest.raises(Exception, match="No learner has the RefInternal NOPE"):
        world.resync(learners=["NOPE"])


def test_the_resync_runs_the_same_on_postgresql(make_world: Any, postgres_store: Any) -> None:
    world: World = make_world(store=postgres_store)
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    invoice = world.invoice(ada, "1250.00")
    world.invoice(grace, "10.00")
    assert world.resync().counts()["written"] == 2
    world.books.pay(invoice["InvoiceID"], "250.00", date=day(2))
    answer = world.books.update(
        "Invoices",
        world.invoice(grace, "5.00", status="DRAFT")["InvoiceID"],
        Contact={"ContactID": world.contacts[ada]},
    )
    assert answer.status_code == 200, answer.text
    world.reset_calls()
    report = world.resync()
    assert (report.counts()["written"], report.updated, report.unchanged) == (1, 1, 1)
    assert world.calls() == {"PUT /invoices/{id}": 2}
    assert world.invoices()[invoice["InvoiceID"]]["AmountDue"] == 1000
    assert world.resync().unchanged == 3
