"""The pages finance staff use: Dashboard, Learners, Duplicates, Merge, Documents, History and
Settings > Connected Apps, and the forms on them. Each form calls the library function its
CLI command calls; long jobs start in the background (``web/jobs.py``)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from datetime import UTC, date, datetime
from typing import Any

import httpx
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from learnerledger.errors import LearnerLedgerError
from learnerledger.resync import Scope, resync_scope
from learnerledger.resync.reconcile import reconciliation_csv as reconciliation_text
from learnerledger.store import connections, history, load_secret_box
from learnerledger.web import documents, views
from learnerledger.web import merge as merge_view
from learnerledger.web.frame import back, page, render
from learnerledger.web.jobs import JOBS, BackgroundJobs, Task, spec

__all__ = ["routes"]

_CONSENT_SECONDS = 600  # a consent not answered within this long is forgotten


def _text(form: FormData | None, name: str) -> str:
    value = form.get(name) if form is not None else None
    return value.strip() if isinstance(value, str) else ""


def _org(request: Request) -> views.Organisation | None:
    return views.current_organisation(request.app.state.store, request.query_params.get("org"))


def _notice(request: Request, kind: str, text: str) -> None:
    request.app.state.flash.add(request.state.session, kind, text)


def _user(request: Request) -> str:
    return str(request.state.user.name)


def _connected_org(request: Request, form: FormData | None) -> views.Organisation:
    """The organisation a form names (else the first connected one), connected."""
    org = views.current_organisation(request.app.state.store, _text(form, "org") or None)
    if org is None or org.state == "disconnected":
        raise LearnerLedgerError(
            "No Xero organisation is connected.",
            fix="Connect one under Settings > Connected Apps.",
        )
    return org


# -- dashboard, learners ----------------------------------------------------------------------


@page
def dashboard(request: Request, form: FormData | None) -> Response:
    app = request.app
    org = _org(request)
    data = views.dashboard(app.state.store, app.state.config, org)
    return render(
        request,
        "dashboard.html",
        {**data, "org": org, "tasks": app.state.jobs.running(), "title": "Dashboard"},
    )


@page
def learners(request: Request, form: FormData | None) -> Response:
    q = request.query_params
    org = _org(request)
    data = views.learners(
        request.app.state.store,
        org,
        query=q.get("q", "")[:200],
        state=q.get("state") or None,
        page=views.number(q.get("page")),
    )
    return render(request, "learners.html", {**data, "org": org, "title": "Learners"})


# -- duplicates -----------------------------------------------------------------------------


def _score(text: str | None) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise LearnerLedgerError(
            f"The score {text!r} is not a number.", fix="Give a score from 0 to 1, e.g. 0.9."
        ) from None
    if not 0 <= value <= 1:
        raise LearnerLedgerError(
            f"The score {text} is outside 0 to 1.", fix="Give a score from 0 to 1, e.g. 0.9."
        )
    return value


@page
def duplicates_page(request: Request, form: FormData | None) -> Response:
    q = request.query_params
    org = _org(request)
    status = q.get("status") or None
    status = status if status in ("auto", "review", "confirmed", "rejected") else None
    try:
        min_score = _score(q.get("min_score"))
    except LearnerLedgerError as exc:
        _notice(request, "error", str(exc))
        min_score = None
    data = views.duplicate_clusters(
        request.app.state.store,
        org,
        status=status,
        min_score=min_score,
        page=views.number(q.get("page")),
    )
    return render(request, "duplicates.html", {**data, "org": org, "title": "Duplicates"})


@page
def decide(request: Request, form: FormData | None) -> Response:
    from learnerledger.merge import decide as decide_pairs

    org = _org(request)
    if org is None:
        raise LearnerLedgerError("No Xero organisation is connected.", fix="Connect one first.")
    decision = _text(form, "decision")
    if decision not in ("confirmed", "rejected"):
        raise LearnerLedgerError(
            "Say whether to confirm or reject.", fix="Use the Confirm or Reject button."
        )
    scope = _text(form, "scope")
    if scope == "all_auto":
        done = decide_pairs(request.app.state.store, org.id, decision, all_auto=True)
    elif scope == "min_score":
        threshold = _score(_text(form, "min_score"))
        if threshold is None:
            raise LearnerLedgerError(
                "Give the score above which to decide.", fix="Type a score from 0 to 1."
            )
        done = decide_pairs(request.app.state.store, org.id, decision, min_score=threshold)
    else:
        pair = (_text(form, "ref_internal"), _text(form, "contact_id"))
        done = decide_pairs(request.app.state.store, org.id, decision, pair=pair)
    _notice(request, "ok", f"{done} pair{'s' if done != 1 else ''} {decision}.")
    target = back(request, "/duplicates")
    anchor = _text(form, "next")
    return RedirectResponse(target + (f"#{anchor}" if anchor else ""), status_code=303)


# -- merge ------------------------------------------------------------------------------------


@page
def merge_page(request: Request, form: FormData | None) -> Response:
    q = request.query_params
    org = _org(request)
    data = merge_view.merge(
        request.app.state.store,
        org,
        request.app.state.jobs,
        state=q.get("state") or None,
        page=views.number(q.get("page")),
    )
    return render(request, "merge.html", {**data, "org": org, "title": "Merge"})


def _start_for(
    request: Request, org: views.Organisation, name: str, options: dict[str, Any] | None
) -> Task:
    jobs: BackgroundJobs = request.app.state.jobs
    return jobs.start(
        spec(name),
        connection_id=org.id,
        organisation=org.name,
        user=_user(request),
        options=options,
    )


def _start(
    request: Request,
    form: FormData | None,
    name: str,
    back_to: str,
    options: dict[str, Any] | None = None,
) -> Response:
    """Start the job ``name`` for the organisation the form names, in the background, and
    go back to ``back_to`` (for that organisation), which shows its result when it ends."""
    org = _connected_org(request, form)
    task = _start_for(request, org, name, options)
    _notice(
        request,
        "ok",
        f"{task.title} started for {org.name}: this page shows the result when it ends.",
    )
    return RedirectResponse(f"{back_to}?org={org.id}", status_code=303)


@page
def merge_plan(request: Request, form: FormData | None) -> Response:
    """Make the plan: ``merge plan`` in the background (it reads every cluster in Xero)."""
    return _start(request, form, "merge plan", "/merge")


@page
def merge_apply(request: Request, form: FormData | None) -> Response:
    """Apply the plan: ``merge apply`` (``--no-archive`` when asked) in the background."""
    options = {"archive": not _text(form, "no_archive")}
    return _start(request, form, "merge apply", "/merge", options)


@page
def merge_verify(request: Request, form: FormData | None) -> Response:
    """Verify now: ``merge verify`` in the background."""
    return _start(request, form, "merge verify", "/merge")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "organisation"


def _not_yet(request: Request, title: str, message: str) -> Response:
    """A download of something this server has not made yet: what to press first."""
    return render(request, "error.html", {"title": title, "message": message}, status_code=404)


def _held_worklist(request: Request) -> tuple[views.Organisation, Any, list[Any]] | None:
    org = _org(request)
    if org is None:
        return None
    source, items = merge_view.worklist(request.app.state.jobs.merged(org.id))
    return None if source is None else (org, source, items)


_NO_WORKLIST = (
    "This server has made no worklist for this organisation yet: press Apply the plan (or "
    "Verify now) on the Merge page, then download it."
)


@page
def merge_worklist_csv(request: Request, form: FormData | None) -> Response:
    """The worklist on the Merge page, as ``merge apply --worklist-csv`` writes it."""
    from learnerledger.merge import worklist_csv

    held = _held_worklist(request)
    if held is None:
        return _not_yet(request, "No worklist yet", _NO_WORKLIST)
    org, source, items = held
    name = f"merge-worklist-{_slug(org.name)}-{source.made:%Y-%m-%d}.csv"
    return Response(
        worklist_csv(items),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@page
def merge_worklist_html(request: Request, form: FormData | None) -> Response:
    """The worklist as the printable page ``merge apply --worklist-html`` writes. It holds its
    own style sheet, which its Content-Security-Policy allows by its hash alone."""
    from learnerledger.merge import worklist_html

    held = _held_worklist(request)
    if held is None:
        return _not_yet(request, "No worklist yet", _NO_WORKLIST)
    org, source, items = held
    made = source.made.astimezone().strftime("%Y-%m-%d %H:%M")
    text = worklist_html(items, organisation=org.name, generated=made)
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
        for style in re.findall(r"<style>(.*?)</style>", text, flags=re.S)
    ]
    styles = " ".join(hashes) or "'none'"
    policy = f"default-src 'none'; style-src {styles}; base-uri 'none'; frame-ancestors 'none'"
    return HTMLResponse(text, headers={"Content-Security-Policy": policy})


# -- documents ----------------------------------------------------------------------------

# The jobs whose end changes what the Documents pages show.
_DOCUMENT_JOBS = ("resync documents", "resync both", "report reconcile")


def _documents_frame(request: Request, org: views.Organisation | None) -> dict[str, Any]:
    """What every Documents page shows around its own part: the tabs with their counts, and
    the documents jobs of the organisation running here (the page reloads when they end)."""
    store = request.app.state.store
    jobs = request.app.state.jobs
    run = documents.last_resync(store, org)
    held = jobs.reconciled(org.id) if org else None
    running = []
    for task in jobs.running():
        if org is None or task.connection_id != org.id or task.job not in _DOCUMENT_JOBS:
            continue
        run = history.get_run(store, task.run_id) if task.run_id else None
        running.append(
            {
                "title": task.title,
                "started_by": task.started_by,
                "run_id": task.run_id,
                # Between the runs of a chained job none is running: the page cannot follow.
                "live": run is not None and run.status == "running",
            }
        )
    return {
        "org": org,
        "listed": dict(run.counts) if run else {},
        "reconciled": None if held is None else len(held.result.mismatches),
        "running": running,
    }


@page
def documents_page(request: Request, form: FormData | None) -> Response:
    q = request.query_params
    org = _org(request)
    data = documents.documents(
        request.app.state.store,
        org,
        query=q.get("q", "")[:200],
        kind=q.get("kind") or None,
        sms=q.get("sms") or None,
        page=views.number(q.get("page")),
    )
    return render(
        request,
        "documents.html",
        {**data, **_documents_frame(request, org), "tab": "documents", "title": "Documents"},
    )


_LISTED_TITLES = {
    "unmatched": "Unmatched documents",
    "not_representable": "What Wisenet v1 cannot hold",
}


def _listed_page(request: Request, which: str) -> Response:
    org = _org(request)
    data = documents.listed(
        request.app.state.store, org, which, page=views.number(request.query_params.get("page"))
    )
    return render(
        request,
        "documents_listed.html",
        {
            **data,
            **_documents_frame(request, org),
            "tab": which,
            "which": which,
            "title": _LISTED_TITLES[which],
        },
    )


@page
def unmatched_page(request: Request, form: FormData | None) -> Response:
    return _listed_page(request, "unmatched")


@page
def not_representable_page(request: Request, form: FormData | None) -> Response:
    return _listed_page(request, "not_representable")


@page
def reconciliation_page(request: Request, form: FormData | None) -> Response:
    org = _org(request)
    held = request.app.state.jobs.reconciled(org.id) if org else None
    data = documents.reconciliation(
        request.app.state.store, org, held, page=views.number(request.query_params.get("page"))
    )
    return render(
        request,
        "reconciliation.html",
        {
            **data,
            **_documents_frame(request, org),
            "tab": "reconciliation",
            "title": "Reconciliation",
        },
    )


@page
def reconciliation_csv(request: Request, form: FormData | None) -> Response:
    """The reconciliation shown on the page, as ``report reconcile --csv`` prints it."""
    org = _org(request)
    held = request.app.state.jobs.reconciled(org.id) if org else None
    if org is None or held is None:
        return _not_yet(
            request,
            "No reconciliation yet",
            "This server has made no reconciliation of this organisation yet: press Reconcile "
            "now on the Reconciliation page, then download it.",
        )
    name = f"reconciliation-{_slug(org.name)}-{held.made:%Y-%m-%d}.csv"
    return Response(
        reconciliation_text(held.result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@page
def reconcile(request: Request, form: FormData | None) -> Response:
    """Reconcile now: ``report reconcile`` in the background."""
    return _start(request, form, "report reconcile", "/documents/reconciliation")


# -- history --------------------------------------------------------------------------------


@page
def history_page(request: Request, form: FormData | None) -> Response:
    q = request.query_params
    page_number = views.number(q.get("page"))
    status = q.get("status") or None
    runs, total = history.list_runs(
        request.app.state.store, limit=50, offset=(page_number - 1) * 50, status=status
    )
    jobs = request.app.state.jobs
    return render(
        request,
        "history.html",
        {
            "title": "History",
            "runs": [views.run_json(r, jobs.live_progress(r.id, r.status)) for r in runs],
            "tasks": jobs.tasks()[:10],
            "total": total,
            "page": page_number,
            "pages": max(1, -(-total // 50)),
            "status": status,
        },
    )


@page
def run_page(request: Request, form: FormData | None) -> Response:
    run_id = views.number(request.path_params["run_id"], 0)
    run = history.get_run(request.app.state.store, run_id)
    if run is None:
        raise LearnerLedgerError(
            f"There is no run #{run_id}.", fix="Pick one from the History page."
        )
    data = views.run_json(run, request.app.state.jobs.live_progress(run.id, run.status))
    return render(request, "run.html", {"run": data, "title": f"Run #{run.id}"})


@page
def start_job(request: Request, form: FormData | None) -> Response:
    """Start a job in the background, for the organisation (or the Wisenet account)."""
    store = request.app.state.store
    name = _text(form, "job")
    known = {s.name: s for s in JOBS}
    if name not in known:
        raise LearnerLedgerError(f"There is no job {name!r}.", fix="Use a button on the page.")
    if name == "pull learners":
        wisenet = [
            c for c in connections.list_connections(store, "wisenet") if c.state != "disconnected"
        ]
        if not wisenet:
            raise LearnerLedgerError(
                "Wisenet is not connected.", fix="Connect it under Settings > Connected Apps."
            )
        connection_id, organisation = wisenet[0].id, wisenet[0].name
    else:
        org = _connected_org(request, form)
        connection_id, organisation = org.id, org.name
    task = request.app.state.jobs.start(
        spec(name), connection_id=connection_id, organisation=organisation, user=_user(request)
    )
    _notice(
        request,
        "ok",
        f"{task.title} started: it goes on in the background, even if you close this page.",
    )
    return RedirectResponse("/history", status_code=303)


# -- settings > connected apps ----------------------------------------------------------------


@page
def settings_page(request: Request, form: FormData | None) -> Response:
    app = request.app
    store = app.state.store
    orgs = views.organisations(store)
    org = views.current_organisation(store, request.query_params.get("org"))
    wisenet = connections.list_connections(store, "wisenet")
    defaults = views.resync_defaults(store, org) if org else None
    return render(
        request,
        "settings.html",
        {
            "title": "Settings",
            "orgs": orgs,
            "org": org,
            "wisenet": wisenet[0] if wisenet else None,
            "xero_base_url": str(app.state.config["xero_base_url"]),
            "resync": defaults,
            "callback": str(request.url_for("xero_callback")),
        },
    )


def _http(request: Request) -> httpx.Client:
    from learnerledger import __version__

    timeout = request.app.state.http_timeout
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        headers={"User-Agent": f"learnerledger/{__version__}"},
    )


@page
def connect_xero_oauth(request: Request, form: FormData | None) -> Response:
    """Send the person to Xero's (or the sandbox's) consent page, PKCE and all."""
    from learnerledger.xero.auth import BROAD_SCOPES, GRANULAR_SCOPES, start_consent
    from learnerledger.xero.connections import Endpoints

    client_id = _text(form, "client_id")
    if not client_id:
        raise LearnerLedgerError(
            "The Xero app's client id is missing.",
            fix="Copy it from the app's Configuration page at developer.xero.com/app/manage.",
        )
    base_url = _text(form, "base_url")
    scopes = GRANULAR_SCOPES if _text(form, "scopes") == "granular" else BROAD_SCOPES
    consent = start_consent(
        Endpoints.for_base(base_url),
        client_id=client_id,
        redirect_uri=str(request.url_for("xero_callback")),
        scopes=scopes,
    )
    app = request.app
    now = time.monotonic()
    with app.state.consents_lock:
        for key in [k for k, v in app.state.consents.items() if now - v["at"] > _CONSENT_SECONDS]:
            app.state.consents.pop(key)
        app.state.consents[consent.state] = {
            "request": consent,
            "client_id": client_id,
            "client_secret": _text(form, "client_secret") or None,
            "base_url": base_url,
            "session": request.state.session.key,
            "at": now,
        }
    return RedirectResponse(consent.url, status_code=303)


def _take_consent(request: Request, key: str) -> dict[str, Any]:
    app = request.app
    with app.state.consents_lock:
        pending: dict[str, Any] | None = app.state.consents.get(key)
        if pending is not None and pending["session"] == request.state.session.key:
            app.state.consents.pop(key)  # an answer is used once
        else:
            pending = None
    if pending is None:
        raise LearnerLedgerError(
            "This answer from Xero does not belong to a connection started here.",
            fix="Start again with Connect Xero on this page; do not reuse an old link.",
        )
    return pending


@page
def xero_callback(request: Request, form: FormData | None) -> Response:
    """Xero's redirect back: check the state, exchange the code, connect the organisation."""
    from learnerledger.xero.auth import IdentityClient, finish_consent
    from learnerledger.xero.connections import Endpoints

    answer = dict(request.query_params.items())
    try:
        pending = _take_consent(request, answer.get("state", ""))
    except LearnerLedgerError as exc:
        _notice(request, "error", str(exc))
        return RedirectResponse("/settings", status_code=303)
    try:
        with _http(request) as http:
            identity = IdentityClient(http, Endpoints.for_base(pending["base_url"]))
            consent = finish_consent(
                identity,
                pending["request"],
                answer,
                client_id=pending["client_id"],
                client_secret=pending["client_secret"],
                retry="Start again with Connect Xero",
            )
    except LearnerLedgerError as exc:
        _notice(request, "error", str(exc))
        return RedirectResponse("/settings", status_code=303)
    organisations = [t for t in consent.tenants if t.tenant_type == "ORGANISATION"]
    if len(organisations) > 1:
        key = secrets.token_urlsafe(24)
        with request.app.state.consents_lock:
            request.app.state.consents[key] = {
                **pending,
                "consent": consent,
                "at": time.monotonic(),
            }
        return render(
            request,
            "choose_tenant.html",
            {"title": "Choose the organisation", "key": key, "tenants": organisations},
        )

    return _connect(request, pending, consent, tenant=None)


