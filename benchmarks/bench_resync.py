"""Resyncing a large organisation: 50,000 documents for 10,000 learners, Xero sandbox to Wisenet
sandbox over HTTP. Prints Xero's calls per stream against the paging minimum, Wisenet's calls,
wall time and peak memory of the first resync, of a re-run with nothing changed and of one
after a few hundred payments, then the reconciliation's result.

Goals: Xero calls within 2 of the paging minimum per stream (1,000 records a call); Wisenet: one
write per changed document and no call at all on an unchanged re-run; peak memory under 500 MB;
zero mismatches.

Run: python benchmarks/bench_resync.py [--learners 10000] [--documents 50000] [--paid 500]

Both organisations are written straight into sandbox databases (in a child process) and served
by two more child processes, so the peak memory printed is the client's alone. Wisenet allows
10 calls a second; the sandbox here allows more so the benchmark measures the work, and the
time the real limit would take is printed beside it (the day quota too: 10,000 calls a day on
Wisenet's Full plan).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench_xero_pull import _free_port, _peak_mb, _table  # the benchmarks' shared helpers

CLIENT_ID = "bench-resync"
CLIENT_SECRET = "bench-resync-secret"
API_KEY = "bench-resync-key"
BASE_MS = 1_735_689_600_000
# How the documents are split between the kinds; credits are applied to invoices of their
# learner, payments come with the invoices they pay (half of the invoices are part paid).
SHARE = {"invoices": 0.8, "credit_notes": 0.1, "prepayments": 0.05, "overpayments": 0.05}
STREAMS = ("contacts", "invoices", "credit_notes", "prepayments", "overpayments")


def _split(documents: int) -> dict[str, int]:
    counts = {k: int(documents * share) for k, share in SHARE.items()}
    counts["invoices"] += documents - sum(counts.values())
    return counts


def _number(i: int) -> str:
    return f"BEN{i:07d}"


# -- building both sides (in a child process) ----------------------------------------------------


def build(work: Path, learners: int, documents: int) -> dict[str, int]:
    from learnerledger.sandbox.wisenet import Clock as WisenetClock
    from learnerledger.sandbox.wisenet import SandboxStore as WisenetStore
    from learnerledger.sandbox.wisenet import prepare_keys
    from learnerledger.sandbox.xero import DEFAULT_TENANT_ID, Clock, SandboxStore, prepare_store
    from learnerledger.sandbox.xero import documents as docs
    from learnerledger.sandbox.xero.contacts import insert_contact
    from learnerledger.sandbox.xero.organisation import find_account
    from learnerledger.sandbox.xero.payments import insert_allocation, insert_payment

    wisenet = WisenetStore(work / "wisenet.db")
    prepare_keys(wisenet, WisenetClock(), [API_KEY])  # the day limit served: a large one
    with wisenet.tx() as conn:
        for i in range(learners):
            record = {
                "LearnerId": 10_001 + i,
                "LearnerGuid": str(uuid.UUID(int=i + 1, version=4)),
                "Personal": {
                    "LearnerNumber": _number(i),
                    "FirstName": "Learner",
                    "LastName": f"{i:06d}",
                    "SyncToXero": True,
                    "IsActive": True,
                    "EmailAddresses": {"Email": f"learner{i}@example.edu.au"},
                    "StreetAddress": {
                        "StreetNumber": str(i % 200 + 1),
                        "StreetName": "Long Street",
                        "SuburbTownCity": "Parramatta",
                        "StateId": 2,
                        "Postcode": "2150",
                        "CountryId": 13,
                    },
                },
            }
            wisenet.write_learner(conn, record, modified=BASE_MS + i, insert=True)
    wisenet.close()

    store = SandboxStore(work / "xero.db")
    prepare_store(store, Clock(), clients=[(CLIENT_ID, CLIENT_SECRET)])
    counts = _split(documents)
    tick = [BASE_MS]

    def now() -> int:
        tick[0] += 1000
        return tick[0]

    today = date.today()
    tenant = DEFAULT_TENANT_ID
    written = {"learners": learners, "contacts": learners, "payments": 0, "allocations": 0}
    with store.tx() as conn:
        contacts = [
            insert_contact(
                conn,
                tenant,
                {"Name": f"Learner {i:06d} {_number(i)}", "ContactNumber": _number(i)},
                now_ms=now(),
            )
            for i in range(learners)
        ]
        bank = find_account(conn, tenant, code="090")
        assert bank is not None
        invoices: list[tuple[str, int, int]] = []  # id, learner, cents
        for i in range(counts["invoices"]):
            who = i % learners
            cents = 10_000 + (i * 37) % 290_000
            day = today - timedelta(days=1 + i % 300)
            doc_id = docs.insert_invoice(
                conn,
                tenant,
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": contacts[who]},
                    "Date": day,
                    "DueDate": day + timedelta(days=14),
                    "Status": "AUTHORISED",
                    "InvoiceNumber": f"INV-{i:07d}",
                    "LineItems": [
                        {
                            "Description": "Course fee",
                            "Quantity": 1,
                            "UnitAmount": str(Decimal(cents) / 100),
                            "AccountCode": "210",
                            "TaxType": "EXEMPTOUTPUT",
                        }
                    ],
                },
                now_ms=now(),
            )
            invoices.append((doc_id, who, cents))
            if i % 2:
                invoice = docs.get_document(conn, tenant, doc_id, docs.INVOICE)
                assert invoice is not None
                insert_payment(
                    conn,
                    tenant,
                    invoice,
                    payment_id=str(uuid.uuid4()),
                    day=day + timedelta(days=3),
                    amount=Decimal(cents // 4) / 100,
                    account=bank,
                    reference=f"Receipt {i}",
                    reconciled=False,
                    now_ms=now(),
                )
                written["payments"] += 1
        credits = (
            ("credit_notes", docs.CREDIT_NOTE, "ACCRECCREDIT"),
            ("prepayments", docs.PREPAYMENT, "RECEIVE-PREPAYMENT"),
            ("overpayments", docs.OVERPAYMENT, "RECEIVE-OVERPAYMENT"),
        )
        target = 0
        for name, kind, type_ in credits:
            for i in range(counts[name]):
                invoice_id, who, cents = invoices[(target * 2) % len(invoices)]  # unpaid ones
                target += 1
                day = today - timedelta(days=1 + i % 300)
                data: dict[str, Any] = {
                    "Type": type_,
                    "Contact": {"ContactID": contacts[who]},
                    "Date": day,
                    "Status": "AUTHORISED",
                    "LineItems": [
                        {
                            "Description": name,
                            "Quantity": 1,
                            "UnitAmount": "10.00",
                            "AccountCode": "210",
                            "TaxType": "EXEMPTOUTPUT",
                        }
                    ],
                }
                if kind.number_field:
                    data[kind.number_field] = f"{type_[:3]}-{i:07d}"
                credit_id = docs.insert_invoice(conn, tenant, data, now_ms=now(), kind=kind)
                credit = docs.get_document(conn, tenant, credit_id, kind)
                invoice = docs.get_document(conn, tenant, invoice_id, docs.INVOICE)
                assert credit is not None
                assert invoice is not None
                insert_allocation(
                    conn, tenant, credit, invoice, amount=Decimal("10.00"), day=day, now_ms=now()
                )
                written["allocations"] += 1
    store.close()
    written.update(counts)
    return written


# -- serving both and resyncing ------------------------------------------------------------------


def _serve(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "learnerledger", "sandbox", *args, "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/")
            return process, base
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"the sandbox {args[0]} did not start")


def _xero_pages(store: Any, connection_id: int) -> dict[str, int]:
    from learnerledger.store import history

    pages: dict[str, int] = {}
    for job in ("pull contacts", "pull documents"):
        run = history.last_run(store, job, connection_id)
        for stream, counts in (run.counts if run else {}).items():
            if isinstance(counts, dict):
                pages[stream] = int(counts.get("pages", 0))
    return pages


def _wisenet_calls(base: str) -> dict[str, int]:
    return dict(httpx.get(base + "/sandbox/calls").json()["by_endpoint"])


def _pay(xero_base: str, tenant: str, invoice_ids: list[str]) -> None:
    """Part payments on ``invoice_ids`` through Xero's API, 50 to a call."""
    token = httpx.post(
        xero_base + "/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    ).json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "xero-tenant-id": tenant,
        "Accept": "application/json",
    }
    for start in range(0, len(invoice_ids), 50):
        payments = [
            {
                "Invoice": {"InvoiceID": invoice_id},
                "Account": {"Code": "090"},
                "Date": date.today().isoformat(),
                "Amount": "1.00",
            }
            for invoice_id in invoice_ids[start : start + 50]
        ]
        answer = httpx.put(
            xero_base + "/api.xro/2.0/Payments",
            params={"summarizeErrors": "false"},
            json={"Payments": payments},
            headers=headers,
            timeout=120,
        )
        answer.raise_for_status()


