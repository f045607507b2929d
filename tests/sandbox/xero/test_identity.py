"""The sandbox's identity service: token grants, expiry, rotation, consent and connections."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    PKCE_CLIENT_ID,
    XeroSandbox,
)
from learnerledger.sandbox.server import ServerThread
from learnerledger.sandbox.xero import SandboxStore, create_app

REDIRECT = "http://127.0.0.1:8765/callback"
SCOPES = "openid profile email offline_access accounting.contacts accounting.settings.read"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _consent(
    sandbox: XeroSandbox,
    client_id: str = PKCE_CLIENT_ID,
    challenge: str | None = None,
    tenants: list[str] | None = None,
    decision: str = "allow",
) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "state": "xyz-state",
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    page = httpx.get(sandbox.url + "/identity/connect/authorize", params=params)
    assert page.status_code == 200, page.text
    assert "Demo Training Co" in page.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    data: dict[str, Any] = {
        **form,
        "tenant": tenants or [sandbox.tenant_id],
        "decision": decision,
    }
    return httpx.post(sandbox.url + "/identity/connect/authorize", data=data)


def _code_from(response: httpx.Response) -> str:
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["xyz-state"]
    return query["code"][0]


def _token(sandbox: XeroSandbox, **form: str) -> httpx.Response:
    return httpx.post(sandbox.url + "/connect/token", data=form)


def _api(sandbox: XeroSandbox, token: str, tenant: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if tenant:
        headers["xero-tenant-id"] = tenant
    return httpx.get(sandbox.api_url + "/Contacts", params={"page": 1}, headers=headers)


def test_client_credentials_with_basic_auth_or_form_fields(xero_sandbox: XeroSandbox) -> None:
    basic = httpx.post(
        xero_sandbox.url + "/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    form = _token(
        xero_sandbox,
        grant_type="client_credentials",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    for response in (basic, form):
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 1800
        assert "refresh_token" not in body  # custom connections never get one
        assert "accounting.contacts" in body["scope"].split()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"},
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
            "invalid_client",
        ),
        (
            {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "unsupported_grant_type",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": OAUTH_CLIENT_ID,
                "client_secret": OAUTH_CLIENT_SECRET,
            },
            "unauthorized_client",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scope": "accounting.journals.read",
            },
            "invalid_scope",
        ),
    ],
)
def test_token_errors_use_oauth_error_bodies(
    xero_sandbox: XeroSandbox, form: dict[str, str], error: str
) -> None:
    response = _token(xero_sandbox, **form)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_access_token_expires_after_thirty_minutes(xero_sandbox: XeroSandbox) -> None:
    token = xero_sandbox.token()
    xero_sandbox.clock.advance(29 * 60)
    assert _api(xero_sandbox, token, xero_sandbox.tenant_id).status_code == 200
    xero_sandbox.clock.advance(61)
    expired = _api(xero_sandbox, token, xero_sandbox.tenant_id)
    assert expired.status_code == 401
    assert expired.json()["Detail"].startswith("TokenExpired: token expired at ")
    assert expired.json()["Title"] == "Unauthorized"


def test_bad_tokens_are_refused(xero_sandbox: XeroSandbox) -> None:
    token = xero_sandbox.token()
    header, payload, _sig = token.split(".")
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 32).decode().rstrip('=')}"
    for bad in (forged, "not-a-jwt", token[:-3]):
        response = _api(xero_sandbox, bad, xero_sandbox.tenant_id)
        assert response.status_code == 401
        assert response.json()["Detail"] == "AuthenticationUnsuccessful"
    no_header = httpx.get(
        xero_sandbox.api_url + "/Contacts", headers={"Accept": "application/json"}
    )
    assert no_header.status_code == 401


def test_custom_connection_needs_no_tenant_header(xero_sandbox: XeroSandbox) -> None:
    token = xero_sandbox.token()
    assert _api(xero_sandbox, token, None).status_code == 200
    assert _api(xero_sandbox, token, "00000000-0000-0000-0000-000000000001").status_code == 403


def test_connections_list_the_custom_connection(xero_sandbox: XeroSandbox) -> None:
    token = xero_sandbox.token()
    response = httpx.get(
        xero_sandbox.url + "/connections", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    [connection] = response.json()
    assert connection["tenantId"] == xero_sandbox.tenant_id
    assert connection["tenantName"] == "Demo Training Co"
    assert connection["tenantType"] == "ORGANISATION"
    assert set(connection) >= {"id", "authEventId", "createdDateUtc", "updatedDateUtc"}


def test_pkce_flow_connects_the_chosen_organisations(make_xero_sandbox: Any) -> None:
    sandbox: XeroSandbox = make_xero_sandbox(organisations=("Second Campus",))
    orgs = httpx.get(sandbox.url + "/sandbox/organisations").json()
    second = next(o["tenantId"] for o in orgs if o["name"] == "Second Campus")
    verifier, challenge = _pkce()
    code = _code_from(_consent(sandbox, challenge=challenge, tenants=[sandbox.tenant_id, second]))
    response = _token(
        sandbox,
        grant_type="authorization_code",
        client_id=PKCE_CLIENT_ID,
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    listed = httpx.get(
        sandbox.url + "/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert {c["tenantName"] for c in listed} == {"Demo Training Co", "Second Campus"}
    # An app connected to several organisations must name one in every call.
    assert _api(sandbox, tokens["access_token"], None).status_code == 403
    assert _api(sandbox, tokens["access_token"], second).status_code == 200
    # The code is single-use.
    again = _token(
        sandbox,
        grant_type="authorization_code",
        client_id=PKCE_CLIENT_ID,
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert again.json() == {"error": "invalid_grant"}


@pytest.mark.parametrize("problem", ["verifier", "redirect", "late"])
def test_authorization_code_checks(xero_sandbox: XeroSandbox, problem: str) -> None:
    verifier, challenge = _pkce()
    code = _code_from(_consent(xero_sandbox, challenge=challenge))
    form = {
        "grant_type": "authorization_code",
        "client_id": PKCE_CLIENT_ID,
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    if problem == "verifier":
        form["code_verifier"] = secrets.token_urlsafe(48)
    elif problem == "redirect":
        form["redirect_uri"] = "http://127.0.0.1:9999/other"
    else:
        xero_sandbox.clock.advance(301)
    assert _token(xero_sandbox, **form).json() == {"error": "invalid_grant"}


def test_denied_consent_redirects_with_access_denied(xero_sandbox: XeroSandbox) -> None:
    _, challenge = _pkce()
    response = _consent(xero_sandbox, challenge=challenge, decision="deny")
    assert response.status_code == 302
    assert "error=access_denied" in response.headers["location"]


def test_consent_page_refuses_bad_requests(xero_sandbox: XeroSandbox) -> None:
    base = {"response_type": "code", "client_id": PKCE_CLIENT_ID, "scope": SCOPES}
    cases = [
        {**base, "redirect_uri": REDIRECT},  # a public app without PKCE
        {
            **base,
            "redirect_uri": "http://evil.example/cb",
            "code_challenge": "x",
            "code_challenge_method": "S256",
        },
        {**base, "client_id": CLIENT_ID, "redirect_uri": REDIRECT},  # custom connection
        {**base, "redirect_uri": REDIRECT, "code_challenge": "x", "code_challenge_method": "plain"},
    ]
    for params in cases:
        page = httpx.get(xero_sandbox.url + "/identity/connect/authorize", params=params)
        assert page.status_code == 400
        assert "something went wrong" in page.text


def _oauth_tokens(sandbox: XeroSandbox) -> dict[str, Any]:
    code = _code_from(_consent(sandbox, client_id=OAUTH_CLIENT_ID))
    response = _token(
        sandbox,
        grant_type="authorization_code",
        client_id=OAUTH_CLIENT_ID,
        client_secret=OAUTH_CLIENT_SECRET,
        code=code,
        redirect_uri=REDIRECT,
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def _refresh(sandbox: XeroSandbox, refresh_token: str) -> httpx.Response:
    return _token(
        sandbox,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id=OAUTH_CLIENT_ID,
        client_secret=OAUTH_CLIENT_SECRET,
    )


def test_refresh_rotates_and_the_old_token_has_a_grace_period(xero_sandbox: XeroSandbox) -> None:
    first = _oauth_tokens(xero_sandbox)
    second = _refresh(xero_sandbox, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert _api(xero_sandbox, second["access_token"], xero_sandbox.tenant_id).status_code == 200
    # The response was "lost": the previous refresh token still works for 30 minutes.
    xero_sandbox.clock.advance(29 * 60)
    assert _refresh(xero_sandbox, first["refresh_token"]).status_code == 200
    xero_sandbox.clock.advance(2 * 60)
    assert _refresh(xero_sandbox, first["refresh_token"]).json() == {"error": "invalid_grant"}
    # The newest token in the chain is still good.
    assert _refresh(xero_sandbox, second["refresh_token"]).status_code == 200


def test_unused_refresh_token_expires_after_sixty_days(xero_sandbox: XeroSandbox) -> None:
    tokens = _oauth_tokens(xero_sandbox)
    xero_sandbox.clock.advance(60 * 86_400 + 1)
    assert _refresh(xero_sandbox, tokens["refresh_token"]).json() == {"error": "invalid_grant"}


def test_refresh_needs_the_apps_own_credentials(xero_sandbox: XeroSandbox) -> None:
    tokens = _oauth_tokens(xero_sandbox)
    wrong = _token(
        xero_sandbox,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=OAUTH_CLIENT_ID,
        client_secret="wrong",
    )
    assert wrong.json() == {"error": "invalid_client"}


def test_disconnecting_removes_access_to_the_organisation(xero_sandbox: XeroSandbox) -> None:
    tokens = _oauth_tokens(xero_sandbox)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    [connection] = httpx.get(xero_sandbox.url + "/connections", headers=auth).json()
    deleted = httpx.delete(xero_sandbox.url + f"/connections/{connection['id']}", headers=auth)
    assert deleted.status_code == 204
    assert _api(xero_sandbox, tokens["access_token"], xero_sandbox.tenant_id).status_code == 403
    again = httpx.delete(xero_sandbox.url + f"/connections/{connection['id']}", headers=auth)
    assert again.status_code == 404


def test_revocation_ends_the_refresh_chain_and_its_connections(xero_sandbox: XeroSandbox) -> None:
    tokens = _oauth_tokens(xero_sandbox)
    revoked = httpx.post(
        xero_sandbox.url + "/connect/revocation",
        data={"token": tokens["refresh_token"]},
        auth=(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET),
    )
    assert revoked.status_code == 200
    assert _refresh(xero_sandbox, tokens["refresh_token"]).json() == {"error": "invalid_grant"}
    assert _api(xero_sandbox, tokens["access_token"], xero_sandbox.tenant_id).status_code == 403


def test_scopes_are_enforced(xero_sandbox: XeroSandbox) -> None:
    token = xero_sandbox.token(scope="accounting.settings")
    assert _api(xero_sandbox, token, None).status_code == 403
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    assert httpx.get(xero_sandbox.api_url + "/Accounts", headers=headers).status_code == 200


def test_tokens_and_state_survive_a_restart(xero_sandbox: XeroSandbox) -> None:
    token = xero_sandbox.token()
    client = xero_sandbox.http(token=token)
    assert client.put("/Contacts", json={"Name": "Kept Across Restarts"}).status_code == 200
    xero_sandbox.server.stop()
    store = SandboxStore(xero_sandbox.db_path)
    with ServerThread(create_app(store)) as server:
        response = httpx.get(
            server.url + "/api.xro/2.0/Contacts",
            params={"where": 'Name=="Kept Across Restarts"'},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert response.status_code == 200
        assert [c["Name"] for c in response.json()["Contacts"]] == ["Kept Across Restarts"]
    store.close()
