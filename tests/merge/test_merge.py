"""``merge plan|apply|verify`` over HTTP against the Xero sandbox: after a sync in duplicate
mode, what the API can move is moved and the emptied legacy contact archived; blocked history
becomes a worklist item for Xero's Merge; verify confirms the merge, notices one done the wrong
way round, and stops when money is not conserved."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest

from learnerledger.jobs import Job
from learnerledger.merge import (
    MoneyNotConserved,
    decide,
    find_duplicates_job,
    merge_apply,
    merge_verify,
    plan_merges,
)
from learnerledger.status import collect_status
from learnerledger.store import history, links
from learnerledger.sync import sync_learners
from merge.scenario import STREET, Org, organisation, sync_and_confirm
from sandbox_documents import line


@pytest.fixture
def org(make_xero_sandbox: Any, connect_xero: Any) -> Org:
    return organisation(make_xero_sandbox, connect_xero)


def _plan(org: Org) -> Any:
    setup = org.setup
    with setup.client() as client:
        job = Job(setup.store, "merge plan", record=False)
        with job:
            return plan_merges(setup.store, client, job, mapping=_mapping()).plan


def _mapping() -> Any:
    from learnerledger.domain.contact import ContactMapping

    return ContactMapping()


def _absorbed(org: Org) -> dict[str, str]:
    with org.setup.store.read() as conn:
        return links.load_absorbed(conn, org.setup.connection.id)


def test_what_the_api_can_move_moves_and_the_emptied_contact_is_archived(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    draft = org.books.invoice(legacy, line("250"), status="DRAFT")
    approved = org.books.invoice(legacy, line("1000"))
    credit = org.books.credit_note(legacy, line("80"))
    sync_and_confirm(org)
    survivor = org.survivor("DAU0000001")

    plan = _plan(org)
    (cluster,) = plan.clusters
    assert (cluster.ref_internal, cluster.state) == ("DAU0000001", "move")
    assert cluster.survivor is not None
    assert cluster.survivor.contact_id == survivor
    (lp,) = cluster.legacy
    assert lp.outcome == "archive"
    assert {d.document_id: d.action for d in lp.documents} == {
        draft["InvoiceID"]: "move",
        approved["InvoiceID"]: "move",
        credit["CreditNoteID"]: "move",
    }
    assert cluster.outstanding == Decimal("1000.00")
    assert any(call.startswith("POST /Invoices: re-point") for call in cluster.writes())
    assert any(call.startswith(f"POST /Contacts/{legacy}: archive") for call in cluster.writes())
    assert plan.calls >= 4

    with org.setup.client() as client:
        run = merge_apply(org.setup.store, client)
    assert run.status == "succeeded", run.message
    assert (run.moved, run.archived, run.failed) == (3, 1, 0)
    assert run.worklist == []
    assert run.states == {"DAU0000001": "merged"}
    assert org.documents(legacy) == {}
    assert set(org.documents(survivor)) == {
        draft["InvoiceID"],
        approved["InvoiceID"],
        credit["CreditNoteID"],
    }
    assert org.contact(legacy)["ContactStatus"] == "ARCHIVED"
    assert org.contact(survivor)["ContactStatus"] == "ACTIVE"
    assert _absorbed(org) == {legacy: "DAU0000001"}
    assert run.run_id is not None
    recorded = history.get_run(org.setup.store, run.run_id)
    assert recorded is not None
    assert (recorded.job, recorded.status) == ("merge apply", "succeeded")

    with org.setup.client() as client:
        again = merge_apply(org.setup.store, client)
        verified = merge_verify(org.setup.store, client)
    assert (again.moved, again.archived) == (0, 0)
    assert verified.status == "succeeded", verified.message
    (result,) = verified.clusters
    assert (result.state, result.differences) == ("done", [])


def test_blocked_history_goes_on_the_worklist_then_xeros_merge_then_verify(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    part_paid = org.books.invoice(legacy, line("400"))
    payment = org.books.pay(part_paid["InvoiceID"], "120.00", date="2025-03-02")
    unpaid = org.books.invoice(legacy, line("90"))
    sync_and_confirm(org)
    survivor = org.survivor("DAU0000001")
    # Finance has raised a new invoice on the learner's own contact: no swap then.
    raised = org.books.invoice(survivor, line("60"), status="DRAFT")

    (cluster,) = _plan(org).clusters
    assert cluster.state == "worklist"
    assert "holds 1 document" in cluster.no_swap
    (lp,) = cluster.legacy
    reasons = {d.document_id: (d.action, d.reason) for d in lp.documents}
    assert reasons[part_paid["InvoiceID"]] == ("blocked", "payment of $120.00 on 2025-03-02")
    assert reasons[unpaid["InvoiceID"]][0] == "move"
    assert cluster.outstanding == Decimal("370.00")

    with org.setup.client() as client:
        run = merge_apply(org.setup.store, client)
    assert run.status == "succeeded", run.message
    assert (run.moved, run.archived) == (1, 0)
    (item,) = run.worklist
    assert (item.legacy_id, item.survivor_id) == (legacy, survivor)
    assert item.survivor_name == "Felicity Jones DAU0000001"
    assert item.link == (
        f"{org.sandbox.url}/sandbox/organisations/{org.sandbox.tenant_id}/contacts/{legacy}"
    )
    assert item.documents == (
        (f"invoice {part_paid['InvoiceNumber']}", "payment of $120.00 on 2025-03-02"),
    )
    assert org.contact(legacy)["ContactStatus"] == "ACTIVE"  # it still holds history

    with org.setup.client() as client:
        pending = merge_verify(org.setup.store, client)
    assert [c.state for c in pending.clusters] == ["pending"]
    assert [i.legacy_id for i in pending.worklist] == [legacy]

    # The person opens the link and merges, typing the survivor's Name as Xero's form asks.
    assert org.merge_in_xero(legacy, survivor, by_name=item.survivor_name).status_code == 303
    assert org.contact(legacy)["MergedToContactID"] == survivor
    with org.setup.client() as client:
        done = merge_verify(org.setup.store, client)
    assert done.status == "succeeded", done.message
    (result,) = done.clusters
    assert result.state == "done"
    assert done.worklist == []
    assert _absorbed(org) == {legacy: "DAU0000001"}
    assert set(org.documents(survivor)) == {
        part_paid["InvoiceID"],
        unpaid["InvoiceID"],
        raised["InvoiceID"],
    }
    assert org.payments()[payment["PaymentID"]] == "AUTHORISED"


def test_a_merge_the_wrong_way_round_is_reported_with_its_fix(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    org.books.pay(org.books.invoice(legacy, line("300"))["InvoiceID"], "300")
    sync_and_confirm(org)
    survivor = org.survivor("DAU0000001")
    org.books.invoice(survivor, line("60"))  # no swap: the learner's contact holds history
    with org.setup.client() as client:
        assert [i.legacy_id for i in merge_apply(org.setup.store, client).worklist] == [legacy]
    # Someone merges the learner's own contact into the old one.
    assert org.merge_in_xero(survivor, legacy).status_code == 200
    with org.setup.client() as client:
        report = merge_verify(org.setup.store, client)
    (result,) = report.clusters
    assert result.state == "wrong_direction"
    assert "restore 'Felicity Jones DAU0000001'" in result.fix
    assert "merge it into 'Felicity Jones DAU0000001'" in result.fix
    assert _absorbed(org) == {legacy: "DAU0000001"}  # resyncs find the documents on it
    assert org.survivor("DAU0000001") == survivor  # the learner keeps its own contact
    assert report.run_id is not None
    run = history.get_run(org.setup.store, report.run_id)
    assert run is not None
    assert [p["code"] for p in run.problems] == ["wrong_direction"]

    # The fix, played in Xero: restore the learner's contact, merge the old one into it.
    base = f"{org.sandbox.url}/sandbox/organisations/{org.sandbox.tenant_id}/contacts"
    assert httpx.post(f"{base}/{survivor}/restore", data={"confirm": "yes"}).status_code == 303
    assert org.merge_in_xero(legacy, "", by_name="Felicity Jones DAU0000001").status_code == 303
    with org.setup.client() as client:
        fixed = merge_verify(org.setup.store, client)
    assert fixed.status == "succeeded", fixed.message
    assert [c.state for c in fixed.clusters] == ["done"]
    assert len(org.documents(survivor)) == 2  # the paid invoice and the learner's own


def test_a_deleted_payment_stops_verify_until_accepted(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    invoice = org.books.invoice(legacy, line("500"))
    payment = org.books.pay(invoice["InvoiceID"], "200")
    sync_and_confirm(org)
    with org.setup.client() as client:
        merge_apply(org.setup.store, client)
    deleted = org.books.http.post(
        f"/Payments/{payment['PaymentID']}", json={"Payments": [{"Status": "DELETED"}]}
    )
    assert deleted.status_code == 200, deleted.text
    with org.setup.client() as client, pytest.raises(MoneyNotConserved) as stopped:
        merge_verify(org.setup.store, client)
    text = str(stopped.value)
    assert "cluster DAU0000001" in text
    assert f"invoice {invoice['InvoiceNumber']}" in text
    assert payment["PaymentID"] in text
    with org.setup.client() as client:
        applied = merge_apply(org.setup.store, client)  # a stopped cluster is left alone
        accepted = merge_verify(org.setup.store, client, accept=["DAU0000001"])
        after = merge_verify(org.setup.store, client)
    assert applied.run_id is not None
    run = history.get_run(org.setup.store, applied.run_id)
    assert run is not None
    assert "stopped" in [p["code"] for p in run.problems]
    assert [c.accepted for c in accepted.clusters] == [True]
    assert after.status == "succeeded", after.message
    assert [c.state for c in after.clusters] == ["done"]  # swapped by the first apply


def test_a_payment_received_meanwhile_is_activity_not_a_difference(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    invoice = org.books.invoice(legacy, line("500"))
    org.books.pay(invoice["InvoiceID"], "200")
    sync_and_confirm(org)
    with org.setup.client() as client:
        merge_apply(org.setup.store, client)
    org.books.pay(invoice["InvoiceID"], "50")
    org.books.invoice(org.survivor("DAU0000001"), line("75"))
    with org.setup.client() as client:
        report = merge_verify(org.setup.store, client)
    assert report.status == "succeeded", report.message
    (result,) = report.clusters
    assert result.differences == []
    assert result.outstanding == Decimal("325.00")


def test_sync_after_the_merge_leaves_everything_alone(org: Org) -> None:
    org.books.invoice(org.legacy["DAU0000001"], line("10"), status="DRAFT")
    sync_and_confirm(org)
    with org.setup.client() as client:
        merge_apply(org.setup.store, client)
        again = sync_learners(org.setup.store, client)
    assert again.counts()["unchanged"] == 2


def test_swap_gives_the_legacy_contact_the_learners_identity(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    paid = org.books.invoice(legacy, line("300"))
    org.books.pay(paid["InvoiceID"], "300")
    second = org.books.contact(
        "Fliss Jones", EmailAddress="felicity.jones@example.com", Addresses=[STREET]
    )
    draft = org.books.invoice(second, line("45"), status="DRAFT")
    sync_and_confirm(org)
    pair = ("DAU0000001", second)
    assert decide(org.setup.store, org.setup.connection.id, "confirmed", pair=pair) == 1
    empty = org.survivor("DAU0000001")

    (cluster,) = _plan(org).clusters
    assert cluster.state == "swap"
    assert cluster.swap is not None
    assert cluster.target is not None
    assert cluster.target.contact_id == legacy
    assert "known only to learnerledger" in cluster.swap.why
    assert {lp.contact.contact_id: lp.outcome for lp in cluster.legacy} == {
        legacy: "swap",
        second: "archive",
    }

    with org.setup.client() as client:
        run = merge_apply(org.setup.store, client)
    assert run.status == "succeeded", run.message
    assert (run.swapped, run.moved, run.archived) == (1, 1, 2)
    assert run.worklist == []
    kept = org.contact(legacy)
    assert (kept["ContactNumber"], kept["Name"], kept["ContactStatus"]) == (
        "DAU0000001",
        "Felicity Jones DAU0000001",
        "ACTIVE",
    )
    assert kept["EmailAddress"] == "felicity.jones@example.com"
    gone = org.contact(empty)
    assert gone["ContactStatus"] == "ARCHIVED"
    assert "ContactNumber" not in gone or not gone["ContactNumber"]
    assert gone["Name"].startswith("Felicity Jones DAU0000001 (replaced by ")
    assert org.survivor("DAU0000001") == legacy
    assert _absorbed(org) == {empty: "DAU0000001", second: "DAU0000001"}
    assert set(org.documents(legacy)) == {paid["InvoiceID"], draft["InvoiceID"]}

    with org.setup.client() as client:
        synced = sync_learners(org.setup.store, client)
        verified = merge_verify(org.setup.store, client)
        found = find_duplicates_job(org.setup.store, client)
    assert (synced.created, synced.counts()["unchanged"]) == (0, 2)
    assert [c.state for c in verified.clusters] == ["done"]
    # The archived contact is settled: never offered as a duplicate again.
    assert [p.contact_id for p in found.pairs if p.found] == []
    assert {p.contact_id for p in found.pairs} == {legacy, second}  # decisions are kept


def test_a_refused_swap_gives_the_learner_its_identity_back(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    org.books.pay(org.books.invoice(legacy, line("300"))["InvoiceID"], "300")
    sync_and_confirm(org)
    own = org.survivor("DAU0000001")
    sandbox = org.sandbox
    # Hold the swap's second write (the legacy contact adopting the learner's identity) while
    # someone archives that contact in Xero: Xero then refuses the write.
    hold = {"kind": "hold", "count": 1, "skip": 1, "method": "POST", "path": "^/Contacts$"}
    assert httpx.post(f"{sandbox.url}/sandbox/faults", json={"rules": [hold]}).is_success
    runs: list[Any] = []

    def apply() -> None:
        with org.setup.client() as client:
            runs.append(merge_apply(org.setup.store, client))

    worker = threading.Thread(target=apply)
    worker.start()
    held = httpx.get(f"{sandbox.url}/sandbox/faults/held", params={"count": 1}, timeout=60)
    assert held.is_success, held.text
    archived = org.books.http.post(
        f"/Contacts/{legacy}", json={"Contacts": [{"ContactStatus": "ARCHIVED"}]}
    )
    assert archived.is_success, archived.text
    assert httpx.post(f"{sandbox.url}/sandbox/faults/release", json={}, timeout=60).is_success
    worker.join(timeout=120)
    (run,) = runs
    assert run.status == "succeeded", run.message
    assert [e["code"] for e in run.errors] == ["swap_refused"]
    assert run.states == {"DAU0000001": "swap_refused"}
    restored = org.contact(own)
    assert (restored["Name"], restored["ContactNumber"], restored["ContactStatus"]) == (
        "Felicity Jones DAU0000001",
        "DAU0000001",
        "ACTIVE",
    )
    assert org.survivor("DAU0000001") == own
    assert [(i.legacy_id, i.survivor_id) for i in run.worklist] == [(legacy, own)]
    assert collect_status(org.setup.store, org.setup.config)["counts"]["merges_worklist"] == 1


def test_no_archive_leaves_the_emptied_contact_active_and_verify_accepts_it(org: Org) -> None:
    legacy = org.legacy["DAU0000001"]
    draft = org.books.invoice(legacy, line("20"), status="DRAFT")
    sync_and_confirm(org)
    survivor = org.survivor("DAU0000001")
    with org.setup.client() as client:
        run = merge_apply(org.setup.store, client, archive=False)
        verified = merge_verify(org.setup.store, client)
    assert (run.moved, run.archived, run.states) == (1, 0, {"DAU0000001": "emptied"})
    assert org.contact(legacy)["ContactStatus"] == "ACTIVE"
    assert set(org.documents(survivor)) == {draft["InvoiceID"]}
    (result,) = verified.clusters
    assert result.state == "done"
    assert "left active" in result.fix
    assert _absorbed(org) == {legacy: "DAU0000001"}
