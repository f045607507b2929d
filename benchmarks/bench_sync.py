"""Sync 10,000 learners into a Xero organisation that already holds 20,000 contacts.

Goals: API calls at most ceil(20,000/1,000) + ceil(10,000/50) + 5 = 225 for the first run
(reading the organisation, then the batches of creates), and at most 2 for an unchanged re-run.
The wall time is measured under Xero's real default limits (60 calls a minute), so the first
run takes a few minutes; ``--simulated-clock`` moves the sandbox's clock instead of waiting,
for a quick look.

Run: python benchmarks/bench_sync.py [--learners 10000] [--contacts 20000] [--simulated-clock]
     [--database-url URL]

The learnerledger store is a new SQLite file unless ``--database-url`` (or
LEARNERLEDGER_DATABASE_URL) names another, e.g. an empty PostgreSQL database.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

from learnerledger.config import load_config
from learnerledger.domain.learner import Address, Learner
from learnerledger.sandbox.server import ServerThread
from learnerledger.sandbox.xero import (
    DEFAULT_TENANT_ID,
    Clock,
    SandboxStore,
    create_app,
    prepare_store,
)
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.store import load_secret_box, open_store
from learnerledger.store.learners import upsert_learners
from learnerledger.sync import sync_learners
from learnerledger.xero import connect_custom
from learnerledger.xero.client import open_client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--simulated-clock", action="store_true")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LEARNERLEDGER_DATABASE_URL", ""),
        help="the store: an empty database (default: a new SQLite file)",
    )
    args = parser.parse_args()
    goal = math.ceil(args.contacts / 1000) + math.ceil(args.learners / 50) + 5
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        sandbox_store = SandboxStore(home / "xero.db")
        clock = Clock()
        prepare_store(sandbox_store, clock, clients=[("bench", "bench-secret")])
        with sandbox_store.tx() as conn:
            for i in range(args.contacts):
                insert_contact(
                    conn,
                    DEFAULT_TENANT_ID,
                    {"Name": f"Existing Customer {i:06d}", "EmailAddress": f"c{i}@example.com"},
                    now_ms=clock.now_ms() - 86_400_000,
                )
        store = open_store(args.database_url or f"sqlite:///{home / 'learnerledger.db'}")
        with store.transaction() as conn:
            upsert_learners(
                conn,
                (
                    Learner(
                        ref_internal=f"DAU{i:07d}",
                        first_name=f"Learner{i}",
                        last_name="Bench",
                        email=f"learner{i}@example.com",
                        mobile="+61412345678",
                        street=Address("1 Main St", "Parramatta", "NSW", "2150", "Australia"),
                    )
                    for i in range(args.learners)
                ),
            )
        with ServerThread(create_app(sandbox_store, clock=clock)) as server:
            config = load_config(overrides={"home": str(home)}, environ={})
            connection = connect_custom(
                store,
                load_secret_box(home),
                client_id="bench",
                client_secret="bench-secret",
                base_url=server.url,
            )
            options = {"clock": clock.now, "sleep": clock.advance} if args.simulated_clock else {}
            with open_client(store, config, connection=connection, **options) as client:  # type: ignore[arg-type]
                started = time.perf_counter()
                first = sync_learners(store, client)
                first_seconds = time.perf_counter() - started
                started = time.perf_counter()
                again = sync_learners(store, client)
                again_seconds = time.perf_counter() - started
        store.close()
        sandbox_store.close()
    counts = first.counts()
    clock_note = " (simulated clock: no waiting)" if args.simulated_clock else ""
    print(f"organisation: {args.contacts:,} existing contacts; {args.learners:,} learners")
    print(f"store: {store.engine.dialect.name}")
    print(
        f"first run: {counts['created']:,} created, {counts['failed']} failed, "
        f"{first.calls} API calls (goal at most {goal}), {first_seconds:.1f} s{clock_note}"
    )
    print(
        f"unchanged re-run: {again.counts()['unchanged']:,} unchanged, {again.calls} API calls "
        f"(goal at most 2), {again_seconds:.1f} s"
    )
    met = first.calls <= goal and again.calls <= 2 and counts["created"] == args.learners
    print(f"goals: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
