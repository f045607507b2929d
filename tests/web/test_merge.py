"""The Merge page against the Xero sandbox over HTTP: make the plan (movable and blocked
documents with their reasons, totals, calls), apply it in the background (a second start
refused naming the running run), the worklist with its links into Xero and its CSV and
printable page, Verify now (done, and a merge done the wrong way round flagged with its fix),
the same data from /api/merge; viewers see it all and start nothing, and a form without its
CSRF token changes nothing."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from typing import Any

import httpx
import pytest

from learnerledger.merge import worklist_csv
from learnerledger.web import CSRF_FIELD, Users
from merge.scenario import Org, organisation, sync_and_confirm
from sandbox_documents import line
from web.conftest import ADMIN, VIEWER, Web
from web.test_pages import _fault, wait_for_task

SURVIVOR_NAME = "Felicity Jones DAU0000001"


@pytest.fixture
def org(make_xero_sandbox: Any, connect_xero: Any) -> Org:
    return organisation(make_xero_sandbox, connect_xero)


def _worklist_org(org: Org) -> tuple[dict[str, Any], dict[str, Any]]:
    """Felicity's legacy contact holds an invoice with a payment (blocked) and an unpaid one
    (it moves); her own contact holds an invoice, so no swap: Xero's Merge is needed. Returns
    the paid invoice and its payment."""
    legacy = org.legacy["DAU0000001"]
    paid = org.books.invoice(legacy, line("400"))
    payment = org.books.pay(paid["InvoiceID"], "120.00", date="2025-03-02")
    org.books.invoice(legacy, line("90"))
    sync_and_confirm(org)
    org.books.invoice(org.survivor("DAU0000001"), line("60"))
    return paid, payment


def _run(web: Web, client: httpx.Client, step: str, **data: Any) -> Any:
    """Press a step's button on the Merge page and wait for its job to end."""
    answer = web.post(client, "/merge", f"/merge/{step}", **data)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/merge?org=")
    task = wait_for_task(web)
    assert task.status == "succeeded", task.message
    return task


