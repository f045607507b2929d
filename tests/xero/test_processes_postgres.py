"""Several processes sharing one PostgreSQL store, where writers run side by side: an
organisation's rate budget never lets more calls in flight or into a window than its limits,
a named lease has one holder at a time, and a token refresh happens once.

Every process opens its own store and waits at one barrier before it touches the budget or the
lease, so they all contend at once. The assertions count outcomes, never time: the clock the
budget sees is frozen, so windows and leases do not move while the processes run."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, XeroSandbox, browser_consent
from learnerledger.errors import RateLimited
from learnerledger.store import Store, load_secret_box, open_store
from learnerledger.store.tables import connections
from learnerledger.xero import connect_oauth
from learnerledger.xero.connections import TokenSet, save_connection
from learnerledger.xero.locks import StoreLock
from learnerledger.xero.ratelimit import Limits, RateBudget

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROCESSES = 6
NOW = 1_800_000_000.0  # the frozen clock every budget and lease reads
# fork: the children share the barrier, the counters and the result queue with the test.
_CTX = multiprocessing.get_context("fork")


class _WouldWait(Exception):
    """Raised by the budget's sleep: this process would have waited for a slot."""


def _refuse_to_wait(_seconds: float) -> None:
    raise _WouldWait


def _connection_id(store: Store, tmp_path: Path) -> int:
    return save_connection(
        store,
        load_secret_box(tmp_path / "home", environ={}),
        tenant_id="t-1",
        name="Org t-1",
        base_url="http://127.0.0.1:1",
        tokens=TokenSet("custom_connection", "id", "secret"),
    ).id


