"""What a person does in Xero's web app: the Contacts screen and Merge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import XeroSandbox


def _two(sandbox: XeroSandbox) -> tuple[dict[str, Any], dict[str, Any]]:
    http = sandbox.http()
    made = http.put(
        "/Contacts",
        json={
            "Contacts": [
                {"Name": "Jones, Felicity", "EmailAddress": "fj@example.com"},
                {"Name": "Felicity Jones DAU0000072", "ContactNumber": "DAU0000072"},
            ]
        },
    ).json()["Contacts"]
    return made[0], made[1]


def _merge(sandbox: XeroSandbox, source: str, target: str) -> httpx.Response:
    return httpx.post(
        f"{sandbox.url}/sandbox/organisations/{sandbox.tenant_id}/contacts/{source}/merge",
        json={"TargetContactID": target},
    )


def test_merge_archives_the_source_and_points_it_at_the_target(xero_sandbox: XeroSandbox) -> None:
    legacy, survivor = _two(xero_sandbox)
    response = _merge(xero_sandbox, legacy["ContactID"], survivor["ContactID"])
    assert response.json() == {
        "ContactID": legacy["ContactID"],
        "ContactStatus": "ARCHIVED",
        "MergedToContactID": survivor["ContactID"],
    }
    http = xero_sandbox.http()
    target = http.get(f"/Contacts/{survivor['ContactID']}").json()["Contacts"][0]
    assert target["ContactStatus"] == "ACTIVE"
    assert "MergedToContactID" not in target


@pytest.mark.parametrize("case", ["itself", "into-archived", "archived-source", "unknown"])
def test_merges_xero_would_not_offer(xero_sandbox: XeroSandbox, case: str) -> None:
    legacy, survivor = _two(xero_sandbox)
    if case == "itself":
        response = _merge(xero_sandbox, legacy["ContactID"], legacy["ContactID"])
        assert "into itself" in response.json()["error"]
    elif case == "into-archived":
        _merge(xero_sandbox, legacy["ContactID"], survivor["ContactID"])
        response = _merge(xero_sandbox, survivor["ContactID"], legacy["ContactID"])
        assert "merge into an active contact" in response.json()["error"]
    elif case == "archived-source":
        _merge(xero_sandbox, legacy["ContactID"], survivor["ContactID"])
        response = _merge(xero_sandbox, legacy["ContactID"], survivor["ContactID"])
        assert "archived and cannot be merged" in response.json()["error"]
    else:
        response = _merge(xero_sandbox, legacy["ContactID"], "00000000-0000-0000-0000-000000000009")
        assert "No contact" in response.json()["error"]
    assert response.status_code == 400


def test_the_contacts_screen_pages_alphabetically_and_merges_by_form(
    xero_sandbox: XeroSandbox,
) -> None:
    legacy, survivor = _two(xero_sandbox)
    base = f"{xero_sandbox.url}/sandbox/organisations/{xero_sandbox.tenant_id}/contacts"
    listing = httpx.get(base)
    assert listing.status_code == 200
    assert listing.text.index("Felicity Jones DAU0000072") < listing.text.index("Jones, Felicity")
    searched = httpx.get(base, params={"q": "fj@example"})
    assert "Jones, Felicity" in searched.text
    assert "DAU0000072" not in searched.text
    page = httpx.get(f"{base}/{legacy['ContactID']}")
    assert "Merge" in page.text
    refused = httpx.post(f"{base}/{legacy['ContactID']}/merge", data={"target": "nonsense"})
    assert refused.status_code == 303
    assert "notice=" in refused.headers["location"]
    done = httpx.post(f"{base}/{legacy['ContactID']}/merge", data={"target": survivor["ContactID"]})
    assert done.status_code == 303
    after = httpx.get(f"{base}/{legacy['ContactID']}")
    assert "Merged into" in after.text
    index = httpx.get(xero_sandbox.url + "/sandbox")
    assert "Demo Training Co" in index.text
    assert "1 archived" in index.text


def test_clock_and_organisations_controls(xero_sandbox: XeroSandbox) -> None:
    before = httpx.get(xero_sandbox.url + "/sandbox/clock").json()
    after = httpx.post(xero_sandbox.url + "/sandbox/clock", json={"advance_seconds": 120}).json()
    assert after["offset_seconds"] == before["offset_seconds"] + 120
    assert (
        httpx.post(xero_sandbox.url + "/sandbox/clock", json={"advance_seconds": -5}).status_code
        == 400
    )
    created = httpx.post(xero_sandbox.url + "/sandbox/organisations", json={"Name": "North Campus"})
    assert "North Campus" in {o["name"] for o in created.json()}
    assert httpx.post(xero_sandbox.url + "/sandbox/organisations", json={}).status_code == 400
