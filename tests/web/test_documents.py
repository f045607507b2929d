"""The Documents pages and the documents resync from Settings, over HTTP against both sandboxes:
a resync with a date range started from the Resync form, on the job frame in the background,
then the documents per learner with what Xero holds and what the SMS got, the unmatched ones
and why, what Wisenet v1 cannot hold, and the reconciliation (the same as ``report reconcile``,
its CSV the same as ``report reconcile --csv``); a running resync refuses a second start; the
dashboard points at what needs attention."""

from __future__ import annotations

import html
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from learnerledger.cli import main
from learnerledger.jobs import Job
from learnerledger.store import history, links
from learnerledger.web import CSRF_FIELD
from resync.conftest import World, as_json, day
from sync.test_sync_learners import make_learner, put_learners
from web.conftest import ADMIN, VIEWER, Web, csrf_of
from web.test_pages import wait_for_task

TUTORING = {
    "Description": "Tutoring",
    "Quantity": "2.5",
    "UnitAmount": "60.00",
    "AccountCode": "210",
}


def cli(web: Web, *args: str) -> str:
    """``learnerledger ARGS`` on the same store and home as the web UI; its standard output."""
    base = ["--home", str(web.config.home), "--database-url", str(web.store.engine.url)]
    result = CliRunner().invoke(main, [*base, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def wisenet_fault(world: World, action: str = "", **body: Any) -> Any:
    url = f"{world.wisenet.server.url}/sandbox/faults{action}"
    response = httpx.get(url, params=body) if action == "/held" else httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def resync_form(web: Web, client: httpx.Client, world: World, **data: str) -> httpx.Response:
    return web.post(
        client, "/settings", "/settings/resync", org=str(world.xero.connection.id), **data
    )


def notices(client: httpx.Client, page: str = "/settings") -> str:
    """The page a form returned to, with its notices, as text (entities unescaped)."""
    return html.unescape(client.get(page).text)


def seeded(world: World) -> dict[str, Any]:
    """Two learners with invoices in and out of the range the tests resync, a line Wisenet
    v1 cannot hold as it is, and an employer's invoice. Returns them by name."""
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    paid = world.invoice(ada, "1250.00", date=day(40))
    world.books.pay(paid["InvoiceID"], "500.00", date=day(20))
    tutoring = world.invoice(grace, lines=[TUTORING], date=day(30))
    old = world.invoice(grace, "10.00", date=day(200), due=day(190))
    employer = world.books.contact("Harbour Constructions")
    theirs = world.invoice(employer, "4800.00", date=day(35))
    return {
        "ada": ada,
        "grace": grace,
        "paid": paid,
        "tutoring": tutoring,
        "old": old,
        "theirs": theirs,
    }


def test_resync_documents_from_settings_with_a_range_then_see_them_and_reconcile(
    web: Web, world: World
) -> None:
    books = seeded(world)
    ada, grace = books["ada"], books["grace"]
    admin = web.sign_in(ADMIN)
    settings = admin.get("/settings").text
    year_before = date.today().replace(year=date.today().year - 1)
    assert f'id="date_from" name="date_from" type="date" value="{year_before}"' in settings
    assert f'value="{date.today()}"' in settings
    assert "disabled" not in settings

    answer = resync_form(
        web, admin, world, what="documents", date_from=day(100), date_to=day(0), reconcile="yes"
    )
    assert answer.headers["location"] == "/history"
    started = notices(admin, "/history")
    assert f"documents dated {day(100)} to {day(0)}" in started
    task = wait_for_task(web)
    assert task.status == "succeeded", task.message
    assert "Reconciliation: 2 learners compared, 0 mismatches" in task.message
    held = world.invoices()
    assert set(held) == {books["paid"]["InvoiceID"], books["tutoring"]["InvoiceID"]}
    connection_id = world.xero.connection.id
    run = history.last_run(web.store, "resync documents", connection_id)
    assert run is not None
    assert f"({day(100)}..{day(0)})" in run.message  # a ranged run, not the incremental one
    assert len(task.runs) == 2  # the resync, then the reconciliation
    # The ranged first resync set where the incremental ones start: the form says so.
    assert (
        f'id="date_from" name="date_from" type="date" value="{day(100)}"'
        in admin.get("/settings").text
    )

    # The invoices the resync wrote, per learner: what Xero holds and what the SMS got.
    listed = admin.get("/api/documents").json()
    assert (listed["kind"], listed["total"]) == ("invoice", 2)
    assert [d["learner"] for d in listed["documents"]] == sorted([ada, grace])
    by_number = {d["number"]: d for d in listed["documents"]}
    paid = by_number[books["paid"]["InvoiceNumber"]]
    assert (paid["learner"], paid["learner_name"]) == (ada, "Ada Lovelace")
    assert (paid["sms"]["state"], paid["sms"]["system"], paid["sms"]["learner"]) == (
        "in_sms",
        "wisenet",
        ada,
    )
    assert Decimal(paid["amount_due"]) == Decimal("750")
    assert [(p["type"], Decimal(p["amount"])) for p in paid["sms"]["payments"]] == [
        ("Payment", Decimal("500"))
    ]
    tutoring = by_number[books["tutoring"]["InvoiceNumber"]]
    assert [n["code"] for n in tutoring["sms"]["not_representable"]] == ["fractional_quantity"]
    assert admin.get("/api/documents", params={"sms": "in_sms"}).json()["total"] == 2
    assert admin.get("/api/documents", params={"sms": "removed"}).json()["total"] == 0
    page = admin.get("/documents").text
    assert "Ada Lovelace" in page
    assert "fractional quantity" in page

    # A learner's search shows every document of theirs, resynced or not. The resync mirrored
    # only its range; a pull of every document brings the older one too.
    cli(web, "pull", "documents")
    found = admin.get("/api/documents", params={"q": "grace hopper"}).json()
    assert [d["number"] for d in found["documents"]] == [
        books["tutoring"]["InvoiceNumber"],
        books["old"]["InvoiceNumber"],  # each learner's newest first
    ]
    old = found["documents"][1]
    assert (old["learner"], old["sms"]["state"]) == (grace, "not_in_sms")
    assert "outside the resync's range" in old["sms"]["text"]
    assert admin.get("/api/documents", params={"q": grace.lower()}).json()["total"] == 2
    number = admin.get("/api/documents", params={"q": books["theirs"]["InvoiceNumber"]}).json()
    [theirs] = number["documents"]
    assert theirs["learner"] is None
    assert "belongs to no learner" in theirs["sms"]["text"]
    assert (
        "No learner" in admin.get("/documents", params={"q": books["theirs"]["InvoiceNumber"]}).text
    )

    # Unmatched, and what Wisenet v1 cannot hold, as the resync listed them.
    unmatched = admin.get("/api/documents/unmatched").json()
    [problem] = unmatched["problems"]
    assert problem["code"] == "not_a_learner"
    assert "Harbour Constructions" in problem["message"]
    assert problem["document"]["number"] == books["theirs"]["InvoiceNumber"]
    assert Decimal(problem["document"]["total"]) == Decimal("4800")
    assert unmatched["by_code"][0]["count"] == 1
    assert "Harbour Constructions" in admin.get("/documents/unmatched").text
    shape = admin.get("/api/documents/not-representable").json()
    assert [(p["code"], p["document"]["learner"]) for p in shape["problems"]] == [
        ("fractional_quantity", grace)
    ]
    assert "Unmatched (1)" in admin.get("/documents/not-representable").text

    # The reconciliation: the same as report reconcile, its CSV the same as --csv.
    made = admin.get("/api/documents/reconciliation").json()
    assert made["mismatches"] == []
    assert {r["ref_internal"] for r in made["learners"]} == {ada, grace}
    assert made["unmatched"] == 1
    assert (
        "Both sides agree for every one of the 2 learners"
        in admin.get("/documents/reconciliation").text
    )
    download = admin.get("/documents/reconciliation.csv")
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    assert download.text == cli(web, "report", "reconcile", "--csv")
    printed = json.loads(cli(web, "report", "reconcile", "--json"))
    assert printed == {"mismatches": made["mismatches"], "learners": made["learners"]}

    # A change by hand in Wisenet: Reconcile now finds it, with its cause and what to do.
    changed = dict(held[books["tutoring"]["InvoiceID"]])
    changed["AmountDue"] = 0
    put = world.wisenet.http().put(
        f"/invoices/{books['tutoring']['InvoiceID']}", json=as_json(changed)
    )
    assert put.status_code == 200
    again = web.post(
        admin, "/documents/reconciliation", "/documents/reconcile", org=str(connection_id)
    )
    assert again.headers["location"] == f"/documents/reconciliation?org={connection_id}"
    assert wait_for_task(web).status == "succeeded"
    made = admin.get("/api/documents/reconciliation").json()
    [mismatch] = made["mismatches"]
    assert (mismatch["ref_internal"], mismatch["field"], mismatch["cause"]) == (
        grace,
        "AmountDue",
        "changed_in_sms",
    )
    assert f"--learner {grace}" in mismatch["fix"]
    shown = admin.get("/documents/reconciliation").text
    assert "1 mismatch on 1 of 2 learners" in shown
    assert "changed_in_sms" in shown
    csv_rows = admin.get("/documents/reconciliation.csv").text.splitlines()
    assert any(r.startswith(f"{grace},") and r.endswith(",1,changed_in_sms") for r in csv_rows)

    dashboard = admin.get("/api/status").json()
    links_to = {a["link"]: a["text"] for a in dashboard["attention"]}
    assert "1 document in Xero belongs to no learner" in links_to["/documents/unmatched"]
    assert "found 1 mismatch between" in links_to["/documents/reconciliation"]
    home = admin.get("/").text
    assert 'href="/documents/reconciliation"' in home
    assert 'href="/documents/unmatched"' in home


def test_the_default_range_runs_incrementally_as_the_command_without_dates_does(
    web: Web, world: World
) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    world.invoice(ada, "120.00", date=day(300))
    admin = web.sign_in(ADMIN)
    start = date.today().replace(year=date.today().year - 1)
    assert "for the first resync" in admin.get("/settings").text
    resync_form(
        web, admin, world, what="documents", date_from=str(start), date_to=str(date.today())
    )  # the form as it was opened, without the reconciliation
    task = wait_for_task(web)
    assert task.status == "succeeded", task.message
    assert f"({start}..{date.today()}, incremental)" in task.message
    assert "Reconciliation" not in task.message
    assert len(world.invoices()) == 1
    newer = world.invoice(ada, "80.00", date=day(2))
    resync_form(web, admin, world, what="documents")  # no dates at all: the default too
    again = wait_for_task(web)
    assert "incremental" in again.message
    assert "1 documents written (1 new" in again.message
    assert newer["InvoiceID"] in world.invoices()
    settings = admin.get("/settings").text
    assert f'id="date_from" name="date_from" type="date" value="{start}"' in settings
    assert "reading only what changed" in settings


def test_both_resyncs_the_learners_then_their_documents_and_a_second_start_is_refused(
    web: Web, world: World
) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    invoice = world.invoice(ada, "640.00")
    admin = web.sign_in(ADMIN)
    wisenet_fault(
        world, rules=[{"kind": "hold", "count": 1, "method": "PUT", "path": "^/invoices/"}]
    )
    resync_form(web, admin, world, what="both", reconcile="yes")
    wisenet_fault(world, "/held", count=1)  # the documents' write is in flight
    task = web.jobs.tasks()[0]
    assert (task.status, task.title) == ("running", "Resync learners and documents")
    resync_run = history.last_run(
        web.store, "resync documents", world.xero.connection.id, finished=False
    )
    assert resync_run is not None
    assert resync_run.status == "running"
    for what in ("documents", "learners"):
        refused = resync_form(web, admin, world, what=what)
        assert refused.status_code == 303
        page = notices(admin)
        assert "Resync learners and documents for" in page
        assert f"is already running (run #{resync_run.id})" in page
    web.post(admin, "/documents/reconciliation", "/documents/reconcile")
    assert "is already running" in admin.get("/documents/reconciliation").text
    running = admin.get("/documents").text
    assert f'data-run="{resync_run.id}"' in running  # the page follows the run and reloads
    assert len(web.jobs.tasks()) == 1
    assert wisenet_fault(world, "/release") == {"released": 1}
    finished = wait_for_task(web)
    assert finished.status == "succeeded", finished.message
    assert "Resync for" in finished.message
    assert "Reconciliation: 1 learners compared, 0 mismatches" in finished.message
    assert world.invoices()[invoice["InvoiceID"]]["LearnerId"] == world.learner_ids[ada]
    jobs = [history.get_run(web.store, r) for r in finished.runs]
    assert [r.job for r in jobs if r] == [
        "pull learners",
        "sync learners",
        "resync documents",
        "report reconcile",
    ]


def test_a_resync_from_the_command_line_refuses_the_forms_start_naming_its_run(
    web: Web, world: World
) -> None:
    admin = web.sign_in(ADMIN)
    connection = world.xero.connection
    with Job(
        web.store, "resync documents", connection_id=connection.id, organisation=connection.name
    ) as running:
        for what in ("documents", "both"):
            resync_form(web, admin, world, what=what)
            assert f"run #{running.run_id}" in notices(admin)
        web.post(admin, "/documents/reconciliation", "/documents/reconcile")  # its own lease
        assert wait_for_task(web).status == "succeeded"
    assert [t.job for t in web.jobs.tasks()] == ["report reconcile"]


@pytest.mark.parametrize(
    ("date_from", "date_to", "said"),
    [
        ("2026-13-01", "", "The day '2026-13-01' is not a date: give it as YYYY-MM-DD."),
        ("2026-05-02", "2026-05-01", "The date range 2026-05-02..2026-05-01 is empty."),
    ],
)
def test_a_bad_range_is_refused_with_what_to_do_and_nothing_starts(
    web: Web, world: World, date_from: str, date_to: str, said: str
) -> None:
    admin = web.sign_in(ADMIN)
    answer = resync_form(web, admin, world, what="documents", date_from=date_from, date_to=date_to)
    assert answer.status_code == 303
    assert said in notices(admin)
    assert web.jobs.tasks() == []


def test_a_viewer_sees_the_documents_pages_but_cannot_resync_or_reconcile(
    web: Web, world: World
) -> None:
    seeded(world)
    viewer = web.sign_in(VIEWER)
    token = csrf_of(viewer.get("/").text)
    for path, data in (
        ("/settings/resync", {"what": "documents"}),
        ("/settings/resync", {"what": "both"}),
        ("/documents/reconcile", {}),
    ):
        refused = viewer.post(path, data={CSRF_FIELD: token, **data})
        assert refused.status_code == 403
        assert "viewers can look but not change anything" in refused.text
    assert web.jobs.tasks() == []
    assert 'action="/documents/reconcile"' not in viewer.get("/documents/reconciliation").text
    for path in ("/documents", "/documents/unmatched", "/documents/not-representable"):
        assert viewer.get(path).status_code == 200
    missing = viewer.get("/documents/reconciliation.csv")
    assert missing.status_code == 404
    assert "Reconcile now" in missing.text
    assert viewer.get("/api/documents/reconciliation").status_code == 404


def test_a_csv_sources_documents_show_the_local_copy_and_reconcile_against_it(
    web: Web, make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    from resync.conftest import ROOMY
    from sandbox_documents import Books, line

    sandbox = make_xero_sandbox(limits=ROOMY)
    connected = connect_xero(sandbox)
    books = Books(sandbox, sandbox.http())
    put_learners(web.store, make_learner("DAU0000001"), make_learner("DAU0000002", first="Sam"))
    for ref in ("DAU0000001", "DAU0000002"):
        contact = books.contact(f"Learner {ref}", ContactNumber=ref)
        with web.store.transaction() as conn:
            links.link_contact(
                conn,
                connected.connection.id,
                ref,
                contact,
                mapped_hash=None,
                contact_updated_ms=None,
            )
        books.invoice(contact, line("300.00"), date=day(15), due=day(1))
    admin = web.sign_in(ADMIN)
    web.post(
        admin,
        "/settings",
        "/settings/resync",
        what="documents",
        reconcile="yes",
        org=str(connected.connection.id),
    )
    task = wait_for_task(web)
    assert task.status == "succeeded", task.message
    listed = admin.get("/api/documents").json()
    assert [d["sms"]["system"] for d in listed["documents"]] == ["csv", "csv"]
    copy = listed["documents"][0]["sms"]["local_copy"]
    assert (copy["status"], Decimal(copy["amount_due"])) == ("AUTHORISED", Decimal("300"))
    assert "the local store" in admin.get("/documents").text
    made = admin.get("/api/documents/reconciliation").json()
    assert made["sms"] == "csv"
    assert made["mismatches"] == []
    assert admin.get("/documents/reconciliation.csv").text == cli(
        web, "report", "reconcile", "--csv"
    )
    export = cli(web, "export", "documents", "--csv")
    assert export.count("\n") == 3  # the header and both invoices: the same local store


def test_documents_page_through_learners_at_a_glance(web: Web, world: World) -> None:
    refs = world.add_learners(*(f"Learner{i} Test" for i in range(3)))
    for ref in refs:
        for days_ago in range(20):
            world.invoice(ref, "10.00", date=day(days_ago + 1))
    admin = web.sign_in(ADMIN)
    resync_form(web, admin, world, what="documents")
    assert wait_for_task(web).status == "succeeded"
    first = admin.get("/api/documents").json()
    assert (first["total"], first["pages"], len(first["documents"])) == (60, 2, 50)
    second = admin.get("/api/documents", params={"page": 2}).json()
    seen = [d["document_id"] for d in first["documents"] + second["documents"]]
    assert len(set(seen)) == 60
    dates = [d["date"] for d in first["documents"] if d["learner"] == refs[0]]
    assert dates == sorted(dates, reverse=True)  # each learner's newest first
    assert first["documents"][0]["date"] == (date.today() - timedelta(days=1)).isoformat()
    page = admin.get("/documents").text
    assert 'rel="next"' in page
    assert page.count('class="learner"') == 3
