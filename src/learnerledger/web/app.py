"""The web application: Starlette, server-rendered Jinja2 pages, a JSON API under ``/api/``,
and a little plain JavaScript served by the app itself (no build step, no CDN).

Every request but the sign-in page and the static assets needs a session (a cookie) or, for
the API, a bearer token from ``learnerledger users token NAME``: without one, pages redirect
to ``/login`` and the API answers 401. Every form carries its session's CSRF token, checked
before anything is done; only admins may send a form at all (a viewer sees everything and
changes nothing). The session cookie is HttpOnly and SameSite=Lax, and Secure whenever the
request came over HTTPS (directly or through a proxy that says so). ``web/frame.py`` holds
the guard and the rendering; ``web/pages.py`` and ``web/api.py`` the pages and the API.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from learnerledger.config import Config
from learnerledger.store import Store
from learnerledger.web import api, pages
from learnerledger.web.auth import SESSION_IDLE_SECONDS, Session, SignInRefused, Users, same_secret
from learnerledger.web.frame import (
    COOKIE,
    CSRF_FIELD,
    HERE,
    LOGIN_CSRF_COOKIE,
    Flash,
    Guard,
    environment,
    page,
    render,
    secure,
    server_error,
)
from learnerledger.web.jobs import BackgroundJobs

__all__ = ["create_app"]

log = logging.getLogger("learnerledger.web")


# -- sign in and out ------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


async def login(request: Request) -> Response:
    if request.method == "GET":
        if request.state.session is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        # The same token while the form is open in several tabs (or a favicon was fetched).
        kept = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        return _login_page(request, "", kept if len(kept) >= 32 else secrets.token_urlsafe(32))
    form = await request.form()
    name = str(form.get("username") or "")
    password = str(form.get("password") or "")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = form.get(CSRF_FIELD)
    if not expected or not same_secret(given if isinstance(given, str) else None, expected):
        return _login_page(
            request,
            "The sign-in form expired. Please sign in again.",
            secrets.token_urlsafe(32),
            status_code=403,
        )
    users: Users = request.app.state.users
    try:
        user = await run_in_threadpool(users.sign_in, name, password)
    except SignInRefused as exc:
        log.info("sign-in refused for %r", name[:100])
        return _login_page(request, str(exc), secrets.token_urlsafe(32), status_code=401, name=name)
    cookie, _ = await run_in_threadpool(users.open_session, user)
    response = RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=SESSION_IDLE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    log.info("%s signed in", user.name)
    return response


def _login_page(
    request: Request, error: str, csrf: str, *, status_code: int = 200, name: str = ""
) -> Response:
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "login_csrf": csrf,
            "name": name,
            "next": _safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path="/login",
    )
    return response


@page
def logout(request: Request, form: FormData | None) -> Response:
    session: Session | None = request.state.session
    if session is not None:
        request.app.state.users.close_session(session)
        log.info("%s signed out", session.user.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- the application ------------------------------------------------------------------------------


def create_app(
    store: Store,
    config: Config,
    *,
    clock: Callable[[], float] = time.time,
    http_timeout: float | None = None,
) -> Starlette:
    """The web UI over ``store`` with the settings of ``config``."""
    routes: list[BaseRoute] = [
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        *pages.routes(),
        *api.routes(),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard)],
        exception_handlers={500: server_error},
    )
    app.state.store = store
    app.state.config = config
    app.state.users = Users(store, clock=clock)
    app.state.jobs = BackgroundJobs(store, config)
    app.state.templates = environment()
    app.state.flash = Flash()
    app.state.consents = {}  # OAuth consents under way, by their state; held in memory only
    app.state.consents_lock = threading.Lock()
    app.state.http_timeout = float(http_timeout or config["xero_timeout"])
    return app
