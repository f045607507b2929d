"""The demo organisation's documents: deterministic, in every status, within Xero's rules, and
as docs/seed.md describes them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import XeroSandbox
from learnerledger.sandbox.seed import demo_people, legacy_contacts
from learnerledger.sandbox.xero import Clock, SandboxStore, prepare_store
from learnerledger.sandbox.xero.seed import SEED_TODAY, contact_id_for, seed_organisation
from learnerledger.sandbox.xero.seed_documents import document_summary
from learnerledger.sandbox.xero.store import DEFAULT_TENANT_ID
from learnerledger.sandbox.xero.wire import date_of_ms
from sandbox_documents import check_books

DOCS = Path(__file__).parents[3] / "docs" / "seed.md"
TABLES = ("documents", "payments", "allocations", "bank_transactions", "sequences")


def _seeded(path: Path, *, seed: int = 1, scale: float = 1.0) -> SandboxStore:
    store = SandboxStore(path)
    prepare_store(store, Clock())
    seed_organisation(store, seed=seed, scale=scale)
    return store


def _rows(store: SandboxStore) -> list[Any]:
    """Every row of the document tables, without the store's own row numbers."""
    with store.read() as conn:
        return [
            [
                tuple(r)[1:] if t != "sequences" else tuple(r)
                for r in conn.execute(f"SELECT * FROM {t} ORDER BY 2, 3").fetchall()
            ]
            for t in TABLES
        ]


@pytest.fixture(scope="module")
def scale1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxStore]:
    store = _seeded(tmp_path_factory.mktemp("seed") / "xero.db")
    yield store
    store.close()


def test_same_seed_same_documents_other_seed_others(tmp_path: Path) -> None:
    first = _seeded(tmp_path / "a.db", scale=0.1)
    again = _seeded(tmp_path / "b.db", scale=0.1)
    other = _seeded(tmp_path / "c.db", seed=2, scale=0.1)
    try:
        assert _rows(first) == _rows(again)
        assert _rows(first)[0]
        assert _rows(first) != _rows(other)
    finally:
        for store in (first, again, other):
            store.close()


def test_replace_seeds_the_same_documents_again(tmp_path: Path) -> None:
    store = _seeded(tmp_path / "x.db", scale=0.1)
    try:
        before = _rows(store)
        report = seed_organisation(store, scale=0.1, replace=True)
        assert _rows(store) == before
        assert report.documents == len(before[0])
        assert report.payments == len(before[1])
    finally:
        store.close()


def test_every_status_appears(scale1: SandboxStore) -> None:
    with scale1.read() as conn:
        summary = document_summary(conn, DEFAULT_TENANT_ID, today=SEED_TODAY)
    assert summary["documents"] >= 2000
    for status in ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"):
        assert summary[f"invoice.status.{status}"] > 0, status
        assert summary[f"creditnote.status.{status}"] > 0, status
    for kind in ("prepayment", "overpayment"):
        assert summary[f"{kind}.status.AUTHORISED"] > 0
        assert summary[f"{kind}.status.PAID"] > 0
    assert summary["invoice.type.ACCPAY"] > 0
    assert summary["creditnote.type.ACCPAYCREDIT"] > 0
    assert summary["payments.status.DELETED"] > 0
    assert summary["allocations.deleted"] > 0
    assert summary["invoice.overdue"] > 0


def test_the_money_adds_up(scale1: SandboxStore) -> None:
    with scale1.read() as conn:
        assert check_books(conn, DEFAULT_TENANT_ID) >= 2000
        # Nothing is paid more than once: no payment or allocation exceeds what was open.
        negative = conn.execute(
            "SELECT count(*) FROM documents WHERE amount_due < 0 OR amount_paid < 0"
        ).fetchone()[0]
        assert negative == 0


def test_dates_and_contacts_follow_the_story(scale1: SandboxStore) -> None:
    people = demo_people(1, 1.0, today=SEED_TODAY)
    contacts = legacy_contacts(people, 1, today=SEED_TODAY)
    archived_on = {
        contact_id_for(1, c.key): c.updated_utc.date()
        for c in contacts
        if c.contact["ContactStatus"] == "ARCHIVED"
    }
    kinds = {contact_id_for(1, c.key): c for c in contacts}
    with scale1.read() as conn:
        rows = conn.execute("SELECT contact_id, type, status, date_ms FROM documents").fetchall()
        flags = {
            r["contact_id"]: (r["is_customer"], r["is_supplier"])
            for r in conn.execute("SELECT contact_id, is_customer, is_supplier FROM contacts")
        }
        events = [r[0] for r in conn.execute("SELECT date_ms FROM payments")]
        events += [r[0] for r in conn.execute("SELECT date_ms FROM allocations")]
    start = SEED_TODAY - timedelta(days=3 * 365)
    for contact_id, type_, status, day_ms in rows:
        day = date_of_ms(day_ms)
        cutoff = archived_on.get(contact_id, SEED_TODAY)
        assert start <= day < cutoff, (contact_id, day)
        if status in ("DRAFT", "SUBMITTED") and type_ == "ACCREC":
            assert (cutoff - day).days < 60  # only recent invoices still wait for approval
        contact = kinds[contact_id]
        if type_.startswith("ACCPAY"):
            assert contact.variant in ("supplier", "trainer")
            assert flags[contact_id][1] == 1
        else:
            assert flags[contact_id][0] == 1
    assert all(start <= date_of_ms(ms) < SEED_TODAY for ms in events)
    assert any(c in archived_on for c, *_ in rows)  # archived contacts kept their history


def test_the_api_serves_the_seeded_documents(xero_sandbox: XeroSandbox) -> None:
    report = seed_organisation(xero_sandbox.store, scale=0.05)
    http = xero_sandbox.http()
    total = 0
    for collection in ("Invoices", "CreditNotes", "Prepayments", "Overpayments"):
        body = http.get(f"/{collection}", params={"page": 1, "pageSize": 1000}).json()
        total += body["pagination"]["itemCount"]
    assert total == report.documents
    payments = http.get("/Payments", params={"page": 1, "pageSize": 1000}).json()
    assert payments["pagination"]["itemCount"] == report.payments
    sales = http.get("/Invoices", params={"where": 'Type=="ACCREC"', "page": 1, "order": "Date"})
    first = sales.json()["Invoices"][0]
    assert first["InvoiceNumber"] == "INV-0001"  # numbered in date order
    active = http.get("/Contacts", params={"page": 1}).json()["Contacts"][0]["ContactID"]
    new = http.put(
        "/Invoices",
        json={
            "Type": "ACCREC",
            "Contact": {"ContactID": active},
            "LineItems": [{"Description": "Short course", "UnitAmount": 75, "AccountCode": "210"}],
        },
    )
    seeded = sales.json()["pagination"]["itemCount"]
    assert new.json()["Invoices"][0]["InvoiceNumber"] == f"INV-{seeded + 1:04d}"  # carries on


def test_the_docs_show_the_current_numbers(scale1: SandboxStore) -> None:
    rows = re.findall(r"^\| `([\w.-]+)` +\| +(\d+) +\|$", DOCS.read_text(encoding="utf-8"), re.M)
    with scale1.read() as conn:
        summary = document_summary(conn, DEFAULT_TENANT_ID, today=SEED_TODAY)
    assert {key: int(n) for key, n in rows} == summary
