"""Fixtures of the web UI's tests: the app serving a fresh store on loopback (real HTTP, like
the sandboxes), users of both roles, and httpx clients signed in as them."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from learnerledger.config import Config, load_config
from learnerledger.sandbox.server import ServerThread
from learnerledger.store import Store
from learnerledger.web import CSRF_FIELD, Users, create_app
from resync.conftest import make_world, world

# The resync tests' two sandboxes with learners and documents, for the Documents pages.
__all__ = ["make_world", "world"]

ADMIN = ("ada", "correct horse battery")
VIEWER = ("vic", "viewer password 1")

_HIDDEN = re.compile(r'<input type="hidden" name="(csrf[^"]*)" value="([^"]*)">')


def csrf_of(page: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _HIDDEN.search(page)
    assert found, "the page has no CSRF field"
    return found.group(2)


@dataclass
class Web:
    """The web UI serving on loopback, with handles for tests."""

    server: ServerThread
    app: Any
    store: Store
    config: Config
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def jobs(self) -> Any:
        return self.app.state.jobs

    def client(self, **options: Any) -> httpx.Client:
        options.setdefault("timeout", 30.0)
        client = httpx.Client(base_url=self.url, **options)
        self._clients.append(client)
        return client

    def sign_in(self, user: tuple[str, str] = ADMIN) -> httpx.Client:
        client = self.client()
        login = client.get("/login")
        assert login.status_code == 200, login.text
        answer = client.post(
            "/login",
            data={"username": user[0], "password": user[1], CSRF_FIELD: csrf_of(login.text)},
        )
        assert answer.status_code == 303, answer.text
        return client

    def post(self, client: httpx.Client, page: str, action: str, **data: Any) -> httpx.Response:
        """Send the form of ``page`` whose action is ``action``, with the CSRF token that form
        carries, and ``data`` for its fields."""
        text = client.get(page).text
        form = re.search(
            rf'<form [^>]*action="{re.escape(action)}"[^>]*>\s*'
            r'<input type="hidden" name="(csrf[^"]*)" value="([^"]*)">',
            text,
        )
        assert form, f"{page} has no form sending to {action}"
        return client.post(action, data={form.group(1): form.group(2), **data})

    def close(self) -> None:
        for client in self._clients:
            client.close()


def start_web(store: Store, home: Path, **settings: Any) -> tuple[ServerThread, Any, Config]:
    settings.setdefault("xero_timeout", 10)
    config = load_config(overrides={"home": str(home), **settings}, environ={})
    app = create_app(store, config)
    users = Users(store)
    users.add(ADMIN[0], "admin", ADMIN[1])
    users.add(VIEWER[0], "viewer", VIEWER[1])
    return ServerThread(app).start(), app, config


@pytest.fixture
def web(tmp_path: Path, store: Store) -> Iterator[Web]:
    server, app, config = start_web(store, tmp_path / "home")
    handle = Web(server, app, store, config)
    yield handle
    handle.close()
    for task in app.state.jobs.tasks():
        app.state.jobs.wait(task.id, 30)
    server.stop()


@pytest.fixture
def web_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log line of the web UI and the libraries it calls, at every level."""
    caplog.set_level(logging.DEBUG)
    return caplog