def _run(worker: Callable[..., None], *args: Any) -> list[Any]:
    """Run ``worker(barrier, results, *args)`` in PROCESSES processes; their results."""
    barrier = _CTX.Barrier(PROCESSES, timeout=120)
    results = _CTX.Queue()
    procs = [_CTX.Process(target=worker, args=(barrier, results, *args)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    out = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    errors = [r for r in out if isinstance(r, str) and r.startswith("error:")]
    assert not errors, errors
    return out


def _guarded(worker: Callable[..., Any]) -> Callable[..., None]:
    def run(barrier: Any, results: Any, *args: Any) -> None:
        try:
            results.put(worker(barrier, *args))
        except BaseException as exc:
            barrier.abort()  # the others stop waiting for this one
            results.put(f"error: {exc!r}")

    return run


# -- the budget -------------------------------------------------------------------------------


def _take_one_slot(barrier: Any, url: str, cid: int) -> str:
    store = open_store(url, migrate=False)
    budget = RateBudget(
        store,
        cid,
        limits=Limits(concurrency=2, minute=1000, day=1000),
        clock=lambda: NOW,
        sleep=_refuse_to_wait,
    )
    barrier.wait()
    try:
        budget.acquire()  # held until the end: no slot comes back while the others try
    except _WouldWait:
        return "waited"
    finally:
        barrier.wait()  # every process has tried before any of them closes its store
        store.close()
    return "took"


def test_processes_never_hold_more_slots_than_the_concurrency_limit(
    postgres_store: Store, postgres_url: str, tmp_path: Path
) -> None:
    cid = _connection_id(postgres_store, tmp_path)
    outcomes = _run(_guarded(_take_one_slot), postgres_url, cid)
    assert sorted(outcomes) == ["took"] * 2 + ["waited"] * (PROCESSES - 2)
    budget = RateBudget(postgres_store, cid, clock=lambda: NOW)
    assert budget.snapshot().in_flight == 2


def _call_until_the_minute_is_spent(
    barrier: Any, url: str, cid: int, in_flight: Any, peak: Any
) -> int:
    store = open_store(url, migrate=False)
    budget = RateBudget(
        store,
        cid,
        limits=Limits(concurrency=3, minute=40, day=1000),
        clock=lambda: NOW,
        sleep=lambda _s: time.sleep(0.001),  # polling for a free slot
        max_wait=0,  # a spent minute raises instead of waiting
        poll_seconds=0.001,
    )
    made = 0
    barrier.wait()
    try:
        while True:
            try:
                holder = budget.acquire()
            except RateLimited as exc:
                if exc.limit != "minute":
                    raise
                return made
            with in_flight.get_lock():
                in_flight.value += 1
                peak.value = max(peak.value, in_flight.value)
            with in_flight.get_lock():
                in_flight.value -= 1
            budget.release(holder)
            made += 1
    finally:
        store.close()


def test_processes_share_the_minute_window_exactly(
    postgres_store: Store, postgres_url: str, tmp_path: Path
) -> None:
    cid = _connection_id(postgres_store, tmp_path)
    in_flight, peak = _CTX.Value("i", 0), _CTX.Value("i", 0)
    made = _run(_guarded(_call_until_the_minute_is_spent), postgres_url, cid, in_flight, peak)
    assert sum(made) == 40  # the limit, not one call more, however the processes interleaved
    assert 1 <= peak.value <= 3
    snapshot = RateBudget(
        postgres_store, cid, limits=Limits(minute=40), clock=lambda: NOW
    ).snapshot()
    assert snapshot.minute_remaining == 0
    assert snapshot.in_flight == 0


# -- named leases -----------------------------------------------------------------------------


def _try_the_lease_once(barrier: Any, url: str) -> bool:
    store = open_store(url, migrate=False)
    lock = StoreLock(store, "refresh:1", clock=lambda: NOW)
    barrier.wait()
    try:
        return lock.try_acquire()
    finally:
        barrier.wait()
        store.close()


def test_one_process_of_many_takes_a_free_lease(postgres_url: str, postgres_store: Store) -> None:
    # The lease's row does not exist yet: every process also races to create it.
    assert sorted(_run(_guarded(_try_the_lease_once), postgres_url)) == [False] * (
        PROCESSES - 1
    ) + [True]


def _hold_the_lease_in_turn(barrier: Any, url: str, inside: Any, most: Any) -> int:
    store = open_store(url, migrate=False)
    lock = StoreLock(store, "refresh:1", clock=lambda: NOW, poll_seconds=0.001)
    barrier.wait()
    try:
        for _ in range(10):
            with lock.hold():
                with inside.get_lock():
                    inside.value += 1
                    most.value = max(most.value, inside.value)
                with inside.get_lock():
                    inside.value -= 1
        return 10
    finally:
        store.close()


def test_the_lease_has_one_holder_at_a_time(postgres_url: str, postgres_store: Store) -> None:
    inside, most = _CTX.Value("i", 0), _CTX.Value("i", 0)
    held = _run(_guarded(_hold_the_lease_in_turn), postgres_url, inside, most)
    assert sum(held) == 10 * PROCESSES
    assert most.value == 1


# -- token refresh ----------------------------------------------------------------------------

WORKER = Path(__file__).with_name("refresh_worker.py")


def test_processes_refreshing_at_once_make_one_refresh(
    xero_sandbox: XeroSandbox, postgres_store: Store, postgres_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    box = load_secret_box(home)
    connection = connect_oauth(
        postgres_store,
        box,
        client_id=OAUTH_CLIENT_ID,
        client_secret=OAUTH_CLIENT_SECRET,
        base_url=xero_sandbox.url,
        port=0,
        open_url=browser_consent(xero_sandbox),
        choose=lambda tenants: tenants[0],
    )
    with postgres_store.transaction() as conn:  # the stored access token looks expired to all
        sealed = conn.execute(
            sa.select(connections.c.secret).where(connections.c.id == connection.id)
        ).scalar_one()
        tokens = TokenSet.from_secret(box.open(sealed))
        tokens.expires_at = 0
        conn.execute(
            connections.update()
            .where(connections.c.id == connection.id)
            .values(secret=box.seal(tokens.to_secret()))
        )
    refreshes_before = _token_calls(xero_sandbox)
    names = [f"w{i}" for i in range(4)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), postgres_url, str(home), str(tmp_path), name],
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"{n}.ready").exists() for n in names):
        assert time.monotonic() < deadline, "the workers did not start"
        assert all(w.poll() is None for w in workers), [w.stderr.read() for w in workers]  # type: ignore[union-attr]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for w in workers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()
    results = [json.loads((tmp_path / f"{n}.json").read_text()) for n in names]
    assert sorted(r["refreshes"] for r in results) == [0, 0, 0, 1]
    assert all(r["organisation"] == "Demo Training Co" for r in results)
    assert _token_calls(xero_sandbox) - refreshes_before == 1
    assert 401 not in [e.status for e in xero_sandbox.recorder.api_exchanges()]


def _token_calls(sandbox: XeroSandbox) -> int:
    return sum(1 for e in sandbox.recorder.exchanges if e.path == "/connect/token")
