"""The pure parts of the merge, on domain values: how each document is classified, when a swap
is chosen (and why not), the money check, and the worklist's renderings."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from learnerledger.domain.documents import MirroredDocument
from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.merge.money import DocFacts, Snapshot, compare, dollars, snapshot
from learnerledger.merge.plan import classify, make_merge_plan
from learnerledger.merge.worklist import (
    contact_link,
    worklist_csv,
    worklist_html,
    worklist_items,
    worklist_lines,
)
from sync.test_sync_learners import make_learner

SURVIVOR, LEGACY, OTHER = (
    "00000000-0000-4000-8000-00000000000a",
    "00000000-0000-4000-8000-00000000000b",
    "00000000-0000-4000-8000-00000000000c",
)


def contact(cid: str, name: str, **kw: Any) -> MirroredContact:
    values: dict[str, Any] = {
        "contact_id": cid,
        "name": name,
        "contact_number": None,
        "status": "ACTIVE",
        "merged_to": None,
        "updated_ms": 1,
        "data": {"Name": name},
    }
    values.update(kw)
    return MirroredContact(**values)


_ids = iter(range(1, 10_000))


def doc(
    owner: str,
    status: str = "AUTHORISED",
    *,
    kind: str = "invoice",
    total: str = "100.00",
    paid: str = "0",
    credited: str = "0",
    data: dict[str, Any] | None = None,
    **kw: Any,
) -> MirroredDocument:
    n = next(_ids)
    due = Decimal(total) - Decimal(paid) - Decimal(credited)
    values: dict[str, Any] = {
        "kind": kind,
        "document_id": f"00000000-0000-4000-9000-{n:012d}",
        "type": "ACCREC" if kind == "invoice" else "ACCRECCREDIT",
        "number": f"INV-{n:04d}" if kind == "invoice" else f"CN-{n:04d}",
        "reference": None,
        "status": status,
        "contact_id": owner,
        "applies_to_id": None,
        "date": date(2026, 10, 1),
        "due_date": None,
        "currency": "AUD",
        "total": Decimal(total),
        "amount_due": due if kind == "invoice" else None,
        "amount_paid": Decimal(paid),
        "amount_credited": Decimal(credited),
        "remaining_credit": due if kind != "invoice" else None,
        "updated_ms": 1,
        "data": data or {},
    }
    values.update(kw)
    return MirroredDocument(**values)


def test_documents_are_classified_with_their_reasons() -> None:
    payment = {"PaymentID": "p1", "Amount": Decimal("120.00"), "Date": "/Date(1740873600000+0000)/"}
    cases = [
        (doc(LEGACY, "DRAFT"), "move", "draft with nothing paid or credited"),
        (doc(LEGACY, "SUBMITTED"), "move", "submitted with nothing paid or credited"),
        (doc(LEGACY), "move", "authorised with nothing paid or credited"),
        (
            doc(LEGACY, paid="120", data={"Payments": [payment]}),
            "blocked",
            "payment of $120.00 on 2025-03-02",
        ),
        (
            doc(LEGACY, "PAID", paid="100", data={"Payments": [{**payment, "Amount": "100"}]}),
            "blocked",
            "paid in full: payment of $100.00 on 2025-03-02",
        ),
        (
            doc(
                LEGACY,
                credited="50",
                data={"CreditNotes": [{"CreditNoteNumber": "CN-7", "AppliedAmount": "50"}]},
            ),
            "blocked",
            "credit note CN-7 of $50.00 applied",
        ),
        (doc(LEGACY, credited="5"), "blocked", "$5.00 credited"),
        (doc(LEGACY, "VOIDED"), "blocked", "voided: Xero's API cannot change a voided invoice"),
        (doc(LEGACY, "DELETED"), "left", "deleted: it carries no money and needs no move"),
        (doc(LEGACY, kind="credit_note"), "move", "authorised with nothing paid or credited"),
        (
            doc(
                LEGACY,
                kind="credit_note",
                credited="20",
                data={
                    "Allocations": [
                        {
                            "Amount": "20",
                            "Date": "2026-10-06T00:00:00",
                            "Invoice": {"InvoiceNumber": "INV-9"},
                        }
                    ]
                },
            ),
            "blocked",
            "allocation of $20.00 to INV-9 on 2026-10-06",
        ),
        (
            doc(LEGACY, kind="prepayment", total="300"),
            "blocked",
            "a prepayment of $300.00 received 2026-10-01: Xero's API cannot re-point prepayments",
        ),
        (
            doc(LEGACY, kind="overpayment", total="12.5"),
            "blocked",
            "an overpayment of $12.50 received 2026-10-01: Xero's API cannot re-point overpayments",
        ),
    ]
    for document, action, reason in cases:
        assert classify(document) == (action, reason), document.status


def _plan(*docs: MirroredDocument, made_here: bool = True, **kw: Any) -> Any:
    contacts = kw.pop(
        "contacts",
        [
            contact(SURVIVOR, "Felicity Jones DAU1", contact_number="DAU1"),
            contact(LEGACY, "JONES, Felicity"),
        ],
    )
    learner = make_learner("DAU1")
    return make_merge_plan(
        kw.pop("confirmed", [("DAU1", LEGACY)]),
        kw.pop("linked", {"DAU1": SURVIVOR}),
        ContactIndex.of(contacts),
        list(docs),
        learners={"DAU1": learner},
        made_here={SURVIVOR} if made_here else set(),
        **kw,
    ).clusters


def test_move_worklist_and_done() -> None:
    (moving,) = _plan(doc(LEGACY, "DRAFT"), doc(LEGACY, "DELETED"))
    assert moving.state == "move"
    assert [lp.outcome for lp in moving.legacy] == ["archive"]
    (empty,) = _plan()
    assert empty.state == "move"  # nothing to move, the contact is still archived
    (merged,) = _plan(
        contacts=[
            contact(SURVIVOR, "Felicity Jones DAU1", contact_number="DAU1"),
            contact(LEGACY, "JONES, Felicity", status="ARCHIVED", merged_to=SURVIVOR),
        ]
    )
    assert (merged.state, merged.legacy[0].outcome) == ("done", "merged")


def test_a_swap_is_planned_only_when_every_condition_holds() -> None:
    blocked = doc(LEGACY, "PAID", paid="100")
    (swap,) = _plan(blocked)
    assert swap.state == "swap"
    assert swap.swap is not None
    assert swap.swap.adopt["ContactNumber"] == "DAU1"
    assert swap.swap.adopt["Name"] == "Felicity Jones DAU1"
    assert swap.swap.placeholder == "Felicity Jones DAU1 (replaced by 00000000)"
    assert [c.contact_id for c in swap.archives()] == [SURVIVOR]
    reasons = {
        "not made here": (_plan(blocked, made_here=False), "learnerledger did not create"),
        "survivor holds a document": (
            _plan(blocked, doc(SURVIVOR, "DRAFT")),
            "holds 1 document",
        ),
        "legacy has a Contact Code": (
            _plan(
                blocked,
                contacts=[
                    contact(SURVIVOR, "Felicity Jones DAU1", contact_number="DAU1"),
                    contact(LEGACY, "JONES, Felicity", contact_number="CUST-42"),
                ],
            ),
            "carries the Contact Code 'CUST-42'",
        ),
        "two blocked legacy contacts": (
            _plan(
                blocked,
                doc(OTHER, "VOIDED"),
                contacts=[
                    contact(SURVIVOR, "Felicity Jones DAU1", contact_number="DAU1"),
                    contact(LEGACY, "JONES, Felicity"),
                    contact(OTHER, "Fliss Jones"),
                ],
                confirmed=[("DAU1", LEGACY), ("DAU1", OTHER)],
            ),
            "2 legacy contacts have history",
        ),
        "refused before": (
            _plan(blocked, refused_swaps={"DAU1"}),
            "Xero refused this cluster's swap on an earlier run",
        ),
        "already absorbed": (
            _plan(blocked, absorbed={OTHER: "DAU1"}),
            "other contacts were already merged",
        ),
        "name taken": (
            _plan(
                blocked,
                contacts=[
                    contact(SURVIVOR, "Felicity Jones DAU1 old", contact_number="DAU1"),
                    contact(LEGACY, "JONES, Felicity"),
                    contact(OTHER, "Felicity Jones DAU1"),
                ],
            ),
            "another active contact is named 'Felicity Jones DAU1'",
        ),
    }
    for case, ((cluster,), fragment) in reasons.items():
        assert cluster.state == "worklist", case
        assert fragment in cluster.no_swap, (case, cluster.no_swap)


def test_clusters_that_cannot_be_planned_say_why() -> None:
    (twice, other) = _plan(confirmed=[("DAU1", LEGACY), ("DAU2", LEGACY)])
    assert twice.state == "conflict"
    assert "confirmed as the same person as 2 learners (DAU1, DAU2)" in twice.reasons[0]
    assert other.state == "waiting"  # DAU2 has no contact of its own
    (wrong,) = _plan(
        contacts=[
            contact(
                SURVIVOR,
                "Felicity Jones DAU1",
                contact_number="DAU1",
                status="ARCHIVED",
                merged_to=LEGACY,
            ),
            contact(LEGACY, "JONES, Felicity"),
        ]
    )
    assert (wrong.state, wrong.codes) == ("wrong_direction", ("wrong_direction",))
    (elsewhere,) = _plan(
        contacts=[
            contact(SURVIVOR, "Felicity Jones DAU1", contact_number="DAU1"),
            contact(LEGACY, "JONES, Felicity", status="ARCHIVED", merged_to=OTHER),
            contact(OTHER, "Someone Else"),
        ]
    )
    assert (elsewhere.state, elsewhere.codes) == ("conflict", ("merged_elsewhere",))
    (fine, owned) = _plan(
        confirmed=[("DAU1", LEGACY), ("DAU2", SURVIVOR)],
        linked={"DAU1": SURVIVOR, "DAU2": OTHER},
        contacts=[
            contact(SURVIVOR, "Felicity Jones DAU1", contact_number="DAU1"),
            contact(LEGACY, "JONES, Felicity"),
            contact(OTHER, "Tom Jones DAU2", contact_number="DAU2"),
        ],
    )
    assert fine.state == "move"
    assert (owned.state, owned.codes) == ("conflict", ("legacy_is_a_learners_contact",))
    assert "is the learner DAU1's own contact" in owned.reasons[0]
    (unreadable,) = _plan(unreadable={LEGACY: "cannot be read"})
    assert (unreadable.state, unreadable.codes) == ("conflict", ("unreadable_document",))


def _snap(*docs: MirroredDocument) -> Snapshot:
    return snapshot([SURVIVOR, LEGACY], docs)


def test_moves_and_new_activity_are_not_differences() -> None:
    owed = doc(LEGACY, total="500.00", paid="200", data={"Payments": [{"PaymentID": "p1"}]})
    draft = doc(LEGACY, "DRAFT", total="40.00")
    before = _snap(owed, draft)
    assert before.outstanding == Decimal("300.00")
    moved = _snap(replace(owed, contact_id=SURVIVOR), replace(draft, contact_id=SURVIVOR))
    assert compare(before, moved) == []
    paid_more = replace(
        owed,
        amount_paid=Decimal("250"),
        amount_due=Decimal("250"),
        data={"Payments": [{"PaymentID": "p1"}, {"PaymentID": "p2"}]},
    )
    approved = replace(draft, status="AUTHORISED", amount_due=Decimal("40.00"))
    raised = doc(SURVIVOR, total="75.00")
    assert compare(before, _snap(paid_more, approved, raised)) == []
    assert Snapshot.from_json(before.as_json()) == before


def test_losses_are_differences_naming_the_document() -> None:
    owed = doc(LEGACY, total="500.00", paid="200", data={"Payments": [{"PaymentID": "p1"}]})
    before = _snap(owed)
    gone = compare(before, _snap())
    assert [(d.document, d.detail) for d in gone] == [
        (f"invoice {owed.number}", "no longer on any of the cluster's contacts")
    ]
    unpaid = replace(owed, amount_paid=Decimal("0"), amount_due=Decimal("500.00"), data={})
    details = [d.detail for d in compare(before, _snap(unpaid))]
    assert "a payment on it (p1) no longer there" in details
    assert "paid was $200.00, now $0.00" in details
    voided = replace(owed, status="VOIDED", amount_due=Decimal("0"))
    assert "it was AUTHORISED, now VOIDED" in [d.detail for d in compare(before, _snap(voided))]
    cheaper = replace(owed, total=Decimal("450.00"), amount_due=Decimal("250.00"))
    assert "its Total was $500.00, now $450.00" in [
        d.detail for d in compare(before, _snap(cheaper))
    ]
    # Only the outstanding total is off: the cluster itself is named.
    odd = replace(owed, amount_due=Decimal("290.00"))
    (total,) = compare(before, _snap(odd))
    assert total.document == "the cluster"
    assert "should be $300.00, but it is $290.00" in total.detail


def test_money_is_decimal_and_shown_as_dollars() -> None:
    facts = DocFacts.of(doc(LEGACY, total="1234.5"))
    assert facts.total == Decimal("1234.5")
    assert dollars(Decimal("1234.5")) == "$1,234.50"
    assert dollars(Decimal("-12")) == "-$12.00"


def test_worklist_renderings() -> None:
    paid = doc(LEGACY, "PAID", paid="100")
    (cluster,) = _plan(paid, doc(SURVIVOR, "DRAFT"))
    assert cluster.state == "worklist"

    def link(cid: str) -> str:
        return contact_link("https://api.xero.com", "t", cid)

    (item,) = worklist_items([cluster], link)
    assert item.link == f"https://go.xero.com/Contacts/View/{LEGACY}"
    assert contact_link("http://127.0.0.1:8001/", "t-1", LEGACY) == (
        f"http://127.0.0.1:8001/sandbox/organisations/t-1/contacts/{LEGACY}"
    )
    assert item.steps[2].startswith("Merge it into 'Felicity Jones DAU1', the contact with")
    (row,) = csv.DictReader(io.StringIO(worklist_csv([item])))
    assert row["merge_into_name"] == "Felicity Jones DAU1"
    assert row["why"] == f"invoice {paid.number}: paid in full"
    lines = worklist_lines([item])
    assert lines[0] == "Worklist: 1 merge to do in Xero."
    assert worklist_lines([]) == ["Worklist: nothing for Xero's Merge."]
    tricky = replace(item, legacy_name="<b>Jones</b> & Co")
    page = worklist_html([tricky], organisation="Demo <Co>", generated="today")
    assert "&lt;b&gt;Jones&lt;/b&gt; &amp; Co" in page
    assert "Demo &lt;Co&gt;" in page
    assert "<script" not in page
    assert "<link" not in page


@pytest.mark.parametrize("state", ["conflict", "waiting", "done"])
def test_no_worklist_item_for_clusters_without_merges(state: str) -> None:
    (cluster,) = _plan(doc(LEGACY, "PAID", paid="100"), doc(SURVIVOR, "DRAFT"))
    assert worklist_items([replace(cluster, state=state)], str) == []
