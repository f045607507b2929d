"""The mirror's repositories: cursors only move forward when a sync advances them, the
contact index and counts read what was stored, documents come back with Decimal money, and
``XeroClient`` satisfies the protocols the jobs take."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

from learnerledger.domain import ContactIndex, MirroredDocument
from learnerledger.store import Store, cursors, load_secret_box, mirror
from learnerledger.store.cursors import Cursor
from learnerledger.store.mirror import ContactRow, DocumentRow, Reject
from learnerledger.xero import (
    ContactReader,
    ContactSyncer,
    ContactWriter,
    DocumentReader,
    XeroClient,
)
from learnerledger.xero.connections import TokenSet, find_connection, save_connection
from learnerledger.xero.ratelimit import RateBudget

ID = "00000000-0000-0000-0000-{:012d}"


def _connection(store: Store, tmp_path: Path, tenant: str = "t-1") -> int:
    return save_connection(
        store,
        load_secret_box(tmp_path / "home", environ={}),
        tenant_id=tenant,
        name=f"Org {tenant}",
        base_url="http://127.0.0.1:1",
        tokens=TokenSet("custom_connection", "id", "secret"),
    ).id


def _contact(n: int, *, updated_ms: int = 1000, status: str = "ACTIVE") -> ContactRow:
    return {
        "contact_id": ID.format(n),
        "name": f"Learner {n} RI-{n}",
        "contact_number": f"RI-{n}",
        "account_number": None,
        "first_name": "Learner",
        "last_name": str(n),
        "email": None,
        "status": status,
        "merged_to": None,
        "is_customer": True,
        "is_supplier": False,
        "updated_ms": updated_ms,
        "data": json.dumps({"ContactID": ID.format(n)}),
    }


def _invoice(n: int, contact: int, total: str) -> DocumentRow:
    return {
        "kind": "invoice",
        "document_id": ID.format(100 + n),
        "type": "ACCREC",
        "number": f"INV-{n:04d}",
        "reference": None,
        "status": "AUTHORISED",
        "contact_id": ID.format(contact),
        "applies_to_id": None,
        "date": date(2025, 7, 1),
        "due_date": None,
        "currency": "AUD",
        "total": Decimal(total),
        "amount_due": Decimal(total),
        "amount_paid": Decimal("0.00"),
        "amount_credited": None,
        "remaining_credit": None,
        "updated_ms": 2000,
        "data": '{"Total": ' + total + "}",
    }


def _set_cursor(store: Store, cid: int, stream: str, since_ms: int | None) -> None:
    with store.transaction() as conn:
        cursors.save_cursor(conn, cid, stream, Cursor(since_ms, True), now_ms=5)


def test_advance_cursor_only_moves_forward(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    assert not cursors.advance_cursor(store, cid, "contacts", 10_000)  # never read: left alone
    assert cursors.cursor_ms(store, cid, "contacts") is None
    _set_cursor(store, cid, "contacts", None)
    assert not cursors.advance_cursor(store, cid, "contacts", 10_000)  # read from the start
    _set_cursor(store, cid, "contacts", 5_000)
    assert cursors.advance_cursor(store, cid, "contacts", 10_000)
    assert cursors.cursor_ms(store, cid, "contacts") == 10_000
    assert not cursors.advance_cursor(store, cid, "contacts", 7_000)
    assert not cursors.advance_cursor(store, cid, "contacts", 10_000)
    assert cursors.cursor_ms(store, cid, "contacts") == 10_000
    [row] = cursors.list_cursors(store)
    assert (row.stream, row.cursor_ms, row.complete, row.last_pull_ms) == (
        "contacts",
        10_000,
        True,
        5,
    )


def test_a_resumed_read_keeps_its_page(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    with store.transaction() as conn:
        cursors.save_cursor(conn, cid, "invoices", Cursor(1_000, False, 3, 4_000), now_ms=9)
    assert cursors.load_cursor(store, cid, "invoices") == Cursor(1_000, False, 3, 4_000)
    assert cursors.load_cursor(store, cid, "payments") == Cursor(None, True)


def test_contact_index_and_counts(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    other = _connection(store, tmp_path, "t-2")
    with store.transaction() as conn:
        counted = mirror.store_contact_page(
            conn,
            cid,
            "contacts",
            [_contact(1), _contact(2, status="ARCHIVED", updated_ms=3000)],
            [Reject(None, "ContactID is missing", "{}")],
            date_filter=None,
            retry_from_ms=None,
            retry_page=1,
            now_ms=10,
        )
        mirror.store_contacts(conn, other, [_contact(3)], 10)
        mirror.store_documents(conn, cid, [_invoice(1, 1, "110.10")], 10)
    assert (counted.written, counted.unchanged, counted.rejected) == (2, 0, 1)
    index = mirror.load_contact_index(store, cid)
    assert isinstance(index, ContactIndex)
    assert set(index.by_id) == {ID.format(1), ID.format(2)}
    assert [c.contact_id for c in index.with_number("ri-2")] == [ID.format(2)]
    assert index.holding_name("learner 2 ri-2") == []  # archived: holds no Name
    with store.read() as conn:
        assert mirror.count_contacts_changed_since(conn, cid, 2000) == (1, 3000)
        assert mirror.count_contacts_changed_since(conn, cid, 5000) == (0, None)
    totals = mirror.counts(store)
    assert (totals.contacts, totals.contacts_archived, totals.unreadable) == (3, 1, 1)
    assert totals.documents["invoice"] == 1
    assert totals.documents["payment"] == 0
    assert mirror.count_documents(store, "invoice") == 1

    with store.transaction() as conn:
        again = mirror.store_contact_page(
            conn,
            cid,
            "contacts",
            [_contact(1)],
            [],
            date_filter=None,
            retry_from_ms=None,
            retry_page=1,
            now_ms=20,
        )
    assert (again.written, again.unchanged) == (0, 1)
    assert [p.record_id for p in mirror.list_rejects(store, cid, "contacts", None)] == [None]


def test_documents_come_back_with_decimal_money(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    with store.transaction() as conn:
        mirror.store_documents(conn, cid, [_invoice(1, 1, "0.10"), _invoice(2, 2, "1e2")], 10)
    first, second = mirror.load_documents(store, cid, kinds=["invoice"])
    assert isinstance(first, MirroredDocument)
    assert first.total == Decimal("0.10")
    assert str(first.total) == "0.10"  # digit for digit, trailing zero kept
    assert second.total == Decimal("100")
    assert first.data["Total"] == Decimal("0.10")
    assert first.date == date(2025, 7, 1)
    assert mirror.load_documents(store, cid, contact_ids=[ID.format(2)]) == [second]
    assert mirror.load_documents(store, cid, kinds=["payment"]) == []


def test_xero_client_satisfies_the_protocols(store: Store, tmp_path: Path) -> None:
    cid = _connection(store, tmp_path)
    connection = find_connection(store)
    with httpx.Client() as http:
        client = XeroClient(
            connection, http, auth=httpx.Auth(), budget=RateBudget(store, cid, organisation="x")
        )
        reader: ContactReader = client
        writer: ContactWriter = client
        documents: DocumentReader = client
        syncer: ContactSyncer = client
        assert syncer.tenant_id == connection.tenant_id
        for protocol in (ContactReader, ContactWriter, DocumentReader, ContactSyncer):
            assert isinstance(client, protocol)
        assert reader.organisation == writer.organisation == documents.organisation == "Org t-1"
