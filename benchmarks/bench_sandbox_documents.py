"""How fast the Xero sandbox serves a page of 1,000 invoices from a 200,000-invoice organisation.

Goal: well under 200 ms a page, so that pulling 200,000 documents is bound by the client, not
the sandbox. Run:
python benchmarks/bench_sandbox_documents.py [--invoices 200000] [--payments 50000] [--rounds 5]
It prints the time to insert the organisation (store-level ``insert_invoice`` and
``insert_payment``, no validation), then, for the first, a middle and the last page, for
filtered and incremental reads and for pages of payments, the median and worst time over the
rounds, measured by a client over HTTP on loopback (reading the JSON included).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from learnerledger.sandbox.server import ServerThread
from learnerledger.sandbox.xero import (
    DEFAULT_TENANT_ID,
    Clock,
    Limits,
    SandboxStore,
    create_app,
    prepare_store,
)
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.sandbox.xero.documents import get_document, insert_invoice
from learnerledger.sandbox.xero.organisation import find_account
from learnerledger.sandbox.xero.payments import insert_payment

_CONTACTS = 20_000
_STATUSES = ("AUTHORISED", "AUTHORISED", "AUTHORISED", "DRAFT", "SUBMITTED", "VOIDED")


def build(db: Path, n: int, payments: int) -> tuple[float, str, int]:
    """The organisation: 20,000 contacts, ``n`` invoices over three years and ``payments`` of
    them paid. Returns the seconds it took, one contact's id and the moment the last tenth of
    the invoices begin."""
    store = SandboxStore(db)
    clock = Clock()
    prepare_store(store, clock, clients=[("bench", "bench-secret")])
    start = time.perf_counter()
    base_ms = clock.now_ms() - n * 1000
    first_day = date.today() - timedelta(days=3 * 365)
    with store.tx() as conn:
        contacts = [
            insert_contact(
                conn,
                DEFAULT_TENANT_ID,
                {"Name": f"Learner {i:06d}", "ContactNumber": f"DAU{i:07d}"},
                now_ms=base_ms,
            )
            for i in range(min(n, _CONTACTS))
        ]
        paid = []
        for i in range(n):
            day = first_day + timedelta(days=i * 3 * 365 // n)
            invoice_id = insert_invoice(
                conn,
                DEFAULT_TENANT_ID,
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": contacts[i % len(contacts)]},
                    "Date": day,
                    "DueDate": day + timedelta(days=14),
                    "Status": _STATUSES[i % len(_STATUSES)],
                    "InvoiceNumber": f"INV-{i + 1:06d}",
                    "Reference": f"Enrolment {i}",
                    "LineItems": [
                        {
                            "Description": "Certificate III in Individual Support",
                            "Quantity": 1,
                            "UnitAmount": "1850.00",
                            "AccountCode": "210",
                        },
                        {
                            "Description": "Learner resource kit",
                            "Quantity": 1,
                            "UnitAmount": "89.00",
                            "AccountCode": "200",
                        },
                    ],
                },
                now_ms=base_ms + i * 1000,
            )
            if len(paid) < payments and _STATUSES[i % len(_STATUSES)] == "AUTHORISED":
                paid.append((invoice_id, day, base_ms + i * 1000))
        bank = find_account(conn, DEFAULT_TENANT_ID, code="090")
        assert bank is not None
        for invoice_id, day, at_ms in paid:
            document = get_document(conn, DEFAULT_TENANT_ID, invoice_id)
            assert document is not None
            insert_payment(
                conn,
                DEFAULT_TENANT_ID,
                document,
                payment_id=str(uuid.uuid4()),
                day=day + timedelta(days=7),
                amount=Decimal("500.00"),
                account=bank,
                reference="Card",
                reconciled=False,
                now_ms=at_ms + 500,
            )
    store.close()
    return time.perf_counter() - start, contacts[7], base_ms + (n - n // 10) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "xero.db"
        insert_seconds, contact_id, late_ms = build(db, args.invoices, args.payments)
        print(
            f"organisation: {args.invoices:,} invoices and {args.payments:,} payments inserted "
            f"in {insert_seconds:.1f} s"
        )
        store = SandboxStore(db)
        app = create_app(store, limits=Limits(minute=1_000_000, day=1_000_000))
        since = datetime.fromtimestamp(late_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            token = http.post(
                "/connect/token",
                data={"grant_type": "client_credentials"},
                auth=("bench", "bench-secret"),
            ).json()["access_token"]
            http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
            pages = max(1, -(-args.invoices // 1000))
            payment_pages = max(1, -(-args.payments // 1000))
            cases: dict[str, tuple[str, dict[str, str | int], dict[str, str]]] = {
                "first page": ("Invoices", {"page": 1}, {}),
                "middle page": ("Invoices", {"page": pages // 2 + 1}, {}),
                "last page": ("Invoices", {"page": pages}, {}),
                "where Date range (a year)": (
                    "Invoices",
                    {
                        "page": 1,
                        "where": "Date >= DateTime(2025, 01, 01) && Date < DateTime(2026, 01, 01)",
                    },
                    {},
                ),
                "Statuses=AUTHORISED, a middle page": (
                    "Invoices",
                    {"page": pages // 4 + 1, "Statuses": "AUTHORISED"},
                    {},
                ),
                "If-Modified-Since (last tenth), last page": (
                    "Invoices",
                    {"page": max(1, args.invoices // 10 // 1000)},
                    {"If-Modified-Since": since},
                ),
                "ContactIDs (one learner)": ("Invoices", {"page": 1, "ContactIDs": contact_id}, {}),
                "summaryOnly, a middle page": (
                    "Invoices",
                    {"page": pages // 2 + 1, "summaryOnly": "true"},
                    {},
                ),
                "payments, first page": ("Payments", {"page": 1}, {}),
                "payments, last page": ("Payments", {"page": payment_pages}, {}),
            }
            worst_median = 0.0
            for label, (collection, params, headers) in cases.items():
                times = []
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    response = http.get(
                        f"/api.xro/2.0/{collection}",
                        params={**params, "pageSize": 1000},
                        headers=headers,
                    )
                    response.raise_for_status()
                    count = len(response.json()[collection])
                    times.append((time.perf_counter() - start) * 1000)
                median = statistics.median(times)
                worst_median = max(worst_median, median)
                print(
                    f"{label:44s} {count:5d} {collection.lower():8s}  median {median:6.1f} ms  "
                    f"worst {max(times):6.1f} ms"
                )
        store.close()
    verdict = "met" if worst_median < 200 else "NOT met"
    print(
        f"goal (a 1,000-document page well under 200 ms): {verdict}, slowest median "
        f"{worst_median:.1f} ms"
    )


if __name__ == "__main__":
    main()
