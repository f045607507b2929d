"""The JSON API under ``/api/``: the same views as the pages, for scripts. It reads only; it
takes the session's cookie or ``Authorization: Bearer TOKEN`` (``learnerledger users token``).
No answer holds a token, a secret or an API key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from learnerledger.resync.reconcile import reconciliation_csv as reconciliation_text
from learnerledger.store import history
from learnerledger.web import documents as documents_view
from learnerledger.web import merge as merge_view
from learnerledger.web import views

__all__ = ["routes"]


def _org(request: Request) -> views.Organisation | None:
    return views.current_organisation(request.app.state.store, request.query_params.get("org"))


def _json(data: Any, status_code: int = 200) -> Response:
    return JSONResponse(data, status_code=status_code)


def _threaded(view: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    async def endpoint(request: Request) -> Response:
        result: Response = await run_in_threadpool(view, request)
        return result

    endpoint.__name__ = view.__name__
    return endpoint


@_threaded
def status(request: Request) -> Response:
    app = request.app
    return _json(views.dashboard(app.state.store, app.state.config, _org(request)))


@_threaded
def learners(request: Request) -> Response:
    q = request.query_params
    return _json(
        views.learners(
            request.app.state.store,
            _org(request),
            query=q.get("q", "")[:200],
            state=q.get("state") or None,
            page=views.number(q.get("page")),
        )
    )


@_threaded
def duplicates(request: Request) -> Response:
    q = request.query_params
    try:
        min_score = float(q["min_score"]) if q.get("min_score") else None
    except ValueError:
        return _json({"error": "bad_request", "message": "min_score must be a number."}, 400)
    return _json(
        views.duplicate_clusters(
            request.app.state.store,
            _org(request),
            status=q.get("status") or None,
            min_score=min_score,
            page=views.number(q.get("page")),
        )
    )


@_threaded
def merge(request: Request) -> Response:
    q = request.query_params
    return _json(
        merge_view.merge(
            request.app.state.store,
            _org(request),
            request.app.state.jobs,
            state=q.get("state") or None,
            page=views.number(q.get("page")),
        )
    )


@_threaded
def documents(request: Request) -> Response:
    q = request.query_params
    return _json(
        documents_view.documents(
            request.app.state.store,
            _org(request),
            query=q.get("q", "")[:200],
            kind=q.get("kind") or None,
            sms=q.get("sms") or None,
            page=views.number(q.get("page")),
        )
    )


def _listed(request: Request, which: str) -> Response:
    return _json(
        documents_view.listed(
            request.app.state.store,
            _org(request),
            which,
            page=views.number(request.query_params.get("page")),
        )
    )


@_threaded
def unmatched(request: Request) -> Response:
    return _listed(request, "unmatched")


@_threaded
def not_representable(request: Request) -> Response:
    return _listed(request, "not_representable")


def _reconciled(request: Request) -> tuple[views.Organisation, Any] | Response:
    org = _org(request)
    held = request.app.state.jobs.reconciled(org.id) if org else None
    if org is None or held is None:
        return _json(
            {
                "error": "not_found",
                "message": "This server has made no reconciliation of this organisation yet: "
                "start one with Reconcile now on the Documents page.",
            },
            404,
        )
    return org, held


@_threaded
def reconciliation(request: Request) -> Response:
    found = _reconciled(request)
    if isinstance(found, Response):
        return found
    return _json(documents_view.reconciliation_json(*found))


@_threaded
def reconciliation_csv(request: Request) -> Response:
    found = _reconciled(request)
    if isinstance(found, Response):
        return found
    return Response(reconciliation_text(found[1].result), media_type="text/csv; charset=utf-8")


@_threaded
def runs(request: Request) -> Response:
    q = request.query_params
    page = views.number(q.get("page"))
    found, total = history.list_runs(
        request.app.state.store,
        limit=50,
        offset=(page - 1) * 50,
        status=q.get("status") or None,
    )
    return _json(
        {
            "runs": [
                views.run_json(r, request.app.state.jobs.live_progress(r.id, r.status))
                for r in found
            ],
            "total": total,
            "page": page,
        }
    )


@_threaded
def run(request: Request) -> Response:
    found = history.get_run(request.app.state.store, int(request.path_params["run_id"]))
    if found is None:
        return _json({"error": "not_found", "message": "There is no such run."}, 404)
    return _json(
        views.run_json(found, request.app.state.jobs.live_progress(found.id, found.status))
    )


@_threaded
def jobs(request: Request) -> Response:
    return _json({"jobs": [t.as_json() for t in request.app.state.jobs.tasks()]})


@_threaded
def me(request: Request) -> Response:
    user = request.state.user
    return _json({"name": user.name, "role": user.role})


def routes() -> list[Route]:
    return [
        Route("/api/status", status),
        Route("/api/learners", learners),
        Route("/api/duplicates", duplicates),
        Route("/api/merge", merge),
        Route("/api/documents", documents),
        Route("/api/documents/unmatched", unmatched),
        Route("/api/documents/not-representable", not_representable),
        Route("/api/documents/reconciliation", reconciliation),
        Route("/api/documents/reconciliation.csv", reconciliation_csv),
        Route("/api/runs", runs),
        Route("/api/runs/{run_id:int}", run),
        Route("/api/jobs", jobs),
        Route("/api/me", me),
    ]