def test_plan_apply_the_worklist_and_verify_from_the_merge_page(web: Web, org: Org) -> None:
    paid, _ = _worklist_org(org)
    legacy, survivor = org.legacy["DAU0000001"], org.survivor("DAU0000001")
    admin = web.sign_in(ADMIN)
    page = admin.get("/merge").text
    assert "JONES, Felicity" in page  # the confirmed cluster, before any plan
    assert "Make the plan" in page
    assert "Apply the plan" not in page  # nothing to apply before the plan is seen

    task = _run(web, admin, "plan")
    assert task.message.startswith("Merge plan for")
    assert task.runs == []  # a plan is no run of the History
    data = admin.get("/api/merge").json()
    plan = data["plan"]
    assert plan["totals"]["worklist"] == 1
    assert plan["outstanding"] == "430.00"  # 280.00 + 90.00 on the legacy contact, 60.00 its own
    assert plan["documents"] == {"move": 1, "blocked": 1, "left": 0}
    assert plan["calls"] > plan["read_calls"] > 0
    (cluster,) = plan["clusters"]
    assert cluster["target"]["contact_id"] == survivor
    (lp,) = cluster["legacy"]
    assert lp["outcome"] == "merge"
    reasons = {d["document_id"]: (d["action"], d["reason"]) for d in lp["documents"]}
    assert reasons[paid["InvoiceID"]] == ("blocked", "payment of $120.00 on 2025-03-02")
    assert "holds 1 document" in cluster["no_swap"]
    sandbox_page = f"{org.sandbox.url}/sandbox/organisations/{org.sandbox.tenant_id}/contacts/"
    assert lp["contact"]["link"] == sandbox_page + legacy
    page = admin.get("/merge").text
    assert "payment of $120.00 on 2025-03-02" in page
    assert "$430.00" in page
    assert f'href="{sandbox_page}{legacy}"' in page
    assert "Apply the plan" in page

    task = _run(web, admin, "apply")
    assert task.run_id is not None
    data = admin.get("/api/merge").json()
    assert data["apply"]["status"] == "succeeded"
    assert data["apply"]["counts"]["moved"] == 1
    assert data["worklist"]["from"] == "apply"
    (item,) = data["worklist"]["items"]
    assert item["legacy_contact_id"] == legacy
    assert item["open_in_xero"] == sandbox_page + legacy
    assert (item["merge_into_name"], item["contact_code"]) == (SURVIVOR_NAME, "DAU0000001")
    page = admin.get("/merge").text
    assert f"Merge JONES, Felicity into {SURVIVOR_NAME}" in page
    assert "Tick &#39;JONES, Felicity&#39; (the contact that goes)" in page
    assert "Contact Code <strong>DAU0000001</strong>" in page

    download = admin.get("/merge/worklist.csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    (row,) = list(csv.DictReader(io.StringIO(download.text)))
    assert (row["legacy_contact_id"], row["merge_into_contact_id"]) == (legacy, survivor)
    assert row["open_in_xero"] == sandbox_page + legacy
    held = web.jobs.merged(org.setup.connection.id).apply
    assert download.text == worklist_csv(held.result.worklist)
    printable = admin.get("/merge/worklist.html")
    assert printable.status_code == 200
    assert f"Merge <b>JONES, Felicity</b> into <b>{SURVIVOR_NAME}</b>" in printable.text
    # Its own style sheet is allowed by its hash, and nothing else is.
    (style,) = re.findall(r"<style>(.*?)</style>", printable.text, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = printable.headers["content-security-policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy

    # The person follows the link and merges in Xero, the right way round.
    assert org.merge_in_xero(legacy, "", by_name=SURVIVOR_NAME).status_code == 303
    _run(web, admin, "verify")
    data = admin.get("/api/merge").json()
    assert [c["state"] for c in data["verify"]["clusters"]] == ["done"]
    assert data["verify"]["wrong_direction"] == []
    assert data["worklist"] == {
        "from": "verify",
        "items": [],
        "made_utc": data["verify"]["made_utc"],
        "started_by": ADMIN[0],
        "run_id": data["verify"]["run_id"],
    }
    page = admin.get("/merge").text
    assert "Nothing for Xero's Merge." in page
    assert "Merged the wrong way round" not in page


def test_a_merge_the_wrong_way_round_is_flagged_with_its_fix(web: Web, org: Org) -> None:
    _worklist_org(org)
    legacy, survivor = org.legacy["DAU0000001"], org.survivor("DAU0000001")
    admin = web.sign_in(ADMIN)
    _run(web, admin, "plan")
    _run(web, admin, "apply")
    # Someone merges the learner's own contact into the old one.
    assert org.merge_in_xero(survivor, legacy).status_code == 200
    _run(web, admin, "verify")
    verify = admin.get("/api/merge").json()["verify"]
    (flagged,) = verify["wrong_direction"]
    assert flagged["state"] == "wrong_direction"
    assert f"restore '{SURVIVOR_NAME}'" in flagged["fix"]
    assert f"merge it into '{SURVIVOR_NAME}'" in flagged["fix"]
    page = admin.get("/merge").text
    flag = page.index("Merged the wrong way round: 1")
    assert flag < page.index('id="plan-h"')  # at the top, before everything else
    assert f"restore &#39;{SURVIVOR_NAME}&#39;" in page[flag:]
    assert 'role="alert"' in page[:flag]


def test_a_verify_the_money_check_stopped_says_why_in_its_step(web: Web, org: Org) -> None:
    paid, payment = _worklist_org(org)
    admin = web.sign_in(ADMIN)
    _run(web, admin, "plan")
    _run(web, admin, "apply")
    deleted = org.books.http.post(
        f"/Payments/{payment['PaymentID']}", json={"Payments": [{"Status": "DELETED"}]}
    )
    assert deleted.status_code == 200, deleted.text
    web.post(admin, "/merge", "/merge/verify")
    assert wait_for_task(web).status == "failed"
    failed = admin.get("/api/merge").json()["failed"]
    assert list(failed) == ["verify"]
    assert failed["verify"]["message"].startswith("Money is not conserved since the last check")
    page = admin.get("/merge").text
    step = page[page.index('id="verify-h"') :]
    assert "Verify the merges failed" in step
    assert f"invoice {paid['InvoiceNumber']}" in step
    assert "merge verify --accept" in step


def test_a_second_apply_is_refused_naming_the_running_run(web: Web, org: Org) -> None:
    org.books.invoice(org.legacy["DAU0000001"], line("90"))  # it moves through the API
    sync_and_confirm(org)
    admin = web.sign_in(ADMIN)
    _run(web, admin, "plan")
    _fault(org.sandbox, rules=[{"kind": "hold", "count": 1, "method": "POST", "path": "Invoices"}])
    web.post(admin, "/merge", "/merge/apply")
    _fault(org.sandbox, "/held", count=1)
    (task,) = web.jobs.running()
    assert task.job == "merge apply"
    assert task.run_id is not None
    page = admin.get("/merge").text
    assert f'data-task="{task.id}"' in page  # the page follows it live
    assert "Apply the merge plan is running, started by ada" in page
    again = web.post(admin, "/merge", "/merge/apply")
    assert again.status_code == 303
    refused = admin.get("/merge").text
    assert f"is already running (run #{task.run_id}), started by ada" in refused
    viewer = web.sign_in(VIEWER)
    assert "data-task" in viewer.get("/merge").text
    assert _fault(org.sandbox, "/release") == {"released": 1}
    assert web.jobs.wait(task.id, 120)
    assert task.status == "succeeded", task.message
    assert len(web.jobs.tasks()) == 2  # the plan and the one apply
    assert "1 document re-pointed" in admin.get("/merge").text


def test_a_verify_run_elsewhere_is_pointed_at(web: Web, org: Org) -> None:
    from learnerledger.merge import merge_verify

    sync_and_confirm(org)
    admin = web.sign_in(ADMIN)
    _run(web, admin, "verify")
    assert "A later merge verify ran" not in admin.get("/merge").text
    with org.setup.client() as client:  # as `learnerledger merge verify` does
        report = merge_verify(org.setup.store, client)
    data = admin.get("/api/merge").json()["history"]["verify"]
    assert (data["newer"], data["last_run"]["id"]) == (True, report.run_id)
    assert f'A later merge verify ran (<a href="/history/{report.run_id}">' in (
        admin.get("/merge").text
    )


def test_a_viewer_sees_the_merge_page_and_starts_nothing(web: Web, org: Org) -> None:
    _worklist_org(org)
    admin = web.sign_in(ADMIN)
    _run(web, admin, "plan")
    _run(web, admin, "apply")
    viewer = web.sign_in(VIEWER)
    page = viewer.get("/merge").text
    assert "JONES, Felicity" in page
    assert "payment of $120.00 on 2025-03-02" in page
    assert '<form method="post" action="/merge' not in page
    assert viewer.get("/merge/worklist.csv").status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    for step in ("plan", "apply", "verify"):
        answer = viewer.post(f"/merge/{step}", data={CSRF_FIELD: token.group(1)})
        assert answer.status_code == 403, step
        assert "viewers can look but not change anything" in answer.text
    api = web.client(headers={"Authorization": f"Bearer {Users(web.store).new_token(VIEWER[0])}"})
    data = api.get("/api/merge").json()
    assert data["plan"]["totals"]["worklist"] == 1
    assert len(data["worklist"]["items"]) == 1
    assert api.post("/api/merge").status_code in (403, 405)
    assert api.post("/merge/apply").status_code == 303  # a token opens the API only
    assert len(web.jobs.tasks()) == 2


def test_a_merge_form_without_its_csrf_token_changes_nothing(web: Web, org: Org) -> None:
    sync_and_confirm(org)
    admin = web.sign_in(ADMIN)
    for step in ("plan", "apply", "verify"):
        for data in ({}, {CSRF_FIELD: "forged"}):
            answer = admin.post(f"/merge/{step}", data=data)
            assert answer.status_code == 403, (step, data)
            assert "Nothing was changed" in answer.text
    assert web.jobs.tasks() == []


def test_no_worklist_to_download_before_an_apply(web: Web) -> None:
    admin = web.sign_in(ADMIN)
    for path in ("/merge/worklist.csv", "/merge/worklist.html"):
        answer = admin.get(path)
        assert answer.status_code == 404, path
        assert "press Apply the plan" in answer.text
    assert "No Xero organisation is connected yet" in admin.get("/merge").text
    assert admin.get("/api/merge").json()["plan"] is None