@page
def choose_tenant(request: Request, form: FormData | None) -> Response:
    pending = _take_consent(request, _text(form, "key"))
    return _connect(request, pending, pending["consent"], tenant=_text(form, "tenant"))


def _connect(
    request: Request, pending: dict[str, Any], consent: Any, *, tenant: str | None
) -> Response:
    """Connect the organisation of a consent: its only one, or ``tenant``."""
    from learnerledger.xero.connect import connect_consent

    def choose(tenants: list[Any]) -> Any:  # several were granted and none was picked
        raise LearnerLedgerError(
            "Xero granted several organisations.", fix="Pick one on the page and connect it."
        )

    connection = connect_consent(
        request.app.state.store,
        load_secret_box(request.app.state.config.home),
        consent,
        base_url=pending["base_url"],
        tenant=tenant,
        choose=choose,
    )
    _notice(request, "ok", f"Connected {connection.name} with OAuth.")
    return RedirectResponse("/settings", status_code=303)


@page
def connect_xero_custom(request: Request, form: FormData | None) -> Response:
    from learnerledger.xero.connect import connect_custom

    client_id, secret = _text(form, "client_id"), _text(form, "client_secret")
    if not client_id or not secret:
        raise LearnerLedgerError(
            "A custom connection needs its client id and client secret.",
            fix="Copy both from the app's Configuration page at developer.xero.com/app/manage.",
        )
    with _http(request) as http:
        connection = connect_custom(
            request.app.state.store,
            load_secret_box(request.app.state.config.home),
            client_id=client_id,
            client_secret=secret,
            base_url=_text(form, "base_url"),
            http=http,
        )
    _notice(request, "ok", f"Connected {connection.name} with a custom connection.")
    return RedirectResponse("/settings", status_code=303)


