"""Make the web UI's screenshots in docs/screenshots/ (the README and docs/web.md show them).

Anyone can run it again: it seeds both sandboxes with a small Demo Training Co, connects
learnerledger to them, pulls and syncs the learners, finds the duplicates (a few confirmed and
merged in Xero, a few more confirmed only), mirrors the documents and resyncs them to Wisenet,
then signs in with Playwright driving Debian's headless Chromium (``/usr/bin/chromium``;
``apt-get install chromium``), reconciles from the Documents page, makes the merge plan and
applies it from the Merge page, and captures each page::

    .venv/bin/python docs/screenshots/make.py [--scale 0.05] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from learnerledger.config import load_config
from learnerledger.merge import decide, find_duplicates_job
from learnerledger.resync import WisenetTarget, resync_documents
from learnerledger.sandbox import wisenet as wisenet_sandbox
from learnerledger.sandbox.server import ServerThread
from learnerledger.sandbox.xero import Clock, SandboxStore, create_app, prepare_store
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.sources.wisenet import connect_wisenet, pull_learners
from learnerledger.sources.wisenet import open_client as open_wisenet
from learnerledger.store import duplicates, load_secret_box, open_store
from learnerledger.sync import sync_learners
from learnerledger.web import Users
from learnerledger.web import create_app as create_web
from learnerledger.xero import connect_custom, pull_documents
from learnerledger.xero.client import open_client as open_xero

CHROMIUM = "/usr/bin/chromium"
MERGED = 6  # duplicates confirmed and merged in Xero before the resync
CONFIRMED = 4  # more duplicates confirmed, for the Merge page's plan and worklist
PAGES = [
    ("login", "/login"),
    ("dashboard", "/"),
    ("learners", "/learners"),
    ("learners-invalid", "/learners?state=invalid"),
    ("duplicates", "/duplicates"),
    ("merge", "/merge"),
    ("documents", "/documents"),
    ("documents-unmatched", "/documents/unmatched"),
    ("documents-not-representable", "/documents/not-representable"),
    ("reconciliation", "/documents/reconciliation"),
    ("history", "/history"),
    ("settings", "/settings"),
]


def prepare(home: Path, scale: float) -> tuple[ServerThread, list[ServerThread], str]:
    """Seeded sandboxes, a store connected to both with the flow run once, and the web UI."""
    xero_store = SandboxStore(home / "xero-sandbox.db")
    xero_clock = Clock()
    client_id, client_secret = "learnerledger-screenshots", secrets.token_urlsafe(24)
    prepare_store(xero_store, xero_clock, clients=[(client_id, client_secret)])
    seed_organisation(xero_store, scale=scale)
    wisenet_store = wisenet_sandbox.SandboxStore(home / "wisenet-sandbox.db")
    wisenet_clock = wisenet_sandbox.Clock()
    wisenet_sandbox.seed_account(wisenet_store, scale=scale)
    (api_key,) = wisenet_sandbox.prepare_keys(wisenet_store, wisenet_clock, ["screenshots-key"])
    xero = ServerThread(create_app(xero_store, clock=xero_clock)).start()
    wisenet = ServerThread(wisenet_sandbox.create_app(wisenet_store, clock=wisenet_clock)).start()
    store = open_store(f"sqlite:///{home / 'learnerledger.db'}")
    config = load_config(overrides={"home": str(home)}, environ={})
    box = load_secret_box(home)
    wconn = connect_wisenet(store, box, api_key=api_key, base_url=wisenet.url + "/v1")
    with open_wisenet(wconn.base_url, wconn.api_key) as wclient:
        pull_learners(store, wclient, connection_id=wconn.id)
    connection = connect_custom(
        store, box, client_id=client_id, client_secret=client_secret, base_url=xero.url
    )
    with open_xero(store, config, connection=connection) as client:
        sync_learners(store, client)
        find_duplicates_job(store, client)
        # A few duplicates confirmed and merged in Xero (its Merge screen moves the legacy
        # contact's documents to the learner's), so that the resync has documents to write.
        merged = 0
        for pair in duplicates.list_pairs(store, connection.id, status="auto"):
            if not pair.survivor_id:
                continue
            answer = httpx.post(
                f"{xero.url}/sandbox/organisations/{connection.tenant_id}/contacts/"
                f"{pair.contact_id}/merge",
                json={"TargetContactID": pair.survivor_id},
            )
            if answer.status_code != 200:  # Xero offers no merge of it (an archived contact)
                continue
            decide(store, connection.id, "confirmed", pair=(pair.ref_internal, pair.contact_id))
            merged += 1
            if merged == MERGED:
                break
        confirmed = [
            p
            for p in duplicates.list_pairs(store, connection.id, status="auto")
            if p.survivor_id and p.decision is None
        ][:CONFIRMED]
        for pair in confirmed:
            decide(store, connection.id, "confirmed", pair=(pair.ref_internal, pair.contact_id))
        pull_documents(store, client)
        with open_wisenet(wconn.base_url, wconn.api_key) as wclient:
            resync_documents(store, client, wisenet=WisenetTarget(wclient, wconn.id, 10_000))
        # Half of those learners have a new invoice on their own contact: no swap for them, so
        # their legacy contacts' paid history goes on the worklist for Xero's Merge.
        for pair in confirmed[::2]:
            fee = {"Description": "Course fee", "Quantity": 1, "UnitAmount": "450.00"}
            draft = {
                "Type": "ACCREC",
                "Contact": {"ContactID": pair.survivor_id},
                "Status": "DRAFT",
                "LineItems": [{**fee, "AccountCode": "210"}],
            }
            key = f"screenshots-{pair.ref_internal}"
            client.request("PUT", "Invoices", body={"Invoices": [draft]}, idempotency_key=key)
    Users(store).add("finance", "admin", "screenshots only")
    web = ServerThread(create_web(store, config)).start()
    return web, [xero, wisenet], web.url


def reconcile(page: Any, url: str, timeout: float = 120) -> None:
    """Reconcile now, from the Documents page, and wait for its result."""
    page.goto(url + "/documents/reconciliation")
    page.get_by_role("button", name="Reconcile now").click()
    deadline = time.monotonic() + timeout
    while not page.locator(".summary").count():
        if time.monotonic() > deadline:
            raise TimeoutError("the reconciliation did not finish")
        time.sleep(1)
        page.reload()


def merge(page: Any, url: str, out: Path) -> list[Path]:
    """The Merge page: the plan (its clusters with history only Xero's Merge moves), then,
    once applied, the worklist."""
    page.goto(url + "/merge")
    page.get_by_role("button", name="Make the plan").click()
    page.locator(".totals").wait_for(timeout=120_000)  # the page reloads when the plan is made
    if page.locator("option[value=worklist]").count():
        page.goto(url + "/merge?state=worklist")
    plan = out / "merge.png"
    page.screenshot(path=str(plan), full_page=True)
    page.get_by_role("button", name="Apply the plan").click()
    page.locator("#apply-h + p.summary").wait_for(timeout=120_000)
    page.evaluate("document.getElementById('worklist-h').scrollIntoView()")
    worklist = out / "merge-worklist.png"
    page.screenshot(path=str(worklist))
    return [plan, worklist]


def capture(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    made = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/login")
        page.screenshot(path=str(out / "login.png"))
        made.append(out / "login.png")
        page.get_by_label("User name").fill("finance")
        page.get_by_label("Password").fill("screenshots only")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(url + "/")
        reconcile(page, url)
        for name, path in PAGES[1:]:
            if name == "merge":
                made += merge(page, url, out)
                continue
            page.goto(url + path)
            target = out / f"{name}.png"
            page.screenshot(
                path=str(target), full_page=name in ("dashboard", "settings", "reconciliation")
            )
            made.append(target)
        browser.close()
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05, help="Size of the demo data.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        web, sandboxes, url = prepare(Path(tmp), args.scale)
        try:
            for path in capture(url, args.out):
                print(path)
        finally:
            web.stop()
            for server in sandboxes:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
