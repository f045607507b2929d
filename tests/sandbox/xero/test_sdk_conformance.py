"""Conformance: Xero's official Python SDK (xero-python), pointed at the sandbox over HTTP,
works as it does against Xero: token, connections, batch create with per-item errors, the
duplicate-name error, paging, where (apostrophes included), lookup by ContactNumber,
idempotent replay, archiving, and RateLimitException past the minute limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from xero_python.accounting import AccountingApi, Contact, Contacts, Phone
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import (
    AccountingBadRequestException,
    NotFoundException,
    RateLimitException,
)
from xero_python.identity import IdentityApi

from conftest import CLIENT_ID, CLIENT_SECRET, XeroSandbox
from learnerledger.sandbox.xero import Limits


class SDK:
    def __init__(self, sandbox: XeroSandbox) -> None:
        self.saved: dict[str, Any] = {}
        self.client = ApiClient(
            Configuration(
                oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
            ),
            pool_threads=1,
        )
        self.client.oauth2_token_getter(lambda: self.saved.get("token"))
        self.client.oauth2_token_saver(lambda token: self.saved.update(token=token))
        self.accounting = AccountingApi(self.client, base_url=sandbox.api_url)
        self.identity = IdentityApi(self.client, base_url=sandbox.url)


@pytest.fixture
def sdk_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    made: list[SDK] = []

    def make(sandbox: XeroSandbox) -> SDK:
        # The SDK keeps its token URL in a class attribute; point it at the sandbox.
        monkeypatch.setattr(
            TokenApi, "client_credentials_token_url", sandbox.url + "/connect/token"
        )
        sdk = SDK(sandbox)
        sdk.client.get_client_credentials_token()
        made.append(sdk)
        return sdk

    yield make
    for sdk in made:
        sdk.client.rest_client.pool_manager.clear()  # the SDK has no close(); free its sockets


@pytest.fixture
def sdk(sdk_for: Any, xero_sandbox: XeroSandbox) -> SDK:
    made: SDK = sdk_for(xero_sandbox)
    return made


def test_token_and_connections(sdk: SDK, xero_sandbox: XeroSandbox) -> None:
    assert sdk.saved["token"]["token_type"] == "Bearer"
    [connection] = sdk.identity.get_connections()
    assert str(connection.tenant_id) == xero_sandbox.tenant_id
    assert connection.tenant_name == "Demo Training Co"


def test_batch_create_with_per_item_errors(sdk: SDK, xero_sandbox: XeroSandbox) -> None:
    batch = Contacts(
        contacts=[
            Contact(
                name="Felicity Jones DAU0000072",
                first_name="Felicity",
                last_name="Jones",
                contact_number="DAU0000072",
                email_address="felicity@example.com",
                phones=[Phone(phone_type="MOBILE", phone_number="0412 345 678")],
            ),
            Contact(name="Felicity Jones DAU0000072"),
            Contact(name="Mary O'Brien DAU0000073", contact_number="DAU0000073"),
        ]
    )
    result = sdk.accounting.create_contacts("", batch, summarize_errors=False)
    statuses = [c.status_attribute_string for c in result.contacts]
    assert statuses == ["OK", "ERROR", "OK"]
    assert result.contacts[1].validation_errors[0].message == (
        "The contact name Felicity Jones DAU0000072 is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    )
    assert result.contacts[0].updated_date_utc is not None


def test_duplicate_name_error_text_when_summarised(sdk: SDK) -> None:
    sdk.accounting.create_contacts("", Contacts(contacts=[Contact(name="Buzz Lightyear")]))
    with pytest.raises(AccountingBadRequestException) as info:
        sdk.accounting.create_contacts("", Contacts(contacts=[Contact(name="Buzz Lightyear")]))
    assert info.value.reason == (
        "The contact name Buzz Lightyear is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    )


def test_paging_where_and_lookup_by_number(sdk: SDK) -> None:
    contacts = [Contact(name=f"Learner {i:03d}", contact_number=f"DAU{i:07d}") for i in range(45)]
    contacts.append(Contact(name="Mary O'Brien", contact_number="OBR1"))
    sdk.accounting.create_contacts("", Contacts(contacts=contacts), summarize_errors=False)
    seen = []
    page = 1
    while True:
        result = sdk.accounting.get_contacts("", page=page, page_size=20)
        seen += [c.name for c in result.contacts]
        if page >= result.pagination.page_count:
            break
        page += 1
    assert len(seen) == len(set(seen)) == 46
    assert result.pagination.item_count == 46
    found = sdk.accounting.get_contacts("", where='Name=="Mary O\'Brien"', page=1)
    assert [c.contact_number for c in found.contacts] == ["OBR1"]
    by_number = sdk.accounting.get_contact_by_contact_number("", "DAU0000007")
    assert by_number.contacts[0].name == "Learner 007"
    with pytest.raises(NotFoundException):
        sdk.accounting.get_contact_by_contact_number("", "NOT-THERE")


def test_idempotent_replay(sdk: SDK) -> None:
    batch = Contacts(contacts=[Contact(name="Only Once", contact_number="ONCE1")])
    first = sdk.accounting.create_contacts("", batch, summarize_errors=False, idempotency_key="k-1")
    second = sdk.accounting.create_contacts(
        "", batch, summarize_errors=False, idempotency_key="k-1"
    )
    assert first.contacts[0].contact_id == second.contacts[0].contact_id
    everyone = sdk.accounting.get_contacts("", page=1, include_archived=True)
    assert [c.name for c in everyone.contacts] == ["Only Once"]


def test_archive_a_contact(sdk: SDK) -> None:
    made = sdk.accounting.create_contacts("", Contacts(contacts=[Contact(name="Old Contact")]))
    contact_id = made.contacts[0].contact_id
    archived = sdk.accounting.update_contact(
        "", contact_id, Contacts(contacts=[Contact(contact_status="ARCHIVED")])
    )
    assert archived.contacts[0].contact_status == "ARCHIVED"
    assert sdk.accounting.get_contacts("", page=1).contacts == []
    assert len(sdk.accounting.get_contacts("", page=1, include_archived=True).contacts) == 1


def test_rate_limit_exception_past_the_minute_limit(sdk_for: Any, make_xero_sandbox: Any) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(limits=Limits(minute=3))
    client = sdk_for(sandbox)
    # urllib3, under the SDK, would otherwise honour Retry-After by sleeping through the
    # window and retrying; tests never sleep through real rate-limit windows.
    client.client.rest_client.pool_manager.connection_pool_kw["retries"] = False
    for _ in range(3):
        client.accounting.get_organisations("")
    with pytest.raises(RateLimitException) as info:
        client.accounting.get_organisations("")
    assert info.value.rate_limit == "minute"
    assert int(info.value.headers["Retry-After"]) >= 1
