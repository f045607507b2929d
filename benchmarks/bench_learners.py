"""Learner sources at scale: a CSV import of 100,000 rows (time, peak memory) and a pull of
100,000 learners from the Wisenet sandbox over HTTP (calls made against the minimum, time).

Goals: the import under 20 s and 500 MB; the pull within one call of the minimum, which is
``floor(N / 1000) + 1`` pages for N learners (the last page is the first one not full).

    python benchmarks/bench_learners.py [--rows N] [--learners N] [--only csv|pull]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from learnerledger.sandbox.seed import demo_people
from learnerledger.sandbox.server import ServerThread
from learnerledger.sandbox.wisenet import (
    Clock,
    Limits,
    SandboxStore,
    create_app,
    prepare_keys,
    seed_account,
)
from learnerledger.sources.csvfile import COLUMNS
from learnerledger.sources.wisenet import connect_wisenet, open_client, pull_learners
from learnerledger.store import load_secret_box, open_store
from learnerledger.store.learners import count_learners

_IMPORT = """
import json, resource, sys, time
from learnerledger.sources.csvfile import import_learners
from learnerledger.store import open_store
store = open_store(sys.argv[1])
started = time.perf_counter()
result = import_learners(store, sys.argv[2])
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "counts": result.counts()}))
"""


def _write_csv(path: Path, rows: int) -> None:
    people = demo_people(1, rows / 600)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for p in people:
            street, postal = p.street, p.postal
            writer.writerow(
                [
                    p.ref_internal,
                    p.first_name,
                    p.last_name,
                    p.email,
                    p.mobile,
                    p.phone_home,
                    p.phone_work,
                    p.date_of_birth.strftime("%d/%m/%Y") if p.date_of_birth else "",
                    *(
                        (street.line1, street.suburb, street.state, street.postcode, "Australia")
                        if street
                        else ("", "", "", "", "")
                    ),
                    *(
                        (postal.line1, postal.suburb, postal.state, postal.postcode, "Australia")
                        if postal
                        else ("", "", "", "", "")
                    ),
                    "yes" if p.sync_to_xero else "no",
                ]
            )


def _import_once(url: str, path: Path) -> dict[str, object]:
    """One import in a child process of its own, so that its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT, url, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    report: dict[str, object] = json.loads(out.stdout)
    return report


def bench_csv(rows: int, work: Path) -> None:
    path = work / "learners.csv"
    started = time.perf_counter()
    _write_csv(path, rows)
    print(
        f"CSV import: {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB), "
        f"generated in {time.perf_counter() - started:.1f} s"
    )
    url = f"sqlite:///{work / 'csv.db'}"
    open_store(url).close()  # migrations are not part of the import
    first = _import_once(url, path)
    print(
        f"  first import: {first['seconds']:.1f} s, peak memory {first['peak_mb']:.0f} MB "
        f"(goal: under 20 s and 500 MB); {first['counts']}"
    )
    again = _import_once(url, path)
    print(
        f"  same file again: {again['seconds']:.1f} s, peak memory {again['peak_mb']:.0f} MB; "
        f"{again['counts']}"
    )


def bench_pull(learners: int, work: Path) -> None:
    sandbox_store = SandboxStore(work / "wisenet.db")
    started = time.perf_counter()
    seed_account(sandbox_store, scale=learners / 600)
    with sandbox_store.tx() as conn:  # every learner flagged, so the pull reads them all
        conn.execute(
            "UPDATE learners SET sync_to_xero = 1,"
            " data = json_set(data, '$.Personal.SyncToXero', json('true'))"
        )
        total = conn.execute("SELECT count(*) FROM learners").fetchone()[0]
    print(f"Pull: {total:,} learners seeded in {time.perf_counter() - started:.1f} s")
    clock = Clock()
    prepare_keys(sandbox_store, clock, ["bench-key:full"])
    app = create_app(sandbox_store, clock=clock, limits=Limits(per_second=10))
    server = ServerThread(app).start()
    try:
        store = open_store(f"sqlite:///{work / 'pull.db'}")
        box = load_secret_box(work / "home", environ={})
        base = server.url + "/v1"
        connection = connect_wisenet(store, box, api_key="bench-key", base_url=base, check=False)
        httpx.delete(server.url + "/sandbox/calls")
        with open_client(base, "bench-key") as client:
            started = time.perf_counter()
            result = pull_learners(store, client, connection_id=connection.id)
            seconds = time.perf_counter() - started
        served = httpx.get(server.url + "/sandbox/calls").json()
        minimum = total // 1000 + 1
        with store.read() as conn:
            counts = count_learners(conn)
        print(
            f"  full pull: {result.read:,} learners read, {counts.learners:,} stored "
            f"({counts.learners_ready:,} ready) in {seconds:.1f} s; calls made {result.calls} "
            f"(sandbox counted {served['total']}), minimum {minimum} (goal: within 1)"
        )
        print(
            "    (at Wisenet's 10 requests per second the calls alone take "
            f"{(result.calls - 1) / 10:.0f} s or more)"
        )
        with open_client(base, "bench-key") as client:
            started = time.perf_counter()
            again = pull_learners(store, client, connection_id=connection.id)
            seconds = time.perf_counter() - started
        print(
            f"  incremental pull with nothing changed: {again.calls} calls, {seconds:.1f} s, "
            f"{again.read} learners re-read (the overlap window)"
        )
        store.close()
    finally:
        server.stop()
        sandbox_store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="CSV rows (default 100,000)")
    parser.add_argument(
        "--learners", type=int, default=100_000, help="learners to pull (default 100,000)"
    )
    parser.add_argument("--only", choices=["csv", "pull"], help="run one of the two")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-learners-") as tmp:
        work = Path(tmp)
        if args.only in (None, "csv"):
            bench_csv(args.rows, work)
        if args.only in (None, "pull"):
            bench_pull(args.learners, work)


if __name__ == "__main__":
    main()
