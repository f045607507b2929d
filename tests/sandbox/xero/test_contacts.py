"""Contacts in the sandbox behave as Xero's do: uniqueness, upsert matching, archiving,
reading by id or number, paging, filters, and the fields only some reads return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conftest import XeroSandbox

DUPLICATE = (
    "The contact name {} is already assigned to another contact. "
    "The contact name must be unique across all active contacts."
)


def _put(http: httpx.Client, *contacts: dict[str, Any], summarize: bool = False) -> httpx.Response:
    params = {} if summarize else {"summarizeErrors": "false"}
    return http.put("/Contacts", params=params, json={"Contacts": list(contacts)})


def _errors(item: dict[str, Any]) -> list[str]:
    return [e["Message"] for e in item.get("ValidationErrors", [])]


def _all(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = http.get("/Contacts", params={**params, "page": page, "pageSize": 1000}).json()
        items += body["Contacts"]
        if page >= body["pagination"]["pageCount"]:
            return items
        page += 1


def test_create_returns_the_full_contact(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    body = _put(
        http,
        {
            "Name": "Felicity Jones DAU0000072",
            "FirstName": "Felicity",
            "LastName": "Jones",
            "ContactNumber": "DAU0000072",
            "EmailAddress": "felicity.jones@example.com",
            "Phones": [{"PhoneType": "MOBILE", "PhoneNumber": "0412 345 678"}],
            "Addresses": [
                {
                    "AddressType": "STREET",
                    "AddressLine1": "1 Main St",
                    "City": "Parramatta",
                    "Region": "NSW",
                    "PostalCode": "2150",
                    "Country": "Australia",
                }
            ],
        },
    ).json()
    [contact] = body["Contacts"]
    assert contact["StatusAttributeString"] == "OK"
    assert contact["ContactStatus"] == "ACTIVE"
    assert contact["ContactNumber"] == "DAU0000072"
    assert contact["UpdatedDateUTC"].startswith("/Date(")
    street = next(a for a in contact["Addresses"] if a["AddressType"] == "STREET")
    assert street["PostalCode"] == "2150"
    assert {p["PhoneType"] for p in contact["Phones"]} == {"DEFAULT", "DDI", "FAX", "MOBILE"}
    assert body["ProviderName"].startswith("Custom connection")


def test_active_names_are_unique_case_insensitively(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    assert _put(http, {"Name": "Jack Smith"}).json()["Contacts"][0]["StatusAttributeString"] == "OK"
    for clash in ("Jack Smith", "JACK SMITH", " jack smith "):
        [item] = _put(http, {"Name": clash}).json()["Contacts"]
        assert item["StatusAttributeString"] == "ERROR"
        assert _errors(item) == [DUPLICATE.format(clash.strip())]


def test_archived_contacts_do_not_hold_their_name(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [old] = _put(http, {"Name": "Sam Lee"}).json()["Contacts"]
    archived = http.post(f"/Contacts/{old['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    assert archived.json()["Contacts"][0]["ContactStatus"] == "ARCHIVED"
    [new] = _put(http, {"Name": "Sam Lee"}).json()["Contacts"]
    assert new["StatusAttributeString"] == "OK"
    assert new["ContactID"] != old["ContactID"]


def test_contact_numbers_are_unique_among_all_contacts(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [first] = _put(http, {"Name": "A One", "ContactNumber": "DAU0000001"}).json()["Contacts"]
    http.post(f"/Contacts/{first['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    [clash] = _put(http, {"Name": "B Two", "ContactNumber": "dau0000001"}).json()["Contacts"]
    assert _errors(clash) == [
        "Another contact has this contact number. Please enter a different contact number."
    ]


def test_post_matches_by_id_then_number_then_name(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [a] = _put(http, {"Name": "Ann Archer", "ContactNumber": "DAU1"}).json()["Contacts"]
    [b] = _put(http, {"Name": "Ben Baker", "EmailAddress": "ben@example.com"}).json()["Contacts"]

    by_id = http.post(
        "/Contacts",
        params={"summarizeErrors": "false"},
        json={"Contacts": [{"ContactID": a["ContactID"], "FirstName": "Ann"}]},
    )
    assert by_id.json()["Contacts"][0]["ContactID"] == a["ContactID"]

    by_number = http.post("/Contacts", json={"ContactNumber": "DAU1", "LastName": "Archer"})
    assert by_number.json()["Contacts"][0]["ContactID"] == a["ContactID"]

    # A POST whose Name is a namesake's silently overwrites that contact, as Xero does.
    by_name = http.post("/Contacts", json={"Name": "ben baker", "EmailAddress": "new@example.com"})
    [overwritten] = by_name.json()["Contacts"]
    assert overwritten["ContactID"] == b["ContactID"]
    assert overwritten["EmailAddress"] == "new@example.com"

    created = http.post("/Contacts", json={"Name": "Cat Cole"}).json()["Contacts"][0]
    assert created["ContactID"] not in {a["ContactID"], b["ContactID"]}
    assert len(_all(http)) == 3


def test_put_never_matches_an_existing_contact(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [a] = _put(http, {"Name": "Dan Dee"}).json()["Contacts"]
    [item] = _put(http, {"ContactID": a["ContactID"], "Name": "Dan Dee"}).json()["Contacts"]
    assert item["StatusAttributeString"] == "ERROR"
    assert "POST /Contacts/" in _errors(item)[0]


def test_update_changes_only_what_is_sent(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [a] = _put(
        http,
        {
            "Name": "Eve Evans",
            "EmailAddress": "eve@example.com",
            "AccountNumber": "DEB-0042",
            "Addresses": [{"AddressType": "POBOX", "AddressLine1": "PO Box 1", "City": "Dubbo"}],
        },
    ).json()["Contacts"]
    response = http.post(
        f"/Contacts/{a['ContactID']}",
        json={
            "Contacts": [
                {
                    "FirstName": "Eve",
                    "Addresses": [
                        {"AddressType": "STREET", "AddressLine1": "2 High St", "City": "Orange"}
                    ],
                }
            ]
        },
    )
    [updated] = response.json()["Contacts"]
    assert updated["FirstName"] == "Eve"
    assert updated["AccountNumber"] == "DEB-0042"
    assert updated["EmailAddress"] == "eve@example.com"
    cities = {x["AddressType"]: x["City"] for x in updated["Addresses"]}
    assert cities == {"POBOX": "Dubbo", "STREET": "Orange"}
    cleared = http.post(f"/Contacts/{a['ContactID']}", json={"EmailAddress": ""}).json()
    assert cleared["Contacts"][0]["EmailAddress"] == ""


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        ({"Name": "x" * 256}, "Name must not be more than 255 characters long."),
        (
            {"Name": "Ok", "ContactNumber": "N" * 51},
            "ContactNumber must not be more than 50 characters long.",
        ),
        ({"Name": "Ok", "EmailAddress": "not-an-email"}, "Email address must be valid."),
        ({"Name": "Ok", "EmailAddress": "zoë@example.com"}, "Email address must be valid."),
        ({"FirstName": "No", "LastName": "Name"}, "The contact name must be specified."),
        ({"Name": "Bad <b>name</b>"}, "The contact name cannot contain the characters '<' or '>'."),
        ({"Name": "Two  spaces"}, "The contact name cannot contain consecutive spaces."),
        (
            {"Name": "Ok", "ContactStatus": "GDPRREQUEST"},
            "The contact status cannot be set to GDPRREQUEST through the API.",
        ),
        ({"Name": "Ok", "Phones": [{"PhoneNumber": "1"}]}, "A phone must have a PhoneType."),
    ],
)
def test_validation_messages(
    xero_sandbox: XeroSandbox, contact: dict[str, Any], message: str
) -> None:
    [item] = _put(xero_sandbox.http(), contact).json()["Contacts"]
    assert item["StatusAttributeString"] == "ERROR"
    assert message in _errors(item)


def test_any_unicode_name_survives(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    names = ["Zoë O'Brien DAU7", "Nguyễn Thị Hoa DAU8", "Chloé 🎓 Martin DAU9", "李小龍 DAU10"]
    for name in names:
        assert _put(http, {"Name": name}).json()["Contacts"][0]["Name"] == name
    assert sorted(c["Name"] for c in _all(http)) == sorted(names)


def test_archived_contacts_are_hidden_unless_asked_for(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [a] = _put(http, {"Name": "Old One", "ContactNumber": "OLD1"}).json()["Contacts"]
    _put(http, {"Name": "New One"})
    http.post(f"/Contacts/{a['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    assert [c["Name"] for c in _all(http)] == ["New One"]
    assert sorted(c["Name"] for c in _all(http, includeArchived="true")) == ["New One", "Old One"]
    # Archived contacts are still read by id and by number.
    assert (
        http.get(f"/Contacts/{a['ContactID']}").json()["Contacts"][0]["ContactStatus"] == "ARCHIVED"
    )
    assert http.get("/Contacts/OLD1").json()["Contacts"][0]["ContactID"] == a["ContactID"]


def test_archived_contacts_cannot_be_edited_or_restored(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [a] = _put(http, {"Name": "Gone Soon"}).json()["Contacts"]
    http.post(f"/Contacts/{a['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    for change in ({"EmailAddress": "x@example.com"}, {"ContactStatus": "ACTIVE"}):
        response = http.post(f"/Contacts/{a['ContactID']}", json=change)
        assert response.status_code == 400
        assert response.json()["Elements"][0]["ValidationErrors"][0]["Message"] == (
            "The specified contact details matched an archived contact"
        )
    again = http.post(f"/Contacts/{a['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    assert again.status_code == 200


def test_unknown_contacts_are_a_plain_text_404(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    for path in (
        "/Contacts/00000000-0000-0000-0000-00000000abcd",
        "/Contacts/NO-SUCH-NUMBER",
    ):
        response = http.get(path)
        assert response.status_code == 404
        assert response.text == "The resource you're looking for cannot be found"
    update = http.post("/Contacts/00000000-0000-0000-0000-00000000abcd", json={"Name": "x"})
    assert update.status_code == 404
    assert http.get("/NoSuchEndpoint").status_code == 404


def test_merged_to_contact_id_only_on_paged_and_single_reads(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [old, new] = _put(http, {"Name": "Felicity Jones"}, {"Name": "Felicity Jones DAU72"}).json()[
        "Contacts"
    ]
    merged = httpx.post(
        f"{xero_sandbox.url}/sandbox/organisations/{xero_sandbox.tenant_id}/contacts/"
        f"{old['ContactID']}/merge",
        json={"TargetContactID": new["ContactID"]},
    )
    assert merged.status_code == 200
    single = http.get(f"/Contacts/{old['ContactID']}").json()["Contacts"][0]
    assert single["ContactStatus"] == "ARCHIVED"
    assert single["MergedToContactID"] == new["ContactID"]
    paged = _all(http, includeArchived="true")
    assert (
        next(c for c in paged if c["ContactID"] == old["ContactID"])["MergedToContactID"]
        == (new["ContactID"])
    )
    unpaged = http.get("/Contacts", params={"includeArchived": "true"}).json()
    assert "pagination" not in unpaged
    assert all("MergedToContactID" not in c for c in unpaged["Contacts"])


def _bulk(xero_sandbox: XeroSandbox, n: int) -> list[dict[str, Any]]:
    http = xero_sandbox.http()
    made: list[dict[str, Any]] = []
    for start in range(0, n, 50):
        batch = [
            {
                "Name": f"Person {i:04d}",
                "ContactNumber": f"DAU{i:07d}",
                "EmailAddress": f"person{i}@example.com",
            }
            for i in range(start, min(n, start + 50))
        ]
        made += _put(http, *batch).json()["Contacts"]
    return made


def test_paging_covers_everything_once(xero_sandbox: XeroSandbox) -> None:
    made = _bulk(xero_sandbox, 250)
    http = xero_sandbox.http()
    seen: list[str] = []
    for page in (1, 2, 3):
        body = http.get("/Contacts", params={"page": page, "pageSize": 100}).json()
        assert body["pagination"] == {
            "page": page,
            "pageSize": 100,
            "pageCount": 3,
            "itemCount": 250,
        }
        seen += [c["ContactID"] for c in body["Contacts"]]
    assert sorted(seen) == sorted(c["ContactID"] for c in made)
    empty = http.get("/Contacts", params={"page": 4, "pageSize": 100}).json()
    assert empty["Contacts"] == []
    # Without page, Xero-style: only the first 100 and no pagination block.
    unpaged = http.get("/Contacts").json()
    assert len(unpaged["Contacts"]) == 100
    # The page size is capped at 1,000.
    capped = http.get("/Contacts", params={"page": 1, "pageSize": 5000}).json()
    assert capped["pagination"]["pageSize"] == 1000
    assert http.get("/Contacts", params={"page": 1, "pageSize": 0}).status_code == 400
    assert http.get("/Contacts", params={"page": "x"}).status_code == 400


def test_order_ids_search_and_summary(xero_sandbox: XeroSandbox) -> None:
    made = _bulk(xero_sandbox, 30)
    http = xero_sandbox.http()
    desc = http.get("/Contacts", params={"page": 1, "order": "Name DESC"}).json()["Contacts"]
    assert desc[0]["Name"] == "Person 0029"
    ids = ",".join(c["ContactID"] for c in made[:3])
    picked = http.get("/Contacts", params={"IDs": ids, "page": 1}).json()["Contacts"]
    assert {c["ContactID"] for c in picked} == {c["ContactID"] for c in made[:3]}
    found = http.get("/Contacts", params={"searchTerm": "PERSON17@EXAMPLE", "page": 1}).json()
    assert [c["Name"] for c in found["Contacts"]] == ["Person 0017"]
    summary = http.get("/Contacts", params={"summaryOnly": "true", "page": 1}).json()["Contacts"]
    assert "Addresses" not in summary[0]
    assert summary[0]["Name"]
    bad_order = http.get("/Contacts", params={"order": "Shoe ASC"})
    assert bad_order.status_code == 400
    assert bad_order.json()["Type"] == "QueryParseException"
    assert http.get("/Contacts", params={"IDs": "nope"}).status_code == 400


def test_if_modified_since_returns_changes_only(xero_sandbox: XeroSandbox) -> None:
    _bulk(xero_sandbox, 5)
    xero_sandbox.clock.advance(600)
    http = xero_sandbox.http()
    mark = datetime.fromtimestamp(xero_sandbox.clock.now(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    [changed] = _put(http, {"Name": "Late Comer"}).json()["Contacts"]
    response = http.get("/Contacts", params={"page": 1}, headers={"If-Modified-Since": mark})
    assert [c["ContactID"] for c in response.json()["Contacts"]] == [changed["ContactID"]]
    ignored = http.get("/Contacts", params={"page": 1}, headers={"If-Modified-Since": "garbage"})
    assert len(ignored.json()["Contacts"]) == 6


def test_json_only(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    response = http.get("/Contacts", headers={"Accept": "*/*"})
    assert response.status_code == 406
    assert "application/json" in response.text


def test_organisation_and_chart_of_accounts(xero_sandbox: XeroSandbox) -> None:
    http = xero_sandbox.http()
    [org] = http.get("/Organisation").json()["Organisations"]
    assert org["Name"] == "Demo Training Co"
    assert org["OrganisationID"] == xero_sandbox.tenant_id
    assert org["BaseCurrency"] == "AUD"
    accounts = http.get("/Accounts").json()["Accounts"]
    by_code = {a["Code"]: a for a in accounts}
    assert by_code["200"]["Type"] == "REVENUE"
    assert by_code["090"]["Type"] == "BANK"
    banks = http.get("/Accounts", params={"where": 'Type=="BANK"'}).json()["Accounts"]
    assert {a["Code"] for a in banks} == {"090", "091"}
    one = http.get(f"/Accounts/{by_code['200']['AccountID']}").json()["Accounts"]
    assert [a["Code"] for a in one] == ["200"]
    assert http.get("/Accounts/00000000-0000-0000-0000-000000000000").status_code == 404
