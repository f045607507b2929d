"""The rate budget lives in the store: every process shares it. Minute and day windows roll,
Xero's Retry-After pauses everyone, slots cap the calls in flight, and a spent day says when
it resumes. A fake clock crosses the windows without sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from learnerledger.errors import ConfigError, RateLimited
from learnerledger.store import Store, open_store
from learnerledger.xero.connections import TokenSet, save_connection
from learnerledger.xero.ratelimit import Limits, RateBudget, Waiting


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _connection_id(store: Store, tmp_path: Path, tenant: str = "t-1") -> int:
    from learnerledger.store import load_secret_box

    return save_connection(
        store,
        load_secret_box(tmp_path / "home", environ={}),
        tenant_id=tenant,
        name=f"Org {tenant}",
        base_url="http://127.0.0.1:1",
        tokens=TokenSet("custom_connection", "id", "secret"),
    ).id


def _budget(store: Store, cid: int, clock: FakeClock, **limits: int) -> RateBudget:
    waits: list[Waiting] = []
    budget = RateBudget(
        store,
        cid,
        limits=Limits(**limits),
        organisation="Demo Training Co",
        clock=clock,
        sleep=clock.sleep,
        on_wait=waits.append,
    )
    budget.waits = waits  # type: ignore[attr-defined]
    return budget


def test_the_minute_window_waits_for_its_oldest_call(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    budget = _budget(store, _connection_id(store, tmp_path), clock, minute=3, day=100)
    start = clock.now
    for _ in range(3):
        with budget.call():
            clock.now += 1
    with budget.call():
        pass
    # The fourth call waited until the first left the rolling minute.
    assert clock.now == pytest.approx(start + 60, abs=0.01)
    [waited] = budget.waits  # type: ignore[attr-defined]
    assert waited.limit == "minute"
    assert waited.seconds == pytest.approx(57, abs=0.01)
    assert waited.organisation == "Demo Training Co"


def test_a_spent_day_raises_with_when_it_resumes(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    cid = _connection_id(store, tmp_path)
    budget = _budget(store, cid, clock, minute=60, day=2)
    first = clock.now
    for _ in range(2):
        with budget.call():
            clock.now += 30
    with pytest.raises(RateLimited) as info:
        budget.acquire("GET /Contacts")
    error = info.value
    assert error.limit == "day"
    assert error.resumes_at == datetime.fromtimestamp(first + 86_400, UTC)
    assert "daily call limit for 'Demo Training Co' is spent; it resumes at " in str(error)
    assert "Nothing is lost" in str(error)
    assert budget.snapshot().day_remaining == 0
    assert budget.snapshot().day_resumes_at == error.resumes_at
    clock.now = first + 86_400 + 0.001
    with budget.call():
        pass


def test_a_short_wait_is_waited_and_a_long_one_raises(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    budget = _budget(store, _connection_id(store, tmp_path), clock, minute=1, day=10)
    budget.max_wait = 10
    with budget.call():
        pass
    with pytest.raises(RateLimited) as info:
        budget.acquire()
    assert info.value.limit == "minute"


def test_retry_after_pauses_every_process_sharing_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = open_store(url), open_store(url)
    try:
        clock = FakeClock()
        cid = _connection_id(one, tmp_path)
        a = _budget(one, cid, clock)
        b = _budget(two, cid, clock)
        a.blocked("minute", 42)
        start = clock.now
        with b.call():
            pass
        assert clock.now == pytest.approx(start + 42, abs=0.01)
        assert b.waits[0].limit == "minute"  # type: ignore[attr-defined]
        # The counts are shared too.
        assert a.snapshot().minute_remaining == 59
    finally:
        one.close()
        two.close()


def test_xero_saying_fewer_calls_remain_wins(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    budget = _budget(store, _connection_id(store, tmp_path), clock)
    with budget.call():
        clock.now += 0.2  # the answer arrives a little after the call left
        budget.observe({"x-minlimit-remaining": "1", "x-daylimit-remaining": "700"})
    assert budget.snapshot().minute_remaining == 1
    assert budget.snapshot().day_remaining == 700
    with budget.call():
        pass
    start = clock.now
    with budget.call():
        pass
    # Another program used this app's minute: the third call waited for Xero's window.
    assert clock.now - start == pytest.approx(60, abs=0.01)


def test_slots_cap_calls_in_flight_and_expired_leases_free_them(
    store: Store, tmp_path: Path
) -> None:
    clock = FakeClock()
    budget = _budget(store, _connection_id(store, tmp_path), clock, concurrency=2)
    budget.lease_ms = 5_000
    budget.acquire()
    budget.acquire()  # both slots held by a "crashed" caller that never releases
    assert budget.snapshot().in_flight == 2
    start = clock.now
    holder = budget.acquire()  # waits (polling) until a lease runs out
    assert clock.now - start >= 5
    budget.release(holder)


def test_threads_never_exceed_the_concurrency_limit(store: Store, tmp_path: Path) -> None:
    budget = RateBudget(
        store,
        _connection_id(store, tmp_path),
        limits=Limits(concurrency=3, minute=1000, day=1000),
        poll_seconds=0.005,
    )
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    # The first holders keep their slots until three are held at once, so the limit is
    # provably reached however the threads are scheduled; after that they go as they please.
    full = threading.Event()

    def work() -> None:
        nonlocal in_flight, peak
        for _ in range(5):
            with budget.call():
                with lock:
                    in_flight += 1
                    peak = max(peak, in_flight)
                    if in_flight == 3:
                        full.set()
                assert full.wait(timeout=60), "three slots were never held at once"
                with lock:
                    in_flight -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert full.is_set()
    assert peak == 3  # reached, never passed
    assert budget.snapshot().minute_remaining == 1000 - 40
    assert budget.snapshot().in_flight == 0


def test_budgets_are_per_organisation(store: Store, tmp_path: Path) -> None:
    clock = FakeClock()
    a = _budget(store, _connection_id(store, tmp_path, "a"), clock, minute=1)
    b = _budget(store, _connection_id(store, tmp_path, "b"), clock, minute=1)
    start = clock.now
    with a.call(), b.call():
        pass
    assert clock.now == start  # neither waited for the other


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="xero_day_limit"):
        Limits(day=0)
