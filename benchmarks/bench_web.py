"""The web UI's Learners and Documents pages at scale: a store of 100,000 learners (a tenth
not ready, six in ten with their own contact in the mirror) and 50,000 sales documents of
10,000 of them (invoices with a line, a payment or a credit; four in five written to the SMS
by the resync, some pending, an employer's among them), the pages served over HTTP on
loopback by the app, signed in, timed for the first page, a later page, a search, a filter,
a search and filter together, and the dashboard.

Goal: every Learners and Documents page answers in under 300 ms (the median of several
requests, each a full HTTP round trip: guard, session lookup, queries, rendering).

    python benchmarks/bench_web.py [--learners N] [--documents N] [--repeat N]
                                   [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from learnerledger.config import load_config
from learnerledger.domain.learner import Address, Learner
from learnerledger.sandbox.server import ServerThread
from learnerledger.store import Store, connections, links, mirror, open_store
from learnerledger.store import resync as held_store
from learnerledger.store.learners import upsert_learners
from learnerledger.web import CSRF_FIELD, Users, create_app

GOAL_MS = 300.0
_FIRST = ("Felicity", "Sam", "Priya", "Noah", "Olivia", "Jack", "Mia", "Liam", "Ava", "Leo")
_LAST = ("Jones", "Nguyen", "Smith", "Natarajan", "Brown", "Wilson", "Taylor", "Lee", "Chen")


def fill(store: Store, learners: int) -> int:
    """``learners`` learners; every tenth without an email (not ready); six in ten linked to
    a mirrored contact of one organisation. Returns the organisation's connection id."""
    row = connections.save_connection(
        store,
        kind="xero",
        tenant_id=str(uuid.uuid4()),
        base_url="http://127.0.0.1:9",
        name="Bench Training Co",
        auth_mode="custom_connection",
        secret=b"-",
    )
    street = Address("1 Main St", "Parramatta", "NSW", "2150", "Australia")
    batch: list[Learner] = []
    contacts: list[mirror.ContactRow] = []
    linked: list[tuple[str, str]] = []

    def flush() -> None:
        with store.transaction() as conn:
            upsert_learners(conn, batch)
            mirror.store_contacts(conn, row.id, contacts, 0)
            for ref, contact_id in linked:
                links.link_contact(
                    conn, row.id, ref, contact_id, mapped_hash=None, contact_updated_ms=0
                )
        batch.clear()
        contacts.clear()
        linked.clear()

    for i in range(learners):
        ref = f"DAU{i:07d}"
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i // 10) % len(_LAST)]
        email = "" if i % 10 == 9 else f"{first}.{last}.{i}@example.com".lower()
        batch.append(
            Learner(
                ref_internal=ref,
                first_name=first,
                last_name=last,
                email=email,
                street=street,
                source="csv",
            )
        )
        if i % 10 < 6:
            contact_id = str(uuid.uuid5(uuid.NAMESPACE_URL, ref))
            contacts.append(
                {
                    "contact_id": contact_id,
                    "name": f"{first} {last} {ref}",
                    "contact_number": ref,
                    "account_number": None,
                    "first_name": first,
                    "last_name": last,
                    "email": email,
                    "status": "ACTIVE",
                    "merged_to": None,
                    "is_customer": True,
                    "is_supplier": False,
                    "updated_ms": 0,
                    "data": json.dumps({"ContactID": contact_id, "ContactNumber": ref}),
                }
            )
            linked.append((ref, contact_id))
        if len(batch) >= 5000:
            flush()
    if batch:
        flush()
    return row.id


