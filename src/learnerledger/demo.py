"""``learnerledger demo``: the whole flow on freshly seeded sandboxes, narrated.

The demo keeps its own state under ``HOME/demo`` and starts from scratch every time, so it
can be run again and again. Today it seeds the Xero sandbox with the demo organisation's
legacy contacts and reads them back over HTTP; each later part of the flow adds a step here.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from learnerledger.sandbox.server import ServerThread, port_is_free
from learnerledger.sandbox.xero import Clock, SandboxStore, create_app, prepare_store
from learnerledger.sandbox.xero.seed import seed_organisation

__all__ = ["DemoResult", "run_demo"]

Echo = Callable[[str], None]


class DemoResult(dict[str, Any]):
    """The figures the demo printed, for tests and scripts."""


def run_demo(
    home: Path,
    *,
    port: int = 8001,
    serve: bool = False,
    echo: Echo = print,
    stop: threading.Event | None = None,
) -> DemoResult:
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    echo("learnerledger demo: a training provider's SMS beside its Xero organisation.")
    echo("")
    echo("1. Starting the Xero sandbox with Demo Training Co's legacy contacts...")
    store = SandboxStore(home / "xero-sandbox.db")
    clock = Clock()
    client_id, client_secret = "learnerledger-demo", secrets.token_urlsafe(24)
    prepare_store(store, clock, clients=[(client_id, client_secret)])
    report = seed_organisation(store)
    app = create_app(store, clock=clock)
    server = ServerThread(app, port=port if port_is_free("127.0.0.1", port) else 0).start()
    try:
        echo(f"   Xero sandbox: {server.url}  (web app: {server.url}/sandbox)")
        result = _read_back(server.url, client_id, client_secret, echo)
        result["seeded_people"] = report.people
        echo("")
        echo("Done.")
        if serve:
            echo("")
            echo(f"The sandbox keeps running at {server.url}/sandbox. Press Ctrl-C to stop.")
            try:
                (stop or threading.Event()).wait()
            except KeyboardInterrupt:
                echo("Stopped.")
        return result
    finally:
        server.stop()
        store.close()


def _read_back(base: str, client_id: str, client_secret: str, echo: Echo) -> DemoResult:
    echo("2. Reading the organisation back through the API, as a custom connection...")
    calls = 0
    with httpx.Client(base_url=base, timeout=30.0, headers={"Accept": "application/json"}) as http:
        token = http.post(
            "/connect/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
        )
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        connections = http.get("/connections").json()
        tenant = connections[0]["tenantId"]
        http.headers["xero-tenant-id"] = tenant
        org = http.get("/api.xro/2.0/Organisation").json()["Organisations"][0]
        accounts = http.get("/api.xro/2.0/Accounts").json()["Accounts"]
        calls += 2
        contacts: list[dict[str, Any]] = []
        page = 1
        while True:
            response = http.get(
                "/api.xro/2.0/Contacts",
                params={"page": page, "pageSize": 1000, "includeArchived": "true"},
            )
            response.raise_for_status()
            calls += 1
            body = response.json()
            contacts.extend(body["Contacts"])
            if page >= body["pagination"]["pageCount"]:
                break
            page += 1
        remaining = response.headers.get("X-MinLimit-Remaining")
    archived = sum(1 for c in contacts if c["ContactStatus"] == "ARCHIVED")
    with_code = sum(1 for c in contacts if c.get("ContactNumber"))
    no_names = sum(1 for c in contacts if not c.get("FirstName") and not c.get("LastName"))
    echo(
        f"   Organisation: {org['Name']} (tenant {tenant}), {len(accounts)} accounts, "
        f"sales account 200 and bank account 090."
    )
    echo(
        f"   Contacts: {len(contacts)} ({archived} archived), read in {calls - 2} page(s) of up "
        "to 1,000."
    )
    echo(
        f"   {with_code} carry a Contact Code (ContactNumber); {no_names} have no first or last "
        "name, only a Name typed by hand."
    )
    echo(f"   API calls: {calls}; calls left this minute: {remaining}.")
    return DemoResult(
        tenant_id=tenant,
        organisation=org["Name"],
        contacts=len(contacts),
        archived=archived,
        api_calls=calls,
    )
