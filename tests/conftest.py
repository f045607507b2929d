"""Shared fixtures: a fresh store, a running Xero sandbox (real HTTP on loopback) and the
official xero-python SDK pointed at it. Every sandbox response a test provokes is validated
against Xero's OpenAPI description when the test ends.

PostgreSQL: ``LEARNERLEDGER_TEST_POSTGRES_URL`` names a server (any database on it; the user
must be allowed to create databases). Tests that use it carry the ``postgres`` marker and get a
new database each. Without the variable they skip; with ``CI`` set they fail instead, so that a
CI run that lost its server says so (``.ci/run`` starts one)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

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


POSTGRES_URL_ENV = "LEARNERLEDGER_TEST_POSTGRES_URL"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'learnerledger.db'}")
    yield s
    s.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> sa.URL:
    """The PostgreSQL server of ``LEARNERLEDGER_TEST_POSTGRES_URL``, reached once per run."""

    def unavailable(reason: str) -> None:
        if os.environ.get("CI"):
            pytest.fail(
                f"{reason}; CI must run the PostgreSQL tests (.ci/run starts a server).",
                pytrace=False,
            )
        pytest.skip(f"{reason} (set it to run the PostgreSQL tests)")

    raw = os.environ.get(POSTGRES_URL_ENV, "")
    if not raw:
        unavailable(f"{POSTGRES_URL_ENV} is not set")
    url = sa.make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        shown = url.render_as_string(hide_password=True)
        unavailable(f"PostgreSQL at {shown} cannot be reached: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def postgres_url(postgres_server: sa.URL) -> Iterator[str]:
    """A new, empty database on the test server for one test; dropped when it ends."""
    name = f"learnerledger_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[Store]:
    s = open_store(postgres_url)
    yield s
    s.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new store: once on SQLite, once on PostgreSQL (marked ``postgres``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'learnerledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


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


# -- the Xero connector (learnerledger.xero) ------------------------------------------------------


@dataclass
class ConnectedXero:
    """A sandbox organisation connected to a learnerledger store, and clients for it whose
    clock is the sandbox's: waiting on the rate budget moves that clock instead of sleeping."""

    sandbox: XeroSandbox
    store: Store
    config: Any
    connection: Any
    _clients: list[Any] = field(default_factory=list)

    def client(self, **options: Any) -> Any:
        from learnerledger.xero import open_client

        options.setdefault("clock", self.sandbox.clock.now)
        options.setdefault("sleep", self.sandbox.clock.advance)
        client = open_client(self.store, self.config, connection=self.connection, **options)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def connect_xero(tmp_path: Path, store: Store) -> Iterator[Any]:
    """Connect a sandbox to the test store with a custom connection; settings by keyword
    (``xero_day_limit=3``...)."""
    from learnerledger.config import load_config
    from learnerledger.store import load_secret_box
    from learnerledger.xero import connect_custom

    made: list[ConnectedXero] = []

    def make(sandbox: XeroSandbox, **settings: Any) -> ConnectedXero:
        home = tmp_path / "home"
        settings.setdefault("xero_timeout", 10)
        config = load_config(overrides={"home": str(home), **settings}, environ={})
        connection = connect_custom(
            store,
            load_secret_box(home),
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            base_url=sandbox.url,
        )
        setup = ConnectedXero(sandbox, store, config, connection)
        made.append(setup)
        return setup

    yield make
    for setup in made:
        setup.close()


def browser_consent(
    sandbox: XeroSandbox, *, tenants: list[str] | None = None, decision: str = "allow"
) -> Any:
    """A stand-in for the person at the browser: opens Xero's consent page, ticks
    ``tenants`` (default: the default organisation), answers, and follows the redirect to
    learnerledger's loopback receiver."""
    import html
    import re

    def open_url(url: str) -> None:
        page = httpx.get(url)
        assert page.status_code == 200, page.text
        form = {
            k: html.unescape(v)
            for k, v in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text
            )
        }
        answer = httpx.post(
            sandbox.url + "/identity/connect/authorize",
            data={**form, "tenant": tenants or [sandbox.tenant_id], "decision": decision},
        )
        assert answer.status_code == 302, answer.text
        assert httpx.get(answer.headers["location"]).status_code == 200

    return open_url


