"""Fault injection: failures on purpose, repeatable, and marked as such."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import XeroSandbox


def _faults(sandbox: XeroSandbox, *rules: dict[str, object]) -> httpx.Response:
    return httpx.post(sandbox.url + "/sandbox/faults", json={"rules": list(rules)})


def test_status_faults_fire_for_their_count(xero_sandbox: XeroSandbox) -> None:
    assert _faults(xero_sandbox, {"kind": "status", "status": 500, "count": 2}).status_code == 200
    http = xero_sandbox.http()
    statuses = [http.get("/Organisation").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_429_bursts_look_like_xeros(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "status", "status": 429, "count": 1, "retry_after": 7})
    response = xero_sandbox.http().get("/Organisation")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["X-Rate-Limit-Problem"] == "minute"
    assert response.headers["X-Sandbox-Fault"] == "status"


def test_probability_is_repeatable_with_a_seed(make_xero_sandbox: object) -> None:
    outcomes = []
    for _ in range(2):
        sandbox: XeroSandbox = make_xero_sandbox()  # type: ignore[operator]
        _faults(sandbox, {"kind": "status", "status": 503, "probability": 0.5, "seed": 42})
        http = sandbox.http()
        outcomes.append([http.get("/Organisation").status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert {200, 503} == set(outcomes[0])


def _held(sandbox: XeroSandbox, count: int = 1) -> list[dict[str, str]]:
    """The held calls, once ``count`` are held (the sandbox waits for them, not the test)."""
    response = httpx.get(sandbox.url + "/sandbox/faults/held", params={"count": count})
    assert response.status_code == 200, response.text
    held: list[dict[str, str]] = response.json()["held"]
    return held


def _release(sandbox: XeroSandbox, then: str = "answer") -> int:
    response = httpx.post(sandbox.url + "/sandbox/faults/release", json={"then": then})
    assert response.status_code == 200, response.text
    released: int = response.json()["released"]
    return released


def _named(http: httpx.Client, name: str) -> list[dict[str, object]]:
    found = http.get("/Contacts", params={"where": f'Name=="{name}"', "page": 1})
    contacts: list[dict[str, object]] = found.json()["Contacts"]
    return contacts


def test_a_dropped_answer_still_committed_the_write(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "drop", "count": 1, "method": "PUT"})
    http = xero_sandbox.http()
    # The connection closes without the answer: a transport error, with no timeout involved.
    with pytest.raises(httpx.RemoteProtocolError):
        http.put("/Contacts", json={"Name": "Lost Answer"})
    assert len(_named(http, "Lost Answer")) == 1
    [dropped] = [e for e in xero_sandbox.recorder.api_exchanges() if e.method == "PUT"]
    assert dropped.response_headers["x-sandbox-fault"] == "drop"


def test_a_held_request_has_not_happened_until_released(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "hold", "count": 1, "method": "PUT"})
    http = xero_sandbox.http()
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(http.put, "/Contacts", json={"Name": "Slow Request"})
        assert _held(xero_sandbox) == [{"method": "PUT", "path": "/Contacts"}]
        # The request is known to be in flight, and the contact does not exist yet.
        assert _named(xero_sandbox.http(), "Slow Request") == []
        assert _release(xero_sandbox) == 1
        # The release answers once the call has finished: the contact exists now.
        assert len(_named(http, "Slow Request")) == 1
        assert put.result().status_code == 200
    assert _held(xero_sandbox, count=0) == []


def test_a_held_request_released_with_drop_never_happens(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "hold", "count": 1, "skip": 1, "method": "PUT"})
    http = xero_sandbox.http()
    # The first matching call is skipped: it is not held.
    assert http.put("/Contacts", json={"Name": "First"}).status_code == 200
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(http.put, "/Contacts", json={"Name": "Second"})
        assert len(_held(xero_sandbox)) == 1
        assert _release(xero_sandbox, then="drop") == 1
        with pytest.raises(httpx.RemoteProtocolError):
            put.result()
    assert len(_named(http, "First")) == 1
    assert _named(http, "Second") == []


def test_waiting_for_held_calls_gives_up_when_told(xero_sandbox: XeroSandbox) -> None:
    url = xero_sandbox.url + "/sandbox/faults/held"
    refused = httpx.get(url, params={"count": 1, "timeout": 0})
    assert refused.status_code == 408
    assert refused.json()["held"] == []
    assert httpx.get(url, params={"count": "many"}).status_code == 400
    assert httpx.get(url, params={"timeout": 10_000}).status_code == 400
    release = xero_sandbox.url + "/sandbox/faults/release"
    assert httpx.post(release, json={"then": "explode"}).status_code == 400
    assert httpx.post(release).json() == {"released": 0}


def test_clearing_the_rules_lets_held_calls_carry_on(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "hold", "count": 1, "method": "PUT"})
    http = xero_sandbox.http()
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(http.put, "/Contacts", json={"Name": "Carried On"})
        _held(xero_sandbox)
        assert httpx.delete(xero_sandbox.url + "/sandbox/faults").json() == {"rules": []}
        assert put.result().status_code == 200
    assert len(_named(http, "Carried On")) == 1


def test_a_delayed_request_is_answered_and_marked(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "delay", "seconds": 0.01, "count": 1, "method": "PUT"})
    response = xero_sandbox.http().put("/Contacts", json={"Name": "Slow Network"})
    assert response.status_code == 200
    assert response.headers["X-Sandbox-Fault"] == "delay"


def test_corrupt_makes_one_record_malformed(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    http.put("/Contacts", json={"Contacts": [{"Name": "One"}, {"Name": "Two"}]})
    _faults(xero_sandbox, {"kind": "corrupt", "count": 1, "path": "Contacts"})
    response = http.get("/Contacts", params={"page": 1})
    first, second = response.json()["Contacts"]
    assert first["ContactID"] == "not-a-guid"
    assert first["UpdatedDateUTC"] == "/Date(not-a-date)/"
    assert second["Name"] == "Two"
    assert response.headers["X-Sandbox-Fault"] == "corrupt"


def test_rules_are_validated_listed_and_cleared(xero_sandbox: XeroSandbox) -> None:
    bad = [
        {"rules": [{"kind": "explode", "count": 1}]},
        {"rules": [{"kind": "status"}]},
        {"rules": [{"kind": "status", "probability": 2}]},
        {"rules": [{"kind": "status", "count": "many"}]},
        {"rules": [{"kind": "hold", "count": 1, "skip": -1}]},
        {"nope": 1},
    ]
    for body in bad:
        assert httpx.post(xero_sandbox.url + "/sandbox/faults", json=body).status_code == 400
    _faults(xero_sandbox, {"kind": "status", "status": 500, "count": 5, "path": "Invoices"})
    listed = httpx.get(xero_sandbox.url + "/sandbox/faults").json()["rules"]
    assert listed[0]["path"] == "Invoices"
    # A rule for another path does not fire here.
    assert xero_sandbox.http().get("/Organisation").status_code == 200
    cleared = httpx.delete(xero_sandbox.url + "/sandbox/faults").json()
    assert cleared == {"rules": []}
