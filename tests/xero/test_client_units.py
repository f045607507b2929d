"""Client behaviour that is awkward to provoke from the sandbox, with ``httpx.MockTransport``:
answers that cannot be read, results out of order, Retry-After as a date, connection resets,
a server that ignores ``order``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from learnerledger.errors import (
    AuthExpired,
    PermissionDenied,
    TransientError,
    UnexpectedResponse,
)
from learnerledger.store import Store, load_secret_box
from learnerledger.xero import RetryPolicy, XeroClient
from learnerledger.xero.client import _retry_after
from learnerledger.xero.connections import TokenSet, save_connection
from learnerledger.xero.ratelimit import Limits, RateBudget
from learnerledger.xero.wire import format_date, from_ms

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def make_client(store: Store, tmp_path: Path) -> Iterator[Callable[[Handler], XeroClient]]:
    connection = save_connection(
        store,
        load_secret_box(tmp_path / "home"),
        tenant_id="3f7b9c2e-5a1d-4e8f-9b6c-0d2a4e6f8a10",
        name="Demo Training Co",
        base_url="https://xero.invalid",
        tokens=TokenSet("custom_connection", "id", "secret"),
    )
    clients: list[XeroClient] = []
    now = [1_800_000_000.0]

    def make(handler: Handler) -> XeroClient:
        http = httpx.Client(transport=httpx.MockTransport(handler), timeout=5)
        budget = RateBudget(
            store,
            connection.id,
            limits=Limits(minute=1000, day=1000),
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
        client = XeroClient(
            connection,
            http,
            auth=_Bearer(),
            budget=budget,
            retry=RetryPolicy(attempts=3),
            sleep=lambda s: None,
            owns_http=True,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class _Bearer(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = "Bearer test"
        yield request


def _contact(n: int, updated_ms: int) -> dict[str, Any]:
    return {
        "ContactID": f"00000000-0000-0000-0000-{n:012d}",
        "Name": f"C{n}",
        "ContactNumber": f"N{n}",
        "UpdatedDateUTC": format_date(from_ms(updated_ms)),
    }


def test_retry_after_may_be_seconds_or_a_date() -> None:
    assert _retry_after("17") == 17
    assert _retry_after(None) == 60
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert _retry_after(format_datetime(later, usegmt=True)) == pytest.approx(120, abs=2)
    assert _retry_after("soon") == 60


def test_a_second_401_is_auth_expired(make_client: Any) -> None:
    client = make_client(lambda r: httpx.Response(401, json={"Detail": "TokenExpired"}))
    with pytest.raises(AuthExpired, match="connect xero"):
        client.request("GET", "Organisation")


def test_403_names_the_scopes_doc(make_client: Any) -> None:
    client = make_client(lambda r: httpx.Response(403, json={"Title": "Forbidden"}))
    with pytest.raises(PermissionDenied, match=r"docs/connecting-xero\.md"):
        client.request("GET", "Invoices")


def test_an_answer_that_is_not_json_is_reported(make_client: Any) -> None:
    client = make_client(lambda r: httpx.Response(200, text="<Response>xml</Response>"))
    with pytest.raises(UnexpectedResponse, match="could not be read"):
        client.request("GET", "Organisation")


def test_connection_resets_are_retried_then_reported(make_client: Any) -> None:
    attempts = []

    def reset(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("connection reset by peer")

    client = make_client(reset)
    with pytest.raises(TransientError, match="after 3 attempts") as info:
        client.request("GET", "Organisation")
    assert len(attempts) == 3
    assert "nothing is lost" in str(info.value)


def test_results_out_of_order_are_matched_by_contact_number(make_client: Any) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["Contacts"]
        results = [{**_contact(i, 1_000), **item} for i, item in enumerate(sent)]
        results[0]["StatusAttributeString"] = "OK"
        results[1]["StatusAttributeString"] = "OK"
        return httpx.Response(200, json={"Contacts": list(reversed(results))})

    client = make_client(answer)
    results = client.create_contacts(
        [{"Name": "A", "ContactNumber": "N-A"}, {"Name": "B", "ContactNumber": "N-B"}], "key"
    )
    assert [r.record.contact_number for r in results if r.record] == ["N-A", "N-B"]


def test_a_result_count_that_does_not_match_is_refused(make_client: Any) -> None:
    client = make_client(lambda r: httpx.Response(200, json={"Contacts": []}))
    with pytest.raises(UnexpectedResponse, match="one result per item"):
        client.create_contacts([{"Name": "A"}], "key")


def test_a_server_ignoring_order_is_paged_by_number(make_client: Any) -> None:
    records = [_contact(n, 5_000_000 - n * 1000) for n in range(5)]  # newest first
    seen: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        page, size = int(params["page"]), int(params["pageSize"])
        chunk = records[(page - 1) * size : page * size]
        return httpx.Response(200, json={"Contacts": chunk})

    client = make_client(answer)
    got = [c.contact_id for p in client.iter_contacts(page_size=2) for c in p.records]
    assert got == [r["ContactID"] for r in records]
    assert [s["page"] for s in seen] == ["1", "2", "3"]
    assert all("if-modified-since" not in s for s in seen)