def fill_documents(store: Store, connection_id: int, documents: int, learners: int) -> None:
    """``documents`` sales invoices and credit notes spread over the first ``learners`` linked
    learners (one in fifty an employer's); four in five written to the SMS, one in a hundred
    left pending, as the resync leaves them."""
    refs = [f"DAU{i:07d}" for i in range(learners * 10 // 6 + 10) if i % 10 < 6][:learners]
    employer = str(uuid.uuid4())
    start = date(2025, 7, 1)
    with store.transaction() as conn:
        mirror.store_contacts(
            conn,
            connection_id,
            [
                {
                    "contact_id": employer,
                    "name": "Harbour Constructions",
                    "contact_number": None,
                    "account_number": None,
                    "first_name": None,
                    "last_name": None,
                    "email": "accounts@harbour.example.com",
                    "status": "ACTIVE",
                    "merged_to": None,
                    "is_customer": True,
                    "is_supplier": False,
                    "updated_ms": 0,
                    "data": json.dumps({"ContactID": employer}),
                }
            ],
            0,
        )
    rows: list[mirror.DocumentRow] = []
    written: list[held_store.Written] = []
    pending: list[held_store.Pending] = []

    def flush() -> None:
        with store.transaction() as conn:
            mirror.store_documents(conn, connection_id, rows, 0)
            held_store.record_written(conn, connection_id, written, now_ms=1_767_225_600_000)
            held_store.mark_pending(conn, connection_id, pending)
        rows.clear()
        written.clear()
        pending.clear()

    for i in range(documents):
        ref = refs[i % len(refs)]
        credit = i % 10 == 9
        contact_id = employer if i % 50 == 7 else str(uuid.uuid5(uuid.NAMESPACE_URL, ref))
        doc_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"doc-{i}"))
        amount = Decimal(100 + i % 900).quantize(Decimal("0.01"))
        data = {
            "Type": "ACCRECCREDIT" if credit else "ACCREC",
            "LineItems": [
                {
                    "Description": "Certificate III in Individual Support, unit fee",
                    "Quantity": "1.0000",
                    "UnitAmount": str(amount),
                    "LineAmount": str(amount),
                    "AccountCode": "200",
                    "TaxType": "EXEMPTOUTPUT",
                }
            ],
            "Payments": [] if credit or i % 3 else [{"Amount": "50.00", "Date": "2026-01-05"}],
        }
        rows.append(
            {
                "kind": "credit_note" if credit else "invoice",
                "document_id": doc_id,
                "type": "ACCRECCREDIT" if credit else "ACCREC",
                "number": f"{'CN' if credit else 'INV'}-{i:06d}",
                "reference": None,
                "status": "AUTHORISED",
                "contact_id": contact_id,
                "applies_to_id": None,
                "date": start + timedelta(days=i % 365),
                "due_date": start + timedelta(days=i % 365 + 30),
                "currency": "AUD",
                "total": amount,
                "amount_due": amount,
                "amount_paid": Decimal("0.00"),
                "amount_credited": Decimal("0.00"),
                "remaining_credit": amount if credit else None,
                "updated_ms": 0,
                "data": json.dumps(data),
            }
        )
        if not credit and contact_id != employer and i % 5:
            written.append(held_store.Written(doc_id, "put", "wisenet", ref, f"{i:064x}"))
        elif not credit and contact_id != employer and i % 100 == 0:
            pending.append(held_store.Pending(doc_id, "put", "wisenet", ref, f"{i:064x}"))
        if len(rows) >= 5000:
            flush()
    if rows:
        flush()


def _sign_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60.0)
    page = client.get("/login").text
    token = page.split(f'name="{CSRF_FIELD}" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login", data={"username": "bench", "password": "bench password", CSRF_FIELD: token}
    )
    assert answer.status_code == 303, answer.text
    return client


def measure(client: httpx.Client, path: str, repeat: int) -> dict[str, Any]:
    times = []
    status = 0
    size = 0
    client.get(path)  # warm: templates compiled, caches filled
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        status, size = response.status_code, len(response.content)
    return {
        "path": path,
        "status": status,
        "bytes": size,
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--documents", type=int, default=50_000)
    parser.add_argument(
        "--document-learners", type=int, default=10_000, help="The learners who have documents."
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", help="Default: SQLite in a temporary directory.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = open_store(args.database_url or f"sqlite:///{home / 'learnerledger.db'}")
        started = time.perf_counter()
        connection_id = fill(store, args.learners)
        print(f"store: {args.learners:,} learners in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        fill_documents(store, connection_id, args.documents, args.document_learners)
        print(
            f"store: {args.documents:,} documents of {args.document_learners:,} learners in "
            f"{time.perf_counter() - started:.1f} s"
        )
        Users(store).add("bench", "viewer", "bench password")
        config = load_config(overrides={"home": str(home)}, environ={})
        server = ServerThread(create_app(store, config)).start()
        client = _sign_in(server.url)
        try:
            last_page = max(1, -(-args.learners // 50))
            pages = [
                "/learners",
                f"/learners?page={last_page // 2}",
                "/learners?q=priya+natarajan",
                "/learners?state=invalid",
                "/learners?state=ready&page=3",
                "/learners?q=DAU00012",
                "/api/learners?q=jones&state=linked",
            ]
            results = [measure(client, path, args.repeat) for path in pages]
            last_documents = int(client.get("/api/documents").json()["pages"])
            document_pages = [
                "/documents",
                f"/documents?page={last_documents // 2}",
                f"/documents?page={last_documents}",
                "/documents?q=priya+natarajan",
                "/documents?q=DAU0000012",
                "/documents?q=INV-012345",
                "/documents?sms=pending",
                "/documents?kind=credit_note&page=3",
                "/api/documents?q=jones",
                "/documents/unmatched",
                "/documents/reconciliation",
            ]
            documents = [measure(client, path, args.repeat) for path in document_pages]
            dashboard = measure(client, "/", args.repeat)
        finally:
            client.close()
            server.stop()
            store.close()
    for r in [*results, *documents, dashboard]:
        print(
            f"{r['path']:45} {r['status']} {r['bytes']:>8,} bytes  median {r['median_ms']:7.1f} ms"
            f"  max {r['max_ms']:7.1f} ms"
        )
    met = True
    for name, measured in (("learners", results), ("documents", documents)):
        worst = max(r["median_ms"] for r in measured)
        met = met and worst < GOAL_MS
        print(
            f"{name} pages: slowest median {worst:.1f} ms; goal < {GOAL_MS:.0f} ms: "
            + ("met" if worst < GOAL_MS else "NOT met")
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