@page
def connect_wisenet(request: Request, form: FormData | None) -> Response:
    from learnerledger.sources.wisenet import connect_wisenet as connect
    from learnerledger.sources.wisenet import open_client

    config = request.app.state.config
    base_url = _text(form, "base_url") or "https://api.wisenet.co/v1"

    def client(url: str, key: str) -> Any:
        return open_client(url, key, requests_per_second=config["wisenet_requests_per_second"])

    connection = connect(
        request.app.state.store,
        load_secret_box(config.home),
        api_key=_text(form, "api_key"),
        base_url=base_url,
        client_factory=client,
    )
    _notice(request, "ok", f"Connected Wisenet at {connection.base_url} (the key works).")
    return RedirectResponse("/settings", status_code=303)


@page
def disconnect(request: Request, form: FormData | None) -> Response:
    store = request.app.state.store
    connection_id = views.number(request.path_params["connection_id"], 0)
    row = connections.get_connection(store, connection_id)
    if row is None:
        raise LearnerLedgerError("There is no such connection.", fix="Reload the page.")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    connections.set_state(
        store,
        connection_id,
        "disconnected",
        f"Disconnected by {_user(request)} on {when}; connect again to carry on.",
    )
    _notice(request, "ok", f"Disconnected {row.name}. Its mirror and History are kept.")
    return RedirectResponse("/settings", status_code=303)


