"""The web UI's Learners page at scale: a store of 100,000 learners (a tenth not ready, six
in ten with their own contact in the mirror), the page served over HTTP on loopback by the
app, signed in, timed for the first page, a later page, a search, a link-state filter, a
search and filter together, and the dashboard.

Goal: every Learners page answers in under 300 ms (the median of several requests, each a
full HTTP round trip: guard, session lookup, queries, rendering).

    python benchmarks/bench_web.py [--learners N] [--repeat N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from learnerledger.config import load_config
from learnerledger.domain.learner import Address, Learner
from learnerledger.sandbox.server import ServerThread
from learnerledger.store import Store, connections, links, mirror, open_store
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
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", help="Default: SQLite in a temporary directory.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = open_store(args.database_url or f"sqlite:///{home / 'learnerledger.db'}")
        started = time.perf_counter()
        fill(store, args.learners)
        print(f"store: {args.learners:,} learners in {time.perf_counter() - started:.1f} s")
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
            dashboard = measure(client, "/", args.repeat)
        finally:
            client.close()
            server.stop()
            store.close()
    worst = max(r["median_ms"] for r in results)
    for r in [*results, dashboard]:
        print(
            f"{r['path']:45} {r['status']} {r['bytes']:>8,} bytes  median {r['median_ms']:7.1f} ms"
            f"  max {r['max_ms']:7.1f} ms"
        )
    met = worst < GOAL_MS
    print(
        f"learners pages: slowest median {worst:.1f} ms; goal < {GOAL_MS:.0f} ms: "
        + ("met" if met else "NOT met")
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
