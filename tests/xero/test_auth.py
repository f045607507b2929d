"""Connecting and staying connected, over real HTTP against the Xero sandbox: custom
connections, the authorization-code flow with PKCE on a loopback port, expiry and refresh
with rotation, ``invalid_grant`` as "reconnect needed", several organisations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import (
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    PKCE_CLIENT_ID,
    XeroSandbox,
    browser_consent,
)
from learnerledger.config import load_config
from learnerledger.errors import NotConnected, ReconnectNeeded, XeroError
from learnerledger.status import collect_status
from learnerledger.store import Store, load_secret_box
from learnerledger.store.tables import connections
from learnerledger.xero import (
    connect_custom,
    connect_oauth,
    find_connection,
    open_client,
)
from learnerledger.xero.connections import TokenSet


def _token_calls(sandbox: XeroSandbox) -> list[str]:
    return [
        e.body.decode()
        for e in sandbox.recorder.exchanges
        if e.path == "/connect/token" and e.method == "POST"
    ]


def _statuses(sandbox: XeroSandbox) -> list[int]:
    return [e.status for e in sandbox.recorder.api_exchanges()]


def _stored_tokens(store: Store, home: Path, connection_id: int) -> TokenSet:
    with store.read() as conn:
        sealed = conn.execute(
            sa.select(connections.c.secret).where(connections.c.id == connection_id)
        ).scalar_one()
    return TokenSet.from_secret(load_secret_box(home).open(sealed))


def _config(tmp_path: Path, **settings: Any) -> Any:
    return load_config(overrides={"home": str(tmp_path / "home"), **settings}, environ={})


def _connect_oauth(
    store: Store,
    tmp_path: Path,
    sandbox: XeroSandbox,
    *,
    client_id: str = OAUTH_CLIENT_ID,
    client_secret: str | None = OAUTH_CLIENT_SECRET,
    **options: Any,
) -> Any:
    return connect_oauth(
        store,
        load_secret_box(tmp_path / "home"),
        client_id=client_id,
        client_secret=client_secret,
        base_url=sandbox.url,
        port=0,
        open_url=options.pop("open_url", None) or browser_consent(sandbox),
        choose=options.pop("choose", lambda tenants: tenants[0]),
        **options,
    )


def test_a_custom_connection_is_stored_sealed_and_calls_xero(
    connect_xero: Any, xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    setup = connect_xero(xero_sandbox)
    assert setup.connection.name == "Demo Training Co"
    assert setup.connection.tenant_id == xero_sandbox.tenant_id
    assert setup.connection.auth_mode == "custom_connection"
    with store.read() as conn:
        sealed = conn.execute(sa.select(connections.c.secret)).scalar_one()
    assert xero_sandbox.client_secret.encode() not in sealed
    answer = setup.client().request("GET", "Organisation")
    assert answer["Organisations"][0]["Name"] == "Demo Training Co"
    # Connecting again updates the same row (its mirror and budget are kept).
    again = connect_xero(xero_sandbox)
    assert again.connection.id == setup.connection.id


def test_a_wrong_secret_says_where_to_find_the_right_one(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    with pytest.raises(XeroError, match="client id or secret") as info:
        connect_custom(
            store,
            load_secret_box(tmp_path / "home"),
            client_id=xero_sandbox.client_id,
            client_secret="wrong",
            base_url=xero_sandbox.url,
        )
    assert "developer.xero.com" in str(info.value)


def test_a_token_about_to_expire_is_refreshed_before_the_call(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    client = connect_xero(xero_sandbox).client()
    client.request("GET", "Organisation")
    xero_sandbox.clock.advance(31 * 60)
    client.request("GET", "Organisation")
    assert 401 not in _statuses(xero_sandbox)
    assert len(_token_calls(xero_sandbox)) == 2  # the connect, then one refresh
    assert client.auth.refreshes == 1


def test_a_token_xero_refuses_is_refreshed_and_the_call_retried_once(
    connect_xero: Any, xero_sandbox: XeroSandbox
) -> None:
    # This client's clock does not know the sandbox moved on: Xero answers 401 TokenExpired.
    client = connect_xero(xero_sandbox).client(clock=time.time, sleep=time.sleep)
    client.request("GET", "Organisation")
    xero_sandbox.clock.advance(31 * 60)
    answer = client.request("GET", "Organisation")
    assert answer["Organisations"]
    assert _statuses(xero_sandbox) == [200, 401, 200]
    assert client.calls == 3  # the retry after the refresh is counted
    assert client.budget.snapshot().minute_remaining == 57


def test_oauth_with_pkce_and_refresh_token_rotation(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    connection = _connect_oauth(store, tmp_path, xero_sandbox)
    assert connection.auth_mode == "oauth"
    assert connection.name == "Demo Training Co"
    home = tmp_path / "home"
    first = _stored_tokens(store, home, connection.id)
    assert first.refresh_token
    assert "offline_access" in first.scope
    # The consent used PKCE (S256) as well as the app's secret.
    consent = next(e for e in xero_sandbox.recorder.exchanges if e.path.endswith("/authorize"))
    assert "code_challenge_method=S256" in consent.query

    config = _config(tmp_path)
    clock = xero_sandbox.clock
    with open_client(store, config, clock=clock.now, sleep=clock.advance) as client:
        client.request("GET", "Organisation")
        clock.advance(31 * 60)
        client.request("GET", "Contacts", params={"page": "1"})
    second = _stored_tokens(store, home, connection.id)
    assert second.refresh_token
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert 401 not in _statuses(xero_sandbox)
    # A later process starts from the rotated token set, without refreshing again.
    with open_client(store, config, clock=clock.now, sleep=clock.advance) as client:
        client.request("GET", "Organisation")
        assert client.auth.refreshes == 0


def test_a_pkce_only_app_needs_no_secret(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    connection = _connect_oauth(
        store, tmp_path, xero_sandbox, client_id=PKCE_CLIENT_ID, client_secret=None
    )
    clock = xero_sandbox.clock
    with open_client(
        store, _config(tmp_path), connection=connection, clock=clock.now, sleep=clock.advance
    ) as client:
        clock.advance(31 * 60)
        client.request("GET", "Organisation")
        assert client.auth.refreshes == 1


def test_invalid_grant_means_reconnect_and_status_shows_it(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    connection = _connect_oauth(store, tmp_path, xero_sandbox)
    tokens = _stored_tokens(store, tmp_path / "home", connection.id)
    revoked = httpx.post(
        xero_sandbox.url + "/connect/revocation",
        data={"token": tokens.refresh_token},
        auth=(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET),
    )
    assert revoked.status_code == 200
    clock = xero_sandbox.clock
    clock.advance(31 * 60)
    config = _config(tmp_path)
    with (
        open_client(store, config, clock=clock.now, sleep=clock.advance) as client,
        pytest.raises(ReconnectNeeded) as info,
    ):
        client.request("GET", "Organisation")
    message = str(info.value)
    assert "'Demo Training Co' must be connected again" in message
    assert "invalid_grant" in message
    assert "learnerledger connect xero --client-id ID --client-secret S --base-url" in message
    assert tokens.refresh_token not in message
    state = collect_status(store, config)["connections"][0]
    assert state["state"] == "reconnect_needed"
    assert "refresh token" in state["state_detail"]
    # Every later call stops at once, without asking Xero.
    before = len(xero_sandbox.recorder.exchanges)
    with (
        open_client(store, config, clock=clock.now, sleep=clock.advance) as client,
        pytest.raises(ReconnectNeeded),
    ):
        client.request("GET", "Organisation")
    assert len(xero_sandbox.recorder.exchanges) == before
    # Connecting again clears it.
    _connect_oauth(store, tmp_path, xero_sandbox)
    assert collect_status(store, config)["connections"][0]["state"] == "connected"


def test_several_organisations_are_picked_and_named_with_tenant(
    make_xero_sandbox: Any, store: Store, tmp_path: Path
) -> None:
    sandbox = make_xero_sandbox(organisations=("Second Campus Ltd",))
    second_id = next(
        o.tenant_id for o in sandbox.store.organisations() if o.name == "Second Campus Ltd"
    )
    both = [sandbox.tenant_id, second_id]
    offered: list[str] = []

    def choose(tenants: list[Any]) -> Any:
        offered.extend(t.name for t in tenants)
        return next(t for t in tenants if t.name == "Second Campus Ltd")

    second = _connect_oauth(
        store, tmp_path, sandbox, open_url=browser_consent(sandbox, tenants=both), choose=choose
    )
    assert sorted(offered) == ["Demo Training Co", "Second Campus Ltd"]
    assert second.name == "Second Campus Ltd"
    first = _connect_oauth(
        store,
        tmp_path,
        sandbox,
        open_url=browser_consent(sandbox, tenants=both),
        tenant="demo training co",
    )
    assert first.tenant_id == sandbox.tenant_id
    with pytest.raises(NotConnected, match="--tenant") as info:
        find_connection(store)
    assert "Second Campus Ltd" in str(info.value)
    assert find_connection(store, "Second Campus Ltd").id == second.id
    assert find_connection(store, sandbox.tenant_id).id == first.id
    config = _config(tmp_path)
    with open_client(store, config, tenant=second_id) as client:
        assert client.request("GET", "Organisation")["Organisations"][0]["Name"] == (
            "Second Campus Ltd"
        )


def test_a_refused_consent_says_what_to_do(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    def deny(url: str) -> None:
        browser_consent(xero_sandbox, decision="deny")(url)

    with pytest.raises(XeroError, match="access_denied") as info:
        _connect_oauth(store, tmp_path, xero_sandbox, open_url=deny)
    assert "Allow access" in str(info.value)


def test_no_connection_says_how_to_connect(store: Store) -> None:
    with pytest.raises(NotConnected, match="learnerledger connect xero"):
        find_connection(store)
