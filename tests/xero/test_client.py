"""The client over real HTTP against the Xero sandbox: 429 storms and Xero's rate headers,
bounded retries of 5xx and lost responses, batches of writes mapped back item by item, and the
lookups the learner sync relies on."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from conftest import XeroSandbox
from learnerledger.errors import NotFound, ServerError, ValidationFailed
from learnerledger.sandbox.xero import Limits
from learnerledger.store.xero_tables import xero_budget_calls, xero_budget_state
from learnerledger.xero import ItemResult, Retrying, Waiting


def _faults(sandbox: XeroSandbox, *rules: dict[str, Any]) -> None:
    response = httpx.post(sandbox.url + "/sandbox/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


def _statuses(sandbox: XeroSandbox) -> list[int]:
    return [e.status for e in sandbox.recorder.api_exchanges()]


def _contact(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "Name": f"Learner {n} RI-{n:04d}",
        "FirstName": "Learner",
        "LastName": str(n),
        "ContactNumber": f"RI-{n:04d}",
        "EmailAddress": f"learner{n}@example.edu.au",
        **extra,
    }


def test_a_429_storm_is_waited_out_and_the_call_succeeds(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    events: list[Any] = []
    client = connect_xero(xero_sandbox).client(on_event=events.append)
    _faults(xero_sandbox, {"kind": "status", "status": 429, "count": 5, "retry_after": 7})
    start = xero_sandbox.clock.now()
    answer = client.request("GET", "Organisation")
    assert answer["Organisations"]
    assert _statuses(xero_sandbox) == [429] * 5 + [200]
    waits = [e for e in events if isinstance(e, Waiting)]
    assert [w.limit for w in waits] == ["minute"] * 5
    assert all(w.seconds == pytest.approx(7, abs=0.5) for w in waits)
    # Each Retry-After was waited out in full (real time may add to it, never take from it).
    assert xero_sandbox.clock.now() - start >= 35 - 0.5


def test_xero_s_rate_headers_prevent_429s_the_local_count_would_cause(
    make_xero_sandbox: Any, connect_xero: Any
) -> None:
    # Xero allows 5 calls a minute here; the local budget wrongly believes 60.
    sandbox = make_xero_sandbox(limits=Limits(concurrency=5, minute=5, day=5000))
    client = connect_xero(sandbox).client()
    started = time.monotonic()
    for _ in range(12):
        client.request("GET", "Organisation")
    elapsed = time.monotonic() - started
    assert _statuses(sandbox) == [200] * 12  # X-MinLimit-Remaining: 0 was honoured
    # Two minutes had to pass: what real time did not cover was waited, and no more.
    assert 120 - elapsed - 2 <= client.budget.waited_seconds <= 120 + 2


def test_a_minute_limit_429_from_xero_pauses_and_resumes(
    make_xero_sandbox: Any, connect_xero: Any
) -> None:
    sandbox = make_xero_sandbox(limits=Limits(concurrency=5, minute=3, day=5000))
    setup = connect_xero(sandbox)
    other = setup.client()
    for _ in range(3):  # another program spends the minute; this client has not seen it
        other.request("GET", "Organisation")
    with setup.store.transaction() as conn:
        conn.execute(xero_budget_calls.delete())
        conn.execute(xero_budget_state.delete())
    client = setup.client()
    started = time.monotonic()
    client.request("GET", "Organisation")
    elapsed = time.monotonic() - started
    assert _statuses(sandbox)[3:] == [429, 200]
    # Xero's Retry-After (the rest of the minute) was waited out, and no more than that.
    assert 60 - elapsed - 1 <= client.budget.waited_seconds <= 60 + 1


def test_server_errors_are_retried_with_backoff_then_reported(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    events: list[Any] = []
    client = connect_xero(xero_sandbox, xero_retries=3).client(on_event=events.append)
    _faults(xero_sandbox, {"kind": "status", "status": 500, "count": 2})
    assert client.request("GET", "Organisation")["Organisations"]
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.reason for r in retries] == ["HTTP 500", "HTTP 500"]
    assert retries[1].delay > retries[0].delay * 0.49  # grows, with jitter
    assert retries[0].delay <= 0.5
    _faults(xero_sandbox, {"kind": "status", "status": 503, "count": 10})
    with pytest.raises(ServerError) as info:
        client.request("GET", "Organisation")
    assert "503" in str(info.value)
    assert "Demo Training Co" in str(info.value)
    assert "nothing is lost" in str(info.value)
    assert _statuses(xero_sandbox).count(503) == 3


def test_a_lost_response_to_a_write_is_retried_without_a_duplicate(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    events: list[Any] = []
    client = connect_xero(xero_sandbox).client(on_event=events.append)
    # The write is committed, then the connection closes without the answer.
    _faults(xero_sandbox, {"kind": "drop", "count": 1, "method": "PUT", "path": "Contacts"})
    [result] = client.create_contacts([_contact(1)], idempotency_key="journal-step-1")
    assert result.ok
    assert [e.reason for e in events if isinstance(e, Retrying)] == [
        "RemoteProtocolError, no answer"
    ]
    found = client.find_contacts_by_number("RI-0001")
    assert [c.contact_id for c in found] == [result.record_id]


def test_a_partly_failed_batch_is_mapped_item_by_item(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    client = connect_xero(xero_sandbox).client()
    [existing] = client.create_contacts([_contact(7)], idempotency_key="k-0")
    items = [
        _contact(1),
        {**_contact(2), "Name": "Learner 7 RI-0007"},  # a namesake: PUT refuses it
        _contact(3, EmailAddress="not an email"),
        _contact(4),
    ]
    results = client.create_contacts(items, idempotency_key="k-1")
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [r.status for r in results] == ["OK", "ERROR", "ERROR", "OK"]
    assert [r.sent for r in results] == items
    assert all(isinstance(r, ItemResult) for r in results)
    assert results[0].record is not None
    assert results[0].record.contact_number == "RI-0001"
    assert results[1].record is None
    assert results[1].messages == [
        "The contact name Learner 7 RI-0007 is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    ]
    assert results[2].messages == ["Email address must be valid."]
    assert results[3].record_id
    assert results[3].record_id != results[0].record_id
    # The namesake was not overwritten (PUT never matches by name).
    assert client.get_contact(existing.record_id or "").email == "learner7@example.edu.au"
    put = [e for e in xero_sandbox.recorder.api_exchanges() if e.method == "PUT"]
    assert all("summarizeErrors=false" in e.query for e in put)
    assert {e.request_headers["idempotency-key"] for e in put} == {"k-0", "k-1"}


def test_updates_name_the_contact_and_report_refusals(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    client = connect_xero(xero_sandbox).client()
    [a, b] = client.create_contacts([_contact(1), _contact(2)], idempotency_key="c-1")
    result = client.update_contact(a.record_id or "", {"EmailAddress": "new@example.edu.au"}, "u-1")
    assert result.ok
    assert result.record
    assert result.record.email == "new@example.edu.au"
    archived = client.update_contact(b.record_id or "", {"ContactStatus": "ARCHIVED"}, "u-2")
    assert archived.record
    assert archived.record.archived
    refused = client.update_contact(b.record_id or "", {"FirstName": "Changed"}, "u-3")
    assert not refused.ok
    assert refused.messages == ["The specified contact details matched an archived contact"]
    batch = client.update_contacts(
        [
            {"ContactID": a.record_id, "LastName": "One"},
            {"ContactID": b.record_id, "LastName": "x"},
        ],
        "u-4",
    )
    assert [r.status for r in batch] == ["OK", "ERROR"]
    with pytest.raises(ValueError, match="GUID"):
        client.update_contacts([{"Name": "Learner 1 RI-0001", "LastName": "Name-matched"}], "u-5")
    with pytest.raises(ValueError, match="ContactID"):
        client.create_contacts([{"ContactID": a.record_id, "Name": "x"}], "u-6")
    with pytest.raises(ValueError, match="1 to 50"):
        client.create_contacts([_contact(n) for n in range(51)], "u-7")
    with pytest.raises(ValueError, match="Idempotency-Key"):
        client.create_contacts([_contact(9)], "")


def test_lookups_by_number_include_archived_and_quote_safely(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    client = connect_xero(xero_sandbox).client()
    [a] = client.create_contacts([_contact(1, ContactNumber='RI "1"')], idempotency_key="c-1")
    client.update_contact(a.record_id or "", {"ContactStatus": "ARCHIVED"}, "u-1")
    [found] = client.find_contacts_by_number('RI "1"')
    assert found.contact_id == a.record_id
    assert found.archived
    assert client.find_contacts_by_number("RI-9999") == []
    with pytest.raises(NotFound, match="no such record"):
        client.get_contact("00000000-0000-0000-0000-000000000001")


def test_xero_s_own_validation_messages_are_carried(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    client = connect_xero(xero_sandbox).client()
    with pytest.raises(ValidationFailed) as info:
        client.request("GET", "Contacts", params={"where": "Nonsense==1", "page": "1"})
    assert info.value.messages
    assert "No property or field 'Nonsense'" in str(info.value)
    assert info.value.request == "GET /Contacts"
