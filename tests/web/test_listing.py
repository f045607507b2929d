"""The Learners page's reads on both databases: link states in their order, search by words
(any case, no wildcards), paging, and the resync form's default range; the Documents page's
reads: per learner, searchable, filtered by where the SMS stands, paged."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from learnerledger.store import Store, connections, links, mirror, open_store
from learnerledger.store import resync as held_store
from learnerledger.store.listing import (
    count_link_states,
    find_documents,
    page_documents,
    page_learners,
)
from learnerledger.web.views import current_organisation, resync_defaults
from sync.test_sync_learners import make_learner, put_learners


def _organisation(store: Store) -> connections.ConnectionRow:
    return connections.save_connection(
        store,
        kind="xero",
        tenant_id="t-1",
        base_url="http://127.0.0.1:9",
        name="Org",
        auth_mode="custom_connection",
        secret=b"-",
    )


def test_link_states_search_and_paging_on_both_databases(store_url: str) -> None:
    store = open_store(store_url)
    try:
        row = _organisation(store)
        put_learners(
            store,
            make_learner("DAU0000001", first="Ana", last="O'Neil_Smith"),
            make_learner("DAU0000002", first="Ben"),
            make_learner("DAU0000003", first="Cat", email="nope"),
            make_learner("DAU0000004", first="Dan", sync_to_xero=False),
            make_learner("DAU0000005", first="Eve"),
        )
        with store.transaction() as conn:
            links.link_contact(
                conn, row.id, "DAU0000001", "c-1", mapped_hash=None, contact_updated_ms=0
            )
            links.link_contact(
                conn, row.id, "DAU0000005", "c-5", mapped_hash=None, contact_updated_ms=0
            )
        # DAU0000005 is linked but its last sync had a problem; DAU0000003's problem is that
        # it is not ready, so it stays invalid.
        conflicts = {"DAU0000005", "DAU0000003"}
        assert count_link_states(store, row.id, conflicts=conflicts) == {
            "linked": 1,
            "ready": 1,
            "invalid": 1,
            "conflict": 1,
            "not_flagged": 1,
        }
        states = {
            line.ref_internal: line.state
            for line in page_learners(store, row.id, conflicts=conflicts).lines
        }
        assert states == {
            "DAU0000001": "linked",
            "DAU0000002": "ready",
            "DAU0000003": "invalid",
            "DAU0000004": "not_flagged",
            "DAU0000005": "conflict",
        }
        found = page_learners(store, row.id, query="o'neil_SMITH ana")
        assert [x.ref_internal for x in found.lines] == ["DAU0000001"]
        assert found.lines[0].contact_id == "c-1"
        assert page_learners(store, row.id, query="_").total == 1  # a literal underscore
        assert page_learners(store, row.id, query="%").total == 0
        second = page_learners(store, row.id, offset=2, limit=2)
        assert (second.total, [x.ref_internal for x in second.lines]) == (
            5,
            ["DAU0000003", "DAU0000004"],
        )
        ready = page_learners(store, row.id, state="ready", conflicts=conflicts)
        assert [x.ref_internal for x in ready.lines] == ["DAU0000002"]
        # With no organisation nothing is linked.
        assert count_link_states(store, None)["linked"] == 0
    finally:
        store.close()


def test_the_resync_form_starts_a_year_before_the_connection(store_url: str) -> None:
    store = open_store(store_url)
    try:
        row = _organisation(store)
        org = current_organisation(store, row.id)
        assert org is not None
        assert org.connected_utc is not None
        made = org.connected_utc.date()
        later = made + timedelta(days=45)
        found = resync_defaults(store, org, today=later)
        leap = (made.month, made.day) == (2, 29)
        year_before = made.replace(year=made.year - 1, day=28 if leap else made.day)
        assert (found.date_from, found.date_to, found.first) == (year_before, later, True)
    finally:
        store.close()


SALES = ("ACCREC", "ACCRECCREDIT", "RECEIVE-PREPAYMENT", "RECEIVE-OVERPAYMENT")
KINDS = ("invoice", "credit_note", "prepayment", "overpayment")


def _document(kind: str, doc_id: str, number: str, contact: str, day: date, **kw: Any) -> Any:
    row = {
        "kind": kind,
        "document_id": doc_id,
        "type": "ACCREC" if kind == "invoice" else "ACCRECCREDIT",
        "number": number,
        "reference": None,
        "status": "AUTHORISED",
        "contact_id": contact,
        "applies_to_id": None,
        "date": day,
        "due_date": None,
        "currency": "AUD",
        "total": Decimal("100.00"),
        "amount_due": Decimal("100.00"),
        "amount_paid": Decimal("0.00"),
        "amount_credited": Decimal("0.00"),
        "remaining_credit": None,
        "updated_ms": 1,
        "data": json.dumps({"LineItems": []}),
    }
    row.update(kw)
    return row


def _contact(contact_id: str, name: str, number: str | None) -> Any:
    return {
        "contact_id": contact_id,
        "name": name,
        "contact_number": number,
        "account_number": None,
        "first_name": None,
        "last_name": None,
        "email": None,
        "status": "ACTIVE",
        "merged_to": None,
        "is_customer": True,
        "is_supplier": False,
        "updated_ms": 1,
        "data": json.dumps({"ContactID": contact_id}),
    }


def _seed_documents(store: Store) -> int:
    row = _organisation(store)
    cid = row.id
    put_learners(
        store,
        make_learner("DAU0000001", first="Ana", last="Lee"),
        make_learner("DAU0000002", first="Ben"),
        make_learner("DAU0000003", first="Cat"),
    )
    jan, feb, mar = date(2026, 1, 10), date(2026, 2, 10), date(2026, 3, 10)
    with store.transaction() as conn:
        mirror.store_contacts(
            conn,
            cid,
            [
                _contact("c-1", "Ana Lee DAU0000001", "DAU0000001"),
                _contact("c-2", "Ben's old contact", "DAU0000002"),  # by its Contact Code
                _contact("c-3", "Lee, C", None),  # absorbed into DAU0000003
                _contact("c-x", "Harbour Constructions", None),  # an employer
            ],
            0,
        )
        links.link_contact(conn, cid, "DAU0000001", "c-1", mapped_hash=None, contact_updated_ms=0)
        links.absorb_contact(conn, cid, "DAU0000003", "c-3")
        mirror.store_documents(
            conn,
            cid,
            [
                _document("invoice", "i-1", "INV-0001", "c-1", jan),
                _document("invoice", "i-2", "INV-0002", "c-1", feb),
                _document("credit_note", "cn-1", "CN-0001", "c-1", mar),
                _document("invoice", "i-3", "INV-0003", "c-2", jan),
                _document("invoice", "i-4", "INV-0004", "c-x", feb),
                _document("invoice", "i-5", "INV-0005", "c-3", mar),
                _document("invoice", "b-1", "BILL-1", "c-1", mar, type="ACCPAY"),
                _document("payment", "p-1", None, "c-1", mar, type="ACCRECPAYMENT"),
            ],
            0,
        )
        written = held_store.Written
        held_store.record_written(
            conn,
            cid,
            [
                written("i-1", "put", "wisenet", "DAU0000001", "h1"),
                written(
                    "i-3",
                    "put",
                    "csv",
                    "DAU0000002",
                    "h3",
                    held_store.SmsDocument(
                        "i-3",
                        "DAU0000002",
                        "INV-0003",
                        "PAID",
                        jan,
                        Decimal("100.00"),
                        Decimal("0"),
                        "{}",
                    ),
                ),
                written("i-4", "put", "wisenet", "DAU0000009", "h4"),
            ],
            now_ms=1_767_225_600_000,
        )
        held_store.record_written(  # the employer's invoice, taken off the wrong learner since
            conn, cid, [written("i-4", "delete", "wisenet", "DAU0000009", None)], now_ms=1
        )
        held_store.mark_pending(
            conn, cid, [held_store.Pending("i-2", "put", "wisenet", "DAU0000001", "h2")]
        )
    return cid


def test_documents_per_learner_searched_filtered_and_paged_on_both_databases(
    store_url: str,
) -> None:
    store = open_store(store_url)
    try:
        cid = _seed_documents(store)

        def page(**options: Any) -> list[str]:
            found = page_documents(store, cid, kinds=KINDS, types=SALES, **options)
            return [line.document.document_id for line in found.lines]

        # Every kind: per learner (the employer's last), each learner's newest first; no bill,
        # no payment.
        assert page() == ["cn-1", "i-2", "i-1", "i-3", "i-5", "i-4"]
        everything = page_documents(store, cid, kinds=KINDS, types=SALES)
        assert everything.total == 6
        lines = {line.document.document_id: line for line in everything.lines}
        assert (lines["i-1"].sms, lines["i-1"].sms_learner) == ("wisenet", "DAU0000001")
        assert lines["i-1"].written_utc is not None
        assert lines["i-1"].learner_name == "Ana Lee"
        assert (lines["i-2"].learner, lines["i-2"].sms_learner) == ("DAU0000001", None)
        assert (lines["i-2"].pending, lines["i-2"].pending_learner) == ("put", "DAU0000001")
        assert lines["i-3"].learner == "DAU0000002"  # by the contact's Contact Code
        assert (lines["i-3"].sms_status, lines["i-3"].sms_due) == ("PAID", Decimal("0"))
        assert lines["i-5"].learner == "DAU0000003"  # an absorbed contact
        assert (lines["i-4"].learner, lines["i-4"].sms, lines["i-4"].sms_learner) == (
            None,
            "wisenet",
            None,
        )
        assert lines["i-4"].contact_name == "Harbour Constructions"
        assert lines["cn-1"].document.total == Decimal("100.00")

        assert page(query="ana") == ["cn-1", "i-2", "i-1"]
        assert page(query="LEE ana") == ["cn-1", "i-2", "i-1"]  # every word, any case
        assert page(query="dau0000002") == ["i-3"]
        assert page(query="inv-0004") == ["i-4"]  # a document's number
        assert page(query="%") == []

        # Without a search, the invoices the resync keeps a record of: on a learner in the
        # SMS by learner, then the others (a write waiting to be settled, one taken off).
        def resynced(**options: Any) -> list[str]:
            found = page_documents(store, cid, kinds=["invoice"], types=SALES, **options)
            return [line.document.document_id for line in found.lines]

        assert resynced() == ["i-1", "i-3", "i-2", "i-4"]
        assert resynced(sms="in_sms") == ["i-1", "i-3"]
        assert resynced(sms="pending") == ["i-2"]
        assert resynced(sms="removed") == ["i-4"]
        assert resynced(offset=1, limit=2) == ["i-3", "i-2"]
        assert page_documents(store, cid, kinds=["invoice"], types=SALES, limit=1).total == 4
        assert page(sms="pending") == ["i-2"]
        assert page(query="lee", sms="in_sms") == ["i-1"]
        second = page_documents(
            store, cid, kinds=["credit_note", "invoice"], types=SALES, offset=2, limit=2
        )
        assert (second.total, [x.document.document_id for x in second.lines]) == (
            6,
            ["i-1", "i-3"],
        )
        assert page_documents(store, cid, kinds=KINDS, types=SALES, query="ana").total == 3
        few = page_documents(store, cid, kinds=KINDS, types=SALES, query="dau", max_learners=2)
        assert few.more_learners
        assert {x.learner for x in few.lines} == {"DAU0000001", "DAU0000002"}

        found = find_documents(
            store, cid, {("invoice", "INV-0004"), ("invoice", "i-5"), ("credit_note", "CN-0001")}
        )
        assert {k: v.document.document_id for k, v in found.items()} == {
            ("invoice", "INV-0004"): "i-4",
            ("invoice", "i-5"): "i-5",
            ("credit_note", "CN-0001"): "cn-1",
        }
        assert find_documents(store, cid, {("invoice", "INV-9999")}) == {}
    finally:
        store.close()
