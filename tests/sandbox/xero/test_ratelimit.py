"""Rate limits per organisation and app, per app, and in flight, with Xero's headers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from conftest import XeroSandbox
from learnerledger.sandbox.xero import Clock, Limits
from learnerledger.sandbox.xero.ratelimit import RateLimiter


def test_every_answer_carries_the_remaining_counts(make_xero_sandbox: Any) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=10, day=100, app_minute=50))
    http = sandbox.http()
    seen = []
    for _ in range(3):
        headers = http.get("/Contacts", params={"page": 1}).headers
        seen.append(
            (
                int(headers["X-MinLimit-Remaining"]),
                int(headers["X-DayLimit-Remaining"]),
                int(headers["X-AppMinLimit-Remaining"]),
            )
        )
    assert seen == [(9, 99, 49), (8, 98, 48), (7, 97, 47)]
    # Error answers carry them too.
    assert "X-MinLimit-Remaining" in http.get("/Contacts/NOPE").headers


def test_minute_limit_then_the_window_rolls(make_xero_sandbox: Any) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=5))
    http = sandbox.http()
    for _ in range(5):
        assert http.get("/Contacts", params={"page": 1}).status_code == 200
    refused = http.get("/Contacts", params={"page": 1})
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-MinLimit-Remaining"] == "0"
    sandbox.clock.advance(int(refused.headers["Retry-After"]))
    assert http.get("/Contacts", params={"page": 1}).status_code == 200


def test_day_limit_says_day_and_when(make_xero_sandbox: Any) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(day=3))
    http = sandbox.http()
    for _ in range(3):
        http.get("/Organisation")
    refused = http.get("/Organisation")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "day"
    assert 86_000 < int(refused.headers["Retry-After"]) <= 86_400
    sandbox.clock.advance(86_400)
    fresh = sandbox.http()  # a new token: the old one expired during the day
    assert fresh.get("/Organisation").status_code == 200


def test_concurrent_calls_beyond_the_limit_are_refused(make_xero_sandbox: Any) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(concurrency=2))
    # The first two calls keep their slots until the test lets them go.
    hold = {"kind": "hold", "count": 2, "method": "GET", "path": "Organisation"}
    assert httpx.post(sandbox.url + "/sandbox/faults", json={"rules": [hold]}).status_code == 200
    http = sandbox.http()
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(http.get, "/Organisation") for _ in range(2)]
        waited = httpx.get(sandbox.url + "/sandbox/faults/held", params={"count": 2})
        assert waited.status_code == 200, waited.text
        refused = [http.get("/Organisation") for _ in range(3)]
        released = httpx.post(sandbox.url + "/sandbox/faults/release").json()
        statuses = [f.result().status_code for f in held]
    assert released == {"released": 2}
    assert statuses == [200, 200]
    assert [r.status_code for r in refused] == [429] * 3
    assert [r.headers["X-Rate-Limit-Problem"] for r in refused] == ["concurrent"] * 3


def test_app_minute_limit_spans_organisations() -> None:
    clock = Clock()
    limiter = RateLimiter(Limits(minute=60, app_minute=3), clock)
    decisions = [limiter.acquire("app", tenant) for tenant in ("t1", "t2", "t3", "t4")]
    for d in decisions:
        if d.allowed:
            limiter.release("app", "t1")
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].problem == "appminute"
    assert limiter.acquire("other-app", "t1").allowed


@pytest.mark.parametrize("limit", ["minute", "day"])
def test_refused_calls_do_not_count(limit: str) -> None:
    clock = Clock()
    limiter = RateLimiter(Limits(minute=2, day=2) if limit == "day" else Limits(minute=2), clock)
    for _ in range(2):
        assert limiter.acquire("a", "t").allowed
        limiter.release("a", "t")
    for _ in range(5):
        assert not limiter.acquire("a", "t").allowed
    clock.advance(86_400 if limit == "day" else 60)
    assert limiter.acquire("a", "t").allowed
