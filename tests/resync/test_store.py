"""The resync's repositories on SQLite and PostgreSQL: what was written where (and pending),
a CSV source's SMS side, absorbed links, and the mirror read in batches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from learnerledger.domain.documents import DOCUMENT_KINDS
from learnerledger.store import Store, connections, links, mirror, open_store
from learnerledger.store import resync as held
from learnerledger.store.mirror import DocumentRow


@pytest.fixture
def db(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


def connection(store: Store) -> int:
    row = connections.save_connection(
        store,
        kind="xero",
        tenant_id="tenant-1",
        base_url="http://127.0.0.1:1",
        name="Demo Training Co",
        auth_mode="custom_connection",
        secret=b"sealed",
    )
    return row.id


def local(doc_id: str, ref: str, due: str) -> held.SmsDocument:
    return held.SmsDocument(
        document_id=doc_id,
        ref_internal=ref,
        number=f"INV-{doc_id}",
        status="AUTHORISED",
        date=date(2026, 3, 5),
        amount_total=Decimal("1250.00"),
        amount_due=Decimal(due),
        body=json.dumps({"InvoiceId": doc_id}),
    )


def test_writes_are_pending_until_recorded_and_cleared_when_they_did_not_happen(
    db: Store,
) -> None:
    cid = connection(db)
    with db.transaction() as conn:
        held.mark_pending(
            conn,
            cid,
            [
                held.Pending("inv-1", "put", "wisenet", "DAU0000001", "h1"),
                held.Pending("inv-2", "put", "wisenet", "DAU0000002", "h2"),
            ],
        )
    found = held.load_held(db, cid)
    assert found["inv-1"] == held.Held(
        "inv-1", "wisenet", None, None, "put", "wisenet", "DAU0000001", "h1"
    )
    with db.transaction() as conn:
        held.record_written(
            conn, cid, [held.Written("inv-1", "put", "wisenet", "DAU0000001", "h1")], now_ms=5
        )
        held.clear_pending(conn, cid, ["inv-2"])
    found = held.load_held(db, cid)
    assert found == {"inv-1": held.Held("inv-1", "wisenet", "DAU0000001", "h1")}
    assert held.count_resynced(db) == 1
    # A later write of a document already held: pending, then removed.
    with db.transaction() as conn:
        held.mark_pending(conn, cid, [held.Pending("inv-1", "delete", "wisenet", None, None)])
    assert held.load_held(db, cid)["inv-1"].pending == "delete"
    with db.transaction() as conn:
        held.record_written(
            conn, cid, [held.Written("inv-1", "delete", "wisenet", None, None)], now_ms=6
        )
    assert held.load_held(db, cid)["inv-1"] == held.Held("inv-1", "wisenet", None, None)
    assert held.count_resynced(db) == 0
    # Clearing the pending write of a document once written keeps what is known of it.
    with db.transaction() as conn:
        held.mark_pending(conn, cid, [held.Pending("inv-1", "put", "wisenet", "X", "h9")])
        held.clear_pending(conn, cid, ["inv-1"])
    assert held.load_held(db, cid)["inv-1"] == held.Held("inv-1", "wisenet", None, None)


def test_a_csv_sources_sms_side_follows_its_documents(db: Store) -> None:
    cid = connection(db)
    with db.transaction() as conn:
        held.record_written(
            conn,
            cid,
            [
                held.Written("a", "put", "csv", "CSV1", "ha", local("a", "CSV1", "650.00")),
                held.Written("b", "put", "csv", "CSV1", "hb", local("b", "CSV1", "0.10")),
            ],
            now_ms=1,
        )
    assert [
        (d.document_id, d.ref_internal, d.amount_due) for d in held.iter_sms_documents(db, cid)
    ] == [
        ("a", "CSV1", Decimal("650.00")),
        ("b", "CSV1", Decimal("0.10")),
    ]
    # moved to another learner, and removed
    with db.transaction() as conn:
        held.record_written(
            conn,
            cid,
            [
                held.Written("a", "put", "csv", "CSV2", "ha2", local("a", "CSV2", "650.00")),
                held.Written("b", "delete", "csv", None, None),
            ],
            now_ms=2,
        )
    docs = list(held.iter_sms_documents(db, cid))
    assert [(d.document_id, d.ref_internal) for d in docs] == [("a", "CSV2")]
    assert held.held_by(db, cid, ["CSV2"]) == [held.Held("a", "csv", "CSV2", "ha2")]
    assert list(held.iter_sms_documents(db, cid, refs=["CSV1"])) == []


def test_a_document_moved_between_sms_kinds_is_where_its_last_write_put_it(db: Store) -> None:
    cid = connection(db)
    with db.transaction() as conn:
        held.record_written(
            conn, cid, [held.Written("a", "put", "csv", "L1", "h", local("a", "L1", "1"))], now_ms=1
        )
        held.record_written(
            conn,
            cid,
            [
                held.Written("a", "delete", "csv", None, None),
                held.Written("a", "put", "wisenet", "L1", "h2"),
            ],
            now_ms=2,
        )
    assert held.load_held(db, cid)["a"] == held.Held("a", "wisenet", "L1", "h2")
    assert list(held.iter_sms_documents(db, cid)) == []


def test_absorbed_links_are_read_with_the_learners_own(db: Store) -> None:
    cid = connection(db)
    with db.transaction() as conn:
        links.link_contact(
            conn, cid, "DAU0000001", "own", mapped_hash=None, contact_updated_ms=None
        )
        links.absorb_contact(conn, cid, "DAU0000001", "legacy-1")
        links.absorb_contact(conn, cid, "DAU0000002", "legacy-2")
        links.absorb_contact(conn, cid, "DAU0000001", "legacy-2")  # decided again: Ada's
    assert links.load_contact_learners(db, cid) == {
        "own": ("DAU0000001", "learner"),
        "legacy-1": ("DAU0000001", "absorbed"),
        "legacy-2": ("DAU0000001", "absorbed"),
    }
    assert links.count_linked(db) == 1
    assert links.count_linked(db, role="absorbed") == 2


def _row(kind: str, doc_id: str) -> DocumentRow:
    return {
        "kind": kind,
        "document_id": doc_id,
        "type": "ACCREC",
        "number": None,
        "reference": None,
        "status": "AUTHORISED",
        "contact_id": "c",
        "applies_to_id": None,
        "date": date(2026, 1, 1),
        "due_date": None,
        "currency": "AUD",
        "total": Decimal("1.10"),
        "amount_due": Decimal("1.10"),
        "amount_paid": Decimal("0"),
        "amount_credited": Decimal("0"),
        "remaining_credit": None,
        "updated_ms": 1,
        "data": '{"Total": 1.10}',
    }


def test_the_mirror_is_read_in_batches_by_kind_and_id(db: Store) -> None:
    cid = connection(db)
    ids = [f"{i:04d}" for i in range(7)]
    with db.transaction() as conn:
        mirror.store_documents(conn, cid, [_row("invoice", i) for i in reversed(ids)], 1)
        mirror.store_documents(conn, cid, [_row("credit_note", "x")], 1)
    batches = list(mirror.iter_documents(db, cid, kinds=["invoice"], batch=3))
    assert [[d.document_id for d in b] for b in batches] == [ids[:3], ids[3:6], ids[6:]]
    assert batches[0][0].total == Decimal("1.10")
    every = [d.kind for b in mirror.iter_documents(db, cid, kinds=DOCUMENT_KINDS) for d in b]
    assert every == ["invoice"] * 7 + ["credit_note"]
    with pytest.raises(ValueError, match="unknown document kinds"):
        list(mirror.iter_documents(db, cid, kinds=["bill"]))


def test_the_connection_remembers_when_it_was_first_made(db: Store) -> None:
    cid = connection(db)
    first = connections.connected_utc(db, cid)
    assert first is not None
    assert first.tzinfo is not None
    assert connection(db) == cid  # connecting again keeps the row and the day
    assert connections.connected_utc(db, cid) == first
    assert connections.connected_utc(db, 999) is None
