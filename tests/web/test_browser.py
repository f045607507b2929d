"""The web UI in a real browser (Playwright driving Debian's headless Chromium): sign in,
connect both sandboxes (Xero through its real OAuth redirect and consent page), resync the
learners with live progress, review duplicates with the keyboard and confirm one, resync the
documents with a date range and see the reconciliation on the Documents page, download its
CSV; find a duplicate typed in by hand and merge it: make the plan, apply it, follow the
worklist's link to the sandbox's Merge page and merge there, verify it done; a viewer cannot
apply anything, nor start a resync or a merge; and every page passes axe-core with no serious
or critical violation."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import PKCE_CLIENT_ID, XeroSandbox
from learnerledger.resync.reconcile import reconciliation_csv
from learnerledger.sandbox.xero.seed import seed_organisation
from learnerledger.store import duplicates, links
from resync.conftest import day
from sandbox_documents import Books, line
from sync.test_sync_learners import ROOMY
from web.browser import CHROMIUM, axe_source, axe_violations, launch, sign_in
from web.conftest import ADMIN, VIEWER, Web
from web.test_pages import _fault, connect_custom

pytestmark = pytest.mark.slow

SCALE = 0.05  # 30 learners in Wisenet, their hand-typed legacy contacts in Xero


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs it).")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


def _accessible(page: Any, axe: str, seen: dict[str, list[str]], state: str = "") -> None:
    """Check the page as it stands; ``state`` tells apart the states of one address."""
    where = re.sub(r"\?.*", "", page.url)
    seen[f"{where} ({state})" if state else where] = axe_violations(page, axe)


def test_the_whole_flow_in_a_browser(
    browser: Any,
    axe: str,
    web: Web,
    make_xero_sandbox: Any,
    make_wisenet_sandbox: Any,
) -> None:
    from playwright.sync_api import expect

    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    seed_organisation(sandbox.store, scale=SCALE, replace=True, documents=False)
    wisenet = make_wisenet_sandbox(seed=SCALE)
    checked: dict[str, list[str]] = {}
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)

    page.goto(web.url + "/learners")
    assert page.url.startswith(web.url + "/login?next=")
    _accessible(page, axe, checked)
    sign_in(page, web.url, *ADMIN)
    assert page.url == web.url + "/learners"  # where the person was going
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator(".attention")).to_contain_text("Xero is not connected.")
    _accessible(page, axe, checked)

    # Connect Xero: the OAuth redirect to the sandbox's consent page and back, with PKCE.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Client id of your Xero app").fill(PKCE_CLIENT_ID)
    page.locator("#oauth_base_url").fill(sandbox.url)
    _accessible(page, axe, checked)
    page.get_by_role("button", name="Connect Xero").click()
    page.wait_for_url(re.compile(re.escape(sandbox.url) + r"/identity/connect/authorize\?.*"))
    page.get_by_role("button", name="Allow access").click()
    page.wait_for_url(web.url + "/settings")
    expect(page.locator(".notice.ok")).to_contain_text("with OAuth")

    # Connect Wisenet with its API key.
    page.get_by_label("API key").fill(wisenet.api_key)
    page.get_by_label("API address").fill(wisenet.url)
    page.get_by_role("button", name="Connect Wisenet").click()
    expect(page.locator(".notice.ok")).to_contain_text("the key works")

    # Resync the learners; the History follows the running job live.
    _fault(sandbox, rules=[{"kind": "hold", "count": 1, "method": "PUT", "path": "Contacts"}])
    expect(page.locator("#date_from")).to_have_value(re.compile(r"\d{4}-\d\d-\d\d"))
    page.get_by_role("button", name="Resync").click()
    page.wait_for_url(web.url + "/history")
    _fault(sandbox, "/held", count=1)
    page.reload()
    running = page.locator("tr[data-run]")
    expect(running).to_have_count(1)
    expect(running.locator("progress")).to_be_attached()
    _accessible(page, axe, checked)
    assert _fault(sandbox, "/release") == {"released": 1}
    # The page reloads itself when the run ends.
    expect(page.locator("tr[data-run]")).to_have_count(0)
    synced = page.locator("table.runs tbody tr", has_text="sync learners")
    expect(synced).to_contain_text("succeeded")
    synced.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("sync learners")
    _accessible(page, axe, checked)

    page.get_by_role("link", name="Learners").click()
    expect(page.locator("table.learners")).to_contain_text("linked")
    _accessible(page, axe, checked)
    page.get_by_label("Link state").select_option("invalid")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".count")).to_contain_text("match")

    # Find the duplicates and review them with the keyboard.
    _find_duplicates(page, web)
    page.goto(web.url + "/duplicates")
    pairs = page.locator("article.pair")
    assert pairs.count() >= 2
    _accessible(page, axe, checked)
    first_id = pairs.nth(0).get_attribute("id")
    second_id = pairs.nth(1).get_attribute("id")
    expect(pairs.nth(0)).to_be_focused()
    page.keyboard.press("j")
    expect(pairs.nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(pairs.nth(0)).to_be_focused()
    page.keyboard.press("c")
    expect(page.locator(".notice.ok")).to_have_text("1 pair confirmed.")
    # The review carries on at the next pair.
    expect(page.locator(f"[id='{second_id}']")).to_be_focused()
    ref, contact_id = _pair_of(first_id)
    connection_id = _connection_id(web)
    decided = {
        (p.ref_internal, p.contact_id): p.decision
        for p in duplicates.list_pairs(web.store, connection_id)
    }
    assert decided[(ref, contact_id)] == "confirmed"
    page.keyboard.press("r")
    expect(page.locator(".notice.ok")).to_have_text("1 pair rejected.")

    # Invoices in Xero for two learners and an employer; resync them with a date range.
    books = Books(sandbox, sandbox.http())
    with web.store.read() as conn:
        linked = links.load_contact_learners(conn, connection_id)
    learners = sorted((ref, c) for c, (ref, role) in linked.items() if role == "learner")[:2]
    for _, contact_id in learners:
        books.invoice(contact_id, line("250.00"), date=day(20), due=day(5))
    books.invoice(books.contact("Harbour Constructions"), line("900.00"), date=day(15))
    page.get_by_role("link", name="Settings").click()
    page.locator("#what_documents").check()
    page.locator("#date_from").fill(day(60))
    page.locator("#date_to").fill(day(0))
    page.get_by_role("button", name="Resync").click()
    page.wait_for_url(web.url + "/history")
    expect(page.locator(".notice.ok")).to_contain_text(f"documents dated {day(60)} to {day(0)}")
    task = web.jobs.tasks()[0]
    assert web.jobs.wait(task.id, 120)
    assert task.status == "succeeded", task.message

    page.get_by_role("link", name="Documents", exact=True).click()
    expect(page.locator("table.documents tr.learner")).to_have_count(2)
    expect(page.locator("table.documents")).to_contain_text(learners[0][0])
    _accessible(page, axe, checked)
    page.get_by_role("link", name=re.compile(r"^Unmatched")).click()
    expect(page.locator("table.listed")).to_contain_text("Harbour Constructions")
    _accessible(page, axe, checked)
    # The seeded Wisenet holds invoices an earlier integration left: the reconciliation
    # finds them, each with its likely cause and what to do.
    page.get_by_role("link", name=re.compile(r"^Reconciliation")).click()
    held = web.jobs.reconciled(connection_id)
    assert held is not None
    mismatches = len(held.result.mismatches)
    expect(page.locator(".differ")).to_contain_text(f"{mismatches} mismatch")
    expect(page.locator("table.mismatches")).to_contain_text("not_in_xero")
    expect(page.locator("table.mismatches")).to_contain_text("delete it in the SMS")
    _accessible(page, axe, checked)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the reconciliation as CSV").click()
    saved = Path(download.value.path()).read_text("utf-8")
    assert saved == reconciliation_csv(held.result)
    rows = [r.split(",") for r in saved.splitlines()]
    assert rows[0][:3] == ["ref_internal", "xero_outstanding", "sms_outstanding"]
    ours = {r[0]: r for r in rows[1:] if r[0] in dict(learners)}
    assert [(r[1], r[3]) for _, r in sorted(ours.items())] == [("250.00", "1")] * 2

    _merge_a_duplicate(page, axe, checked, web, books, learners[0])

    for name in ("Merge", "Documents", "Dashboard"):
        page.get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)
        _accessible(page, axe, checked)
    expect(page.locator("main")).to_contain_text("Left today")
    expect(page.locator(".attention")).to_contain_text("to no learner")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(web.url + "/login")
    page.goto(web.url + "/")
    assert "/login" in page.url
    context.close()
    failing = {url: found for url, found in checked.items() if found}
    assert not failing, failing
    assert len(checked) >= 15


def _find_duplicates(page: Any, web: Web) -> None:
    """Press Find duplicates again on the Duplicates page and wait for the job to end."""
    page.get_by_role("link", name="Duplicates").click()
    page.get_by_role("button", name="Find duplicates again").click()
    page.wait_for_url(web.url + "/history")
    task = web.jobs.tasks()[0]
    assert web.jobs.wait(task.id, 120)
    assert task.status == "succeeded", task.message


def _merge_a_duplicate(
    page: Any,
    axe: str,
    checked: dict[str, list[str]],
    web: Web,
    books: Books,
    learner: tuple[str, str],
) -> None:
    """Someone types the learner's contact in again by hand and gives it a part-paid invoice
    (only Xero's Merge moves it; the learner's own contact holds an invoice too, so no swap).
    Find the duplicate and confirm it, then on the Merge page: make the plan, apply it, play
    the worklist's merge on the sandbox's own Merge page, and verify."""
    from playwright.sync_api import expect

    ref, survivor = learner
    own = books.get("Contacts", survivor)
    legacy = books.contact(
        f"{own['LastName'].upper()}, {own['FirstName']}",
        EmailAddress=own["EmailAddress"],
        Addresses=own.get("Addresses") or [],
    )
    paid = books.invoice(legacy, line("300.00"), date=day(40), due=day(10))
    books.pay(paid["InvoiceID"], "100.00", date=day(30))
    _find_duplicates(page, web)
    page.get_by_role("link", name="Duplicates").click()
    pair = page.locator(f"[id='pair-{ref}-{legacy}']")
    while not pair.count():
        page.get_by_role("link", name="Next").click()
    pair.get_by_role("button", name="Confirm: same person").click()
    expect(page.locator(".notice.ok")).to_have_text("1 pair confirmed.")

    page.get_by_role("link", name="Merge", exact=True).click()
    expect(page.locator("table.confirmed")).to_contain_text(ref)
    _accessible(page, axe, checked, "confirmed")
    page.get_by_role("button", name="Make the plan").click()
    expect(page.locator(".notice.ok")).to_contain_text("Make the merge plan started")
    # The page follows the job and shows the plan when it ends.
    plan = page.locator("section.cluster", has_text=ref)
    expect(plan.locator("table.plan")).to_contain_text(f"payment of $100.00 on {day(30)}")
    expect(plan.locator(".state.blocked")).to_have_count(1)
    expect(page.locator(".totals")).to_contain_text("1 blocked")
    _accessible(page, axe, checked, "plan")

    page.get_by_role("button", name="Apply the plan").click()
    item = page.locator("ol.worklist > li", has_text=ref)
    expect(item).to_have_count(1)
    expect(page.locator("#apply-h + p.summary")).to_contain_text("succeeded")
    _accessible(page, axe, checked, "worklist")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the worklist as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert [(r["ref_internal"], r["legacy_contact_id"]) for r in rows] == [(ref, legacy)]
    into = rows[0]["merge_into_name"]

    # The worklist's link opens the contact that goes, on the sandbox's contact page; its
    # Merge form takes the Name of the contact that stays, as Xero's Merge screen does.
    item.get_by_role("link", name=re.compile(r"^Open ")).click()
    page.wait_for_url(re.compile(r".*/sandbox/organisations/.*/contacts/" + legacy))
    page.locator('input[name="target"]').fill(into)
    page.get_by_role("button", name="Merge").click()
    expect(page.locator("body")).to_contain_text("Merged into")
    page.go_back()
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Merge")

    page.get_by_role("button", name="Verify now").click()
    verified = page.locator("table.verified tr", has_text=ref)
    expect(verified.locator(".state")).to_have_text("done")
    expect(page.locator("ol.worklist")).to_have_count(0)
    expect(page.locator(".wrong-direction")).to_have_count(0)
    _accessible(page, axe, checked, "verified")


def _pair_of(element_id: str | None) -> tuple[str, str]:
    assert element_id is not None
    _, ref, contact_id = element_id.split("-", 2)
    return ref, contact_id


def _connection_id(web: Web) -> int:
    from learnerledger.store import connections

    [row] = connections.list_connections(web.store, "xero")
    return row.id


def test_a_viewer_cannot_apply_anything(
    browser: Any, axe: str, web: Web, make_xero_sandbox: Any
) -> None:
    from playwright.sync_api import expect

    sandbox: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    connect_custom(web, web.sign_in(ADMIN), sandbox)
    context = browser.new_context()
    page = context.new_page()
    expect.set_options(timeout=30_000)
    sign_in(page, web.url, *VIEWER)
    expect(page.locator(".role")).to_have_text("(viewer)")
    page.goto(web.url + "/settings")
    expect(page.locator("main form")).to_have_count(0)
    assert axe_violations(page, axe) == []
    page.goto(web.url + "/duplicates")
    expect(page.get_by_role("button", name="Find duplicates again")).to_have_count(0)
    # A form forged in the viewer's own browser, with the session's token, is refused too.
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('input[name="csrf_token"]').value;
            const body = new URLSearchParams({csrf_token: token, job: "sync learners"});
            const r = await fetch("/jobs", {method: "POST", body});
            return [r.status, await r.text()];
        }"""
    )
    assert status[0] == 403
    assert "viewers can look but not change anything" in status[1]
    page.goto(web.url + "/documents/reconciliation")
    expect(page.get_by_role("button", name="Reconcile now")).to_have_count(0)
    assert axe_violations(page, axe) == []
    page.goto(web.url + "/merge")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Merge")
    expect(page.locator("main form[method=post]")).to_have_count(0)
    assert axe_violations(page, axe) == []
    forged = [("/settings/resync", "documents"), ("/documents/reconcile", "")]
    for action, what in [
        *forged,
        *((f"/merge/{step}", "") for step in ("plan", "apply", "verify")),
    ]:
        status = page.evaluate(
            """async ([action, extra]) => {
                const token = document.querySelector('input[name="csrf_token"]').value;
                const body = new URLSearchParams({csrf_token: token, what: extra});
                const r = await fetch(action, {method: "POST", body});
                return r.status;
            }""",
            [action, what],
        )
        assert status == 403, action
    assert web.jobs.tasks() == []
    context.close()