def _line(
    label: str,
    report: Any,
    wall: float,
    pages: dict[str, int],
    minimum: dict[str, int],
    wisenet: dict[str, int],
) -> None:
    print(f"\n{label}:")
    print(f"  {report.message}")
    rows = [(s, str(pages.get(s, 0)), str(minimum[s])) for s in STREAMS]
    _table(("Xero stream", "calls", "minimum"), rows)
    extra = max(pages.get(s, 0) - minimum[s] for s in STREAMS)
    print(
        f"  Xero calls:    {report.xero_calls} (worst stream {extra:+d} over its minimum; "
        f"goal: within 2)  {'OK' if extra <= 2 else 'MISSED'}"
    )
    print(f"  Wisenet calls: {report.wisenet_calls} {wisenet}")
    print(f"  wall time:     {wall:.1f} s")


def run(args: argparse.Namespace) -> None:
    from learnerledger.config import load_config
    from learnerledger.resync import WisenetTarget, reconcile, resync_documents
    from learnerledger.sources.wisenet import connect_wisenet, pull_learners
    from learnerledger.sources.wisenet import open_client as open_wisenet
    from learnerledger.store import load_secret_box, open_store
    from learnerledger.xero import connect_custom
    from learnerledger.xero.client import open_client

    work = Path(tempfile.mkdtemp(prefix="bench-resync-"))
    print(
        f"Building {args.documents:,} documents for {args.learners:,} learners in a Xero "
        "sandbox, and the learners in a Wisenet sandbox ...",
        flush=True,
    )
    started = time.perf_counter()
    built = subprocess.run(
        [sys.executable, __file__, "--build", str(work), str(args.learners), str(args.documents)],
        check=True,
        capture_output=True,
        text=True,
    )
    written: dict[str, int] = json.loads(built.stdout)
    print(f"  built in {time.perf_counter() - started:.0f} s: {written}")
    xero, xero_base = _serve(
        "xero",
        "--db",
        str(work / "xero.db"),
        "--client",
        f"{CLIENT_ID}:{CLIENT_SECRET}",
        "--minute-limit",
        "100000",
        "--day-limit",
        "1000000",
    )
    wisenet, wisenet_base = _serve(
        "wisenet",
        "--db",
        str(work / "wisenet.db"),
        "--per-second-limit",
        "100000",
        "--day-limit",
        "1000000",
    )
    try:
        store = open_store(f"sqlite:///{work / 'learnerledger.db'}")
        home = work / "home"
        config = load_config(
            overrides={
                "home": str(home),
                "xero_minute_limit": 100_000,
                "xero_day_limit": 1_000_000,
            },
            environ={},
        )
        box = load_secret_box(home)
        connection = connect_custom(
            store, box, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, base_url=xero_base
        )
        wconn = connect_wisenet(
            store, box, api_key=API_KEY, base_url=wisenet_base + "/v1", check=False
        )
        wclient = open_wisenet(wconn.base_url, wconn.api_key, requests_per_second=100_000)
        pulled = pull_learners(store, wclient, connection_id=wconn.id)
        print(f"  {pulled.message}")
        target = WisenetTarget(wclient, wconn.id, 1_000_000)
        minimum = {s: max(1, math.ceil(written.get(s, 0) / 1000)) for s in STREAMS}
        httpx.delete(wisenet_base + "/sandbox/calls")

        with open_client(store, config, connection=connection) as client:
            started = time.perf_counter()
            first = resync_documents(store, client, wisenet=target)
            wall = time.perf_counter() - started
            _line(
                "First resync (default range)",
                first,
                wall,
                _xero_pages(store, connection.id),
                minimum,
                _wisenet_calls(wisenet_base),
            )
            changed = first.counts()["written"]
            print(
                f"  writes:        {first.wisenet_calls} for {changed} new documents (goal: one "
                f"each)  {'OK' if first.wisenet_calls == changed else 'MISSED'}"
            )
            real = first.wisenet_calls / 10
            print(
                f"  at Wisenet's 10 calls a second the writes take {real / 60:.0f} min; the "
                f"Full plan's 10,000 calls a day spread them over "
                f"{math.ceil(first.wisenet_calls / 10_000)} days (the resync pauses and resumes)"
            )

            httpx.delete(wisenet_base + "/sandbox/calls")
            started = time.perf_counter()
            again = resync_documents(store, client, wisenet=target)
            wall = time.perf_counter() - started
            calls = _wisenet_calls(wisenet_base)
            _line(
                "Re-run, nothing changed",
                again,
                wall,
                _xero_pages(store, connection.id),
                dict.fromkeys(STREAMS, 1),
                calls,
            )
            print(
                f"  Wisenet:       {sum(calls.values())} calls (goal: none)  "
                f"{'OK' if not calls else 'MISSED'}"
            )

            held = json.loads(
                httpx.get(
                    wisenet_base + "/v1/invoices",
                    params={"take": args.paid},
                    headers={"x-api-key": API_KEY},
                ).content
            )
            _pay(xero_base, connection.tenant_id, [i["Data"]["InvoiceId"] for i in held])
            httpx.delete(wisenet_base + "/sandbox/calls")
            started = time.perf_counter()
            paid = resync_documents(store, client, wisenet=target)
            wall = time.perf_counter() - started
            calls = _wisenet_calls(wisenet_base)
            pages = _xero_pages(store, connection.id)
            _line(
                f"Re-run after {args.paid} payments",
                paid,
                wall,
                pages,
                {s: max(1, math.ceil(args.paid / 1000)) if s == "invoices" else 1 for s in STREAMS},
                calls,
            )
            updated = paid.counts()["updated"]
            print(
                f"  writes:        {paid.wisenet_calls} for {updated} changed documents (goal: "
                f"one each)  {'OK' if paid.wisenet_calls == updated == args.paid else 'MISSED'}"
            )

            httpx.delete(wisenet_base + "/sandbox/calls")
            started = time.perf_counter()
            result = reconcile(store, client, wisenet=target)
            wall = time.perf_counter() - started
            calls = _wisenet_calls(wisenet_base)
        print("\nReconciliation:")
        print(f"  {result.message}")
        print(f"  Wisenet calls: {sum(calls.values())} {calls}; wall time {wall:.1f} s")
        print(
            f"  mismatches:    {len(result.mismatches)} (goal: none)  "
            f"{'OK' if not result.mismatches else 'MISSED'}"
        )
        peak = _peak_mb()
        print(
            f"\nPeak memory:     {peak:.0f} MB (goal: under 500 MB)  "
            f"{'OK' if peak < 500 else 'MISSED'}"
        )
        wclient.close()
        store.close()
    finally:
        for process in (xero, wisenet):
            process.terminate()
            process.wait(timeout=10)
        if not args.keep:
            for path in sorted(work.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            work.rmdir()
        else:
            print(f"\nKept {work}")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--build":
        print(json.dumps(build(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument(
        "--documents",
        type=int,
        default=50_000,
        help="invoices, credit notes, prepayments and overpayments together",
    )
    parser.add_argument(
        "--paid", type=int, default=500, help="invoices paid between the second and third resync"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
