"""Write requests: batches are not atomic, errors are reported per item or summarised as
Xero does, and bad input is a Xero-shaped 400, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import XeroSandbox
from learnerledger.sandbox.xero import Limits
from learnerledger.sandbox.xero.api import MAX_BODY_BYTES

ROOMY = Limits(minute=100_000, day=1_000_000)


@pytest.fixture
def roomy(make_xero_sandbox: Any) -> httpx.Client:
    """A sandbox whose rate limits do not get in the way of many generated requests."""
    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    return sandbox.http()


def _count(http: httpx.Client) -> int:
    return int(
        http.get("/Contacts", params={"page": 1, "includeArchived": "true"}).json()["pagination"][
            "itemCount"
        ]
    )


BATCH = [{"Name": "Good One"}, {"Name": "Bad", "EmailAddress": "nope"}, {"Name": "Good Two"}]


def test_default_summarises_errors_but_keeps_the_valid_contacts(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    response = http.put("/Contacts", json={"Contacts": BATCH})
    assert response.status_code == 400
    body = response.json()
    assert body["ErrorNumber"] == 10
    assert body["Type"] == "ValidationException"
    assert body["Message"] == "A validation exception occurred"
    [element] = body["Elements"]
    assert element["Name"] == "Bad"
    assert element["ValidationErrors"] == [{"Message": "Email address must be valid."}]
    # Not atomic: the two valid contacts were saved although the request "failed".
    assert _count(http) == 2


def test_summarize_errors_false_reports_every_item(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    response = http.put("/Contacts", params={"summarizeErrors": "false"}, json={"Contacts": BATCH})
    assert response.status_code == 200
    items = response.json()["Contacts"]
    assert [i["StatusAttributeString"] for i in items] == ["OK", "ERROR", "OK"]
    assert [i["Name"] for i in items] == ["Good One", "Bad", "Good Two"]
    assert items[1]["HasValidationErrors"] is True
    assert "ContactID" in items[0]
    assert "ContactID" not in items[1]
    assert _count(http) == 2


def test_one_batch_can_collide_with_itself(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    response = http.put(
        "/Contacts",
        params={"SummarizeErrors": "False"},
        json={"Contacts": [{"Name": "Twin"}, {"Name": "twin"}]},
    )
    assert [i["StatusAttributeString"] for i in response.json()["Contacts"]] == ["OK", "ERROR"]


def test_fifty_contacts_in_one_request(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    batch = [{"Name": f"Learner {i}", "ContactNumber": f"N{i}"} for i in range(50)]
    response = http.put("/Contacts", params={"summarizeErrors": "false"}, json={"Contacts": batch})
    assert [i["ContactNumber"] for i in response.json()["Contacts"]] == [f"N{i}" for i in range(50)]


def _post_raw(xero_sandbox: XeroSandbox, content: bytes) -> httpx.Response:
    http = xero_sandbox.http()
    return http.put("/Contacts", content=content, headers={"Content-Type": "application/json"})


def test_malformed_json_is_post_data_invalid(xero_sandbox: XeroSandbox) -> None:
    response = _post_raw(xero_sandbox, b'{"Contacts": [{"Name": "x",}]')
    assert response.status_code == 400
    body = response.json()
    assert (body["ErrorNumber"], body["Type"]) == (14, "PostDataInvalidException")
    assert "Unexpected character encountered while parsing value" in body["Message"]


def test_wrong_types_fail_the_whole_request(xero_sandbox: XeroSandbox) -> None:
    cases = {
        b'{"Contacts": [{"Name": "Fine"}, {"Name": {"x": 1}}]}': "Path 'Contacts[1].Name'",
        b'{"Contacts": [{"Name": "A", "ContactID": "abc"}]}': "System.Guid",
        b'{"Contacts": [{"Name": "A", "ContactStatus": "GONE"}]}': "ContactStatus",
        b'{"Contacts": {"Name": "A"}}': "JSON array",
        b'{"Contacts": [{"Name": "A", "Phones": [{"PhoneType": "PAGER"}]}]}': "PhoneType",
        b'[{"Name": "A"}]': "Unexpected character",
    }
    for content, fragment in cases.items():
        response = _post_raw(xero_sandbox, content)
        assert response.status_code == 400, content
        assert response.json()["Type"] == "PostDataInvalidException"
        assert fragment in response.json()["Message"], (content, response.json())
    assert _count(xero_sandbox.http()) == 0  # nothing of those requests was saved


def test_numbers_and_booleans_become_text_as_in_dotnet(xero_sandbox: XeroSandbox) -> None:
    response = _post_raw(xero_sandbox, b'{"Name": 12345, "AccountNumber": true}')
    [contact] = response.json()["Contacts"]
    assert (contact["Name"], contact["AccountNumber"]) == ("12345", "True")


def test_empty_body_says_no_data(xero_sandbox: XeroSandbox) -> None:
    for content in (b"", b'{"Contacts": []}'):
        response = _post_raw(xero_sandbox, content)
        assert response.status_code == 400
        assert response.json()["Message"].startswith("No data has been processed for this endpoint")


def test_oversized_body_is_refused(xero_sandbox: XeroSandbox) -> None:
    filler = "x" * 200
    contacts = [
        {"Name": f"N{i}", "BankAccountDetails": filler} for i in range(MAX_BODY_BYTES // 200)
    ]
    content = json.dumps({"Contacts": contacts}).encode()
    assert len(content) > MAX_BODY_BYTES
    response = _post_raw(xero_sandbox, content)
    assert response.status_code == 400
    assert "3.5 MB" in response.json()["Message"]
    assert _count(xero_sandbox.http()) == 0


def test_method_not_allowed(xero_sandbox: XeroSandbox) -> None:
    response = xero_sandbox.http().delete("/Contacts")
    assert response.status_code == 405
    assert response.json()["Type"] == "MethodNotAllowedException"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Name",
                    "ContactID",
                    "ContactNumber",
                    "EmailAddress",
                    "Phones",
                    "Addresses",
                    "ContactStatus",
                    "PhoneType",
                    "AddressType",
                    "Contacts",
                    "ContactPersons",
                    "IsCustomer",
                    "FirstName",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_json, method=st.sampled_from(["PUT", "POST"]))
def test_no_body_breaks_the_server(roomy: httpx.Client, body: Any, method: str) -> None:
    response = roomy.request(
        method, "/Contacts", params={"summarizeErrors": "false"}, content=json.dumps(body)
    )
    assert response.status_code in (200, 400), response.text
    response.json()


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "page",
                "pageSize",
                "where",
                "order",
                "IDs",
                "searchTerm",
                "summaryOnly",
                "includeArchived",
            ]
        ),
        st.text(max_size=30),
        max_size=4,
    ),
    since=st.none() | st.text(max_size=30),
)
def test_no_query_breaks_the_server(
    roomy: httpx.Client, params: dict[str, str], since: str | None
) -> None:
    headers = {}
    if since and since == since.strip() and since.isprintable() and since.isascii():
        headers["If-Modified-Since"] = since
    response = roomy.get("/Contacts", params=params, headers=headers)
    assert response.status_code in (200, 400), response.text
