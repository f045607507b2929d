"""Mirroring a large Xero organisation: API calls, wall time and peak memory of ``pull contacts``
and ``pull documents``, then the calls of an immediately repeated (incremental) pull.

Goals: calls within 2 of the minimum the page size allows (1,000 records a call), peak memory
under 500 MB, and one call per stream for the repeated pull.

Run: python benchmarks/bench_xero_pull.py [--contacts 100000] [--documents 200000]
     [--database-url URL]

The organisation is written straight into a Xero sandbox database (in a child process), the
sandbox serves it from another child process with Xero's limits (60 calls a minute), and this
process pulls it over HTTP, so the peak memory printed is the client's alone. Waiting on the
rate budget moves the sandbox's clock instead of sleeping: the wall time is the work, and the
time Xero's minute limit would add is printed separately. The learnerledger store is a new
SQLite file unless ``--database-url`` (or LEARNERLEDGER_DATABASE_URL) names another, e.g. an
empty PostgreSQL database.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

CLIENT_ID = "bench-pull"
CLIENT_SECRET = "bench-pull-secret"
BASE_MS = 1_577_836_800_000  # 2020-01-01: records changed one second apart from here
# How 'documents' are split between the kinds (payments pay invoices one to one).
DOCUMENT_SHARE = {
    "invoices": 0.55,
    "payments": 0.30,
    "credit_notes": 0.09,
    "prepayments": 0.03,
    "overpayments": 0.03,
}


# -- building the organisation (in a child process) -------------------------------------------


def _split(documents: int) -> dict[str, int]:
    counts = {k: int(documents * share) for k, share in DOCUMENT_SHARE.items()}
    counts["invoices"] += documents - sum(counts.values())
    counts["payments"] = min(counts["payments"], counts["invoices"])
    counts["invoices"] = documents - sum(v for k, v in counts.items() if k != "invoices")
    return counts


def build(db: Path, contacts: int, documents: int) -> dict[str, int]:
    """Write the organisation into the sandbox database ``db``; returns what was written."""
    from learnerledger.sandbox.xero import DEFAULT_TENANT_ID, Clock, SandboxStore, prepare_store
    from learnerledger.sandbox.xero.contacts import insert_contact

    store = SandboxStore(db)
    prepare_store(store, Clock(), clients=[(CLIENT_ID, CLIENT_SECRET)])
    written = {"contacts": 0}
    contact_ids: list[str] = []
    with store.tx() as conn:
        for i in range(contacts):
            contact_ids.append(
                insert_contact(
                    conn,
                    DEFAULT_TENANT_ID,
                    {
                        "Name": f"Learner {i:06d} RI{i:07d}",
                        "FirstName": "Learner",
                        "LastName": f"{i:06d}",
                        "ContactNumber": f"RI{i:07d}",
                        "EmailAddress": f"learner{i}@example.edu.au",
                        "ContactStatus": "ARCHIVED" if i % 50 == 0 else "ACTIVE",
                        "Phones": [{"PhoneType": "MOBILE", "PhoneNumber": f"04{i:08d}"}],
                        "Addresses": [
                            {
                                "AddressType": "STREET",
                                "AddressLine1": f"{i} Long Street",
                                "City": "Parramatta",
                                "Region": "NSW",
                                "PostalCode": "2150",
                            }
                        ],
                    },
                    now_ms=BASE_MS + i * 1000,
                )
            )
            written["contacts"] += 1
    if documents:
        written.update(_build_documents(store, contact_ids, _split(documents)))
    store.close()
    return written


def _build_documents(store: Any, contact_ids: list[str], counts: dict[str, int]) -> dict[str, int]:
    from learnerledger.sandbox.xero import DEFAULT_TENANT_ID as TENANT
    from learnerledger.sandbox.xero import documents as docs
    from learnerledger.sandbox.xero.organisation import find_account
    from learnerledger.sandbox.xero.payments import insert_payment

    kinds = {
        "invoices": (docs.INVOICE, "ACCREC"),
        "credit_notes": (docs.CREDIT_NOTE, "ACCRECCREDIT"),
        "prepayments": (docs.PREPAYMENT, "RECEIVE-PREPAYMENT"),
        "overpayments": (docs.OVERPAYMENT, "RECEIVE-OVERPAYMENT"),
    }
    clock = [BASE_MS + len(contact_ids) * 1000]

    def tick() -> int:
        clock[0] += 1000  # one change a second, as an office would make them
        return clock[0]

    first_day = date(2024, 1, 1)
    invoice_ids: list[str] = []
    with store.tx() as conn:
        bank = find_account(conn, TENANT, code="090")
        for name, (kind, type_) in kinds.items():
            for i in range(counts[name]):
                data: dict[str, Any] = {
                    "Type": type_,
                    "Contact": {"ContactID": contact_ids[(i * 7 + len(name)) % len(contact_ids)]},
                    "Date": first_day + timedelta(days=i % 700),
                    "Status": "AUTHORISED",
                    "LineItems": [
                        {
                            "Description": "Course fee",
                            "Quantity": 1,
                            "UnitAmount": f"{100 + i % 900}.{i % 100:02d}",
                            "AccountCode": "200",
                        }
                    ],
                }
                if kind is docs.INVOICE:
                    data["DueDate"] = first_day + timedelta(days=i % 700 + 14)
                if kind.number_field:
                    data[kind.number_field] = f"{type_[:3]}-{i:07d}"
                doc_id = docs.insert_invoice(conn, TENANT, data, now_ms=tick(), kind=kind)
                if kind is docs.INVOICE:
                    invoice_ids.append(doc_id)
        for i in range(counts["payments"]):
            invoice = docs.get_document(conn, TENANT, invoice_ids[i], docs.INVOICE)
            assert invoice is not None
            assert bank is not None
            insert_payment(
                conn,
                TENANT,
                invoice,
                payment_id=str(uuid.uuid4()),
                day=first_day + timedelta(days=i % 700 + 3),
                amount=Decimal("50.00"),
                account=bank,
                reference=f"Receipt {i}",
                reconciled=False,
                now_ms=tick(),
            )
    return dict(counts)


# -- serving it and pulling it ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Clock:
    """The client's clock: real time plus what the sandbox's clock was moved on."""

    base_url: str
    offset: float = 0.0
    waited: float = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        httpx.post(self.base_url + "/sandbox/clock", json={"advance_seconds": seconds})
        self.offset += seconds
        self.waited += seconds


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run(args: argparse.Namespace) -> None:
    from learnerledger.config import load_config
    from learnerledger.store import load_secret_box, open_store
    from learnerledger.xero import connect_custom, open_client, pull_contacts, pull_documents
    from learnerledger.xero.mirror import DOCUMENT_STREAM_NAMES

    work = Path(tempfile.mkdtemp(prefix="bench-xero-pull-"))
    db = work / "sandbox.db"
    print(
        f"Building an organisation of {args.contacts:,} contacts and {args.documents:,} "
        "documents in a Xero sandbox ...",
        flush=True,
    )
    started = time.perf_counter()
    built = subprocess.run(
        [sys.executable, __file__, "--build", str(db), str(args.contacts), str(args.documents)],
        check=True,
        capture_output=True,
        text=True,
    )
    written: dict[str, int] = json.loads(built.stdout)
    print(f"  built in {time.perf_counter() - started:.0f} s: {written}")

    port = _free_port()
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "learnerledger",
            "sandbox",
            "xero",
            "--port",
            str(port),
            "--db",
            str(db),
            "--client",
            f"{CLIENT_ID}:{CLIENT_SECRET}",
            "--minute-limit",
            str(args.minute_limit),
        ],
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        store = open_store(args.database_url or f"sqlite:///{work / 'learnerledger.db'}")
        print(f"  store: {store.engine.dialect.name}")
        config = load_config(
            overrides={"home": str(work / "home"), "xero_minute_limit": args.minute_limit},
            environ={},
        )
        connection = connect_custom(
            store,
            load_secret_box(work / "home"),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            base_url=base,
        )
        clock = Clock(base)
        client = open_client(
            store, config, connection=connection, clock=clock.now, sleep=clock.sleep
        )
        streams = ["contacts", *DOCUMENT_STREAM_NAMES] if args.documents else ["contacts"]
        minimum = {s: max(1, math.ceil(written.get(s, 0) / 1000)) for s in streams}

        print(f"\nFirst pull ({', '.join(streams)}):")
        started = time.perf_counter()
        reports = [pull_contacts(store, client)]
        if args.documents:
            reports.append(pull_documents(store, client))
        wall = time.perf_counter() - started
        calls = {s.stream: s.pages for r in reports for s in r.streams}
        records = {s.stream: s.written for r in reports for s in r.streams}
        total_calls = sum(r.calls for r in reports)
        rows = [
            (s, f"{records.get(s, 0):,}", str(calls.get(s, 0)), str(minimum[s])) for s in streams
        ]
        _table(("stream", "mirrored", "calls", "minimum"), rows)
        extra = total_calls - sum(minimum.values())
        print(
            f"  API calls:   {total_calls} (minimum {sum(minimum.values())}: "
            f"{extra:+d}; goal: within 2)  {'OK' if extra <= 2 else 'MISSED'}"
        )
        print(f"  wall time:   {wall:.1f} s")
        print(
            f"  rate budget: {clock.waited / 60:.1f} min of waiting on Xero's "
            f"{args.minute_limit}-a-minute limit (skipped by moving the sandbox's clock)"
        )
        peak = _peak_mb()
        print(
            f"  peak memory: {peak:.0f} MB (goal: under 500 MB)  {'OK' if peak < 500 else 'MISSED'}"
        )
        lost = {s: written.get(s, 0) - records.get(s, 0) for s in streams if s in written}
        if any(lost.values()):
            print(f"  NOT MIRRORED: {lost}")

        print("\nRepeated pull (nothing changed):")
        before = client.calls
        again = [pull_contacts(store, client)]
        if args.documents:
            again.append(pull_documents(store, client))
        per_stream = {s.stream: s.pages for r in again for s in r.streams}
        _table(("stream", "calls"), [(s, str(per_stream.get(s, 0))) for s in streams])
        repeat = client.calls - before
        print(
            f"  API calls:   {repeat} for {len(streams)} streams (goal: one per stream)  "
            f"{'OK' if repeat == len(streams) else 'MISSED'}"
        )
        client.close()
        store.close()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        if not args.keep:
            for path in sorted(work.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            work.rmdir()
        else:
            print(f"\nKept {work}")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  " + "  ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--build":
        print(json.dumps(build(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts to mirror")
    parser.add_argument(
        "--documents",
        type=int,
        default=200_000,
        help="invoices, payments, credit notes, prepayments and overpayments together",
    )
    parser.add_argument(
        "--minute-limit", type=int, default=60, help="Xero's calls per minute (sandbox and client)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LEARNERLEDGER_DATABASE_URL", ""),
        help="the store: an empty database (default: a new SQLite file)",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
