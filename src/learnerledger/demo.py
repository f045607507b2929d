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
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from learnerledger.config import load_config
from learnerledger.merge import decide, find_duplicates_job, merge_apply, merge_verify
from learnerledger.resync import WisenetTarget, reconcile, resync_documents
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
from learnerledger.web import create_app as create_web_app
from learnerledger.web.auth import Users
from learnerledger.xero import connect_custom, pull_contacts
from learnerledger.xero.branding import DEFAULT_TEMPLATE_THEME, check_organisation
from learnerledger.xero.client import open_client as open_xero

__all__ = ["DemoResult", "run_demo"]

Echo = Callable[[str], None]


class DemoResult(dict[str, Any]):
    """The figures the demo printed, for tests and scripts."""


def _start(app: Any, port: int) -> ServerThread:
    free = port != 0 and port_is_free("127.0.0.1", port)
    return ServerThread(app, port=port if free else 0).start()


def _upload_template(xero_url: str, tenant_id: str) -> None:
    """Play the one step Xero's API cannot do: upload the invoice template in Xero's Invoice
    settings and make it the default branding theme (the sandbox's stand-in)."""
    answer = httpx.post(
        f"{xero_url}/sandbox/organisations/{tenant_id}/branding-themes",
        json={"Name": DEFAULT_TEMPLATE_THEME, "Default": True},
        timeout=30,
    )
    answer.raise_for_status()


def _merge_in_xero(xero_url: str, tenant_id: str, legacy_id: str, survivor_id: str) -> None:
    """Play a person doing a worklist item in Xero: Merge the legacy contact into the learner's
    (the sandbox's stand-in for Xero's Merge screen)."""
    answer = httpx.post(
        f"{xero_url}/sandbox/organisations/{tenant_id}/contacts/{legacy_id}/merge",
        json={"TargetContactID": survivor_id},
        timeout=30,
    )
    answer.raise_for_status()


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
    # The demo's Wisenet holds no invoices yet: the resync writes them from Xero's.
    wisenet_sandbox.seed_account(wisenet_store, invoices=False)
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
            echo("4. Planning the sync in adopt mode (nothing is sent yet)...")
            plan = sync_learners(store, client, mode="adopt", dry_run=True).plan
            totals = plan.totals()
            echo(
                "   "
                + ", ".join(f"{n} {state}" for state, n in totals.items())
                + f"; applying it costs {plan.calls} API calls."
            )
            for state in ("adopt", "review", "conflict"):
                item = next((i for i in plan.items if i.state == state), None)
                if item is not None and item.reasons:
                    echo(f"   e.g. {item.ref_internal} {state}: {item.reasons[0]}")

            echo("")
            echo(
                "5. Applying it: a learner with a hand-typed contact that is surely theirs "
                "takes it over; the others get a new one..."
            )
            report = sync_learners(store, client, mode="adopt")
            echo(f"   {report.message}")
            result.update(sync=report.counts(), planned=totals)

            echo("")
            echo("6. Running the sync again: nothing has changed, so nothing is sent...")
            again = sync_learners(store, client, mode="adopt")
            echo(f"   {again.message}")
            result.update(rerun_calls=again.calls)

            echo("")
            echo("7. Finding the duplicates left: old contacts of learners that have one now...")
            found = find_duplicates_job(store, client)
            echo(f"   {found.message}")
            by_status = Counter(p.status for p in found.pairs)
            result.update(duplicates=dict(by_status))

            echo("")
            echo("8. Confirming the confident pairs (the others wait for a person)...")
            confirmed = decide(store, connection.id, "confirmed", all_auto=True)
            echo(f"   {count(confirmed, 'pair')} confirmed; {by_status['review']} left for review.")
            result.update(confirmed=confirmed)

            echo("")
            echo("9. Syncing again: a learner without a contact adopts its confirmed one...")
            adopted = sync_learners(store, client, mode="adopt")
            echo(f"   {adopted.message}")
            result.update(resync_learners=adopted.counts())

            echo("")
            echo("10. Merging through the API what Xero's API can move...")
            applied = merge_apply(store, client)
            echo(f"   {applied.message}")
            result.update(merge=applied.counts())
            for work in applied.worklist[:1]:
                echo(f"   The worklist, e.g. for {work.learner} ({work.ref_internal}):")
                for number, step in enumerate(work.steps, 1):
                    echo(f"     {number}. {step}")

            echo("")
            echo(
                f"11. Playing the worklist's human step: {count(len(applied.worklist), 'merge')} "
                "in Xero's own Merge screen (the sandbox's), old contact into the learner's..."
            )
            for work in applied.worklist:
                _merge_in_xero(xero.url, connection.tenant_id, work.legacy_id, work.survivor_id)
            result.update(merged_by_hand=len(applied.worklist))

            echo("")
            echo("12. Verifying every merge went the right way, money included...")
            verified = merge_verify(store, client)
            echo(f"   {verified.message}")
            for state in ("conflict", "waiting"):
                cluster = next((c for c in verified.clusters if c.state == state), None)
                if cluster is not None and cluster.fix:
                    echo(f"   e.g. {cluster.ref_internal} {state}: {cluster.fix}")
            result.update(verify=verified.counts())

            echo("")
            echo("13. Resyncing the documents to the learners in Wisenet (the default range)...")
            with open_wisenet(wconn.base_url, wconn.api_key) as wclient:
                target = WisenetTarget(wclient, wconn.id, int(config["wisenet_day_limit"]))
                resynced = resync_documents(store, client, wisenet=target)
                echo(f"   {resynced.message}")
                result.update(resync=resynced.counts(), resync_status=resynced.status)

                echo("")
                echo("14. Reconciling: every learner's documents and outstanding, both sides...")
                checked = reconcile(store, client, wisenet=target)
                echo(f"   {checked.message}")
                result.update(mismatches=len(checked.mismatches), reconciled=len(checked.totals))

            echo("")
            echo("15. The invoice template: learners' invoices print first and last name...")
            _upload_template(xero.url, connection.tenant_id)
            branding = check_organisation(store, client)
            default = branding.default.name if branding.default else "none"
            echo(
                f"   Invoices use '{default}' "
                f"({'the template' if branding.ok else 'not the template'})."
            )
            result.update(branding_ok=branding.ok)
        echo("")
        echo("Done. `learnerledger status` in the same home shows the whole picture.")
        if serve:
            password = secrets.token_urlsafe(12)
            Users(store).add("demo", "admin", password)
            web = _start(create_web_app(store, config), port + 2 if port else 0)
            result.update(web_url=web.url, web_user="demo", web_password=password)
            try:
                echo("")
                echo(f"The web UI for finance staff: {web.url}/ (sign in as demo, {password}).")
                echo(
                    f"The sandboxes keep running: Xero's web app at {xero.url}/sandbox. "
                    "Press Ctrl-C to stop."
                )
                try:
                    (stop or threading.Event()).wait()
                except KeyboardInterrupt:
                    echo("Stopped.")
            finally:
                web.stop()
        return result
    finally:
        store.close()
        xero.stop()
        wisenet.stop()
        xero_store.close()
        wisenet_store.close()
