"""How fast the Xero sandbox serves a page of 1,000 contacts from a 100,000-contact organisation.

Goal: well under 200 ms a page, so that the sandbox never dominates the other benchmarks.
Run: python benchmarks/bench_sandbox_contacts.py [--contacts 100000] [--rounds 5]
It prints the time to insert the organisation, then, for the first, a middle and the last page
(and a filtered and an incremental read), the median and worst time over the rounds, measured
by a client over HTTP on loopback.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
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


def build(db: Path, n: int) -> float:
    store = SandboxStore(db)
    clock = Clock()
    prepare_store(store, clock, clients=[("bench", "bench-secret")])
    start = time.perf_counter()
    base_ms = clock.now_ms() - n * 1000
    with store.tx() as conn:
        for i in range(n):
            insert_contact(
                conn,
                DEFAULT_TENANT_ID,
                {
                    "Name": f"Learner {i:06d} DAU{i:07d}",
                    "FirstName": "Learner",
                    "LastName": f"{i:06d}",
                    "ContactNumber": f"DAU{i:07d}",
                    "EmailAddress": f"learner{i}@example.com",
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
                now_ms=base_ms + i * 1000,
            )
    store.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "xero.db"
        insert_seconds = build(db, args.contacts)
        print(f"organisation: {args.contacts:,} contacts inserted in {insert_seconds:.1f} s")
        store = SandboxStore(db)
        app = create_app(store, limits=Limits(minute=1_000_000, day=1_000_000))
        with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
            token = http.post(
                "/connect/token",
                data={"grant_type": "client_credentials"},
                auth=("bench", "bench-secret"),
            ).json()["access_token"]
            http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
            pages = max(1, -(-args.contacts // 1000))
            cases = {
                "first page": {"page": 1},
                "middle page": {"page": pages // 2 + 1},
                "last page": {"page": pages},
                "filtered (where Name.StartsWith)": {
                    "page": 1,
                    "where": 'Name.StartsWith("Learner 05")',
                },
                "archived included, ordered by UpdatedDateUTC": {
                    "page": pages // 2 + 1,
                    "includeArchived": "true",
                    "order": "UpdatedDateUTC",
                },
            }
            worst_median = 0.0
            for label, params in cases.items():
                times = []
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    response = http.get(
                        "/api.xro/2.0/Contacts", params={**params, "pageSize": 1000}
                    )
                    response.raise_for_status()
                    count = len(response.json()["Contacts"])
                    times.append((time.perf_counter() - start) * 1000)
                median = statistics.median(times)
                worst_median = max(worst_median, median)
                print(
                    f"{label:48s} {count:5d} contacts  median {median:6.1f} ms  "
                    f"worst {max(times):6.1f} ms"
                )
        store.close()
    verdict = "met" if worst_median < 200 else "NOT met"
    print(
        f"goal (a 1,000-contact page well under 200 ms): {verdict}, slowest median "
        f"{worst_median:.1f} ms"
    )


if __name__ == "__main__":
    main()
