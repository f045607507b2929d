"""Fault injection: failures on purpose, repeatable, and marked as such."""

from __future__ import annotations

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


def test_a_dropped_answer_still_committed_the_write(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "drop", "count": 1, "method": "PUT"})
    http = xero_sandbox.http()
    # The connection closes without the answer: a transport error, with no timeout involved.
    with pytest.raises(httpx.RemoteProtocolError):
        http.put("/Contacts", json={"Name": "Lost Answer"})
    found = http.get("/Contacts", params={"where": 'Name=="Lost Answer"', "page": 1})
    assert len(found.json()["Contacts"]) == 1
    [dropped] = [e for e in xero_sandbox.recorder.api_exchanges() if e.method == "PUT"]
    assert dropped.response_headers["x-sandbox-fault"] == "drop"


def test_a_delayed_request_has_not_happened_yet(xero_sandbox: XeroSandbox) -> None:
    _faults(xero_sandbox, {"kind": "delay", "seconds": 1.5, "count": 1, "method": "PUT"})
    http = xero_sandbox.http()
    with pytest.raises(httpx.ReadTimeout):
        http.put("/Contacts", json={"Name": "Slow Request"}, timeout=0.3)
    # Seen straight after the client gave up, the contact does not exist yet.
    found = http.get("/Contacts", params={"where": 'Name=="Slow Request"', "page": 1})
    assert found.json()["Contacts"] == []


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
