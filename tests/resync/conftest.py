"""Fixtures for the resync tests: a Xero sandbox and a Wisenet sandbox on loopback, both
connected to one learnerledger store, with helpers that set up learners (in Wisenet, pulled
into the store), their Xero contacts, and documents written through Xero's API.

Documents are dated relative to today, so that they fall in the default first range (one year
before the connection, which the tests make today, to today) whatever day the tests run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import WISENET_KEY, ConnectedXero, WisenetSandbox, XeroSandbox
from learnerledger.config import load_config
from learnerledger.resync import ResyncReport, WisenetTarget, resync_documents
from learnerledger.sandbox.xero import Limits
from learnerledger.sources.wisenet import WisenetConnection, connect_wisenet, pull_learners
from learnerledger.store import Store, links, load_secret_box
from learnerledger.xero import connect_custom
from sandbox_documents import Books, line

ROOMY = Limits(minute=100_000, day=1_000_000)


def as_json(value: Any) -> Any:
    """``value`` with its Decimal amounts as floats, for httpx's ``json=``."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value


def day(days_ago: int) -> str:
    """A document date ``days_ago`` days before today (YYYY-MM-DD)."""
    return (date.today() - timedelta(days=days_ago)).isoformat()


@dataclass
class World:
    """Both sandboxes connected to one store, and the learners set up in them."""

    xero: ConnectedXero
    wisenet: WisenetSandbox
    wisenet_connection: WisenetConnection
    books: Books
    refs: dict[str, str] = field(default_factory=dict)  # name -> RefInternal
    learner_ids: dict[str, int] = field(default_factory=dict)  # RefInternal -> LearnerId
    contacts: dict[str, str] = field(default_factory=dict)  # RefInternal -> ContactID
    _clients: list[Any] = field(default_factory=list)
    _own: dict[str, int] = field(default_factory=dict)  # the tests' own reads of Wisenet

    @property
    def store(self) -> Store:
        return self.xero.store

    @property
    def sandbox(self) -> XeroSandbox:
        return self.xero.sandbox

    # -- setting up ---------------------------------------------------------------------------

    def add_learners(self, *names: str) -> list[str]:
        """Create learners in Wisenet (flagged for Xero), pull them into the store, and give
        each a Xero contact carrying its RefInternal, linked as the learner's own."""
        http = self.wisenet.http(READER_KEY)
        body = []
        for name in names:
            first, _, last = name.partition(" ")
            body.append(
                {
                    "Personal": {
                        "FirstName": first,
                        "LastName": last or "Learner",
                        "SyncToXero": True,
                        "EmailAddresses": {"Email": f"{first.lower()}@example.edu.au"},
                        "StreetAddress": {
                            "StreetNumber": "1",
                            "StreetName": "Main St",
                            "SuburbTownCity": "Parramatta",
                            "StateId": 2,
                            "Postcode": "2150",
                            "CountryId": 13,
                        },
                    }
                }
            )
        created = http.post("/learnersAU", json=body)
        assert created.status_code == 200, created.text
        refs = []
        for name, item in zip(names, created.json(), strict=True):
            ref = item["Data"]["Personal"]["LearnerNumber"]
            self.refs[name] = ref
            self.learner_ids[ref] = item["Data"]["LearnerId"]
            refs.append(ref)
        pulled = pull_learners(
            self.store, self.wisenet.client(), connection_id=self.wisenet_connection.id
        )
        assert pulled.status == "succeeded", pulled.message
        for name, ref in zip(names, refs, strict=True):
            contact_id = self.books.contact(f"{name} {ref}", ContactNumber=ref)
            self.contacts[ref] = contact_id
            with self.store.transaction() as conn:
                links.link_contact(
                    conn,
                    self.xero.connection.id,
                    ref,
                    contact_id,
                    mapped_hash=None,
                    contact_updated_ms=None,
                )
        return refs

    def invoice(
        self, ref_or_contact: str, amount: str = "1000.00", **fields: Any
    ) -> dict[str, Any]:
        contact = self.contacts.get(ref_or_contact, ref_or_contact)
        fields.setdefault("date", day(40))
        fields.setdefault("due", day(10))
        lines = fields.pop("lines", None) or [line(amount)]
        return self.books.invoice(contact, *lines, **fields)

    # -- running ------------------------------------------------------------------------------

    def target(self, day_limit: int = 100_000, **options: Any) -> WisenetTarget:
        client = self.wisenet.client(**options)
        self._clients.append(client)
        return WisenetTarget(client, self.wisenet_connection.id, day_limit)

    def resync(self, *, day_limit: int = 100_000, **options: Any) -> ResyncReport:
        target = self.target(day_limit)
        with self.xero.client() as client:
            return resync_documents(self.store, client, wisenet=target, **options)

    # -- looking at Wisenet -------------------------------------------------------------------

    def invoices(self) -> dict[str, dict[str, Any]]:
        """Every invoice Wisenet holds, by InvoiceId, read over its API."""
        http = self.wisenet.http(READER_KEY)
        out: dict[str, dict[str, Any]] = {}
        skip = 0
        while True:
            page = json.loads(
                http.get("/invoices", params={"skip": skip, "take": 1000}).content,
                parse_float=Decimal,
            )
            self._own["GET /invoices"] = self._own.get("GET /invoices", 0) + 1
            out.update({item["Data"]["InvoiceId"]: item["Data"] for item in page})
            if len(page) < 1000:
                return out
            skip += len(page)

    def on_learner(self, ref: str) -> set[str]:
        learner_id = self.learner_ids[ref]
        return {i for i, data in self.invoices().items() if data["LearnerId"] == learner_id}

    def calls(self) -> dict[str, int]:
        """Wisenet's calls per endpoint since the last ``reset_calls``, but the tests' own."""
        answer = httpx.get(self.wisenet.server.url + "/sandbox/calls").json()
        counted = {k: v - self._own.get(k, 0) for k, v in answer["by_endpoint"].items()}
        return {k: v for k, v in counted.items() if v}

    def reset_calls(self) -> None:
        httpx.delete(self.wisenet.server.url + "/sandbox/calls")
        self._own.clear()

    def close(self) -> None:
        for client in self._clients:
            client.close()


