"""Shared fixtures: a fresh store, a running Xero sandbox (real HTTP on loopback) and the
official xero-python SDK pointed at it. Every sandbox response a test provokes is validated
against Xero's OpenAPI description when the test ends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from learnerledger.sandbox.server import ServerThread
from learnerledger.sandbox.xero import (
    DEFAULT_TENANT_ID,
    Clock,
    Limits,
    Sandbox,
    SandboxStore,
    create_app,
    prepare_store,
)
from learnerledger.store import Store, open_store
from openapi_check import Recorder

os.environ.setdefault("NO_COLOR", "1")

CLIENT_ID = "test-custom-connection"
CLIENT_SECRET = "s3cret-for-tests"
OAUTH_CLIENT_ID = "test-oauth-app"
OAUTH_CLIENT_SECRET = "oauth-s3cret"
PKCE_CLIENT_ID = "test-pkce-app"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'learnerledger.db'}")
    yield s
    s.close()


@dataclass
class XeroSandbox:
    """A Xero sandbox serving on loopback, with handles for tests."""

    server: ServerThread
    sandbox: Sandbox
    recorder: Recorder
    db_path: Path
    tenant_id: str = DEFAULT_TENANT_ID
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        return self.server.url + "/api.xro/2.0"

    @property
    def store(self) -> SandboxStore:
        return self.sandbox.store

    @property
    def clock(self) -> Clock:
        return self.sandbox.clock

    def token(self, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET, **form: str) -> str:
        response = httpx.post(
            self.url + "/connect/token",
            data={"grant_type": "client_credentials", **form},
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def http(self, *, token: str | None = None, tenant: str | None = "default") -> httpx.Client:
        """An httpx client with a bearer token, the JSON Accept header and the tenant id."""
        headers = {"Accept": "application/json", "Authorization": f"Bearer {token or self.token()}"}
        if tenant is not None:
            headers["xero-tenant-id"] = self.tenant_id if tenant == "default" else tenant
        client = httpx.Client(base_url=self.api_url, headers=headers, timeout=30.0)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


def start_xero_sandbox(
    db_path: Path,
    *,
    limits: Limits | None = None,
    latency_ms: int = 0,
    organisations: tuple[str, ...] = (),
) -> XeroSandbox:
    store = SandboxStore(db_path)
    clock = Clock()
    prepare_store(
        store,
        clock,
        clients=[(CLIENT_ID, CLIENT_SECRET)],
        oauth_clients=[(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET), (PKCE_CLIENT_ID, None)],
        organisations=organisations,
    )
    app = create_app(store, clock=clock, limits=limits, latency_ms=latency_ms)
    recorder = Recorder(app)
    server = ServerThread(recorder).start()
    return XeroSandbox(server=server, sandbox=app.state.sandbox, recorder=recorder, db_path=db_path)


@pytest.fixture
def make_xero_sandbox(tmp_path: Path) -> Iterator[Any]:
    """Start Xero sandboxes with chosen options; each is stopped and its answers validated."""
    started: list[XeroSandbox] = []

    def make(**options: Any) -> XeroSandbox:
        sandbox = start_xero_sandbox(tmp_path / f"xero-{len(started)}.db", **options)
        started.append(sandbox)
        return sandbox

    yield make
    problems: list[str] = []
    for sandbox in started:
        sandbox.close()
        sandbox.server.stop()
        problems += sandbox.recorder.check()
        sandbox.store.close()
    assert not problems, "sandbox answers that break Xero's OpenAPI description:\n" + "\n".join(
        problems
    )


@pytest.fixture
def xero_sandbox(make_xero_sandbox: Any) -> XeroSandbox:
    sandbox: XeroSandbox = make_xero_sandbox()
    return sandbox