# -- the Wisenet sandbox ----------------------------------------------------------------------

WISENET_KEY = "test-wisenet-key"


@dataclass
class WisenetSandbox:
    """A Wisenet sandbox serving on loopback, with handles for tests. Its clock is the one
    clients made by ``client()`` sleep on, so backoffs and rate windows cost no real time."""

    server: ServerThread
    app: Any
    db_path: Path
    api_key: str = WISENET_KEY
    _clients: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url + "/v1"

    @property
    def sandbox(self) -> Any:
        return self.app.state.sandbox

    def http(self, api_key: str | None = None) -> httpx.Client:
        client = httpx.Client(
            base_url=self.url, headers={"x-api-key": api_key or self.api_key}, timeout=30.0
        )
        self._clients.append(client)
        return client

    def client(self, **options: Any) -> Any:
        """A learnerledger Wisenet client for this sandbox, sleeping on the sandbox clock."""
        from learnerledger.sources.wisenet import open_client

        clock = self.sandbox.clock
        options.setdefault("sleep", clock.advance)
        options.setdefault("monotonic", clock.now)
        client = open_client(self.url, options.pop("api_key", self.api_key), **options)
        self._clients.append(client)
        return client

    def fail_next(self, count: int, message: str = "Too Many Requests") -> None:
        self.sandbox.limiter.fail_next(count, message)

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def make_wisenet_sandbox(tmp_path: Path) -> Iterator[Any]:
    """Start Wisenet sandboxes: ``make(seed=1.0, per_second=1000, day=100_000, keys=...)``.
    ``seed`` is the scale of the demo data (None: empty)."""
    from learnerledger.sandbox.wisenet import (
        Clock as WisenetClock,
    )
    from learnerledger.sandbox.wisenet import (
        Limits as WisenetLimits,
    )
    from learnerledger.sandbox.wisenet import (
        SandboxStore as WisenetStore,
    )
    from learnerledger.sandbox.wisenet import (
        create_app as create_wisenet_app,
    )
    from learnerledger.sandbox.wisenet import (
        prepare_keys,
        seed_account,
    )

    started: list[tuple[WisenetSandbox, Any]] = []

    def make(
        *,
        seed: float | None = 1.0,
        per_second: int = 1000,
        day: int = 100_000,
        keys: tuple[str, ...] = (WISENET_KEY,),
    ) -> WisenetSandbox:
        path = tmp_path / f"wisenet-{len(started)}.db"
        store = WisenetStore(path)
        clock = WisenetClock()
        prepare_keys(store, clock, keys)
        if seed is not None:
            seed_account(store, scale=seed)
        app = create_wisenet_app(store, clock=clock, limits=WisenetLimits(per_second, day))
        handle = WisenetSandbox(ServerThread(app).start(), app, path)
        started.append((handle, store))
        return handle

    yield make
    for handle, store in started:
        handle.close()
        handle.server.stop()
        store.close()


@pytest.fixture
def wisenet_sandbox(make_wisenet_sandbox: Any) -> WisenetSandbox:
    sandbox: WisenetSandbox = make_wisenet_sandbox()
    return sandbox


def run_cli(store: Store, home: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """``learnerledger`` with ``args``, on ``store`` and the home ``home``, in-process."""
    from click.testing import CliRunner

    from learnerledger.cli import main

    return CliRunner().invoke(
        main, ["--home", str(home), "--database-url", str(store.engine.url), *args], env=env
    )


def connect_custom_args(sandbox: XeroSandbox) -> tuple[str, ...]:
    """The command line of ``connect xero --custom-connection`` to the sandbox's organisation."""
    return (
        "connect",
        "xero",
        "--custom-connection",
        "--client-id",
        sandbox.client_id,
        "--client-secret",
        sandbox.client_secret,
        "--base-url",
        sandbox.url,
    )


def connect_custom_cli(store: Store, home: Path, sandbox: XeroSandbox) -> None:
    """``connect xero --custom-connection`` to the sandbox's organisation."""
    result = run_cli(store, home, *connect_custom_args(sandbox))
    assert result.exit_code == 0, result.output
    assert "Connected 'Demo Training Co'" in result.stdout
