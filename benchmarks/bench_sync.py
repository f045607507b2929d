"""Sync 10,000 learners into a Xero organisation that already holds 20,000 contacts, in both
modes: ``duplicate`` (every learner gets a new contact) and ``adopt`` (the default: a learner
whose contact was typed in by hand takes it over). A share of the learners (``--legacy``, a
third by default) have such a hand-typed contact among the 20,000, with the learner's e-mail
and "SURNAME, First" for a Name.

Goals, per mode: API calls at most ceil(20,000/1,000) + ceil(10,000/50) + 5 = 225 for the first
run (reading the organisation, then the batches of creates, and of updates and adopts), and at
most 2 for an unchanged re-run. The wall time is measured under Xero's real default limits (60
calls a minute), so a first run takes a few minutes; ``--simulated-clock`` moves the sandbox's
clock instead of waiting, for a quick look. The adopt run's time includes matching every
learner against every contact once.

Run: python benchmarks/bench_sync.py [--learners 10000] [--contacts 20000] [--legacy 0.33]
     [--mode adopt|duplicate] [--simulated-clock] [--database-url URL]

The learnerledger store is a new SQLite file unless ``--database-url`` (or
LEARNERLEDGER_DATABASE_URL) names another, e.g. an empty PostgreSQL database (then give one
``--mode`` per run: each mode needs an empty store).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from dataclasses import dataclass
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


@dataclass
class Figures:
    mode: str
    counts: dict[str, int]
    calls: int
    seconds: float
    again_unchanged: int
    again_calls: int
    again_seconds: float
    dialect: str


def _learner(i: int) -> Learner:
    return Learner(
        ref_internal=f"DAU{i:07d}",
        first_name=f"Learner{i}",
        last_name="Bench",
        email=f"learner{i}@example.com",
        mobile="+61412345678",
        street=Address("1 Main St", "Parramatta", "NSW", "2150", "Australia"),
    )


def _contact(i: int, every: int) -> dict[str, str]:
    """Existing contact ``i``: the hand-typed contact of learner ``i`` on every ``every``-th,
    otherwise a customer who is no learner."""
    if every and i % every == 0:
        return {"Name": f"BENCH, Learner{i}", "EmailAddress": f"Learner{i}@Example.com"}
    return {"Name": f"Existing Customer {i:06d}", "EmailAddress": f"c{i}@example.com"}


def run(mode: str, args: argparse.Namespace, home: Path) -> Figures:
    every = round(1 / args.legacy) if args.legacy > 0 else 0  # every n-th learner
    sandbox_store = SandboxStore(home / "xero.db")
    clock = Clock()
    prepare_store(sandbox_store, clock, clients=[("bench", "bench-secret")])
    with sandbox_store.tx() as conn:
        for i in range(args.contacts):
            insert_contact(
                conn,
                DEFAULT_TENANT_ID,
                _contact(i, every if i < args.learners else 0),
                now_ms=clock.now_ms() - 86_400_000,
            )
    store = open_store(args.database_url or f"sqlite:///{home / 'learnerledger.db'}")
    with store.transaction() as conn:
        upsert_learners(conn, (_learner(i) for i in range(args.learners)))
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
            first = sync_learners(store, client, mode=mode)
            first_seconds = time.perf_counter() - started
            started = time.perf_counter()
            again = sync_learners(store, client, mode=mode)
            again_seconds = time.perf_counter() - started
    figures = Figures(
        mode,
        first.counts(),
        first.calls,
        first_seconds,
        again.counts()["unchanged"],
        again.calls,
        again_seconds,
        store.engine.dialect.name,
    )
    store.close()
    sandbox_store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument(
        "--legacy",
        type=float,
        default=0.33,
        help="share of the learners with a hand-typed contact among the existing ones",
    )
    parser.add_argument("--mode", choices=("adopt", "duplicate"), action="append")
    parser.add_argument("--simulated-clock", action="store_true")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LEARNERLEDGER_DATABASE_URL", ""),
        help="the store: an empty database (default: a new SQLite file)",
    )
    args = parser.parse_args()
    goal = math.ceil(args.contacts / 1000) + math.ceil(args.learners / 50) + 5
    results = []
    for mode in args.mode or ["duplicate", "adopt"]:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(mode, args, Path(tmp)))
    clock_note = " (simulated clock: no waiting)" if args.simulated_clock else ""
    every = round(1 / args.legacy) if args.legacy > 0 else 0
    legacy = math.ceil(min(args.learners, args.contacts) / every) if every else 0
    print(
        f"organisation: {args.contacts:,} existing contacts, {legacy:,} of them "
        f"hand-typed for a learner; {args.learners:,} learners"
    )
    print(f"store: {results[0].dialect}")
    met = True
    for f in results:
        c = f.counts
        print(
            f"{f.mode} mode, first run: {c['created']:,} created, {c['adopted']:,} adopted, "
            f"{c['review']:,} to review, {c['failed']} failed; {f.calls} API calls (goal at "
            f"most {goal}), {f.seconds:.1f} s{clock_note}"
        )
        print(
            f"{f.mode} mode, unchanged re-run: {f.again_unchanged:,} unchanged, "
            f"{f.again_calls} API calls (goal at most 2), {f.again_seconds:.1f} s"
        )
        synced = c["created"] + c["adopted"] + c["review"]
        met = met and f.calls <= goal and f.again_calls <= 2 and synced == args.learners
    print(f"goals: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