_RESYNC = {"learners": "resync learners", "documents": "resync documents", "both": "resync both"}


def _day(form: FormData | None, name: str) -> date | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise LearnerLedgerError(
            f"The day {text!r} is not a date: give it as YYYY-MM-DD.",
            fix="Pick the day in the date field, or type it as YYYY-MM-DD (e.g. 2025-07-01).",
        ) from None


def _resync_range(
    request: Request, org: views.Organisation, form: FormData | None
) -> tuple[dict[str, Any], Scope]:
    """The documents resync's options from the form. The range the form was opened with (the
    default) runs as the command without dates does: incrementally, what changed since the
    last resync; any other range is resynced as ``--from``/``--to`` would."""
    store = request.app.state.store
    today = datetime.now(UTC).date()
    date_from, date_to = _day(form, "date_from"), _day(form, "date_to")
    default = resync_scope(store, org.id, today)
    if (date_from or default.date_from) == default.date_from and (date_to or today) == today:
        date_from = date_to = None
    scope = resync_scope(store, org.id, today, date_from, date_to)  # refuses an empty range
    options = {
        "date_from": date_from,
        "date_to": date_to,
        "then_reconcile": bool(_text(form, "reconcile")),
    }
    return options, scope


@page
def resync(request: Request, form: FormData | None) -> Response:
    """The Resync form: learners (pull, then sync), documents (with their date range, then
    the reconciliation if asked), or both one after the other."""
    what = _text(form, "what")
    name = _RESYNC.get(what)
    if name is None:
        raise LearnerLedgerError(
            f"There is no job {'resync ' + what!r}.", fix="Use a button on the page."
        )
    org = _connected_org(request, form)
    options: dict[str, Any] = {}
    span = ""
    if what != "learners":
        options, scope = _resync_range(request, org, form)
        how = (
            ", what changed since the last resync" if scope.incremental and not scope.first else ""
        )
        span = f" (documents dated {scope.date_from} to {scope.date_to}{how})"
    task = _start_for(request, org, name, options)
    after = (
        "; the Documents page shows the reconciliation when it ends"
        if options.get("then_reconcile")
        else ""
    )
    _notice(
        request,
        "ok",
        f"{task.title} started for {org.name}{span}; History shows its progress{after}.",
    )
    return RedirectResponse("/history", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/", dashboard, name="dashboard"),
        Route("/learners", learners, name="learners"),
        Route("/duplicates", duplicates_page, name="duplicates"),
        Route("/duplicates/decide", decide, methods=["POST"], name="decide"),
        Route("/merge", merge_page, name="merge"),
        Route("/merge/plan", merge_plan, methods=["POST"], name="merge_plan"),
        Route("/merge/apply", merge_apply, methods=["POST"], name="merge_apply"),
        Route("/merge/verify", merge_verify, methods=["POST"], name="merge_verify"),
        Route("/merge/worklist.csv", merge_worklist_csv, name="merge_worklist_csv"),
        Route("/merge/worklist.html", merge_worklist_html, name="merge_worklist_html"),
        Route("/documents", documents_page, name="documents"),
        Route("/documents/unmatched", unmatched_page, name="documents_unmatched"),
        Route(
            "/documents/not-representable",
            not_representable_page,
            name="documents_not_representable",
        ),
        Route("/documents/reconciliation", reconciliation_page, name="reconciliation"),
        Route("/documents/reconciliation.csv", reconciliation_csv, name="reconciliation_csv"),
        Route("/documents/reconcile", reconcile, methods=["POST"], name="reconcile"),
        Route("/history", history_page, name="history"),
        Route("/history/{run_id:int}", run_page, name="run"),
        Route("/jobs", start_job, methods=["POST"], name="start_job"),
        Route("/settings", settings_page, name="settings"),
        Route("/settings/xero/oauth", connect_xero_oauth, methods=["POST"], name="xero_oauth"),
        Route("/settings/xero/callback", xero_callback, name="xero_callback"),
        Route("/settings/xero/choose", choose_tenant, methods=["POST"], name="xero_choose"),
        Route("/settings/xero/custom", connect_xero_custom, methods=["POST"], name="xero_custom"),
        Route("/settings/wisenet", connect_wisenet, methods=["POST"], name="wisenet"),
        Route(
            "/settings/connections/{connection_id:int}/disconnect",
            disconnect,
            methods=["POST"],
            name="disconnect",
        ),
        Route("/settings/resync", resync, methods=["POST"], name="resync"),
    ]