READER_KEY = "test-reader"  # the tests' own reads: a key of its own, so they spend no quota


@pytest.fixture
def make_world(
    make_xero_sandbox: Any,
    connect_xero: Any,
    make_wisenet_sandbox: Any,
    tmp_path: Path,
) -> Iterator[Any]:
    """``make_world(day=N)``: both sandboxes (Wisenet's day quota ``day`` for the key
    learnerledger uses) connected to the test store."""
    made: list[World] = []

    def make(*, day: int = 100_000, store: Store | None = None, **settings: Any) -> World:
        sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
        if store is None:
            connected: ConnectedXero = connect_xero(sandbox, **settings)
        else:  # another store than the test's SQLite one (PostgreSQL)
            home = tmp_path / "home"
            config = load_config(overrides={"home": str(home), **settings}, environ={})
            connection = connect_custom(
                store,
                load_secret_box(home),
                client_id=sandbox.client_id,
                client_secret=sandbox.client_secret,
                base_url=sandbox.url,
            )
            connected = ConnectedXero(sandbox, store, config, connection)
        wisenet: WisenetSandbox = make_wisenet_sandbox(
            seed=None, day=day, keys=(WISENET_KEY, f"{READER_KEY}:full")
        )
        box = load_secret_box(tmp_path / "home", environ={})
        wconn = connect_wisenet(
            connected.store, box, api_key=wisenet.api_key, base_url=wisenet.url, check=False
        )
        world = World(connected, wisenet, wconn, Books(sandbox, sandbox.http()))
        made.append(world)
        return world

    yield make
    for world in made:
        world.close()
        world.xero.close()


@pytest.fixture
def world(make_world: Any) -> World:
    made: World = make_world()
    return made
