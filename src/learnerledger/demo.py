"""``learnerledger demo``: the whole flow on freshly seeded sandboxes, narrated.

The demo keeps its own state under ``HOME/demo`` and starts from scratch every time, so it can
be run again and again. Both sandboxes hold the same made-up training provider: the Wisenet
sandbox its learners, the Xero sandbox the contacts its finance team typed in by hand over the
years. The demo connects learnerledger to both, exactly as an integrator would, and runs the
flow over HTTP: pull the learners, mirror the contacts, plan the sync, apply it, and show that
running it again changes nothing.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from learnerledger.config import load_config
from learnerledger.sandbox import wisenet as wisenet_sandbox
from learnerledger.sandbox.server import ServerThread, port_is_free
from learnerledger.sandbox.xero import Clock, SandboxStore, create_app, prepare_store
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.sources.wisenet import connect_wisenet, pull_learners
from learnerledger.sources.wisenet import open_client as open_wisenet
from learnerledger.store import load_secret_box, open_store
from learnerledger.store.learners import count_learners
from learnerledger.sync import sync_learners
from learnerledger.text import count
from learnerledger.xero import connect_custom, pull_contacts
from learnerledger.xero.client import open_client as open_xero

__all__ = ["DemoResult", "run_demo"]

Echo = Callable[[str], None]


class DemoResult(dict[str, Any]):
    """The figures the demo printed, for tests and scripts."""


def _start(app: Any, port: int) -> ServerThread:
    free = port != 0 and port_is_free("127.0.0.1", port)
    return ServerThread(app, port=port if free else 0).start()


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
    result = DemoResult()
    echo("learnerledger demo: Demo Training Co's student management system beside its Xero.")
    echo("")
    echo("1. Starting the sandboxes...")
    xero_store = SandboxStore(home / "xero-sandbox.db")
    xero_clock = Clock()
    client_id, client_secret = "learnerledger-demo", secrets.token_urlsafe(24)
    prepare_store(xero_store, xero_clock, clients=[(client_id, client_secret)])
    seeded = seed_organisation(xero_store)
    wisenet_store = wisenet_sandbox.SandboxStore(home / "wisenet-sandbox.db")
    wisenet_clock = wisenet_sandbox.Clock()
    wisenet_sandbox.seed_account(wisenet_store)
    (api_key,) = wisenet_sandbox.prepare_keys(
        wisenet_store, wisenet_clock, [f"learnerledger-demo-{secrets.token_urlsafe(12)}"]
    )
    xero = _start(create_app(xero_store, clock=xero_clock), port)
    wisenet = _start(
        wisenet_sandbox.create_app(wisenet_store, clock=wisenet_clock), port + 1 if port else 0
    )
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    try:
        echo(f"   Xero sandbox:    {xero.url}  (Xero's web app: {xero.url}/sandbox)")
        echo(f"   Wisenet sandbox: {wisenet.url}/v1")
        echo(
            f"   Xero holds {seeded.contacts} contacts typed in by hand ({seeded.archived} "
            f"archived, {seeded.employers} employers); Wisenet holds {seeded.people} learners."
        )
        config = load_config(overrides={"home": str(home)}, environ={})
        box = load_secret_box(home)

        echo("")
        echo("2. Connecting Wisenet and pulling the learners flagged for Xero...")
        wconn = connect_wisenet(store, box, api_key=api_key, base_url=wisenet.url + "/v1")
        with open_wisenet(wconn.base_url, wconn.api_key) as wclient:
            pulled = pull_learners(store, wclient, connection_id=wconn.id)
        with store.read() as conn:
            counts = count_learners(conn)
        echo(f"   {pulled.message}")
        echo(
            f"   {counts.learners} learners stored, {counts.learners_ready} ready for Xero "
            "(the rest lack a name, a valid email or an address with state and postcode)."
        )
        result.update(learners=counts.learners, learners_ready=counts.learners_ready)

        echo("")
        echo("3. Connecting Xero (a custom connection) and mirroring its contacts...")
        connection = connect_custom(
            store, box, client_id=client_id, client_secret=client_secret, base_url=xero.url
        )
        with open_xero(store, config, connection=connection) as client:
            mirrored = pull_contacts(store, client)
            echo(f"   {mirrored.message} ({count(mirrored.calls, 'API call')})")
            result.update(organisation=connection.name, tenant_id=connection.tenant_id)
            result.update(contacts=sum(s.written for s in mirrored.streams))

            echo("")
            echo("4. Planning the sync (nothing is sent yet)...")
            plan = sync_learners(store, client, dry_run=True).plan
            totals = plan.totals()
            echo(
                "   "
                + ", ".join(f"{n} {state}" for state, n in totals.items())
                + f"; applying it costs {plan.calls} API calls."
            )
            for item in plan.items:
                if item.state == "conflict":
                    echo(f"   e.g. {item.ref_internal} conflict: {item.reasons[0]}")
                    break

            echo("")
            echo("5. Applying it: every ready learner gets exactly one contact...")
            report = sync_learners(store, client)
            echo(f"   {report.message}")
            result.update(sync=report.counts(), planned=totals)

            echo("")
            echo("6. Running the sync again: nothing has changed, so nothing is sent...")
            again = sync_learners(store, client)
            echo(f"   {again.message}")
            result.update(rerun_calls=again.calls)
        echo("")
        echo("Done. `learnerledger status` in the same home shows the whole picture.")
        if serve:
            echo("")
            echo(
                f"The sandboxes keep running: Xero's web app at {xero.url}/sandbox. "
                "Press Ctrl-C to stop."
            )
            try:
                (stop or threading.Event()).wait()
            except KeyboardInterrupt:
                echo("Stopped.")
        return result
    finally:
        store.close()
        xero.stop()
        wisenet.stop()
        xero_store.close()
        wisenet_store.close()
