"""``Idempotency-Key``: a repeated request replays the stored answer instead of writing again."""

from __future__ import annotations

import httpx

from conftest import XeroSandbox

BODY = {"Contacts": [{"Name": "Once Only", "ContactNumber": "DAU0000099"}]}


def _put(http: httpx.Client, key: str, body: object = BODY) -> httpx.Response:
    return http.put(
        "/Contacts",
        params={"summarizeErrors": "false"},
        json=body,
        headers={"Idempotency-Key": key},
    )


def _count(http: httpx.Client) -> int:
    return int(http.get("/Contacts", params={"page": 1}).json()["pagination"]["itemCount"])


def test_a_replay_returns_the_stored_answer_and_writes_nothing(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    first = _put(http, "sync-run-7-batch-1")
    second = _put(http, "sync-run-7-batch-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert _count(http) == 1
    # Replays still count against the rate limit.
    assert int(second.headers["X-MinLimit-Remaining"]) < int(first.headers["X-MinLimit-Remaining"])


def test_a_key_used_with_another_request_is_refused(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    _put(http, "key-1")
    other = _put(http, "key-1", {"Contacts": [{"Name": "Someone Else"}]})
    assert other.status_code == 400
    assert other.json()["Message"] == "Idempotency Key: key-1 is used with a different request."
    assert _count(http) == 1


def test_error_answers_are_replayed_too(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    body = {"Contacts": [{"Name": "Broken", "EmailAddress": "bad"}]}
    first = http.put("/Contacts", json=body, headers={"Idempotency-Key": "err"})
    second = http.put("/Contacts", json=body, headers={"Idempotency-Key": "err"})
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()


def test_keys_expire_after_six_minutes(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    _put(http, "short-lived")
    xero_sandbox.clock.advance(361)
    again = _put(http, "short-lived")
    # Processed afresh: the contact number is now taken.
    assert again.json()["Contacts"][0]["StatusAttributeString"] == "ERROR"
    assert _count(http) == 1


def test_key_length_is_limited_and_reads_ignore_keys(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    first = _put(http, "shared-key")
    assert first.json()["Contacts"][0]["StatusAttributeString"] == "OK"
    too_long = _put(http, "k" * 129)
    assert too_long.status_code == 400
    assert "128" in too_long.json()["Message"]
    # GET ignores the header.
    got = http.get("/Contacts", params={"page": 1}, headers={"Idempotency-Key": "shared-key"})
    assert got.status_code == 200
