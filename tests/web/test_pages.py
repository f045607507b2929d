"""The web UI's pages against the sandboxes over HTTP: connecting through the forms (a custom
connection, OAuth with PKCE through the real redirect, Wisenet with an API key), jobs in the
background that survive the browser leaving and refuse a second start, the learners list,
the duplicate review, the History, and no secret in any page, API answer or log line."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import httpx
import pytest

from conftest import OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, PKCE_CLIENT_ID, XeroSandbox
from learnerledger.domain.learner import Address
from learnerledger.jobs import Job
from learnerledger.store import Store, connections, history, load_secret_box
from learnerledger.web import CSRF_FIELD
from merge.test_duplicates import STREET
from sync.test_sync_learners import ROOMY, make_learner, put_learners, xero_contacts
from web.conftest import ADMIN, VIEWER, Web, csrf_of


def connect_custom(web: Web, client: httpx.Client, sandbox: XeroSandbox) -> None:
    answer = web.post(
        client,
        "/settings",
        "/settings/xero/custom",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        base_url=sandbox.url,
    )
    assert answer.status_code == 303, answer.text
    assert "Connected" in client.get("/settings").text


def wait_for_task(web: Web) -> Any:
    """The newest job started here, once it has finished."""
    task = web.jobs.tasks()[0]
    assert web.jobs.wait(task.id, 120), f"{task.title} did not finish"
    return task


def answer_consent(sandbox: XeroSandbox, url: str, decision: str = "allow") -> str:
    """The person at the browser on the sandbox's consent page: tick the organisation, answer,
    and return where Xero redirects (learnerledger's callback)."""
    page = httpx.get(url)
    assert page.status_code == 200, page.text
    form = {
        k: html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
    }
    answer = httpx.post(
        sandbox.url + "/identity/connect/authorize",
        data={**form, "tenant": [sandbox.tenant_id], "decision": decision},
    )
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def _fault(sandbox: XeroSandbox, action: str = "", **body: Any) -> Any:
    url = f"{sandbox.url}/sandbox/faults{action}"
    response = httpx.get(url, params=body) if action == "/held" else httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def sandbox(make_xero_sandbox: Any) -> XeroSandbox:
    made: XeroSandbox = make_xero_sandbox(limits=ROOMY)
    return made


def test_connect_sync_and_see_each_learners_link_state(
    web: Web, sandbox: XeroSandbox, store: Store
) -> None:
    put_learners(
        store,
        make_learner("DAU0000001"),
        make_learner("DAU0000002", first="Sam"),
        make_learner("DAU0000003", email="nope"),
        make_learner("DAU0000004", first="Noel", sync_to_xero=False),
    )
    admin = web.sign_in(ADMIN)
    assert "Xero is not connected." in admin.get("/").text
    connect_custom(web, admin, sandbox)
    answer = web.post(admin, "/learners", "/jobs", job="sync learners")
    assert answer.headers["location"] == "/history"
    task = wait_for_task(web)
    assert task.status == "succeeded", task.message
    assert "2 created" in task.message
    numbers = sorted(c.get("ContactNumber") for c in xero_contacts(sandbox))
    assert numbers == ["DAU0000001", "DAU0000002"]

    page = admin.get("/learners").text
    assert "4 learners." in page
    assert "Correct the email address" in page  # why DAU0000003 is not ready, as a fix
    linked = admin.get("/api/learners", params={"state": "linked"}).json()
    assert [x["ref_internal"] for x in linked["learners"]] == ["DAU0000001", "DAU0000002"]
    assert all(x["contact_name"] for x in linked["learners"])
    assert admin.get("/api/learners", params={"state": "not_flagged"}).json()["total"] == 1
    found = admin.get("/api/learners", params={"q": "sam dau"}).json()
    assert [x["ref_internal"] for x in found["learners"]] == ["DAU0000002"]

    dashboard = admin.get("/api/status").json()
    assert dashboard["link_states"] == {
        "linked": 2,
        "ready": 0,
        "invalid": 1,
        "conflict": 0,
        "not_flagged": 1,
    }
    assert any(a["link"] == "/learners?state=invalid" for a in dashboard["attention"])
    assert dashboard["status"]["budget"][0]["day_remaining"] < 1_000_000
    home = admin.get("/").text
    assert "Left today" in home
    run = history.last_run(store, "sync learners", dashboard["status"]["connections"][0]["id"])
    assert run is not None
    detail = admin.get(f"/history/{run.id}").text
    assert "invalid_email" in detail
    assert "Correct the email address" in detail


def test_a_conflict_shows_on_the_learner_with_how_to_fix_it(
    web: Web, sandbox: XeroSandbox, store: Store
) -> None:
    put_learners(store, make_learner("DAU0000009"))
    admin = web.sign_in(ADMIN)
    connect_custom(web, admin, sandbox)
    web.post(admin, "/learners", "/jobs", job="sync learners")
    assert wait_for_task(web).status == "succeeded"
    # Someone archives the learner's contact in Xero: the next sync cannot use it.
    http = sandbox.http()
    [made] = http.get("/Contacts", params={"where": 'ContactNumber=="DAU0000009"'}).json()[
        "Contacts"
    ]
    archived = http.post(f"/Contacts/{made['ContactID']}", json={"ContactStatus": "ARCHIVED"})
    assert archived.status_code == 200, archived.text
    web.post(admin, "/learners", "/jobs", job="sync learners")
    assert wait_for_task(web).status == "succeeded"
    conflicts = admin.get("/api/learners", params={"state": "conflict"}).json()
    assert [x["ref_internal"] for x in conflicts["learners"]] == ["DAU0000009"]
    assert conflicts["learners"][0]["problems"]
    assert "conflict" in admin.get("/learners?state=conflict").text


def test_learners_page_through_search_and_filter(web: Web, store: Store) -> None:
    put_learners(
        store,
        *(make_learner(f"DAU{i:07d}", first=f"Name{i}") for i in range(1, 121)),
        make_learner("DAU0000999", first="Zed", last="O'Brien_x", email="zed@example.com"),
    )
    admin = web.sign_in(VIEWER)
    first = admin.get("/api/learners").json()
    assert (first["total"], first["pages"], len(first["learners"])) == (121, 3, 50)
    third = admin.get("/api/learners", params={"page": 3}).json()
    assert [x["ref_internal"] for x in third["learners"]][-1] == "DAU0000999"
    assert len(third["learners"]) == 21
    assert admin.get("/api/learners", params={"q": "o'brien_X"}).json()["total"] == 1
    assert admin.get("/api/learners", params={"q": "%"}).json()["total"] == 0  # no wildcards
    page = admin.get("/learners", params={"q": "Name11", "page": 1}).text
    assert "11 learners match." in page  # Name11, Name110..Name119
    assert 'rel="next"' not in page
    assert 'rel="next"' in admin.get("/learners").text


def test_connect_xero_through_the_oauth_redirect_with_pkce(web: Web, sandbox: XeroSandbox) -> None:
    admin = web.sign_in(ADMIN)
    start = web.post(
        admin, "/settings", "/settings/xero/oauth", client_id=PKCE_CLIENT_ID, base_url=sandbox.url
    )
    assert start.status_code == 303
    consent_url = start.headers["location"]
    assert consent_url.startswith(sandbox.url + "/identity/connect/authorize?")
    assert "code_challenge_method=S256" in consent_url
    callback = answer_consent(sandbox, consent_url)
    assert callback.startswith(web.url + "/settings/xero/callback?code=")
    # A stranger's browser cannot use the answer: the consent belongs to this session.
    stranger = web.sign_in(ADMIN)
    assert "does not belong" in stranger.get(callback, follow_redirects=True).text
    back = admin.get(callback)
    assert back.headers["location"] == "/settings"
    settings = admin.get("/settings").text
    assert "Connected" in settings
    [row] = connections.list_connections(web.store, "xero")
    assert (row.auth_mode, row.state, row.tenant_id) == ("oauth", "connected", sandbox.tenant_id)
    # The same answer cannot be used twice.
    assert "does not belong" in admin.get(callback, follow_redirects=True).text


def test_an_oauth_app_with_a_secret_and_a_refused_consent(web: Web, sandbox: XeroSandbox) -> None:
    admin = web.sign_in(ADMIN)
    start = web.post(
        admin,
        "/settings",
        "/settings/xero/oauth",
        client_id=OAUTH_CLIENT_ID,
        client_secret=OAUTH_CLIENT_SECRET,
        base_url=sandbox.url,
    )
    denied = answer_consent(sandbox, start.headers["location"], decision="deny")
    page = admin.get(denied, follow_redirects=True).text
    assert "Xero did not grant access (access_denied)" in page
    assert "Start again with Connect Xero" in page
    assert connections.list_connections(web.store, "xero") == []


def test_wisenet_connects_with_its_key_and_a_wrong_key_says_so(
    web: Web, wisenet_sandbox: Any, store: Store
) -> None:
    admin = web.sign_in(ADMIN)
    wrong = web.post(
        admin, "/settings", "/settings/wisenet", api_key="not-the-key", base_url=wisenet_sandbox.url
    )
    assert wrong.status_code == 303
    assert "API key" in admin.get("/settings").text
    right = web.post(
        admin,
        "/settings",
        "/settings/wisenet",
        api_key=wisenet_sandbox.api_key,
        base_url=wisenet_sandbox.url,
    )
    assert right.status_code == 303
    page = admin.get("/settings").text
    assert "the key works" in page
    answer = web.post(admin, "/settings", "/jobs", job="pull learners")
    assert answer.status_code == 303
    task = wait_for_task(web)
    assert task.status == "succeeded", task.message
    assert admin.get("/api/learners").json()["total"] > 0
    [row] = connections.list_connections(store, "wisenet")
    web.post(admin, "/settings", f"/settings/connections/{row.id}/disconnect")
    settings = admin.get("/settings").text
    assert "Disconnected" in settings
    assert "Pull learners now" not in settings
    # A form sent from a page opened before the disconnect.
    token = csrf_of(settings)
    refused = admin.post("/jobs", data={CSRF_FIELD: token, "job": "pull learners"})
    assert refused.status_code == 303
    assert "Wisenet is not connected" in admin.get("/history").text


def test_a_job_already_running_is_refused_naming_the_run(
    web: Web, sandbox: XeroSandbox, store: Store
) -> None:
    put_learners(store, make_learner("DAU0000001"))
    admin = web.sign_in(ADMIN)
    connect_custom(web, admin, sandbox)
    [row] = connections.list_connections(store, "xero")
    with Job(store, "sync learners", connection_id=row.id, organisation=row.name) as running:
        refused = web.post(admin, "/learners", "/jobs", job="sync learners")
        assert refused.status_code == 303
        page = admin.get("/learners").text
        assert f"sync learners for {row.name!r}".replace("'", "&#39;") in page
        assert f"is already running (run #{running.run_id}" in page
        resync = web.post(admin, "/settings", "/settings/resync", what="learners", org=str(row.id))
        assert resync.status_code == 303
        assert f"run #{running.run_id}" in admin.get("/settings").text
    assert web.jobs.tasks() == []  # nothing was started
    assert "DAU0000001" not in [c.get("ContactNumber") for c in xero_contacts(sandbox)]


def test_a_job_goes_on_when_the_browser_leaves_and_a_second_start_waits_for_it(
    web: Web, sandbox: XeroSandbox, store: Store
) -> None:
    put_learners(store, *(make_learner(f"DAU{i:07d}") for i in range(1, 4)))
    admin = web.sign_in(ADMIN)
    connect_custom(web, admin, sandbox)
    hold = {"kind": "hold", "count": 1, "method": "PUT", "path": "Contacts"}
    _fault(sandbox, rules=[hold])
    web.post(admin, "/learners", "/jobs", job="sync learners")
    _fault(sandbox, "/held", count=1)  # the job's write is in flight
    task = web.jobs.tasks()[0]
    assert task.status == "running"
    again = web.sign_in(ADMIN)
    web.post(again, "/learners", "/jobs", job="sync learners")
    refusal = again.get("/learners").text  # the form's page, with the notice
    assert "Sync learners to Xero" in refusal
    assert "is already running" in refusal
    running = again.get("/api/runs", params={"status": "running"}).json()["runs"]
    assert [r["job"] for r in running] == ["sync learners"]
    assert "data-run=" in again.get("/history").text  # the live progress is watched
    admin.close()  # the browser is gone
    again.close()
    assert _fault(sandbox, "/release") == {"released": 1}
    finished = wait_for_task(web)
    assert finished.status == "succeeded", finished.message
    assert len(web.jobs.tasks()) == 1
    assert sorted(c["ContactNumber"] for c in xero_contacts(sandbox)) == [
        "DAU0000001",
        "DAU0000002",
        "DAU0000003",
    ]
    run = history.get_run(store, finished.run_id)
    assert run is not None
    assert run.status == "succeeded"


def _duplicates_setup(web: Web, sandbox: XeroSandbox, store: Store) -> httpx.Client:
    street = Address("14 Wattle St", "Parramatta", "NSW", "2150", "Australia")
    put_learners(
        store,
        make_learner("DAU0000001", email="felicity.jones@example.com", street=street),
        make_learner("DAU0000002", first="Priya", last="Natarajan", street=street),
    )
    admin = web.sign_in(ADMIN)
    connect_custom(web, admin, sandbox)
    web.post(admin, "/settings", "/settings/resync", what="learners")
    assert wait_for_task(web).status == "succeeded"
    # A contact typed in by hand after the learners got theirs: a duplicate of Felicity's.
    sandbox.http().put(
        "/Contacts",
        json={
            "Name": "JONES, Felicity",
            "EmailAddress": "Felicity.Jones@Example.com",
            "Addresses": [STREET],
        },
    )
    web.post(admin, "/duplicates", "/jobs", job="find duplicates")
    assert wait_for_task(web).status == "succeeded"
    return admin


def test_review_a_duplicate_side_by_side_and_confirm_it(
    web: Web, sandbox: XeroSandbox, store: Store
) -> None:
    admin = _duplicates_setup(web, sandbox, store)
    data = admin.get("/api/duplicates").json()
    assert data["open"] == 1
    [cluster] = data["clusters"]
    assert cluster["ref_internal"] == "DAU0000001"
    [pair] = cluster["pairs"]
    rows = {r["label"]: r for r in pair["rows"]}
    assert rows["Email"]["verdict"] == "agree"
    assert rows["Email"]["learner"] == "felicity.jones@example.com"
    assert rows["Email"]["contact"] == "Felicity.Jones@Example.com"
    assert cluster["survivor_name"] == "Felicity Jones DAU0000001"
    page = admin.get("/duplicates").text
    assert 'class="agree"' in page
    assert "Confirm: same person" in page
    viewer = web.sign_in(VIEWER)
    assert "Confirm: same person" not in viewer.get("/duplicates").text
    decided = web.post(
        admin,
        "/duplicates",
        "/duplicates/decide",
        ref_internal="DAU0000001",
        contact_id=pair["contact_id"],
        decision="confirmed",
    )
    assert decided.status_code == 303
    assert "1 pair confirmed." in admin.get("/duplicates").text
    merge = admin.get("/api/merge").json()
    assert [c["ref_internal"] for c in merge["clusters"]] == ["DAU0000001"]
    assert "JONES, Felicity" in admin.get("/merge").text
    bad = web.post(
        admin,
        "/duplicates",
        "/duplicates/decide",
        scope="min_score",
        min_score="2",
        decision="confirmed",
    )
    assert bad.status_code == 303
    assert "outside 0 to 1" in admin.get("/duplicates").text


def test_decide_every_auto_pair_or_every_pair_above_a_score(
    web: Web, sandbox: XeroSandbox, store: Store
) -> None:
    admin = _duplicates_setup(web, sandbox, store)
    web.post(
        admin,
        "/duplicates",
        "/duplicates/decide",
        scope="min_score",
        min_score="0.01",
        decision="rejected",
    )
    data = admin.get("/api/duplicates", params={"status": "rejected"}).json()
    assert data["pairs"] == 1
    assert admin.get("/api/duplicates").json()["open"] == 0
    assert "0 pairs confirmed." in (
        web.post(
            admin, "/duplicates", "/duplicates/decide", scope="all_auto", decision="confirmed"
        ).status_code
        == 303
        and admin.get("/duplicates").text
    )


def test_no_secret_reaches_a_page_an_api_answer_or_a_log_line(
    web: Web, sandbox: XeroSandbox, wisenet_sandbox: Any, store: Store, web_logs: Any
) -> None:
    put_learners(store, make_learner("DAU0000001"))
    admin = web.sign_in(ADMIN)
    connect_custom(web, admin, sandbox)
    web.post(
        admin,
        "/settings",
        "/settings/wisenet",
        api_key=wisenet_sandbox.api_key,
        base_url=wisenet_sandbox.url,
    )
    start = web.post(
        admin,
        "/settings",
        "/settings/xero/oauth",
        client_id=OAUTH_CLIENT_ID,
        client_secret=OAUTH_CLIENT_SECRET,
        base_url=sandbox.url,
    )
    callback = answer_consent(sandbox, start.headers["location"])
    code = httpx.QueryParams(callback.split("?", 1)[1])["code"]
    assert admin.get(callback).headers["location"] == "/settings"
    web.post(admin, "/settings", "/settings/resync", what="learners")
    assert wait_for_task(web).status == "succeeded"
    token = web.app.state.users.new_token(ADMIN[0])
    box = load_secret_box(web.config.home)
    secrets_held = {
        sandbox.client_secret,
        OAUTH_CLIENT_SECRET,
        wisenet_sandbox.api_key,
        code,
        token,
        admin.cookies["learnerledger_session"],
        ADMIN[1],
    }
    for row in connections.list_connections(store):
        assert row.secret is not None
        for key, value in box.open(row.secret).items():
            if key in ("access_token", "refresh_token", "client_secret", "api_key") and value:
                secrets_held.add(str(value))
    assert len(secrets_held) >= 9
    shown = []
    pages = ["/", "/learners", "/duplicates", "/merge", "/history", "/settings"]
    for path in [*pages, "/documents", "/documents/unmatched", "/documents/reconciliation"]:
        shown.append(admin.get(path).text)
    for run in admin.get("/api/runs").json()["runs"]:
        shown.append(admin.get(f"/history/{run['id']}").text)
    api = web.client(headers={"Authorization": f"Bearer {token}"})
    for path in ["status", "learners", "duplicates", "merge", "documents", "runs", "jobs", "me"]:
        shown.append(api.get(f"/api/{path}").text)
    for path in ["unmatched", "not-representable", "reconciliation"]:
        shown.append(api.get(f"/api/documents/{path}").text)
    # What the server logged, its HTTP clients included: the lines of its threads (the test's
    # own client logs on the main thread, cookies and all).
    logs = "\n".join(
        logging.Formatter("%(name)s %(message)s").format(r)
        for r in web_logs.records
        if r.threadName != "MainThread"
    )
    assert "connect/token" in logs  # the server's calls to Xero are there too
    assert "GET /settings/xero/callback 303" in logs  # requests are logged, without a query
    for secret in secrets_held:
        for text in [*shown, logs]:
            assert secret not in text
