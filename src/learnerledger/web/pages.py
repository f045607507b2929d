"""The pages finance staff use: Dashboard, Learners, Duplicates, Merge, Documents, History and
Settings > Connected Apps, and the forms on them. Each form calls the library function its
CLI command calls; long jobs start in the background (``web/jobs.py``)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from learnerledger.errors import LearnerLedgerError
from learnerledger.store import connections, history, load_secret_box
from learnerledger.web import views
from learnerledger.web.frame import back, page, render
from learnerledger.web.jobs import JOBS, spec

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


@page
def merge_page(request: Request, form: FormData | None) -> Response:
    org = _org(request)
    data = views.merge_clusters(request.app.state.store, org)
    return render(request, "merge.html", {**data, "org": org, "title": "Merge"})


@page
def documents_page(request: Request, form: FormData | None) -> Response:
    q = request.query_params
    org = _org(request)
    kind = q.get("kind") or None
    data = views.documents(
        request.app.state.store, org, kind=kind, page=views.number(q.get("page"))
    )
    return render(request, "documents.html", {**data, "org": org, "title": "Documents"})


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
        org = views.current_organisation(store, _text(form, "org") or None)
        if org is None or org.state == "disconnected":
            raise LearnerLedgerError(
                "No Xero organisation is connected.",
                fix="Connect one under Settings > Connected Apps.",
            )
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
    defaults = views.resync_defaults(org)
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


@page
def resync(request: Request, form: FormData | None) -> Response:
    """The Resync form: learners now; documents arrive with the documents resync."""
    what = _text(form, "what")
    if what != "learners":
        raise LearnerLedgerError(
            "Only learners can be resynced from here for now.",
            fix="Choose Learners; the resync of documents comes with the documents job.",
        )
    store = request.app.state.store
    org = views.current_organisation(store, _text(form, "org") or None)
    if org is None or org.state == "disconnected":
        raise LearnerLedgerError(
            "No Xero organisation is connected.", fix="Connect one on this page first."
        )
    task = request.app.state.jobs.start(
        spec("resync learners"),
        connection_id=org.id,
        organisation=org.name,
        user=_user(request),
    )
    _notice(request, "ok", f"{task.title} started for {org.name}; History shows its progress.")
    return RedirectResponse("/history", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/", dashboard, name="dashboard"),
        Route("/learners", learners, name="learners"),
        Route("/duplicates", duplicates_page, name="duplicates"),
        Route("/duplicates/decide", decide, methods=["POST"], name="decide"),
        Route("/merge", merge_page, name="merge"),
        Route("/documents", documents_page, name="documents"),
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
